"""The worker side of :class:`threado.ProcessPoolExecutor`.

Theory of operation
-------------------

A worker process runs :func:`worker_main` with its end of a duplex
``multiprocessing`` pipe. Its main thread is the *reader*: it receives the
parent's messages, in the order sent, and never runs a job itself:

* ``(JOB, id, payload)``: unpickle and run ``fn(*args, **kwargs)`` in a new
  threado thread (so the job is cancellable like any threado thread);
* ``(CANCEL, id)``: if job ``id`` is the current job, cancel its thread
  (``ThreadCancelled`` at its next blocking point; a job that already ended
  is left alone: its answer is on its way);
* ``None``, or the pipe's end (the parent went away): stop, cancelling a
  job still running and giving it :data:`EXIT_GRACE` seconds to unwind.

The parent sends a job only to an idle worker and a cancel only for the job
it believes is running there, so the reader sees a job's cancel before the
next job: a late cancel never reaches the wrong job.

The job's thread sends one answer, ``(status, id, data)``: :data:`OK` with
the pickled result, :data:`ERROR` with the pickled exception wrapped so
that the parent sees the worker's traceback as its ``__cause__`` (the
standard library's ``_ExceptionWithTraceback``), or :data:`CANCELLED` when
the job ended by ``ThreadCancelled`` after a cancel from the parent. A job,
a result or an exception that cannot be (un)pickled becomes an ``ERROR``
naming what failed; nothing of it reaches the reader, so one bad job never
breaks the worker.

SIGINT is ignored in workers: Ctrl-C reaches the whole process group, and
the parent turns it into cancels, whose cleanup then runs here.
"""

from __future__ import annotations

import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures.process import _ExceptionWithTraceback
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Final

from ._errors import ThreadCancelled
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
    except Exception as e:
        stand_in = RuntimeError(
            f"{note}{type(exc).__qualname__}: {exc} (the exception could not be pickled: {e})"
        )
        return dumps(_ExceptionWithTraceback(stand_in, tb))


class _Job:
    __slots__ = ("cancel_requested", "id", "thread")

    def __init__(self, job_id: int) -> None:
        self.id = job_id
        self.cancel_requested = False
        self.thread: Thread[None] | None = None


def _run(job: _Job, payload: bytes, send: Callable[[tuple[Any, ...]], None]) -> None:
    """Run one job in its own threado thread and send its one answer."""
    try:
        fn, args, kwargs = pickle.loads(payload)
    except BaseException as e:
        send((ERROR, job.id, pack_exception(e, "could not unpickle the job in the worker: ")))
        return
    try:
        result = fn(*args, **kwargs)
    except ThreadCancelled as e:
        if job.cancel_requested:
            answer: tuple[Any, ...] = (CANCELLED, job.id, None)
        else:
            answer = (ERROR, job.id, pack_exception(e))
    except BaseException as e:
        answer = (ERROR, job.id, pack_exception(e))
    else:
        try:
            answer = (OK, job.id, dumps(result))
        except Exception as e:
            err = TypeError(f"could not pickle the result of {fn!r}: {type(e).__name__}: {e}")
            err.__cause__ = e
            answer = (ERROR, job.id, pack_exception(err))
    send(answer)


def worker_main(
    conn: Connection,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    """The worker process's main function: read messages until told to stop."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # pragma: no cover - not the main thread
        pass
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        data = ForkingPickler.dumps(message)
        with send_lock:
            try:
                conn.send_bytes(data)
            except OSError:  # the parent went away: nobody to tell
                pass

    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as e:
            send((INIT_FAILED, 0, pack_exception(e, "the initializer failed: ")))
            return
    current: _Job | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            break
        if message[0] == JOB:
            current = _Job(message[1])
            current.thread = spawn(
                _run, current, message[2], send, name=f"threado-job-{message[1]}", daemon=True
            )
        elif current is not None and current.id == message[1]:
            current.cancel_requested = True
            if current.thread is not None:
                current.thread.cancel(blocking=False)
    if current is not None and current.thread is not None and current.thread.is_alive():
        current.cancel_requested = True
        current.thread.cancel(timeout=EXIT_GRACE)
