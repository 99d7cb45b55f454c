"""``threado.ray``: run jobs on Ray as cancellable threado threads.

Install with ``pip install threado[ray]``. ``import threado`` never imports
this module (nor Ray).

Theory of operation
-------------------

:class:`Executor` submits each job as a Ray task (``max_retries=0``: a job
is never run twice) that runs the job in a threado thread on the worker
(see ``threado._remote_job``); its signal is a threado ``Event`` in the
worker process. Cancels travel through one async actor per Ray namespace,
``threado-signals`` (:class:`_Signals`): a task registers its job's token
with its process's key (not waiting for an answer); ``future.cancel()``
sends the token to the actor, which queues it for the process running the
job; that process's watcher thread, started with its first job, waits in
``ray.get(signals.watch.remote(key))`` (the actor answers when a cancel is
queued: no polling) and sets the job's signal. A job's path costs one actor
call, not waited for: a Ray worker process runs one task at a time, so a
registration replaces the one before it from the same process (a cancel
for a job that has ended finds no signal there and is dropped), and there
is no unregistering. The actor's handle is looked up once per process (a
handle passed with each task costs its deserialization, and the first call
through each new handle a lookup).

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
import uuid
from typing import Any

from ._events import Event
from ._process_future import JobFuture
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import STUCK, run_job

__all__ = ["Executor"]

SIGNALS_NAME = "threado-signals"


class _Signals:
    """The actor that routes cancels to the worker processes running the jobs.

    A job's task registers its token with its process's key while the job
    runs; a cancel for a registered token is queued for that process, whose
    watcher thread (see :func:`_watch`) waits in :meth:`watch`. A cancel that
    comes before the registration waits in ``_early`` (the parent drops it
    with :meth:`forget` once the future has ended). Methods run one at a time
    on the actor's event loop, in the order each caller sent them.
    """

    def __init__(self) -> None:
        self._where: dict[str, str] = {}
        self._current: dict[str, str] = {}  # key -> the token registered last
        self._early: set[str] = set()
        self._queued: dict[str, list[str]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}

    def _post(self, key: str, token: str) -> None:
        self._queued.setdefault(key, []).append(token)
        self._wakeups.setdefault(key, asyncio.Event()).set()

    async def register(self, token: str, key: str) -> None:
        # One task at a time per process: the job registered before from
        # this process has ended.
        previous = self._current.pop(key, None)
        if previous is not None:
            self._where.pop(previous, None)
        if token in self._early:
            self._early.discard(token)
            self._post(key, token)
        else:
            self._where[token] = key
            self._current[key] = token

    async def cancel(self, token: str) -> None:
        key = self._where.get(token)
        if key is None:
            self._early.add(token)
        else:
            self._post(key, token)

    async def forget(self, token: str) -> None:
        self._early.discard(token)

    async def watch(self, key: str) -> list[str]:
        wakeup = self._wakeups.setdefault(key, asyncio.Event())
        await wakeup.wait()
        wakeup.clear()
        return self._queued.pop(key, [])


# In a worker process: the signals of the jobs running here, and the key
# under which the watcher thread receives their cancels.
_local_lock = threading.Lock()
_local: dict[str, Event] = {}
_key: list[str] = []


def _watch(signals: Any, key: str) -> None:
    """The worker process's watcher thread: set the signal of each job cancelled."""
    import ray

    while True:
        try:
            tokens = ray.get(signals.watch.remote(key))
        except Exception:  # the actor or the runtime is gone
            return
        for token in tokens:
            with _local_lock:
                signal = _local.get(token)
            if signal is not None:  # else its job has ended
                signal.set()


_handle: list[Any] = []  # the actor's handle in this process


def _signals_here() -> Any:
    """This process's handle on the signals actor (looked up once)."""
    with _local_lock:
        if _handle:
            return _handle[0]
    import ray

    signals = ray.get_actor(SIGNALS_NAME)
    with _local_lock:
        if not _handle:
            _handle.append(signals)
        return _handle[0]


def _watcher_key(signals: Any) -> str:
    with _local_lock:
        if not _key:
            _key.append(f"{os.getpid()}-{uuid.uuid4().hex}")
            threading.Thread(
                target=_watch, args=(signals, _key[0]), name="threado-ray-cancels", daemon=True
            ).start()
        return _key[0]


def _task(token: str, job: Job, grace: float) -> tuple[str, Any]:
    """The Ray task: run the job; a cancel routed here sets its signal."""
    signals = _signals_here()
    key = _watcher_key(signals)
    signal = Event()
    with _local_lock:
        _local[token] = signal
    signals.register.remote(token, key)
    try:
        kind, value = run_job(*job, signal.wait, signal.set, grace)
    finally:
        with _local_lock:
            del _local[token]
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
        if future._cancelling:  # a cancel may wait for a registration that never comes
            self._signals.forget.remote(token)
        exc = task.exception()
        if exc is not None:
            self._finish(future, False, exc)
        else:
            kind, value = task.result()
            self._outcome(future, kind, value)

    def _signal(self, token: str) -> None:
        self._signals.cancel.remote(token)


Executor.__module__ = "threado.ray"
