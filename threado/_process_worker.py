"""The worker side of :class:`threado.ProcessPoolExecutor`.

Theory of operation
-------------------

A worker process runs :func:`worker_main` with its end of a duplex
``multiprocessing`` pipe. Its main thread is the *reader*: it receives the
parent's messages, in the order sent, and never runs a job itself:

* ``(JOB, id, payload, slot)``: hand the job to the *runner*, a threado
  thread that unpickles and runs ``fn(*args, **kwargs)`` (so the job is
  cancellable like any threado thread; see :class:`_Worker` for how one
  runner serves job after job). Jobs queue up here: the parent sends the
  next job while this one runs (see ``_process_handles``);
* ``(CANCEL, id)``: if job ``id`` is queued or running here, cancel it
  (``ThreadCancelled`` at its next blocking point; a job that already ended
  is left alone: its answer is on its way);
* ``None``, or the pipe's end (the parent went away): stop, skipping the
  jobs queued, cancelling a job still running and giving it
  :data:`EXIT_GRACE` seconds to unwind.

Before it starts a job, the runner takes the job's *ticket*: the semaphore
``tickets[slot]``, which the parent released when it sent the job
(``acquire(False)``: never blocking). It runs the job only if it got the
ticket and no cancel came for it; otherwise the parent took the ticket (a
cancel of the job while it was queued, or the job went to another worker)
and the job never runs here. Either way the runner answers for every job,
in the order sent, and every ticket released for a job is taken by one
side or the other before its slot is used again (see ``_process_future``).

The runner sends one answer per job, ``(status, id, data)``: :data:`OK` with
the pickled result, :data:`ERROR` with the pickled exception wrapped so
that the parent sees the worker's traceback as its ``__cause__`` (the
standard library's ``_ExceptionWithTraceback``), or :data:`CANCELLED` when
the job ended by ``ThreadCancelled`` after a cancel from the parent. A job,
a result or an exception that cannot be (un)pickled becomes an ``ERROR``
naming what failed, whatever the pickling raised (a ``__reduce__`` that
raises ``SystemExit``, a ``__str__`` that fails), so the runner always
answers; nothing of it reaches the reader, so one bad job never breaks the
worker.

SIGINT is ignored in workers: Ctrl-C reaches the whole process group, and
the parent turns it into cancels, whose cleanup then runs here.
"""

from __future__ import annotations

import contextvars
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures.process import _ExceptionWithTraceback
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Final

from ._errors import ThreadCancelled
from ._scopes import cancel_requested
from ._simplequeue import SimpleQueue
from ._threads import Thread, spawn

#: Parent-to-worker message kinds.
JOB: Final = 0
CANCEL: Final = 1
#: Worker-to-parent answer kinds.
OK: Final = 0
ERROR: Final = 1
CANCELLED: Final = 2
INIT_FAILED: Final = 3

#: Seconds a job still running when the parent goes away gets to unwind.
EXIT_GRACE: Final = 5.0


def dumps(obj: object) -> bytes:
    """Pickle ``obj`` as ``multiprocessing`` does (connections and the like included)."""
    return bytes(ForkingPickler.dumps(obj))


def pack_exception(exc: BaseException, note: str = "") -> bytes:
    """Pickle ``exc`` with its traceback as text, the parent's ``__cause__``.

    An exception that cannot be pickled is replaced by a ``RuntimeError``
    that names it, with the same traceback.
    """
    tb: Any = exc.__traceback__
    try:
        return dumps(_ExceptionWithTraceback(exc, tb))
    except BaseException as e:  # its __reduce__ may raise anything, even SystemExit
        stand_in = RuntimeError(
            f"{note}{type(exc).__qualname__}: {_text(exc, str)} "
            f"(the exception could not be pickled: {_text(e, repr)})"
        )
        return dumps(_ExceptionWithTraceback(stand_in, tb))


def _text(obj: object, how: Callable[[object], str]) -> str:
    """``str(obj)`` or ``repr(obj)``, or a stand-in if the user's method raises."""
    try:
        return how(obj)
    except BaseException:
        return f"<{type(obj).__qualname__} object>"


class _Job:
    __slots__ = ("cancel_requested", "id", "payload", "slot")

    def __init__(self, job_id: int, payload: bytes, slot: int) -> None:
        self.id = job_id
        self.payload = payload
        self.slot = slot
        self.cancel_requested = False


