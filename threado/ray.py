"""``threado.ray``: run jobs on Ray as cancellable threado threads.

Install with ``pip install threado[ray]``. ``import threado`` never imports
this module (nor Ray).

Theory of operation
-------------------

:class:`Executor` submits each job as a Ray task (``max_retries=0``: a job
is never run twice) that runs the job in a threado thread on the worker
(see ``threado._remote_job``); its signal is a threado ``Event`` in the
worker process, kept in ``_running`` under the job's token while it runs.
Cancels travel through one async actor per Ray namespace,
``threado-signals`` (:class:`_Signals`), which keeps the set of tokens
cancelled and a version. ``future.cancel()`` adds the token (and the parent
drops it again with ``forget`` once the future has ended). Each worker
process runs a watcher thread, started with its first job, that waits in
``ray.get(signals.watch.remote(version))``: the actor answers when a cancel
moves the version (no polling), with the whole set; the watcher keeps that
set and sets the signal of each job of the set running here. A job that
starts after its cancel reached the watcher finds its token in the set
kept and starts cancelled; one that starts before is in ``_running`` when
the watcher looks (both under ``_local_lock``).

So a job's path costs no actor call: nothing is registered per job, and
the parent need not know which process runs it. The price is on the
cancel's path: each cancel wakes every worker process's watcher (one
answer each, with the tokens cancelled and not yet forgotten). The actor's
handle is looked up once per process.

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
import threading
from typing import Any

from ._events import Event
from ._process_future import JobFuture
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import STUCK, run_job

__all__ = ["Executor"]

SIGNALS_NAME = "threado-signals"


class _Signals:
    """The actor that tells the worker processes which jobs are cancelled.

    It keeps the tokens of the jobs cancelled whose futures have not ended
    yet (``cancel`` adds one, the parent's ``forget`` drops it once the
    future has ended) and a version that moves with each cancel. Each worker
    process's watcher thread (see :func:`_watch`) waits in :meth:`watch`
    with the version it has seen; the call returns the new version and the
    whole set once a cancel moved it. Methods run one at a time on the
    actor's event loop. The actor keeps nothing per job that runs, nor per
    worker process.
    """

    def __init__(self) -> None:
        self._cancelled: set[str] = set()
        self._version = 0
        self._changed = asyncio.Event()

    async def cancel(self, token: str) -> None:
        if token not in self._cancelled:
            self._cancelled.add(token)
            self._version += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def forget(self, token: str) -> None:
        self._cancelled.discard(token)

    async def watch(self, version: int) -> tuple[int, list[str]]:
        while version == self._version:
            await self._changed.wait()
        return self._version, list(self._cancelled)


# In a worker process, under _local_lock: the signals of the jobs running
# here, the set of cancelled tokens the watcher saw last, and whether the
# watcher runs.
_local_lock = threading.Lock()
_running: dict[str, Event] = {}
_cancelled: list[frozenset[str]] = [frozenset()]
_watching: list[bool] = []


def _watch(signals: Any) -> None:
    """The worker process's watcher thread: set the signal of each job cancelled."""
    import ray

    version = -1  # the first call answers at once
    while True:
        try:
            version, tokens = ray.get(signals.watch.remote(version))
        except Exception:  # the actor or the runtime is gone
            return
        cancelled = frozenset(tokens)
        with _local_lock:
            _cancelled[0] = cancelled
            hit = [_running[t] for t in cancelled if t in _running]
        for signal in hit:
            signal.set()


def _start_watching() -> None:
    """Start this process's watcher thread, once (the actor is looked up once)."""
    with _local_lock:
        if _watching:
            return
    import ray

    signals = ray.get_actor(SIGNALS_NAME)
    with _local_lock:
        if _watching:
            return
        _watching.append(True)
    threading.Thread(
        target=_watch, args=(signals,), name="threado-ray-cancels", daemon=True
    ).start()


def _task(token: str, job: Job, grace: float) -> tuple[str, Any]:
    """The Ray task: run the job; a cancel that reaches the watcher sets its signal."""
    if not _watching:
        _start_watching()
    signal = Event()
    with _local_lock:
        _running[token] = signal
        early = token in _cancelled[0]
    if early:  # cancelled before it started here
        signal.set()
    try:
        kind, value = run_job(*job, signal.wait, signal.set, grace)
    finally:
        with _local_lock:
            del _running[token]
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

    def _launch(self, token: str, job: Job, future: JobFuture) -> None:
        ref = self._remote.remote(token, job, self._grace)
        ref.future().add_done_callback(lambda f: self._ended(future, f, token))

    def _ended(self, future: JobFuture, task: Any, token: str) -> None:
        exc = task.exception()
        if exc is not None:
            self._finish(future, False, exc)
        else:
            kind, value = task.result()
            self._outcome(future, kind, value)
        # Once it has ended, no cancel comes any more; a cancel sent (or on
        # its way: see _signal) is dropped from the actor's set.
        if future._cancelling:
            self._signals.forget.remote(token)

    def _signal(self, token: str, future: JobFuture) -> None:
        self._signals.cancel.remote(token)
        if future.done():  # _ended may have looked before this cancel was sent
            self._signals.forget.remote(token)


Executor.__module__ = "threado.ray"
