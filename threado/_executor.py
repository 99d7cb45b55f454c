"""``threado.ThreadPoolExecutor``: the standard library's pool, with cancellable jobs.

A drop-in for :class:`concurrent.futures.ThreadPoolExecutor` (same
signatures, same worker reuse, same ``BrokenThreadPool``, same default
``max_workers``) whose workers are threado threads, so that three things
the standard pool cannot do work:

* ``future.cancel()`` of a *running* job cancels the job: its next blocking
  point raises :class:`ThreadCancelled`, the worker survives and takes the
  next job, and the future ends cancelled once the job has unwound;
* ``shutdown(cancel_futures=True)`` and a ``map(..., timeout=)`` that timed
  out cancel running jobs as well as queued ones;
* Ctrl-C during ``shutdown`` (the end of a ``with`` block), and interpreter
  exit, cancel the running jobs instead of waiting for them.

This module imports ``concurrent.futures`` (and so ``logging``): it is
loaded on first use of ``threado.ThreadPoolExecutor``.

Theory of operation
-------------------

Each job is a :class:`_Job`, a ``concurrent.futures.Future`` whose
``_condition`` is a threado :class:`Condition` (so ``result()`` is a
blocking point) and which carries the job itself: the function, its
arguments, a copy of the submitter's ``contextvars`` context, and a
:class:`CancelScope` the worker runs the job in.

The future's state machine is the standard one (PENDING -> RUNNING ->
FINISHED, PENDING -> CANCELLED -> CANCELLED_AND_NOTIFIED) plus one edge,
RUNNING -> CANCELLED_AND_NOTIFIED, guarded by ``_job_cancel``. Under the
future's condition:

* ``cancel()`` of a RUNNING job sets ``_job_cancel`` (once), cancels the
  job's scope (which never blocks) and returns ``True``; the state stays
  RUNNING (``done()`` is ``False``) while the job unwinds;
* the worker, once the job has returned or raised (its scope has been
  left), reads ``_job_cancel`` in the same critical section that moves the
  future on: if set, the outcome is discarded and the state becomes
  CANCELLED_AND_NOTIFIED (waiters are told ``add_cancelled``, as
  ``concurrent.futures.wait`` and ``as_completed`` expect), else FINISHED.

So ``cancel()`` and the job's completion are ordered by the condition:
either the completion came first (``cancel()`` sees FINISHED and returns
``False``) or the cancel did (the future ends cancelled even if the job
finished in the same instant). Done-callbacks run once, after the state is
final, outside the condition, as in the standard library.

Shutdown with ``cancel_futures`` sets ``cancel_all`` on the pool's shared
record, drains the queue (cancelling each queued future) and cancels every
future in ``running``. A worker adds its job to ``running`` before it
starts it and then reads ``cancel_all``, so a job taken from the queue just
before the drain is cancelled by one side or the other (the set's own
synchronisation orders the two).

Workers are non-daemon threado threads (so ``threado.threads()``,
``dump()`` and cancellation see them). An idle worker waits on a threado
:class:`SimpleQueue`, a wait the deadlock detector counts as able to make
progress, so an idle pool never makes the detector report a deadlock.
"""

from __future__ import annotations

import _thread
import contextvars
import itertools
import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import _base
from concurrent.futures.thread import BrokenThreadPool
from queue import Empty
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from ._errors import ThreadCancelled
from ._parking import TIMED_OUT, WaitQueue, wait_deadline
from ._scopes import CancelScope, shield
from ._simplequeue import SimpleQueue
from ._state import get_state, local
from ._threads import Thread, current_thread, spawn

__all__ = ["BrokenThreadPool", "ThreadPoolExecutor"]

T = TypeVar("T")
P = ParamSpec("P")

_PENDING = _base.PENDING
_RUNNING = _base.RUNNING
_CANCELLED = _base.CANCELLED
_NOTIFIED = _base.CANCELLED_AND_NOTIFIED
_FINISHED = _base.FINISHED


