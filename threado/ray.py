"""``threado.ray``: run jobs on Ray as cancellable threado threads.

Install with ``pip install threado[ray]``. ``import threado`` never imports
this module (nor Ray).

Theory of operation
-------------------

:class:`Executor` submits each job as a Ray task (``max_retries=0``: a job
is never run twice). The task runs the job in its own thread (a Ray worker
runs one task at a time), inside a threado ``CancelScope`` (so a cancel
raises ``ThreadCancelled`` at the job's next blocking point, and the
scope's exit catches it: the thread goes on to the next task), and keeps
it in ``_running`` under the job's token while it runs. Cancels travel
through one async actor per Ray namespace, ``threado-signals``
(:class:`_Signals`), which keeps the set of tokens cancelled and a
version. ``future.cancel()`` adds the token (and the parent drops it again
with ``forget`` once the future has ended). Each worker process runs a
watcher thread, started with its first job, that waits in
``ray.get(signals.watch.remote(version))``: the actor answers when a cancel
moves the version (no polling), with the whole set; the watcher keeps that
set and cancels the scope of each job of the set running here, then gives
it ``grace`` seconds to unwind. A job still running then is stuck in code
threado cannot interrupt: the watcher ends the worker process
(``os._exit``), which Ray replaces, and the task's error ends the future
cancelled (a cancelled future ends cancelled, whatever the outcome).

Two jobs run in a runner thread instead (see ``threado._remote_job``,
which then keeps the grace): one whose cancel reached the watcher before
it started here (it starts cancelled), and every job after one that
cancelled its task's thread itself (cancellation is level-triggered: that
thread stays cancelled, and waits in a shield). A job that starts after its
cancel reached the watcher finds its token in the set kept; one that
starts before is in ``_running`` when the watcher looks (both under
``_local_lock``).

So a job's path costs no actor call and no thread switch: nothing is
registered per job, and the parent need not know which process runs it.
The price is on the cancel's path: each cancel wakes every worker
process's watcher (one answer each, with the tokens cancelled and not yet
forgotten). The actor's handle is looked up once per process.

Ray's own ``ray.cancel`` raises ``KeyboardInterrupt`` wherever the task is
(or, with ``force=True``, kills the worker at once, cleanup or not); this
executor's ``cancel()`` raises ``ThreadCancelled`` at the job's next blocking
point, its cleanup runs, and the worker goes on.
"""

from __future__ import annotations

import asyncio
import os
import threading
from contextvars import copy_context
from typing import Any

from ._events import Event
from ._process_future import JobFuture
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import CANCELLED, OK, STUCK, run_job
from ._scopes import CancelScope, cancel_requested, shield

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


class _Running:
    """A job running in this worker process (see ``_task``); ``done`` under ``_local_lock``."""

    __slots__ = ("done", "grace", "scope", "signal")

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.scope: CancelScope | None = None  # the job runs in the task's thread
        self.signal: Event | None = None  # or in a runner (see _remote_job)
        self.done: Event | None = None  # made by the watcher when it cancels the job


# In a worker process, under _local_lock: the jobs running here, the set of
# cancelled tokens the watcher saw last, and whether the watcher runs.
_local_lock = threading.Lock()
_running: dict[str, _Running] = {}
_cancelled: list[frozenset[str]] = [frozenset()]
_watching: list[bool] = []


def _watch(signals: Any) -> None:
    """The worker process's watcher thread: cancel each job of the set running here."""
    import ray

    version = -1  # the first call answers at once
    while True:
        try:
            version, tokens = ray.get(signals.watch.remote(version))
        except Exception:  # the actor or the runtime is gone
            return
        _learn(tokens)


def _learn(tokens: list[str]) -> None:
    """The watcher: keep the set of ``tokens`` cancelled; cancel each job of it running here.

    A job in a cancel scope gets its grace here (then this process ends);
    a job in a runner gets it from its task.
    """
    cancelled = frozenset(tokens)
    hit: list[_Running] = []
    with _local_lock:
        _cancelled[0] = cancelled
        for token in cancelled:
            running = _running.get(token)
            if running is not None and running.done is None:
                running.done = Event()
                hit.append(running)
    for running in hit:
        if running.scope is None:
            assert running.signal is not None
            running.signal.set()  # its task cancels the runner, and keeps the grace
            continue
        running.scope.cancel()
        assert running.done is not None
        if not running.done.wait(running.grace):
            os._exit(1)  # stuck where threado cannot reach: Ray replaces this worker


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
    """The Ray task: run the job in a cancel scope that the watcher cancels."""
    if not _watching:
        _start_watching()
    running = _Running(grace)
    # A job may have cancelled this thread itself, which stays cancelled:
    # then each job runs in a runner, and this thread waits in a shield.
    cancelled_thread = cancel_requested()
    with _local_lock:
        early = token in _cancelled[0]
        if early or cancelled_thread:
            running.signal = Event()
        else:
            running.scope = CancelScope()
        _running[token] = running
    if running.scope is None:
        return _in_a_runner(token, job, running, early)
    fn, args, kwargs = job
    result: Any = None
    try:
        with running.scope:
            result = copy_context().run(fn, *args, **kwargs)
    finally:
        with _local_lock:
            del _running[token]
            done = running.done
        if done is not None:
            done.set()
    if running.scope.cancelled_caught:
        return CANCELLED, None
    return OK, result


def _in_a_runner(token: str, job: Job, running: _Running, early: bool) -> tuple[str, Any]:
    """Run the job in a runner (``_remote_job``): cancelled early, or this thread cancelled."""
    signal = running.signal
    assert signal is not None
    if early:  # the watcher saw its cancel before it started here
        signal.set()
    try:
        with shield():
            kind, value = run_job(*job, signal.wait, signal.set, running.grace)
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
