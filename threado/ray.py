"""``threado.ray``: run jobs on Ray as cancellable threado threads.

Install with ``pip install threado[ray]``. ``import threado`` never imports
this module (nor Ray).

Theory of operation
-------------------

:class:`Executor` submits each job as a Ray task (``max_retries=0``: a job
is never run twice). A module-level function gets a Ray task of its own,
registered at its first job (:func:`_function_task`), whose arguments are
the job's: Ray charges for every argument a task takes, so the function is
not one. Other callables, and jobs with an ``ObjectRef`` argument (which
Ray would resolve), go whole, as one argument, to one task per executor
(:func:`_job_task`). A job's token is its task's id: the parent reads it
from the task's ``ObjectRef``, the task from Ray's runtime context. The
parent takes the answer through Ray's completion callback
(``ObjectRef._on_completed``, which ``ref.future()`` wraps): a job's own
value, or an :class:`_Ended` if it did not return (cancelled, stuck).

The task runs the job in its own thread (a Ray worker runs one task at a
time), inside a threado ``CancelScope`` (so a cancel raises
``ThreadCancelled`` at the job's next blocking point, and the scope's exit
catches it: the thread goes on to the next task), and keeps it in
``_running`` under the job's token while it runs. Cancels travel through
one async actor per Ray namespace, ``threado-signals`` (:class:`_Signals`),
which keeps the set of tokens cancelled and a version; the driver holds it
for its Ray job (executors come and go), and Ray restarts it if it dies.
``future.cancel()`` adds the token (and the parent drops it again with
``forget`` once the future has ended). Each worker process runs a watcher
thread, started with its first job, that waits in
``ray.get(signals.watch.remote(version))``: the actor answers when a cancel
moves the version (no polling), with the whole set; the watcher keeps that
set and cancels the scope of each job of the set running here, then gives
it ``grace`` seconds to unwind. A job still running then is stuck in code
threado cannot interrupt: the watcher ends the worker process
(``os._exit``), which Ray replaces, and the task's error ends the future
cancelled (a cancelled future ends cancelled, whatever the outcome). A
watcher whose actor is gone ends; the next job starts another.

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
import inspect
import os
import sys
import threading
from collections.abc import Callable
from contextvars import copy_context
from types import BuiltinFunctionType, FunctionType
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
        # Random: a restarted actor's version is (almost surely) none a watcher saw.
        self._version = int.from_bytes(os.urandom(7), "big")
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
            with _local_lock:  # a later job starts a watcher of the actor then
                _watching.clear()
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

    try:
        signals = ray.get_actor(SIGNALS_NAME)
    except ValueError:  # no executor's actor now: nobody can cancel this job
        return
    with _local_lock:
        if _watching:
            return
        _watching.append(True)
    threading.Thread(
        target=_watch, args=(signals,), name="threado-ray-cancels", daemon=True
    ).start()


def _run(
    token: str, fn: Callable[..., Any], args: Any, kwargs: Any, grace: float
) -> tuple[str, Any]:
    """Run a job in this worker process: in a cancel scope that the watcher
    cancels; ``(kind, value)`` as ``_remote_job.run_job``'s."""
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
        return _in_a_runner(token, (fn, args, kwargs), running, early)
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


class _Ended:
    """A task's answer when its job did not return: it ended ``kind``
    (``CANCELLED``, ``STUCK``). A job's own value comes back as it is."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


def _answer(outcome: tuple[str, Any]) -> Any:
    kind, value = outcome
    return value if kind == OK else _Ended(kind)


def _task_token() -> str:
    """The running Ray task's id: the job's token (the parent has it from the
    task's ``ObjectRef``), so that no argument carries it."""
    import ray

    return str(ray.get_runtime_context().get_task_id())


def _function_task(fn: Callable[..., Any], grace: float) -> Callable[..., Any]:
    """The Ray task of jobs of ``fn``, registered once: its arguments are the job's."""

    def task(*args: Any, **kwargs: Any) -> Any:
        return _answer(_run(_task_token(), fn, args, kwargs, grace))

    task.__name__ = getattr(fn, "__name__", task.__name__)
    task.__qualname__ = getattr(fn, "__qualname__", task.__qualname__)
    try:  # Ray checks a job's arguments against it at submit (cheaper than *args)
        # fn's own, not a function it wraps (a decorator may supply or take arguments).
        signature = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):  # a builtin without one: any arguments
        return task
    # Its parameters' names and kinds only: the task is pickled with it, and
    # a default or an annotation may not pickle (fn itself goes by name).
    empty = inspect.Parameter.empty
    task.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(default=empty if p.default is empty else None, annotation=empty)
            for p in signature.parameters.values()
        ],
        return_annotation=empty,
    )
    return task