class _FutureCondition:
    """The condition of a job's future: a C ``RLock``, and threado parking to wait.

    What ``concurrent.futures`` and ``threado.wait`` use of a future's
    condition, and no more: ``with``, ``acquire``/``release``, ``wait``
    (a blocking point) and ``notify_all``. The lock is a C ``RLock`` as in
    the standard library: held only for a few lines, and taking it never
    raises :class:`ThreadCancelled`, so a worker whose own thread was
    cancelled still settles the future. The wait queue is guarded by that
    same lock (a waiter that abandons takes it again, as any ``WaitQueue``
    owner's mutex), and made by the first wait, so a future nobody waits on
    costs one lock.
    Notifying is broadcast only, so an abandoned hand-off needs no passing
    on: every waiter was woken anyway.
    """

    __slots__ = ("_lock", "_queue", "acquire", "release")

    def __init__(self) -> None:
        lock = self._lock = _thread.RLock()
        self.acquire = lock.acquire
        self.release = lock.release
        self._queue: WaitQueue | None = None

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.__exit__(exc_type, exc, tb)

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for :meth:`notify_all`, re-acquire; a blocking point.

        Returns:
            ``True`` if notified, ``False`` if ``timeout`` passed.

        Raises:
            RuntimeError: the caller does not hold the lock.
            ThreadCancelled: the thread was cancelled or a deadline passed
                (the lock is held again when it propagates).
        """
        lock = self._lock
        if not lock._is_owned():  # type: ignore[attr-defined]
            raise RuntimeError("cannot wait on un-acquired lock")
        deadline = None if timeout is None else wait_deadline(timeout)
        st = local.state
        if st is None:
            st = get_state()
        if st.cancel is not None or st.deadline is not None:
            st.check()
        q = self._queue
        if q is None:  # guarded by our own lock (held here, and by notify_all)
            q = self._queue = WaitQueue(lock)  # type: ignore[arg-type]
        w = None
        try:
            w = q.enqueue_locked(st)
            saved = lock._release_save()  # type: ignore[attr-defined]
        except BaseException:
            if w is not None:  # interrupted before releasing the lock
                q.abandon(w)
            raise
        try:
            result = q.wait(st, w, deadline, self)
        except BaseException:
            q.abandon(w)
            raise
        finally:
            lock._acquire_restore(saved)  # type: ignore[attr-defined]
        return result is not TIMED_OUT

    def notify_all(self) -> None:
        """Wake every waiter (the caller holds the lock)."""
        q = self._queue
        if q is not None:
            q.handoff_all_locked(True)


class _Job(_base.Future[T]):
    """A future that carries its job and can cancel it while it runs."""

    def __init__(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ctx: contextvars.Context,
    ) -> None:
        # The base __init__'s fields, with a threado condition (so result()
        # and wait() are blocking points) instead of a threading one.
        self._condition = _FutureCondition()  # type: ignore[assignment]
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._waiters = []
        self._done_callbacks: list[Callable[[_base.Future[T]], object]] = []
        # The job; dropped once it has run (no reference cycles, GH-60488).
        self._call: tuple[Callable[..., T], tuple[Any, ...], dict[str, Any]] | None = (
            fn,
            args,
            kwargs,
        )
        self._ctx: contextvars.Context | None = ctx
        self._scope = CancelScope()
        # True once cancel() was called while RUNNING (see the module docstring).
        self._job_cancel = False

    def cancel(self) -> bool:
        """Cancel the job, also while it runs; never blocks.

        A pending job never starts. A running job is cancelled at its next
        blocking point; the future ends cancelled once the job has unwound
        (only then do ``done()``, ``cancelled()`` and the done-callbacks see
        it). Returns ``False`` only if the job had already finished.
        """
        with self._condition:
            state = self._state
            if state == _RUNNING:
                if not self._job_cancel:
                    self._job_cancel = True
                    self._scope.cancel()
                return True
            if state == _FINISHED:
                return False
            if state in (_CANCELLED, _NOTIFIED):
                return True
            self._state = _CANCELLED
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]
        return True

    def _run(self) -> None:
        """Run the job in the calling worker (in its own scope and context)."""
        if not self.set_running_or_notify_cancel():
            self._call = self._ctx = None
            return
        fn, args, kwargs = self._call  # type: ignore[misc]
        ctx = self._ctx
        self._call = self._ctx = None
        result: Any = None
        try:
            with self._scope:
                result = ctx.run(fn, *args, **kwargs)  # type: ignore[union-attr]
        except BaseException as exc:
            self._finish(None, exc)
            exc = None  # type: ignore[assignment]  # no frame -> traceback cycle
        else:
            self._finish(result, None)

    def _finish(self, result: Any, exc: BaseException | None) -> None:
        with self._condition:
            if self._job_cancel:
                self._state = _NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
            elif exc is not None:
                self._exception = exc
                self._state = _FINISHED
                for waiter in self._waiters:
                    waiter.add_exception(self)
            else:
                self._result = result
                self._state = _FINISHED
                for waiter in self._waiters:
                    waiter.add_result(self)
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]


class _Shared:
    """What a pool's workers share with it (not the executor: it can be collected)."""

    __slots__ = ("__weakref__", "cancel_all", "queue", "running")

    def __init__(self) -> None:
        self.queue: SimpleQueue[_Job[Any] | None] = SimpleQueue()
        # Jobs taken by a worker and not yet ended.
        self.running: set[_Job[Any]] = set()
        # Set once by a shutdown that cancels running jobs (or by exit).
        self.cancel_all = False

    def cancel_everything(self) -> None:
        """Cancel the queued jobs and the running ones; never blocks."""
        self.cancel_all = True
        q = self.queue
        while True:
            try:
                job = q.get_nowait()
            except Empty:
                break
            if job is not None:
                job.cancel()
        for job in list(self.running):
            job.cancel()


