"""``threado.ProcessPoolExecutor``: a process pool whose running jobs can be cancelled.

Theory of operation
-------------------

Each job runs as a threado thread in a worker process (see
``_process_worker``), so a cancel sent to the worker raises
``ThreadCancelled`` at the job's next blocking point there, and its cleanup
runs there. One job runs per worker at a time, as in the standard library.

**One manager thread per pool** (a threado daemon thread, started by the
first ``submit``) owns the workers: it alone starts them, sends to them,
reads from them and reaps them. It blocks in one :func:`threado.wait` on
every worker's pipe, every worker's sentinel (readable once the process
has ended), the pool's wake-up pipe and, when a cancelled job is being
waited for, the earliest kill deadline: no polling. Other threads talk to
it through ``_pending`` (jobs, FIFO) and ``_cancels`` (futures whose
running job must be cancelled), under ``_lock``, then one write to the
wake-up pipe (skipped while a wake-up is already pending: the manager
drains the pipe *before* it clears ``_woken`` and takes the lists, so a
post after its look always leaves a byte in the pipe).

**A job's future** is a :class:`concurrent.futures.Future` whose
``cancel()`` also works on a running job. Every change of state happens
under the future's own condition, so the two orders of a cancel and a
job's answer are both exact. A job still pending is cancelled at once: its
future goes straight to the standard library's "cancelled and notified"
state, waking its waiters, before its done-callbacks run (which may wait
on it themselves); the manager skips it. For a running job:

* the cancel comes first: it marks the future ``_cancelling`` and returns
  ``True``; the manager sends the cancel to the worker and sets a kill
  deadline ``grace`` seconds away; whatever answer then arrives (a result
  finished in the same instant included), or the worker's death, ends the
  future *cancelled*: ``True`` always means the future ends cancelled, and
  it ends only once the job has unwound (or its worker is gone);
* the answer comes first: the future is finished and ``cancel()`` returns
  ``False``; a cancel request the manager finds for a job no longer running
  is dropped, so it never reaches the worker's next job.

A worker still running a cancelled job at its kill deadline gets SIGTERM,
then SIGKILL :data:`KILL_AFTER` seconds later; from its SIGTERM on it is
*exiting*: an answer it still sends ends its job, but it gets no other job
(its death may come after that answer) and its SIGKILL stays due. A
worker's sentinel firing means it is gone: the manager reads what it still
sent (its last answer may be there), reaps it, fails its job (if any) with
:class:`WorkerDied` naming the exit code or signal (or ends it cancelled,
if a cancel was asked for), and starts a replacement when there is work. The pool never
breaks for a worker's death; only an ``initializer`` that fails breaks it,
as in the standard library: the manager kills every worker, then fails
every job with ``BrokenProcessPool`` (in that order, so that a future never
ends while its job still runs).

**The handle and the pool.** :class:`ProcessPoolExecutor` is a handle on
a ``_Pool``, which holds the state and runs the manager; the manager and
the futures refer to the ``_Pool`` only. So a handle dropped without
``shutdown`` is garbage-collected, and its finalizer shuts the pool down as
``shutdown(wait=False)`` does (the jobs finish, the workers exit), as the
standard library's pool does, instead of leaving processes behind until
the interpreter exits. The finalizer may run in any thread, even one that
holds ``_lock``: it never waits for the lock (see ``_Pool.release``).

**Shutdown, Ctrl-C and exit.** ``shutdown`` stops ``submit``; the manager
ends once no job is pending or running, after telling the workers to exit
and reaping them. With ``cancel_futures=True`` the pending jobs are taken
out of ``_pending`` under ``_lock`` (so none of them starts, however slow
their done-callbacks) and cancelled, then the running jobs are cancelled
too. A ``KeyboardInterrupt`` (or a cancel) while ``shutdown`` or
``__exit__`` waits does the same, waits (shielded, at most ``grace`` and
the kill delay) for the cleanup, then propagates. At interpreter exit
(``threading``'s exit hooks, which run before non-daemon threads are
joined) the jobs of every pool still open are cancelled, not waited for.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import signal
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures import _base as futures_base
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final, TypeVar

from ._conditions import readable
from ._process_worker import CANCEL, CANCELLED, INIT_FAILED, JOB, OK, dumps, worker_main
from ._scopes import checkpoint, clock, shield
from ._threads import Thread, spawn
from ._wait import wait

T = TypeVar("T")

#: Seconds between SIGTERM and SIGKILL for a worker killed after its grace.
KILL_AFTER: Final = 1.0
#: Seconds an idle worker told to exit gets before it is killed.
EXIT_TIMEOUT: Final = 5.0


def _default_context() -> Any:
    # forkserver where there is one (Python 3.14's default on POSIX): a fork
    # from the manager thread of a multi-threaded parent may copy a lock
    # some other thread holds.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


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


class _Future(Future[Any]):
    """A future whose ``cancel()`` also cancels a running job (see the module docstring)."""

    def __init__(self, request_cancel: Callable[[_Future], None]) -> None:
        super().__init__()
        self._request_cancel = request_cancel
        self._cancelling = False

    def cancel(self) -> bool:
        with self._condition:
            state = self._state
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

    def _start(self) -> bool:
        """PENDING -> RUNNING (the manager's dispatch); ``False`` if it was cancelled."""
        with self._condition:
            if self._state != futures_base.PENDING:
                return False
            self._state = futures_base.RUNNING
            return True

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


@dataclass(eq=False)
class _Item:
    id: int
    future: _Future
    payload: bytes


@dataclass(eq=False)
class _Worker:
    process: Any
    pid: int
    conn: Connection
    on_conn: readable
    on_exit: readable
    job: _Item | None = None
    tasks: int = 0
    kill_at: float | None = None
    terminated: bool = False
    exiting: bool = False
    eof: bool = False
    answers: list[Any] = field(default_factory=list)


def _pickle_error(
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


class ProcessPoolExecutor(Executor):
    """A ``concurrent.futures.ProcessPoolExecutor`` whose running jobs can be cancelled.

    The standard library's signature, plus ``grace``: the seconds a
    cancelled job gets to unwind before its worker is terminated and
    replaced. Jobs run as threado threads in the workers: ``future.cancel()``
    on a running job raises ``ThreadCancelled`` at its next blocking point
    there and returns ``True``; the future ends cancelled once the job has
    unwound. A worker that dies fails only its job (:class:`WorkerDied`).
    ``mp_context`` defaults to ``forkserver`` (``spawn`` where there is none);
    every start method works. ``max_tasks_per_child`` works with ``fork`` too.

    Raises:
        ValueError: ``max_workers``, ``max_tasks_per_child`` or ``grace`` out of range.
        TypeError: ``initializer`` is not callable.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: Any = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        max_tasks_per_child: int | None = None,
        *,
        grace: float = 1.0,
    ) -> None:
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        elif max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if max_tasks_per_child is not None and (
            not isinstance(max_tasks_per_child, int) or max_tasks_per_child <= 0
        ):
            raise ValueError("max_tasks_per_child must be >= 1")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if not isinstance(grace, int | float) or not grace >= 0:
            raise ValueError(f"grace must be a number >= 0, not {grace!r}")
        ctx = _default_context() if mp_context is None else mp_context
        self._pool = _Pool(
            ctx, max_workers, initializer, tuple(initargs), max_tasks_per_child, float(grace)
        )
        # Dropped without shutdown: the pool shuts down, as the standard one does.
        weakref.finalize(self, self._pool.release).atexit = False

    @property
    def grace(self) -> float:
        """Seconds a cancelled job gets to unwind before its worker is terminated."""
        return self._pool.grace

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` in a worker process; return its future.

        A job that cannot be pickled gets a future failed with
        ``pickle.PicklingError`` naming the function or argument.

        Raises:
            TypeError: ``fn`` is not callable.
            RuntimeError: the pool was shut down (or the interpreter is exiting).
            BrokenProcessPool: the ``initializer`` failed in a worker.
        """
        return self._pool.submit(fn, args, kwargs)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[T]:
        """As ``ProcessPoolExecutor.map``; a ``timeout`` that passes cancels the
        calls not yet yielded, running ones included.

        Raises:
            ValueError: ``chunksize`` is less than 1.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        batches = _batched(zip(*iterables, strict=False), chunksize)
        results = super().map(_ChunkRunner(fn), batches, timeout=timeout)
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; with ``wait``, return once every worker has exited.

        ``cancel_futures=True`` cancels the pending jobs and the running ones.
        A blocking point when ``wait`` is true; a ``KeyboardInterrupt`` or a
        cancel while it waits cancels every job, waits for their cleanup
        (at most ``grace`` plus the kill delay), and propagates.

        Raises:
            RuntimeError: ``wait`` is true in a done-callback of one of the
                pool's futures (they run in the pool's manager thread, which
                cannot wait for itself); the pool shuts down all the same.
        """
        self._pool.shutdown(wait, cancel_futures)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Ctrl-C, a cancel or SystemExit: the jobs are cancelled, not waited for.
        self.shutdown(wait=True, cancel_futures=exc is not None and not isinstance(exc, Exception))


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
        self._pending: deque[_Item] = deque()
        self._cancels: list[_Future] = []
        self._futures: set[_Future] = set()  # not ended yet
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
            error = _pickle_error(fn, args, kwargs, e)
        future = _Future(self._request_cancel)
        with self._lock:
            if self._broken is not None:
                raise BrokenProcessPool(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            if error is None:
                self._pending.append(_Item(next(self._ids), future, payload))
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

    def _take_all_locked(self) -> list[_Future]:
        """The futures to cancel at shutdown: the pending ones first, taken out
        of ``_pending`` so that no worker freed meanwhile starts them, then the
        running ones."""
        pending = [item.future for item in self._pending]
        self._pending.clear()
        self._futures.difference_update(pending)
        return pending + list(self._futures)

    def _request_cancel(self, future: _Future) -> None:
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
        workers: list[_Worker] = []
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

    def _run(self, workers: list[_Worker]) -> None:
        running: dict[_Future, _Worker] = {}
        on_wake = readable(self._wake_r)
        woken = True
        while True:
            if woken:
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
            with self._lock:
                self._woken = False
                cancels, self._cancels = self._cancels, []
                shutdown = self._shutdown or self._released
            now = clock()
            for f in cancels:
                w = running.get(f)
                if w is not None and w.job is not None and w.kill_at is None:
                    self._send(w, (CANCEL, w.job.id))
                    w.kill_at = now + self.grace
            self._dispatch(workers, running)
            if self._broken is not None:
                _kill_all(workers)  # first: no future ends while its job still runs
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
                            self._send(w, None)
                            w.kill_at = now + EXIT_TIMEOUT
            waitables: list[readable] = [on_wake]
            deadline: float | None = None
            for w in workers:
                if not w.eof:
                    waitables.append(w.on_conn)
                waitables.append(w.on_exit)
                if w.kill_at is not None and (deadline is None or w.kill_at < deadline):
                    deadline = w.kill_at
            timeout = None if deadline is None else max(0.0, deadline - clock())
            if self._released and not shutdown:
                timeout = 0.0  # released by a GC in this thread, holding _lock: look again
            ready = wait(waitables, timeout)
            woken = on_wake in ready
            for w in list(workers):
                if w.on_conn in ready:
                    self._read(w, running)
                if w.on_exit in ready:
                    self._reap(w, workers, running)
            now = clock()
            for w in workers:
                if w.kill_at is not None and w.kill_at <= now:
                    if not w.terminated:
                        # Dying: never given another job, even if its answer
                        # still comes (its death may follow that answer).
                        w.terminated = w.exiting = True
                        w.process.terminate()
                        w.kill_at = now + KILL_AFTER
                    else:
                        w.process.kill()
                        w.kill_at = None

    def _dispatch(self, workers: list[_Worker], running: dict[_Future, _Worker]) -> None:
        """Give pending jobs to idle workers, starting workers as needed."""
        idle = [w for w in workers if w.job is None and not w.exiting]
        while self._broken is None:
            with self._lock:
                if not self._pending:
                    return
                if not idle and len(workers) >= self._max_workers:
                    return
                item = self._pending.popleft()
                if not item.future._start():
                    self._futures.discard(item.future)
                    continue
            try:
                w = idle.pop() if idle else self._start_worker(workers)
            except Exception as e:  # e.g. out of processes, or an unpicklable initializer
                err = RuntimeError(f"could not start a worker process: {type(e).__name__}: {e}")
                err.__cause__ = e
                self._end(item.future, False, err)
                continue
            w.job = item
            running[item.future] = w
            self._send(w, (JOB, item.id, item.payload))

    def _start_worker(self, workers: list[_Worker]) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=worker_main, args=(child, self._initializer, self._initargs)
        )
        try:
            process.start()
        except BaseException:
            parent.close()  # now: the error's traceback keeps this frame alive
            raise
        finally:
            child.close()
        w = _Worker(process, process.pid, parent, readable(parent), readable(process.sentinel))
        workers.append(w)
        return w

    @staticmethod
    def _send(w: _Worker, message: object) -> None:
        try:
            w.conn.send(message)
        except OSError:  # it died: its sentinel tells
            pass

    def _read(self, w: _Worker, running: dict[_Future, _Worker]) -> None:
        """Take every answer ``w`` has sent."""
        try:
            while not w.eof and w.conn.poll():
                self._answer(w, w.conn.recv(), running)
        except (EOFError, OSError):
            w.eof = True  # it is exiting: its sentinel follows

    def _answer(self, w: _Worker, message: Any, running: dict[_Future, _Worker]) -> None:
        status, job_id, data = message
        if status == INIT_FAILED:
            with self._lock:  # the loop then kills the workers and fails the jobs
                self._broken = self._broken or f"a worker's initializer failed: {_load(data)[1]!r}"
            return
        item = w.job
        if item is None or item.id != job_id:  # pragma: no cover - one job at a time
            return
        w.job = None
        if not w.terminated:  # else its SIGKILL stays due
            w.kill_at = None
        w.tasks += 1
        del running[item.future]
        if status == CANCELLED:  # the future is _cancelling: it ends cancelled
            ok, value = False, None
        else:
            loaded, value = _load(data)
            ok = loaded and status == OK
        self._end(item.future, ok, value)
        if self._max_tasks is not None and w.tasks >= self._max_tasks and not w.exiting:
            w.exiting = True
            self._send(w, None)
            w.kill_at = clock() + EXIT_TIMEOUT

    def _end(self, future: _Future, ok: bool, value: Any) -> None:
        with self._lock:
            self._futures.discard(future)
        future._end(ok, value)

    def _reap(self, w: _Worker, workers: list[_Worker], running: dict[_Future, _Worker]) -> None:
        """``w`` has exited: take its last answers, reap it, fail its job."""
        self._read(w, running)
        w.process.join()
        code = w.process.exitcode
        workers.remove(w)
        w.conn.close()
        w.process.close()
        item = w.job
        if item is not None and self._broken is None:  # else _fail_all ends it
            del running[item.future]
            self._end(item.future, False, WorkerDied(w.pid, code))

    def _fail_all(self, reason: str, running: dict[_Future, _Worker]) -> None:
        """An initializer failed (``_broken``), every worker is gone: fail every
        job; ``submit`` refuses new ones (the stdlib's rule)."""
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        for item in pending:
            if item.future._start():
                self._end(item.future, False, BrokenProcessPool(reason))
        for future in list(running):
            self._end(future, False, BrokenProcessPool(reason))

    def _abort(self, workers: list[_Worker], exc: BaseException) -> None:
        """The manager itself was cancelled or failed: stop every worker now."""
        with shield():
            reason = f"the process pool's manager thread stopped: {exc!r}"
            with self._lock:
                self._broken = self._broken or reason
                pending = list(self._pending)
                self._pending.clear()
                futures = list(self._futures)
            _kill_all(workers)
            for item in pending:
                item.future._start()
            for f in futures:
                f._start()
                self._end(f, False, BrokenProcessPool(reason))


def _kill_all(workers: list[_Worker]) -> None:
    """Kill and reap every worker (the pool broke, or its manager stopped)."""
    for w in workers:
        w.process.kill()
    for w in workers:
        w.process.join()
        w.conn.close()
        w.process.close()  # its sentinel now, not at a later garbage collection
    workers.clear()


def _load(data: bytes) -> tuple[bool, Any]:
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


class _ChunkRunner:
    """``map``'s job for a chunk of calls (picklable when ``fn`` is)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, chunk: tuple[tuple[Any, ...], ...]) -> list[Any]:
        return [self.fn(*args) for args in chunk]


def _batched(iterable: Iterable[T], n: int) -> Iterator[tuple[T, ...]]:
    it = iter(iterable)
    while batch := tuple(itertools.islice(it, n)):
        yield batch


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


ProcessPoolExecutor.__module__ = "threado"
