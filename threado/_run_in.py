"""``threado.run_in``: run a function on an executor, as a blocking point.

Theory of operation
-------------------

``run_in`` submits the call and waits for its future with
:func:`threado.wait`, so the wait is a blocking point like any other: a
cancel of the calling thread, an enclosing timeout or a group cancelling
its members abandons it. Whatever abandons the wait (``ThreadCancelled``,
``KeyboardInterrupt``) first cancels the job through ``future.cancel()``,
then waits, shielded, for the job to end, and only then propagates:

* threado's executors (``ProcessPoolExecutor``, ``threado.dask``,
  ``threado.ray``) cancel a running job and end its future once it has
  unwound, or once its worker was terminated after the executor's
  ``grace``; ``run_in`` waits for that, bounded by ``grace`` plus
  :data:`KILL_MARGIN` (a safety net that should never be reached);
* other executors (the standard library's pools, whose ``cancel()``
  cannot stop a running job; a thread pool whose job is stuck in code
  threado cannot interrupt) are given :data:`DEFAULT_GRACE` seconds to
  finish; after that ``run_in`` propagates anyway and the job goes on in
  the background, its result dropped. A timeout that expired never waits
  for longer than that.

A job that is done when the wait is abandoned (cancelled, or finished in
the same instant) is not waited for. A call whose future finished in the
same instant as the cancel returns its result: the cancel then arrives at
the caller's next blocking point, as for every threado wait.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Final, TypeVar

from ._scopes import checkpoint, shield
from ._wait import wait

T = TypeVar("T")

#: Seconds ``run_in`` waits for a cancelled job on an executor without a ``grace``.
DEFAULT_GRACE: Final = 1.0
#: Seconds beyond an executor's ``grace`` that ``run_in`` waits for its worker's end.
KILL_MARGIN: Final = 5.0


def run_in(executor: Executor, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``func(*args, **kwargs)`` on ``executor`` and return its result.

    A blocking point. When the calling thread is cancelled, an enclosing
    timeout expires, or a ``KeyboardInterrupt`` arrives while it waits, the
    job is cancelled (``future.cancel()``) and the exception propagates
    only after the job has ended — its cleanup ran where it runs — or its
    grace has passed: the executor's ``grace`` attribute when it has one
    (threado's executors, which then terminate the worker), else
    :data:`DEFAULT_GRACE` seconds, after which a job that cannot be stopped
    (the standard library's pools) is left running and its result dropped.

    Raises:
        TypeError: ``executor`` has no ``submit``, or ``func`` is not callable.
        ThreadCancelled: the calling thread was cancelled (or a timeout expired).
        BaseException: whatever the job raised (with the worker's traceback
            as its ``__cause__`` for process and cluster executors).
    """
    submit = getattr(executor, "submit", None)
    if submit is None:
        raise TypeError(f"run_in() needs an executor, not {type(executor).__name__}")
    if not callable(func):
        raise TypeError(f"{func!r} is not callable")
    checkpoint()
    future: Future[T] = submit(func, *args, **kwargs)
    try:
        wait([future])
    except BaseException:
        _cancel_and_wait(executor, future)
        raise
    if isinstance(future, Future):  # done: no blocking point that could drop the result
        return Future.result(future, 0)
    return future.result()


def _cancel_and_wait(executor: Executor, future: Future[Any]) -> None:
    """Cancel the job and wait, shielded, until it ended or its grace passed."""
    future.cancel()
    if future.done():
        return
    grace = getattr(executor, "grace", None)
    bound = DEFAULT_GRACE if grace is None else float(grace) + KILL_MARGIN
    with shield():
        wait([future], bound)
