"""``await threado.to_thread(func, *args)``: ``asyncio.to_thread`` that cancels its thread.

Loaded on first use of ``threado.to_thread`` (it imports :mod:`asyncio`,
which ``import threado`` must not pay for).

Theory of operation
-------------------

The call runs as a job of one process-wide :class:`threado.ThreadPoolExecutor`
(created on first use, sized like asyncio's default executor), so it runs
in a threado thread, in a copy of the caller's ``contextvars`` context, as
``asyncio.to_thread`` does, and the pool's threads are reused. The event
loop never blocks: the awaiting task waits on an asyncio future that the
job's done-callback settles through ``loop.call_soon_threadsafe``.

When the awaiting task is cancelled (``task.cancel()``, an
``asyncio.timeout``, a failing ``TaskGroup`` sibling), ``CancelledError``
arrives at that ``await``; we then cancel the job (which never blocks:
it marks the job's cancel scope and wakes its thread) and wait, still
without blocking the loop, on a fresh future until the job has ended (its
``finally`` blocks have run), and only then re-raise the ``CancelledError``.
So the task ends cancelled after the thread unwound. Following asyncio's
rules, a task whose cancellation was requested ends cancelled even if the
job finished in the same instant (its result is discarded), and further
cancellations while the thread unwinds are absorbed into the one being
delivered (the task's ``cancelling()`` count still records them, so an
``asyncio.timeout`` around it still turns it into ``TimeoutError``).

All the bookkeeping (which future the done-callback settles) happens in
the loop's thread: ``_settle`` runs there, and so does the coroutine, so
they need no lock. If the loop is closed before the job ends, the
callback's ``call_soon_threadsafe`` raises ``RuntimeError``, which is
ignored: nobody is left to tell; and if the pending coroutine is then
closed (``GeneratorExit``, when the abandoned task is collected), the job
is cancelled, without waiting: a closing coroutine cannot wait.
"""

from __future__ import annotations

import _thread
import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import ParamSpec, TypeVar

from ._executor import ThreadPoolExecutor

__all__ = ["to_thread"]

T = TypeVar("T")
P = ParamSpec("P")

_pool: ThreadPoolExecutor | None = None
_pool_lock = _thread.allocate_lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    pool = _pool
    if pool is None:
        with _pool_lock:
            pool = _pool
            if pool is None:
                pool = _pool = ThreadPoolExecutor(thread_name_prefix="threado.to_thread")
    return pool


def _shutdown_pool() -> None:
    """End the pool's threads (tests: leave no thread behind); a later call makes a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _settle(box: list[asyncio.Future[None]]) -> None:
    """In the loop's thread: the job ended; wake whoever awaits it now."""
    waiter = box[0]
    if not waiter.done():
        waiter.set_result(None)


async def to_thread(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``func(*args, **kwargs)`` in a threado thread; await its result.

    As :func:`asyncio.to_thread` (the caller's ``contextvars`` context is
    copied into the thread; the event loop is not blocked), and: cancelling
    the awaiting task, or a timeout around it, cancels the thread (its next
    blocking point raises :class:`threado.ThreadCancelled`), and the task's
    ``CancelledError`` propagates only once the thread has unwound. A thread
    stuck in code threado cannot interrupt is waited for (see
    ``docs/executors.rst``).

    Raises:
        asyncio.CancelledError: the task was cancelled (after the thread
            unwound).
        RuntimeError: no running event loop.
        Exception: whatever ``func`` raised.
    """
    loop = asyncio.get_running_loop()
    job = _get_pool().submit(func, *args, **kwargs)
    box = [loop.create_future()]

    def on_done(_: Future[T]) -> None:  # in the job's thread (or ours, if already done)
        try:
            loop.call_soon_threadsafe(_settle, box)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    job.add_done_callback(on_done)
    try:
        await box[0]
    except asyncio.CancelledError:
        job.cancel()  # never blocks
        while not job.done():
            box[0] = loop.create_future()
            if job.done():
                break
            try:
                await box[0]
            except asyncio.CancelledError:
                pass  # cancelled again while the thread unwinds: still unwinding
        raise
    except GeneratorExit:
        # The coroutine is closed without being resumed (its loop was closed
        # with the task pending): cancel the thread; nobody can wait for it.
        job.cancel()
        raise
    return job.result()
