"""``threado.ray``: run jobs on Ray as cancellable threado threads.

Install with ``pip install threado[ray]``. ``import threado`` never imports
this module (nor Ray).

Theory of operation
-------------------

:class:`Executor` submits each job as a Ray task (``max_retries=0``: a job
is never run twice) that runs the job in a threado thread on the worker
(see ``threado._remote_job``). Cancel signals live in one async actor per
Ray namespace, ``threado-signals``: a job's task blocks in
``ray.get(signals.wait.remote(token))``, which returns when the actor's
``asyncio.Event`` for the token is set — by the job's thread as it ends
(``signals.set.remote(token)``, not awaited), or by the parent to cancel
the job. No polling: the actor answers the wait when the event is set.

A job still running ``grace`` seconds after its cancel is stuck in code
threado cannot interrupt: its task ends its own worker process
(``os._exit``), which Ray replaces; the task's error then ends the
future cancelled (a cancelled future ends cancelled, whatever the
outcome).

Ray's own ``ray.cancel`` raises ``KeyboardInterrupt`` wherever the task is
(or, with ``force=True``, kills the worker at once, cleanup or not); this
executor's ``cancel()`` raises ``ThreadCancelled`` at the job's next blocking
point, its cleanup runs, and the worker goes on.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ._process_pool import _Future
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import STUCK, run_job

__all__ = ["Executor"]

SIGNALS_NAME = "threado-signals"


class _Signals:
    """The actor holding the jobs' cancel signals (an ``asyncio.Event`` per token)."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    async def wait(self, token: str) -> None:
        await self._events.setdefault(token, asyncio.Event()).wait()
        self._events.pop(token, None)

    async def set(self, token: str) -> None:
        self._events.setdefault(token, asyncio.Event()).set()


def _task(signals: Any, token: str, job: Job, grace: float) -> tuple[str, Any]:
    """The Ray task: run the job, cancellable through the signal ``token``."""
    import ray

    kind, value = run_job(
        *job,
        lambda: ray.get(signals.wait.remote(token)),
        lambda: signals.set.remote(token),
        grace,
    )
    if kind == STUCK:
        os._exit(1)  # the stuck thread cannot be stopped: Ray replaces this worker
    return kind, value


class Executor(RemoteExecutor):
    """A ``concurrent.futures.Executor`` over the Ray runtime (``ray.init()`` first).

    Jobs run as threado threads in Ray workers: ``future.cancel()`` on a
    running job raises ``ThreadCancelled`` at its next blocking point there,
    its cleanup runs there, the future ends cancelled, and the worker takes
    the next job. ``grace``: seconds a cancelled job gets to unwind before its
    worker process is ended. ``options`` go to the task's ``.options()``
    (``num_cpus`` and so on).

    Raises:
        RuntimeError: Ray is not initialized.
        ValueError: ``grace`` is negative or not a number.
    """

    def __init__(self, *, grace: float = 1.0, **options: Any) -> None:
        import ray

        if not ray.is_initialized():
            raise RuntimeError("threado.ray.Executor() needs ray.init() first")
        super().__init__(grace)
        self._signals = (
            ray.remote(_Signals)
            .options(name=SIGNALS_NAME, get_if_exists=True, max_concurrency=10_000)
            .remote()
        )
        self._remote = ray.remote(_task).options(max_retries=0, **options)

    def _launch(self, token: str, job: Job, future: _Future) -> None:
        ref = self._remote.remote(self._signals, token, job, self._grace)
        ref.future().add_done_callback(lambda f: self._ended(future, f))

    def _ended(self, future: _Future, task: Any) -> None:
        exc = task.exception()
        if exc is not None:
            self._finish(future, False, exc)
        else:
            kind, value = task.result()
            self._outcome(future, kind, value)

    def _signal(self, token: str) -> None:
        self._signals.set.remote(token)


Executor.__module__ = "threado.ray"