#: worker thread -> its pool's shared record, for the exit hook.
_workers: weakref.WeakKeyDictionary[Thread[Any], _Shared] = weakref.WeakKeyDictionary()
_shutdown = False
# Held while mutating _workers and _shutdown, so that no worker starts
# while the interpreter shuts down (a leaf lock).
_global_shutdown_lock = _thread.allocate_lock()


def _python_exit() -> None:
    """At interpreter exit (before non-daemon threads are joined): cancel the
    jobs of every pool still running and wait for them to unwind."""
    global _shutdown
    with _global_shutdown_lock:
        _shutdown = True
        items = list(_workers.items())
    for _, shared in items:
        shared.cancel_everything()
        shared.queue.put(None)
    with shield():  # the main thread may have been cancelled itself
        for t, _ in items:
            t.wait()


try:
    threading._register_atexit(_python_exit)  # type: ignore[attr-defined]
except RuntimeError:  # pragma: no cover - first used during interpreter exit
    _shutdown = True


def _after_fork_in_child() -> None:
    _global_shutdown_lock._at_fork_reinit()  # type: ignore[attr-defined]
    # Only the forking thread exists in the child: no worker survived, and
    # their jobs' locks may have been held at fork time.
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_global_shutdown_lock.acquire,
        after_in_child=_after_fork_in_child,
        after_in_parent=_global_shutdown_lock.release,
    )


