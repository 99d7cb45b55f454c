"""The state and the manager thread of :class:`threado.ProcessPoolExecutor`.

Theory of operation
-------------------

**One manager thread per pool** (a threado daemon thread, started by the
first ``submit``) owns the workers: it alone starts them, sends to them,
reads from them and reaps them. It blocks in one cancellable ``poll``
(``_fdwait.poll_fds``) on every worker's pipe, every worker's sentinel
(readable once the process has ended), the pool's wake-up pipe and the
earliest deadline (a cancelled job's grace, a worker's SIGKILL or exit):
no polling. Other threads talk to it through ``_pending`` (jobs, FIFO) and
``_cancels`` (futures whose running job must be cancelled), under
``_lock``, then one write to the wake-up pipe (skipped while a wake-up is
already pending: the manager drains the pipe *before* it clears ``_woken``
and takes the lists, so a post after its look always leaves a byte in the
pipe, and there is never more than one).

**Dispatch.** A pending job goes to an idle worker, or to a new one while
there are fewer than ``max_workers``; when every worker is busy, one job
is *queued ahead* on each (the standard library's ``EXTRA_QUEUED_CALLS``),
so that a worker starts its next job the moment it ends one, without
waiting for the manager. A job queued ahead stays pending: cancelling it
takes its ticket, and it never runs (see ``_process_future``). When no job
is pending and a worker is idle, the manager takes back the jobs queued
ahead that have not started (by their tickets) and sends them to the idle
workers, so that no job waits behind a long one while a worker idles.

**Cancels.** A cancel of a running job is sent to its worker, with a kill
deadline ``grace`` seconds away; a cancel request the manager finds for a
job no longer in flight is dropped, so it never reaches the worker's next
job. A worker still running a cancelled job at its kill deadline gets
SIGTERM, then SIGKILL :data:`KILL_AFTER` seconds later; from its SIGTERM
on it is *exiting*: the jobs queued ahead on it go back to the queue at
once, an answer it still sends ends its job, but it gets no other job (its
death may come after that answer) and its SIGKILL stays due.

**A worker's death.** Its sentinel firing means it is gone: the manager
reads what it still sent (its last answers may be there) and reaps it.
Of the jobs it had not answered, those it never started (the parent gets
their tickets) go back to the head of the queue, in order, to run on
another worker: never lost, never run twice; the one it was running fails
with :class:`WorkerDied` naming the exit code or signal (or ends
cancelled, if a cancel was asked for). The standard pool breaks instead,
failing every job. A replacement starts when there is work. Only an
``initializer`` that fails breaks the pool, as in the standard library:
the manager kills every worker, then fails every job with
``BrokenProcessPool`` (in that order, so that a future never ends while
its job still runs).

**Shutdown.** ``shutdown`` stops ``submit``; the manager ends once no job
is pending or in flight, after telling the workers to exit and reaping
them. ``shutdown(cancel_futures=True)`` cancels the pending jobs first,
taken out of ``_pending`` under ``_lock``, then those queued ahead on
workers, then the running ones (see ``_Pool._take_all_locked``).
"""

from __future__ import annotations

import itertools
import os
import select
import threading
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final, TypeVar

from ._fdwait import poll_fds
from ._process_future import JobFuture, WorkerDied, load, pickle_error
from ._process_handles import DEPTH, Item, Sent, Worker, close, kill_all, start_worker
from ._process_worker import CANCEL, CANCELLED, INIT_FAILED, JOB, OK, dumps
from ._scopes import clock, shield
from ._threads import Thread, spawn

T = TypeVar("T")

#: Seconds between SIGTERM and SIGKILL for a worker killed after its grace.
KILL_AFTER: Final = 1.0
#: Seconds an idle worker told to exit gets before it is killed.
EXIT_TIMEOUT: Final = 5.0

_POLLIN: Final = select.POLLIN


