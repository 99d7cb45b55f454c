"""``threado.ProcessPoolExecutor``: a process pool whose running jobs can be cancelled.

Theory of operation
-------------------

Each job runs as a threado thread in a worker process (see
``_process_worker``), so a cancel sent to the worker raises
``ThreadCancelled`` at the job's next blocking point there, and its cleanup
runs there. One job runs per worker at a time, as in the standard library;
the futures, and how a cancel and a job's end meet, are in
``_process_future``; the manager's handles on the workers in
``_process_handles``.

The manager thread, the dispatch of jobs to the workers, cancels and
workers' deaths are in ``_process_manager``.

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
their done-callbacks) and cancelled, then those queued ahead on workers
(their tickets taken: they never start), then the running jobs. A
``KeyboardInterrupt`` (or a cancel) while ``shutdown`` or ``__exit__``
waits does the same, waits (shielded, at most ``grace`` and the kill
delay) for the cleanup, then propagates. At interpreter exit
(``threading``'s exit hooks, which run before non-daemon threads are
joined) the jobs of every pool still open are cancelled, not waited for.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from ._process_future import WorkerDied
from ._process_manager import _Pool

__all__ = ["ProcessPoolExecutor", "WorkerDied"]

T = TypeVar("T")


def _default_context() -> Any:
    # forkserver where there is one (Python 3.14's default on POSIX): a fork
    # from the manager thread of a multi-threaded parent may copy a lock
    # some other thread holds.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


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


ProcessPoolExecutor.__module__ = "threado"