def _worker(
    executor_ref: weakref.ref[ThreadPoolExecutor],
    shared: _Shared,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException:
            _base.LOGGER.critical("Exception in initializer:", exc_info=True)
            executor = executor_ref()
            if executor is not None:
                executor._initializer_failed()
            return
    work_queue = shared.queue
    running = shared.running
    st = get_state()
    idle = False
    try:
        while True:
            if st.cancel is not None:
                # This worker thread itself was cancelled (a job cancelled
                # threado.current_thread()): take no more jobs.
                raise ThreadCancelled("worker cancelled")
            try:
                idle = False
                job = work_queue.get_nowait()
            except Empty:
                idle = True
                # About to wait: count ourselves idle, so submit reuses us.
                executor = executor_ref()
                if executor is not None:
                    with executor._idle_lock:
                        executor._idle += 1
                del executor
                job = work_queue.get()
            if job is not None:
                running.add(job)
                if shared.cancel_all:  # a shutdown drained the queue meanwhile
                    job.cancel()
                job._run()
                running.discard(job)
                del job
                continue
            executor = executor_ref()
            # Exit if the interpreter is shutting down, or the executor was
            # collected or shut down; pass the wake-up on to the others.
            if _shutdown or executor is None or executor._shutdown:
                if executor is not None:
                    executor._shutdown = True
                work_queue.put(None)
                return
            del executor
    except ThreadCancelled:
        # This worker thread itself was cancelled: it ends; the pool starts
        # another one if work is waiting.
        executor = executor_ref()
        if executor is not None:
            executor._worker_lost(idle)
    except BaseException:
        _base.LOGGER.critical("Exception in worker", exc_info=True)


class ThreadPoolExecutor(_base.Executor):
    """A ``concurrent.futures.ThreadPoolExecutor`` whose running jobs can be cancelled.

    Same signature and behaviour as the standard library's, and beyond it:
    ``submit(...).cancel()`` cancels a running job too (its next blocking
    point raises :class:`ThreadCancelled`; the future ends cancelled once the
    job unwound; the worker carries on); ``shutdown(cancel_futures=True)``
    and a timed-out ``map`` cancel running jobs; Ctrl-C in ``shutdown()``
    and interpreter exit cancel running jobs instead of waiting for them.
    Jobs run in threado threads, each in a copy of the submitter's
    ``contextvars`` context.

    Raises:
        ValueError: ``max_workers`` is not positive.
        TypeError: ``initializer`` is not callable.
    """

    # Unique names when thread_name_prefix is not given.
    _counter = itertools.count().__next__

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is None:
            # As the standard library: at most 32, the CPUs this process may
            # use (3.13+) or the machine's (3.11, 3.12) plus 4 for I/O.
            count = getattr(os, "process_cpu_count", os.cpu_count)
            max_workers = min(32, (count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._max_workers = max_workers
        self._shared = _Shared()
        self._work_queue = self._shared.queue
        # Workers waiting for a job, less the jobs submitted to them since.
        self._idle = 0
        self._idle_lock = _thread.allocate_lock()
        self._threads: set[Thread[Any]] = set()
        self._broken: str | bool = False
        self._shutdown = False
        # Held for a few lines only (never across a wait): a C lock.
        self._shutdown_lock = _thread.allocate_lock()
        self._thread_name_prefix = thread_name_prefix or (f"ThreadPoolExecutor-{self._counter()}")
        self._initializer = initializer
        self._initargs = initargs

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> _base.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; return its future.

        The call runs in a worker, in a copy of the caller's ``contextvars``
        context, inside a cancel scope that the future's ``cancel()``
        cancels.

        Raises:
            RuntimeError: the executor (or the interpreter) is shutting down.
            BrokenThreadPool: a worker's initializer failed.
        """
        job = _Job(fn, args, kwargs, contextvars.copy_context())
        with self._shutdown_lock, _global_shutdown_lock:
            if self._broken:
                raise BrokenThreadPool(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _shutdown:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            self._work_queue.put(job)
            self._adjust_thread_count()
        return job

    def _adjust_thread_count(self) -> None:
        # An idle worker will take the job: start no thread.
        with self._idle_lock:
            if self._idle:
                self._idle -= 1
                return

        # When the executor is collected, the callback wakes the workers.
        def weakref_cb(_: object, q: SimpleQueue[_Job[Any] | None] = self._work_queue) -> None:
            q.put(None)

        num_threads = len(self._threads)
        if num_threads < self._max_workers:
            name = f"{self._thread_name_prefix or self}_{num_threads}"
            t = spawn(
                _worker,
                weakref.ref(self, weakref_cb),
                self._shared,
                self._initializer,
                self._initargs,
                name=name,
            )
            self._threads.add(t)
            _workers[t] = self._shared

    def _worker_lost(self, was_idle: bool) -> None:
        """A worker ended by its own thread's cancellation: replace it if needed.

        If it had counted itself idle (its wait for a job raised), it takes
        that token back, unless a submitter took it (and so started no
        thread for its job); a new worker then takes the waiting jobs.
        """
        with shield(), self._shutdown_lock, _global_shutdown_lock:  # we are cancelled
            self._threads.discard(current_thread())
            if was_idle:
                with self._idle_lock:
                    if self._idle:
                        self._idle -= 1
            if not self._shutdown and not _shutdown and not self._work_queue.empty():
                self._adjust_thread_count()

    def _initializer_failed(self) -> None:
        with self._shutdown_lock:
            self._broken = "A thread initializer failed, the thread pool is not usable anymore"
            # Drain the queue; fail the futures that were waiting.
            while True:
                try:
                    job = self._work_queue.get_nowait()
                except Empty:
                    break
                if job is not None:
                    job.set_exception(BrokenThreadPool(self._broken))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting jobs; free the workers once the queue is done.

        With ``cancel_futures=True`` the queued jobs are cancelled and so
        are the running ones (their next blocking point raises
        :class:`ThreadCancelled`). With ``wait=True`` it returns once every
        worker has ended; a blocking point. If the wait is interrupted (a
        Ctrl-C, a cancellation), the running jobs are cancelled before the
        exception propagates.
        """
        with self._shutdown_lock:
            self._shutdown = True
            if cancel_futures:
                self._shared.cancel_everything()
            # Wake the workers blocked on the queue.
            self._work_queue.put(None)
        if wait:
            try:
                for t in list(self._threads):
                    t.wait()
            except BaseException:
                self._shared.cancel_everything()
                raise


ThreadPoolExecutor.__module__ = "threado"
