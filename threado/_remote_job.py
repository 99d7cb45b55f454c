"""The remote half of ``threado.dask`` and ``threado.ray``: one job as a threado thread.

Theory of operation
-------------------

An engine (Dask, Ray) runs :func:`run_job` as its task, in one of its worker
threads. It hands the job's function to a *runner*, a threado thread of this
process, then blocks in ``wait_signal()``: an engine-provided wait on the
job's *signal* (a Dask ``Event``, a threado ``Event`` that Ray's cancel
router sets) that returns when the signal is set. The signal is set by two
parties, whichever comes first:

* the runner, as the job's last act (``signal_done``), after recording its
  outcome: then the task just collects it;
* the parent, to cancel the job: then the task cancels the runner
  (``ThreadCancelled`` at the job's next blocking point) and waits up to
  ``grace`` seconds for the job to unwind.

Runners are reused, job after job (a thread per job would cost a thread
start each), as the process pool's worker does: a runner that finished a
job puts itself on this process's idle list, and a task takes an idle
runner or spawns one (an engine may run several tasks at once in one
process). Cancellation is level-triggered, so a runner that was cancelled
(by the parent, or by the job itself) ends after its job instead of going
back to the list. ``_lock`` makes the two sides agree: the task cancels the
runner only while the job has not ended (``_Work.ended``), and the runner
records the end, and decides whether to go on, under it; so a cancel never
reaches the runner's next job. A runner cancelled while idle (at
interpreter exit, or through a handle a job kept) leaves the list, or, if a
task took it meanwhile, hands its queue to a new runner first. The task
finds the runner through the job (``_Work.runner``, set by the runner that
starts it, under the lock), and a job cancelled before it starts starts
cancelled. Each job runs in a copy of the task thread's ``contextvars``
context, as a spawned thread would.

The task's value says how the job ended: :data:`OK` with its result,
:data:`CANCELLED` (it unwound after the cancel), or :data:`STUCK` (it was
still running ``grace`` seconds after the cancel; the parent then replaces
the worker, or leaves the thread there where the engine cannot). An
exception of the job is raised by the task, so the engine carries it back
with its traceback. A job's ``ThreadCancelled`` that no cancel from the
parent caused (an expired timeout inside it) is an ordinary exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import Context, copy_context
from typing import Any, Final

from ._errors import ThreadCancelled
from ._events import Event
from ._scopes import cancel_requested
from ._simplequeue import SimpleQueue
from ._threads import Thread, current_thread, spawn

OK: Final = "ok"
CANCELLED: Final = "cancelled"
STUCK: Final = "stuck"

_lock = threading.Lock()


class _Work:
    """One job on its way through a runner; ``ended``/``runner``/``cancelled`` under ``_lock``."""

    __slots__ = (
        "args",
        "cancelled",
        "context",
        "done",
        "ended",
        "exc",
        "fn",
        "kwargs",
        "result",
        "runner",
        "signal_done",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        signal_done: Callable[[], object],
        context: Context,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signal_done = signal_done
        self.context = context
        self.result: Any = None
        self.exc: BaseException | None = None
        self.ended = False
        self.cancelled = False
        self.runner: Thread[None] | None = None
        self.done: Event | None = None  # made by the task when it cancels


class _Runner:
    """A reusable job thread's inbox."""

    __slots__ = ("jobs", "thread")

    def __init__(self) -> None:
        self.jobs: SimpleQueue[_Work] = SimpleQueue()
        self.thread: Thread[None] | None = None  # set before it is ever idle

    def serve(self) -> None:
        """The runner thread: run the jobs put here until cancelled."""
        self.thread = me = current_thread()
        while True:
            try:
                work = self.jobs.get()
            except ThreadCancelled:
                with _lock:
                    if self in _idle:  # nobody will put a job here any more
                        _idle.remove(self)
                        return
                # A task took this runner and puts (or has put) its job here.
                _spawn_runner(self)
                return
            with _lock:
                work.runner = me
                if work.cancelled:
                    me.cancel(blocking=False)
            try:
                work.result = work.context.run(work.fn, *work.args, **work.kwargs)
            except BaseException as e:
                work.exc = e
            with _lock:
                work.ended = True
                done = work.done
                stop = cancel_requested()
                if not stop:
                    _idle.append(self)
            work.signal_done()
            if done is not None:
                done.set()
            if stop:
                return
            del work, done  # an idle runner keeps no job's result alive


_idle: list[_Runner] = []


def _spawn_runner(runner: _Runner) -> None:
    spawn(runner.serve, name="threado-remote-job-runner", daemon=True)


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
    work = _Work(fn, args, kwargs, signal_done, copy_context())
    with _lock:
        runner = _idle.pop() if _idle else None
    if runner is None:
        runner = _Runner()
        runner.jobs.put(work)
        _spawn_runner(runner)
    else:
        runner.jobs.put(work)
    wait_signal()
    with _lock:
        cancelled = not work.ended
        if cancelled:
            work.cancelled = True
            work.done = done = Event()
            if work.runner is not None:  # else it starts cancelled
                work.runner.cancel(blocking=False)
    if cancelled and not done.wait(grace):
        return STUCK, None
    exc = work.exc
    if exc is None:
        return OK, work.result
    if cancelled and isinstance(exc, ThreadCancelled):
        return CANCELLED, None
    raise exc
