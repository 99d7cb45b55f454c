"""The remote half of ``threado.dask`` and ``threado.ray``: one job as a threado thread.

Theory of operation
-------------------

An engine (Dask, Ray) runs :func:`run_job` as its task, in one of its worker
threads. It starts the job's function in a threado thread, then blocks in
``wait_signal()``: an engine-provided wait on the job's *signal* (a Dask
``Event``, a Ray actor's ``asyncio.Event``) that returns when the signal is
set. The signal is set by two parties, whichever comes first:

* the job's thread, as its last act (``signal_done``), after recording that
  it ended: then the task just collects the outcome;
* the parent, to cancel the job: then the task cancels the job's thread
  (``ThreadCancelled`` at its next blocking point) and waits up to ``grace``
  seconds for it to unwind.

The task's value says how the job ended: :data:`OK` with its result,
:data:`CANCELLED` (it unwound after the cancel), or :data:`STUCK` (it was
still running ``grace`` seconds after the cancel; the parent then replaces
the worker, or leaves the thread there where the engine cannot). An
exception of the job is raised by the task, so the engine carries it back
with its traceback. A job's ``ThreadCancelled`` that no cancel from the
parent caused (an expired timeout inside it) is an ordinary exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from ._errors import ThreadCancelled
from ._threads import spawn

OK: Final = "ok"
CANCELLED: Final = "cancelled"
STUCK: Final = "stuck"


def run_job(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_signal: Callable[[], object],
    signal_done: Callable[[], object],
    grace: float,
) -> tuple[str, Any]:
    """Run ``fn(*args, **kwargs)`` as a cancellable threado thread; see the module docstring.

    Returns:
        ``(OK, result)``, ``(CANCELLED, None)`` or ``(STUCK, None)``.

    Raises:
        BaseException: what the job raised (other than a cancel from the parent).
    """
    ended = [False]

    def job() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            ended[0] = True
            signal_done()

    t = spawn(
        functools.partial(job), name=f"threado-job-{getattr(fn, '__name__', 'job')}", daemon=True
    )
    wait_signal()
    cancelled = not ended[0]
    if cancelled:
        t.cancel(blocking=False)
        if not t.wait(grace):
            return STUCK, None
    else:
        t.wait()
    exc = t.exception
    if exc is None:
        return OK, t.result
    if cancelled and isinstance(exc, ThreadCancelled):
        return CANCELLED, None
    raise exc
