"""The futures of :class:`threado.ProcessPoolExecutor`, and its errors.

Theory of operation
-------------------

A job's future is a :class:`concurrent.futures.Future` whose ``cancel()``
also works on a running job. Every change of state happens under the
future's own condition, so the orders of a cancel and a job's answer are
all exact.

**Tickets.** Every job sent to a worker comes with a *ticket*: the
release of one of that worker's two semaphores (see ``_process_handles``),
made before the job is sent. The worker takes the ticket
(``acquire(False)``, atomic across the two processes) just before it would
start the job, and runs the job only if it got it. So the parent can learn,
without asking the worker, whether a job it sent has started: if the
parent gets the ticket first, the job never starts (the worker skips it and
answers :data:`~threado._process_worker.CANCELLED`). That is how a job
*queued ahead* (sent to a busy worker so that it never idles waiting for
the manager) stays cancellable as a pending job, how the manager moves a
job queued ahead to a worker that went idle, and how a worker's death
tells the jobs it never started (sent elsewhere) from the one it was
running (failed).

**States.** A job still pending, in the pool's queue or queued ahead on a
worker, is ``PENDING``; it becomes ``RUNNING`` when it is sent to an idle
worker, or when the job before it on its worker ended. ``cancel()`` on a
pending job:

* queued in the pool, or queued ahead with its ticket taken by the cancel:
  the future goes straight to the standard library's "cancelled and
  notified" state, waking its waiters, before its done-callbacks run (which
  may wait on it themselves); the job never runs;
* queued ahead, but the worker took the ticket (it has just started the
  job): it is a running job's cancel, below.

For a running job:

* the cancel comes first: it marks the future ``_cancelling`` and returns
  ``True``; the manager sends the cancel to the worker and sets a kill
  deadline ``grace`` seconds away; whatever answer then arrives (a result
  finished in the same instant included), or the worker's death, ends the
  future *cancelled*: ``True`` always means the future ends cancelled, and
  it ends only once the job has unwound (or its worker is gone);
* the answer comes first: the future is finished and ``cancel()`` returns
  ``False``; a cancel request the manager finds for a job no longer running
  is dropped, so it never reaches the worker's next job.
"""

from __future__ import annotations

import pickle
import signal
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import _base as futures_base
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from ._process_worker import dumps
from ._scopes import checkpoint
from ._wait import wait


class Ticket(Protocol):
    """A ``multiprocessing`` semaphore as the tickets use it."""

    def acquire(self, block: bool = ...) -> bool: ...

    def release(self) -> None: ...


class WorkerDied(BrokenProcessPool):
    """The worker process running a job died; the pool goes on with a new one.

    ``pid`` and ``exitcode`` (negative: the signal number) say which and how.
    """

    def __init__(self, pid: int, exitcode: int | None) -> None:
        self.pid = pid
        self.exitcode = exitcode
        if exitcode is not None and exitcode < 0:
            try:
                how = f"signal {signal.Signals(-exitcode).name}"
            except ValueError:
                how = f"signal {-exitcode}"
        else:
            how = f"exit code {exitcode}"
        super().__init__(f"worker process {pid} died with {how} while running this job")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.pid, self.exitcode))


WorkerDied.__module__ = "threado"