def _job_task(grace: float) -> Callable[..., Any]:
    """The Ray task of any job: one argument, ``(fn, args, kwargs)``."""

    def task(job: Job) -> Any:
        fn, args, kwargs = job
        return _answer(_run(_task_token(), fn, args, kwargs, grace))

    return task


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
        from ray.exceptions import RayError, RayTaskError

        if not ray.is_initialized():
            raise RuntimeError("threado.ray.Executor() needs ray.init() first")
        super().__init__(grace)
        self._signals = _signals_actor()
        self._errors = (RayTaskError, RayError)
        # Options given to ray.remote, not .options(): those are merged on every call.
        self._options = {"max_retries": 0, **options}
        self._object_ref = ray.ObjectRef
        self._job_task = ray.remote(**self._options)(_job_task(self._grace))
        # One Ray task per module-level function (registered at its first
        # job), so that a job's function is not an argument (each costs).
        self._function_tasks: dict[Callable[..., Any], Any] = {}

    def _task_for(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """``fn``'s own Ray task, or ``None``: send the job as one argument."""
        remote = self._function_tasks.get(fn)
        if remote is None:
            if not _named_at_module_level(fn) or len(self._function_tasks) >= _MAX_FUNCTION_TASKS:
                return None
            import ray

            remote = ray.remote(**self._options)(_function_task(fn, self._grace))
            with self._lock:
                remote = self._function_tasks.setdefault(fn, remote)
        # Ray resolves an ObjectRef given as an argument, not one inside the
        # job: so that a job gets the same arguments on both paths, those go whole.
        ref_type = self._object_ref
        for a in args:
            if isinstance(a, ref_type):
                return None
        for a in kwargs.values():
            if isinstance(a, ref_type):
                return None
        return remote

    def _launch(self, job: Job, future: JobFuture) -> str:
        fn, args, kwargs = job
        remote = self._task_for(fn, args, kwargs)
        ref = self._job_task.remote(job) if remote is None else remote.remote(*args, **kwargs)
        # Ray's own callback, no concurrent future in between. It holds the
        # ref (Ray keeps the answer while a ref lives) until it has run.
        ref._on_completed(lambda answer, _ref=ref: self._answered(future, answer))
        return str(ref.task_id().hex())

    def _answered(self, future: JobFuture, answer: Any) -> None:
        """The task's answer (from Ray's callback thread): its value, an
        :class:`_Ended`, or Ray's error."""
        task_error, ray_error = self._errors
        if isinstance(answer, task_error):
            self._finish(future, False, answer.as_instanceof_cause())
        elif isinstance(answer, ray_error):
            self._finish(future, False, answer)
        elif type(answer) is _Ended:
            self._outcome(future, answer.kind, None)
        else:
            self._finish(future, True, answer)
        # Once it has ended, no cancel comes any more; a cancel sent (or on
        # its way: see _signal) is dropped from the actor's set.
        if future._cancelling and future._token is not None:
            self._tell("forget", future._token)

    def _signal(self, token: str, future: JobFuture) -> None:
        self._tell("cancel", token)
        if future.done():  # _answered may have looked before this cancel was sent
            self._tell("forget", token)

    def _tell(self, what: str, token: str) -> None:
        """Send the actor a ``cancel`` or a ``forget``: never raises (``cancel()``
        must not). With Ray shut down it cannot arrive, nor can a job run on."""
        try:
            getattr(self._signals, what).remote(token)
        except Exception:
            pass


# In the driver: the actor's handle and the Ray job it belongs to. The
# driver keeps it, not each executor: with the last handle Ray would end the
# actor, while the workers' watchers still wait on it.
_driver_actor: list[Any] = []


def _signals_actor() -> Any:
    """The ``threado-signals`` actor of this driver's Ray job (made once per job)."""
    import ray

    # The job's id alone does not name it: after ray.shutdown(), the next
    # ray.init()'s new runtime numbers its jobs from 1 again (on a new node).
    context = ray.get_runtime_context()
    job = (context.get_job_id(), context.get_node_id())
    with _local_lock:
        if _driver_actor and _driver_actor[0] == job:
            return _driver_actor[1]
    # Restarted if it dies (its set starts empty again: the watchers' next
    # call returns at once, since its version went back to 0).
    actor = (
        ray.remote(_Signals)
        .options(
            name=SIGNALS_NAME,
            get_if_exists=True,
            max_concurrency=10_000,
            max_restarts=-1,
            max_task_retries=-1,
        )
        .remote()
    )
    with _local_lock:
        _driver_actor[:] = [job, actor]
    return actor


#: Beyond this many functions, an executor sends the others' jobs as one argument.
_MAX_FUNCTION_TASKS = 256


def _named_at_module_level(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is a function its module names (so: one of a bounded few)."""
    if type(fn) is not FunctionType and type(fn) is not BuiltinFunctionType:
        return False
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    obj: Any = module
    for part in getattr(fn, "__qualname__", "<locals>").split("."):
        obj = getattr(obj, part, None)
    return obj is fn


Executor.__module__ = "threado.ray"