class _Pool:
    """The pool itself: its state and its manager thread (see the module docstring).

    Only the :class:`ProcessPoolExecutor` handle refers to it, never the
    other way, so the handle can be garbage-collected while jobs run.
    """

    def __init__(
        self,
        ctx: Any,
        max_workers: int,
        initializer: Callable[..., object] | None,
        initargs: tuple[Any, ...],
        max_tasks: int | None,
        grace: float,
    ) -> None:
        self.grace = grace
        self._ctx = ctx
        self._max_workers = max_workers
        self._initializer = initializer
        self._initargs = initargs
        self._max_tasks = max_tasks
        self._ids = itertools.count()
        self._lock = threading.Lock()
        # Under _lock: what other threads hand to the manager.
        self._pending: deque[Item] = deque()
        self._cancels: list[JobFuture] = []
        self._futures: set[JobFuture] = set()  # not ended yet
        self._shutdown = False
        self._released = False  # the handle was garbage-collected (see release)
        self._broken: str | None = None
        self._woken = False
        self._wake_r = self._wake_w = -1
        self._manager: Thread[None] | None = None
        self._pid = os.getpid()
        _pools.add(self)

    def submit(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[T]:
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        error: Exception | None = None
        try:
            payload = dumps((fn, args, kwargs))
        except Exception as e:
            payload = b""
            error = pickle_error(fn, args, kwargs, e)
        future = JobFuture(self._request_cancel)
        with self._lock:
            if self._broken is not None:
                raise BrokenProcessPool(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            if error is None:
                self._pending.append(Item(future, payload))
                self._futures.add(future)
                if self._manager is None:
                    self._start_manager()
            self._wake_locked()  # always: see release
        if error is not None:
            future.set_running_or_notify_cancel()
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            futures = self._take_all_locked() if cancel_futures else []
            manager = self._manager
            self._wake_locked()
        for f in futures:
            f.cancel()
        if manager is None or not wait:
            return
        if manager.ident == threading.get_ident():
            # A done-callback (they run in the manager): the pool shuts down
            # all the same, but without cancelling its jobs as a failed wait would.
            raise RuntimeError("shutdown(wait=True) cannot wait in a done-callback of its pool")
        try:
            manager.wait()
        except BaseException:
            self._stop_now(manager)
            raise

    def release(self) -> None:
        """The handle was garbage-collected: shut down as ``shutdown(wait=False)``.

        It runs wherever the garbage collector runs, maybe in a thread that
        holds ``_lock``, so it never waits for the lock: if the lock is held,
        its holder wakes the manager before releasing it (every section
        outside the manager thread does; the manager itself looks at
        ``_released`` again before it waits), and the manager reads
        ``_released`` under the lock.
        """
        self._released = True
        if self._lock.acquire(blocking=False):
            try:
                self._shutdown = True
                self._wake_locked()
            finally:
                self._lock.release()

    def _stop_now(self, manager: Thread[None] | None) -> None:
        """Cancel every job, then wait (shielded) for the manager to finish."""
        with self._lock:
            self._shutdown = True
            futures = self._take_all_locked()
            self._wake_locked()
        for f in futures:
            f.cancel()
        if manager is not None:
            with shield():
                manager.wait()

    def _take_all_locked(self) -> list[JobFuture]:
        """The futures to cancel at shutdown: the pending ones first, taken out
        of ``_pending`` so that no worker freed meanwhile starts them, then
        those queued ahead on workers, then the running ones."""
        pending = [item.future for item in self._pending]
        self._pending.clear()
        self._futures.difference_update(pending)
        rest = list(self._futures)
        # Those queued ahead on a worker before the running ones: a worker
        # freed by a cancel must not start one of them first.
        return pending + [f for f in rest if not f.running()] + [f for f in rest if f.running()]

    def _request_cancel(self, future: JobFuture) -> None:
        with self._lock:
            self._cancels.append(future)
            self._wake_locked()

    def _wake_locked(self) -> None:
        if not self._woken and self._wake_w >= 0:
            self._woken = True
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:  # full: a wake-up is pending anyway
                pass

    def _start_manager(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._manager = spawn(self._manage, name=f"threado-process-pool-{id(self):x}", daemon=True)

    # -- the manager thread --------------------------------------------------------------

    def _manage(self) -> None:
        workers: list[Worker] = []
        try:
            self._run(workers)
        except BaseException as e:
            self._abort(workers, e)
            raise
        finally:
            with self._lock:
                r, w = self._wake_r, self._wake_w
                self._wake_r = self._wake_w = -1
            os.close(r)
            os.close(w)

    def _run(self, workers: list[Worker]) -> None:
        running: dict[JobFuture, Worker] = {}  # every job in flight -> its worker
        woken = True
        while True:
            if woken:  # (one byte at most: see _wake_locked)
                try:
                    os.read(self._wake_r, 64)
                except BlockingIOError:
                    pass
            with self._lock:
                self._woken = False
                cancels, self._cancels = self._cancels, []
                shutdown = self._shutdown or self._released
            now = clock()
            for f in cancels:
                w = running.get(f)
                sent = None if w is None else _find(w, f)
                if w is not None and sent is not None and sent.kill_at is None:
                    w.send((CANCEL, sent.id))
                    sent.kill_at = now + self.grace
            self._dispatch(workers, running)
            if self._broken is not None:
                kill_all(workers)  # first: no future ends while its job still runs
                self._fail_all(self._broken, running)
                return
            if shutdown and not running:
                with self._lock:
                    idle = not self._pending
                if idle:
                    if not workers:
                        return
                    for w in workers:
                        if not w.exiting:
                            w.exiting = True
                            w.send(None)
                            w.kill_at = now + EXIT_TIMEOUT
            fds = {self._wake_r: _POLLIN}
            deadline: float | None = None
            for w in workers:
                if not w.eof:
                    fds[w.fd] = _POLLIN
                fds[w.sentinel] = _POLLIN
                due = _due(w)
                if due is not None and (deadline is None or due < deadline):
                    deadline = due
            if self._released and not shutdown:
                deadline = clock()  # released by a GC in this thread, holding _lock: look again
            ready = {fd for fd, _ in poll_fds(fds, deadline, "the process pool's workers")}
            woken = self._wake_r in ready
            for w in list(workers):
                if w.fd in ready:
                    self._read(w, running)
                if w.sentinel in ready:
                    self._reap(w, workers, running)
            if deadline is not None:
                now = clock()
                for w in workers:
                    due = _due(w)
                    if due is not None and due <= now:
                        self._expire(w, now, running)

    def _expire(self, w: Worker, now: float, running: dict[JobFuture, Worker]) -> None:
        """``w`` is past a deadline: terminate it (a cancelled job outlived its
        grace, or it did not exit when told), or kill it (a SIGTERM did not end it)."""
        if w.terminated:
            w.process.kill()
            w.kill_at = None
            return
        # Dying: never given another job, even if its answer still comes
        # (its death may follow that answer); the jobs it has not started go
        # elsewhere now, not when it is gone.
        w.terminated = w.exiting = True
        self._take_back(w, running)
        w.process.terminate()
        w.kill_at = now + KILL_AFTER

    def _choose(self, workers: list[Worker]) -> Worker | None:
        """Where the next pending job goes: an idle worker; ``_NEW``, a worker
        to start; or a busy one to queue it ahead on; ``None``: nowhere now."""
        ahead: Worker | None = None
        for w in workers:
            if w.exiting or (self._max_tasks is not None and w.jobs >= self._max_tasks):
                continue
            if not w.sent:
                return w
            if ahead is None and len(w.sent) < DEPTH and w.sent[0].kill_at is None:
                ahead = w  # (not behind a job being cancelled)
        if len(workers) < self._max_workers:
            new: Worker = _NEW
            return new
        return ahead

    def _dispatch(self, workers: list[Worker], running: dict[JobFuture, Worker]) -> None:
        """Give pending jobs to idle workers, starting workers as needed, then
        queue one ahead on each busy worker; if none is pending, move jobs
        queued ahead to idle workers."""
        while self._broken is None:
            w = self._choose(workers)
            if w is None:
                return
            with self._lock:
                if not self._pending:
                    break
            if w is _NEW:
                try:
                    w = start_worker(self._ctx, self._initializer, self._initargs, workers)
                except Exception as e:  # e.g. out of processes, or an unpicklable initializer
                    self._cannot_start(e)
                    continue
            with self._lock:
                if not self._pending:
                    return
                item = self._pending.popleft()
                slot = w.free_slot()
                if w.sent:
                    ok = item.future._queue_ahead(w.tickets[slot])
                else:
                    ok = item.future._start(w.tickets[slot])
                if not ok:
                    self._futures.discard(item.future)
                    continue
            self._send_job(w, item, slot, running)
        self._move_ahead_jobs(workers, running)

    def _cannot_start(self, e: Exception) -> None:
        """Starting a worker failed: fail the next pending job with the reason."""
        err = RuntimeError(f"could not start a worker process: {type(e).__name__}: {e}")
        err.__cause__ = e
        with self._lock:
            item = self._pending.popleft() if self._pending else None
            if item is not None and not item.future._start(None):
                self._futures.discard(item.future)
                item = None
        if item is not None:
            self._end(item.future, False, err)

    def _send_job(self, w: Worker, item: Item, slot: int, running: dict[JobFuture, Worker]) -> None:
        sent = Sent(next(self._ids), item, slot)
        w.sent.append(sent)
        w.jobs += 1
        running[item.future] = w
        w.send((JOB, sent.id, item.payload, slot))

    def _move_ahead_jobs(self, workers: list[Worker], running: dict[JobFuture, Worker]) -> None:
        """Nothing pending, a worker idle: take back the jobs queued ahead on
        busy workers that have not started them, and send them to the idle ones."""
        idle = [
            w
            for w in workers
            if not w.sent
            and not w.exiting
            and (self._max_tasks is None or w.jobs < self._max_tasks)
        ]
        for w in workers:
            if not idle:
                return
            if len(w.sent) < DEPTH or w.sent[-1].moved or w.sent[-1].started:
                continue
            sent = w.sent[-1]
            taken = sent.item.future._take_back(w.tickets[sent.slot])
            if taken is False:
                sent.started = True  # its worker took the ticket: it runs there
                continue
            sent.moved = True  # its answer (a skip) is dropped
            running.pop(sent.item.future, None)
            if not taken:
                self._discard(sent.item.future)
                continue
            target = idle.pop()
            slot = target.free_slot()
            with self._lock:
                ok = sent.item.future._start(target.tickets[slot])
                if not ok:  # cancelled meanwhile
                    self._futures.discard(sent.item.future)
            if ok:
                self._send_job(target, sent.item, slot, running)

    def _take_back(self, w: Worker, running: dict[JobFuture, Worker]) -> None:
        """The jobs sent to ``w`` (dying) that it has not started go back to the
        head of the queue; those that ended meanwhile are forgotten."""
        back: list[Item] = []
        for sent in w.sent:
            if sent.moved:
                continue
            taken = sent.item.future._take_back(w.tickets[sent.slot])
            if taken is False:
                continue  # it started there: its worker's fate is its own
            sent.moved = True
            running.pop(sent.item.future, None)
            if taken:
                back.append(sent.item)
            else:
                self._discard(sent.item.future)
        if back:
            with self._lock:
                self._pending.extendleft(reversed(back))

    def _read(self, w: Worker, running: dict[JobFuture, Worker]) -> None:
        """Take every answer ``w`` has sent."""
        try:
            # One answer is there (its pipe was readable); the others already
            # there, by a plain poll (Connection.poll builds a selector).
            while not w.eof:
                self._answer(w, w.conn.recv(), running)
                if not w.poller.poll(0):
                    break
        except (EOFError, OSError):
            w.eof = True  # it is exiting: its sentinel follows

    def _answer(self, w: Worker, message: Any, running: dict[JobFuture, Worker]) -> None:
        status, job_id, data = message
        if status == INIT_FAILED:
            with self._lock:  # the loop then kills the workers and fails the jobs
                self._broken = self._broken or f"a worker's initializer failed: {load(data)[1]!r}"
            return
        if not w.sent or w.sent[0].id != job_id:  # pragma: no cover - answers come in order
            return
        sent = w.sent.pop(0)
        if w.sent and not w.sent[0].moved:
            w.sent[0].item.future._next()  # the job queued ahead starts now
        if (
            self._max_tasks is not None
            and w.jobs >= self._max_tasks
            and not w.sent
            and not w.exiting
        ):
            w.exiting = True
            w.send(None)
            w.kill_at = clock() + EXIT_TIMEOUT
        if sent.moved:
            return
        future = sent.item.future
        del running[future]
        if status == CANCELLED:  # it is _cancelling, or ended already: it ends cancelled
            ok, value = False, None
        else:
            loaded, value = load(data)
            ok = loaded and status == OK
        self._end(future, ok, value)

    def _end(self, future: JobFuture, ok: bool, value: Any) -> None:
        self._discard(future)
        future._end(ok, value)

    def _discard(self, future: JobFuture) -> None:
        with self._lock:
            self._futures.discard(future)

    def _reap(self, w: Worker, workers: list[Worker], running: dict[JobFuture, Worker]) -> None:
        """``w`` has exited: take its last answers, reap it; the jobs it never
        started go elsewhere, the one it was running fails."""
        if not w.eof and w.poller.poll(0):
            self._read(w, running)
        code = close(w)
        workers.remove(w)
        if self._broken is not None:  # _fail_all ends its jobs
            return
        self._take_back(w, running)
        for sent in w.sent:
            if not sent.moved:
                del running[sent.item.future]
                self._end(sent.item.future, False, WorkerDied(w.pid, code))

    def _fail_all(self, reason: str, running: dict[JobFuture, Worker]) -> None:
        """An initializer failed (``_broken``), every worker is gone: fail every
        job; ``submit`` refuses new ones (the stdlib's rule)."""
        with self._lock:
            pending = [item.future for item in self._pending]
            self._pending.clear()
        for future in pending + list(running):
            if future._start(None) or future.running():
                self._end(future, False, BrokenProcessPool(reason))
            else:
                self._discard(future)

    def _abort(self, workers: list[Worker], exc: BaseException) -> None:
        """The manager itself was cancelled or failed: stop every worker now."""
        with shield():
            reason = f"the process pool's manager thread stopped: {exc!r}"
            with self._lock:
                self._broken = self._broken or reason
                pending = list(self._pending)
                self._pending.clear()
                futures = list(self._futures)
            kill_all(workers)
            for item in pending:
                item.future._start(None)
            for f in futures:
                f._start(None)
                self._end(f, False, BrokenProcessPool(reason))


#: ``_Pool._choose``'s answer for "start a worker".
_NEW: Final[Any] = object()


def _find(w: Worker, future: JobFuture) -> Sent | None:
    """``future``'s job in flight on ``w``."""
    for sent in w.sent:
        if sent.item.future is future and not sent.moved:
            return sent
    return None


def _due(w: Worker) -> float | None:
    """``w``'s earliest deadline: its own, or a cancelled job's grace."""
    due = w.kill_at
    if not w.terminated:
        for sent in w.sent:
            if sent.kill_at is not None and (due is None or sent.kill_at < due):
                due = sent.kill_at
    return due


# -- interpreter exit ----------------------------------------------------------------------

_pools: weakref.WeakSet[_Pool] = weakref.WeakSet()
_exiting = False


def _at_exit() -> None:
    """Cancel the jobs of every pool still open, and wait for their cleanup."""
    global _exiting
    _exiting = True
    pid = os.getpid()
    for pool in list(_pools):
        if pool._pid == pid:
            pool._stop_now(pool._manager)


try:
    threading._register_atexit(_at_exit)  # type: ignore[attr-defined]
except RuntimeError:  # pragma: no cover - imported while the interpreter exits
    pass