class JobFuture(Future[Any]):
    """A future whose ``cancel()`` also cancels a running job (see the module docstring)."""

    def __init__(self, request_cancel: Callable[[JobFuture], None]) -> None:
        super().__init__()
        self._request_cancel = request_cancel
        self._cancelling = False
        self._ticket: Ticket | None = None  # while queued ahead on a worker
        # A remote job's (see _remote_executor): its token once it is
        # launched, and whether a cancel came before that.
        self._token: str | None = None
        self._cancel_early = False

    def cancel(self) -> bool:
        with self._condition:
            state = self._state
            if state == futures_base.PENDING and not (
                self._ticket is None or self._ticket.acquire(False)
            ):
                # Queued ahead, and its worker took the ticket: it runs.
                self._state = state = futures_base.RUNNING
            if state == futures_base.PENDING:
                # Waiters (wait, as_completed, threado.wait) learn of it now,
                # not when the manager reaches the job in the queue; and
                # before the done-callbacks, which may wait on it themselves.
                self._state = futures_base.CANCELLED_AND_NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
                self._condition.notify_all()
            elif state == futures_base.RUNNING:
                if self._cancelling:
                    return True
                self._cancelling = True
            else:
                return state in (futures_base.CANCELLED, futures_base.CANCELLED_AND_NOTIFIED)
        if state == futures_base.PENDING:
            self._invoke_callbacks()  # type: ignore[attr-defined]
        else:
            self._request_cancel(self)
        return True

    def _start(self, ticket: Ticket | None) -> bool:
        """PENDING -> RUNNING, sent to an idle worker with ``ticket`` (or to
        end at once: ``None``); ``False`` if it was cancelled."""
        with self._condition:
            if self._state != futures_base.PENDING:
                return False
            self._state = futures_base.RUNNING
            self._ticket = None
            if ticket is not None:
                ticket.release()
            return True

    def _queue_ahead(self, ticket: Ticket) -> bool:
        """Stay PENDING, queued ahead on a busy worker with ``ticket``;
        ``False`` if it was cancelled."""
        with self._condition:
            if self._state != futures_base.PENDING:
                return False
            self._ticket = ticket
            ticket.release()
            return True

    def _next(self) -> None:
        """Queued ahead, the job before it ended: PENDING -> RUNNING, unless cancelled."""
        with self._condition:
            if self._state == futures_base.PENDING:
                self._state = futures_base.RUNNING
                self._ticket = None

    def _take_back(self, ticket: Ticket) -> bool | None:
        """Its worker will never start it: back to PENDING, to go elsewhere.

        ``True``: taken back (its ticket taken by the parent); ``False``:
        its worker took the ticket, the job started there; ``None``: it has
        already ended, or ended now, cancelled (a running job's cancel was
        asked: it ends as such, never having run).
        """
        with self._condition:
            if self._state not in (futures_base.PENDING, futures_base.RUNNING):
                return None
            if not ticket.acquire(False):
                if self._state == futures_base.PENDING:
                    self._state = futures_base.RUNNING
                self._ticket = None
                return False
            self._ticket = None
            if not self._cancelling:
                self._state = futures_base.PENDING
                return True
        self._end(False, None)
        return None

    def _end(self, ok: bool, value: Any) -> None:
        """End a running job: its result, its exception, or cancelled if asked."""
        with self._condition:
            if self._state != futures_base.RUNNING:
                return
            waiters = self._waiters
            if self._cancelling:
                self._state = futures_base.CANCELLED_AND_NOTIFIED
                for waiter in waiters:
                    waiter.add_cancelled(self)
            elif ok:
                self._result = value
                self._state = futures_base.FINISHED
                for waiter in waiters:
                    waiter.add_result(self)
            else:
                self._exception = value
                self._state = futures_base.FINISHED
                for waiter in waiters:
                    waiter.add_exception(self)
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]

    def result(self, timeout: float | None = None) -> Any:
        """As ``Future.result``, and a blocking point (a cancel raises ``ThreadCancelled``)."""
        self._wait_done(timeout)
        return super().result(0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """As ``Future.exception``, and a blocking point."""
        self._wait_done(timeout)
        return super().exception(0)

    def _wait_done(self, timeout: float | None) -> None:
        if self.done():
            checkpoint()  # a blocking point checks on entry, even with nothing to wait for
        # A deadline already passed (map's) waits no more, as Condition.wait.
        elif not wait([self], None if timeout is None else max(0.0, timeout)):
            raise TimeoutError


def pickle_error(
    fn: object, args: tuple[Any, ...], kwargs: dict[str, Any], e: BaseException
) -> Exception:
    """The error of a job that cannot be pickled, naming what could not be."""
    what = "the job"
    candidates: list[tuple[str, object]] = [(f"the function {fn!r}", fn)]
    candidates += [(f"argument {i} ({a!r})", a) for i, a in enumerate(args)]
    candidates += [(f"argument {k}= ({v!r})", v) for k, v in kwargs.items()]
    for name, obj in candidates:
        try:
            dumps(obj)
        except Exception:
            what = name
            break
    err = pickle.PicklingError(f"cannot send {what} to a worker process: {type(e).__name__}: {e}")
    err.__cause__ = e
    return err


def load(data: bytes) -> tuple[bool, Any]:
    """Unpickle an answer: ``(True, value)``, or ``(False, exception)`` if that fails."""
    try:
        return True, pickle.loads(data)
    except Exception as e:
        err = pickle.UnpicklingError(
            f"could not unpickle the answer of a worker process: {type(e).__name__}: {e}"
        )
        # Without its traceback: its frames (the manager's) would stay alive in a cycle.
        err.__cause__ = e.with_traceback(None)
        return False, err