def _run(job: _Job) -> tuple[Any, ...]:
    """Run one job; return its one answer."""
    try:
        fn, args, kwargs = pickle.loads(job.payload)
    except BaseException as e:
        return (ERROR, job.id, pack_exception(e, "could not unpickle the job in the worker: "))
    try:
        # Each job starts from an empty context, as in a fresh thread of a fresh process.
        result = contextvars.Context().run(fn, *args, **kwargs)
    except ThreadCancelled as e:
        if job.cancel_requested:
            return (CANCELLED, job.id, None)
        return (ERROR, job.id, pack_exception(e))
    except BaseException as e:
        return (ERROR, job.id, pack_exception(e))
    try:
        return (OK, job.id, dumps(result))
    except BaseException as e:  # a __reduce__ may raise anything, even SystemExit
        err = TypeError(
            f"could not pickle the result of {_text(fn, repr)}: {type(e).__name__}: {_text(e, str)}"
        )
        err.__cause__ = e
        return (ERROR, job.id, pack_exception(err))


class _Worker:
    """The worker's state, shared by the reader and the runner under ``lock``.

    The *runner* is a threado thread that runs the jobs one after another (a
    thread per job would cost a thread start each). A cancel cancels the
    runner thread itself, and cancellation is level-triggered, so a runner
    whose job was cancelled (or that cancelled itself) ends after that job,
    and a new runner takes the next one: the old one starts it once its
    answer is out (answers keep the order of the jobs), or the reader does
    when the next job arrives. ``lock`` makes the two sides agree: the
    reader cancels the runner only while ``current`` is the job to cancel,
    and the runner changes ``current``, and decides whether to go on, under
    it.
    """

    def __init__(self, conn: Connection, tickets: tuple[Any, ...]) -> None:
        self.conn = conn
        self.tickets = tickets
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self.current: _Job | None = None
        self.queued: dict[int, _Job] = {}
        self.runner: Thread[None] | None = None
        self.stopping = False

    def send(self, message: tuple[Any, ...]) -> None:
        data = ForkingPickler.dumps(message)
        with self.send_lock:
            try:
                self.conn.send_bytes(data)
            except OSError:  # the parent went away: nobody to tell
                pass

    def run(self) -> None:
        """The runner thread's loop."""
        while True:
            job = self.jobs.get()
            if job is None:
                return
            ticket = self.tickets[job.slot].acquire(False)
            with self.lock:
                del self.queued[job.id]
                skip = job.cancel_requested or not ticket
                if not skip:
                    self.current = job
            if skip:
                self.send((CANCELLED, job.id, None))
                continue
            answer = _run(job)
            with self.lock:
                self.current = None
                stop = job.cancel_requested or cancel_requested()
                if stop:
                    self.runner = None
            self.send(answer)
            if stop:
                with self.lock:
                    if self.runner is None and self.queued and not self.stopping:
                        self.runner = self._spawn()
                return

    def _spawn(self) -> Thread[None]:
        return spawn(self.run, name="threado-process-job-runner", daemon=True)

    def take(self, job: _Job) -> None:
        """The reader: a new job."""
        with self.lock:
            self.queued[job.id] = job
            if self.runner is None:
                self.runner = self._spawn()
        self.jobs.put(job)

    def cancel(self, job_id: int) -> None:
        """The reader: cancel job ``job_id`` if it is queued or running here."""
        with self.lock:
            job = self.queued.get(job_id)
            if job is not None:
                job.cancel_requested = True
            elif self.current is not None and self.current.id == job_id:
                self.current.cancel_requested = True
                if self.runner is not None:
                    self.runner.cancel(blocking=False)

    def stop(self) -> None:
        """The reader, at the end: skip the jobs queued, cancel a job still
        running, give it time to unwind."""
        with self.lock:
            self.stopping = True
            for job in self.queued.values():
                job.cancel_requested = True
            runner = self.runner
            if self.current is not None:
                self.current.cancel_requested = True
                if runner is not None:
                    runner.cancel(blocking=False)
        if runner is not None:
            self.jobs.put(None)
            runner.wait(EXIT_GRACE)


def worker_main(
    conn: Connection,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    tickets: tuple[Any, ...],
) -> None:
    """The worker process's main function: read messages until told to stop."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # pragma: no cover - not the main thread
        pass
    worker = _Worker(conn, tickets)
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as e:
            worker.send((INIT_FAILED, 0, pack_exception(e, "the initializer failed: ")))
            return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            break
        if message[0] == JOB:
            worker.take(_Job(message[1], message[2], message[3]))
        else:
            worker.cancel(message[1])
    worker.stop()
