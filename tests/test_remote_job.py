"""The remote half of the cluster executors: ``_remote_job.run_job`` and its runners.

Run here in one process, with a threado ``Event`` as the job's signal (as
``threado.ray`` uses): the test plays the parent (it sets the signal to
cancel) and the task thread runs ``run_job``. The engines' own cases are in
``cluster_dask_cases.py`` and ``cluster_ray_cases.py``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextvars import copy_context
from functools import partial
from typing import Any

import proc_jobs
import pytest
from helpers import SLACK

import threado
from threado import _remote_job
from threado._remote_job import CANCELLED, OK, STUCK, run_job


@pytest.fixture(autouse=True)
def stop_idle_runners() -> Iterator[None]:
    """End the runners a test left idle (a worker process keeps them for its next job)."""
    yield
    with _remote_job._lock:
        idle = list(_remote_job._idle)
    for runner in idle:
        assert runner.thread is not None
        assert runner.thread.cancel(timeout=SLACK)
    assert not _remote_job._idle


def run(
    fn: Callable[..., Any], *args: Any, signal: threado.Event | None = None, grace: float = SLACK
) -> tuple[str, Any]:
    s = threado.Event() if signal is None else signal
    return run_job(fn, args, {}, s.wait, s.set, grace)


def me() -> threado.Thread[Any]:
    return threado.current_thread()


class Blocked:
    """A job that says it started, blocks at a threado blocking point, and notes its cleanup."""

    def __init__(self) -> None:
        self.started = threado.Event()
        self.cleaned_up = False
        self.runner: threado.Thread[Any] | None = None

    def __call__(self) -> None:
        self.runner = threado.current_thread()
        self.started.set()
        try:
            threado.sleep(600)
        finally:
            self.cleaned_up = True


def test_jobs_reuse_one_runner_thread() -> None:
    kind, first = run(me)
    assert kind == OK
    assert first is not threado.current_thread()
    assert run(me) == (OK, first)
    assert run(proc_jobs.add, 1, 2) == (OK, 3)
    with pytest.raises(ValueError, match="bad"):
        run(proc_jobs.fail, "bad")
    assert run(me) == (OK, first)  # an exception does not end the runner
    assert first.is_alive()


def test_a_job_runs_in_a_copy_of_the_task_threads_context() -> None:
    import contextvars

    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)

    def task() -> tuple[str, Any]:
        var.set(1)
        return run(lambda: (var.get(), var.set(2), var.get())[::2])

    assert copy_context().run(task) == (OK, (1, 2))
    assert var.get() == 0


def test_a_cancel_reaches_the_running_job_and_its_runner_is_replaced() -> None:
    _, before = run(me)
    job = Blocked()
    signal = threado.Event()
    task = threado.spawn(partial(run, job, signal=signal))
    assert job.started.wait(SLACK)
    assert job.runner is not None
    assert job.runner is before  # the idle runner took it
    signal.set()  # the parent's cancel
    assert task.join() == (CANCELLED, None)
    assert job.cleaned_up
    assert before.wait(SLACK)  # a cancelled runner ends after its job
    kind, after = run(me)
    assert kind == OK
    assert after is not before


def test_a_job_cancelled_before_it_starts_starts_cancelled() -> None:
    job = Blocked()
    signal = threado.Event()
    signal.set()
    assert run(job, signal=signal) == (CANCELLED, None)
    assert job.started.is_set()  # it ran until its first blocking point
    assert job.cleaned_up


def test_a_job_cancelled_as_it_ends_keeps_its_outcome() -> None:
    # The signal is set as the job returns: whether the task finds it ended
    # or cancels its runner, the job had no blocking point left: its result.
    signal = threado.Event()

    def sets_then_returns() -> int:
        signal.set()
        return 5

    assert run(sets_then_returns, signal=signal) == (OK, 5)


def test_a_stuck_job_is_reported_after_the_grace() -> None:
    release = threading.Event()  # a plain wait: no blocking point of threado's
    started = threado.Event()
    runner: list[threado.Thread[Any]] = []

    def stuck() -> None:
        runner.append(threado.current_thread())
        started.set()
        release.wait()

    signal = threado.Event()
    task = threado.spawn(partial(run, stuck, signal=signal, grace=0.05))
    assert started.wait(SLACK)
    signal.set()
    assert task.join() == (STUCK, None)
    release.set()
    assert runner[0].wait(SLACK)  # once free, it ends: it was cancelled


def test_a_job_that_cancels_its_own_thread_fails_and_its_runner_ends() -> None:
    _, before = run(me)
    with pytest.raises(threado.ThreadCancelled):
        run(proc_jobs.cancel_self)  # no cancel from the parent: an ordinary error
    assert before.wait(SLACK)
    kind, after = run(me)
    assert kind == OK
    assert after is not before


def test_tasks_at_once_get_runners_of_their_own() -> None:
    jobs = [Blocked(), Blocked()]
    signals = [threado.Event(), threado.Event()]
    tasks = [threado.spawn(partial(run, j, signal=s)) for j, s in zip(jobs, signals, strict=True)]
    for j in jobs:
        assert j.started.wait(SLACK)
    assert jobs[0].runner is not jobs[1].runner
    for s in signals:
        s.set()
    assert [t.join() for t in tasks] == [(CANCELLED, None)] * 2


def test_an_idle_runner_cancelled_leaves_or_hands_its_queue_over() -> None:
    _, runner = run(me)
    runner.cancel()  # idle: it leaves the list and ends
    assert not _remote_job._idle
    _, second = run(me)
    # A task took it, and it is cancelled before the job arrives: a new
    # runner serves its queue.
    with _remote_job._lock:
        taken = _remote_job._idle.pop()
    assert taken.thread is not None
    assert taken.thread is second
    taken.thread.cancel()
    signal = threado.Event()
    work = _remote_job._Work(me, (), {}, signal.set, copy_context())
    taken.jobs.put(work)
    assert signal.wait(SLACK)
    assert work.ended
    assert work.result is not second
    assert work.result is taken.thread


@pytest.mark.slow
def test_stress_random_cancels() -> None:
    rng = random.Random(22)
    outcomes: list[tuple[str, Any, bool, list[str]]] = []

    def job(i: int, nap: float, log: list[str]) -> int:
        log.append("started")
        try:
            if nap:
                threado.sleep(nap)
            return i
        finally:
            log.append("cleanup")

    def one(i: int, nap: float, cancel_after: float | None) -> None:
        signal = threado.Event()
        log: list[str] = []
        canceller = None
        if cancel_after is not None:

            def cancel() -> None:
                threado.sleep(cancel_after)
                signal.set()

            canceller = threado.spawn(cancel)
        try:
            kind, value = run_job(job, (i, nap, log), {}, signal.wait, signal.set, SLACK)
        finally:
            if canceller is not None:
                canceller.join()
        outcomes.append((kind, value, cancel_after is not None, log))

    with threado.ThreadGroup() as g:
        for i in range(600):
            nap = rng.choice([0, 0, 0.0005, 0.002])
            cancel_after = rng.choice([None, 0, 0.0002, 0.001])
            g.spawn(one, i, nap, cancel_after)
            if i % 3 == 2:
                threado.sleep(0.001)
    assert len(outcomes) == 600
    for kind, value, cancelled, log in outcomes:
        assert kind in (OK, CANCELLED)
        assert cancelled or kind == OK
        assert log == ["started", "cleanup"]  # every job started, and cleaned up
        assert kind != OK or isinstance(value, int)
    with _remote_job._lock:
        idle = list(_remote_job._idle)
    assert len({id(r) for r in idle}) == len(idle)
    for r in idle:
        assert r.thread is not None
        assert r.thread.is_alive()


# -- threado.ray's task, without Ray: the test plays the watcher (``_learn``) ---------


@pytest.fixture
def ray_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[str, Any]]]:
    import threado.ray

    monkeypatch.setattr(threado.ray, "_watching", [True])  # no watcher thread, no Ray

    def task(token: str, fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
        return threado.ray._run(token, fn, args, {}, SLACK)

    yield task
    threado.ray._learn([])
    assert not threado.ray._running


def learn(*tokens: str) -> None:
    import threado.ray

    threado.ray._learn(list(tokens))


def test_ray_runs_the_job_in_the_tasks_thread_in_a_cancel_scope(
    ray_task: Callable[..., tuple[str, Any]],
) -> None:
    job = Blocked()

    def two_tasks() -> list[tuple[str, Any]]:
        return [ray_task("a", job), ray_task("b", me)]

    t = threado.spawn(two_tasks)
    assert job.started.wait(SLACK)
    assert job.runner is t
    learn("a")  # returns once the job has unwound
    assert job.cleaned_up
    assert t.join() == [(CANCELLED, None), (OK, t)]  # the thread goes on, not cancelled


def test_ray_a_job_cancelled_before_it_starts_starts_cancelled(
    ray_task: Callable[..., tuple[str, Any]],
) -> None:
    learn("early")
    job = Blocked()
    assert ray_task("early", job) == (CANCELLED, None)
    assert job.started.is_set()
    assert job.cleaned_up


def test_ray_a_thread_a_job_cancelled_runs_the_next_jobs_in_runners(
    ray_task: Callable[..., tuple[str, Any]],
) -> None:
    job = Blocked()

    def tasks() -> list[Any]:
        out: list[Any] = []
        try:
            ray_task("self", proc_jobs.cancel_self)
        except threado.ThreadCancelled:
            out.append("raised")
        out.append(ray_task("next", me))
        out.append(ray_task("blocked", job))
        return out

    t = threado.spawn(tasks)
    assert job.started.wait(SLACK)
    assert job.runner is not t
    learn("blocked")
    raised, (kind, runner), cancelled = t.join()
    assert raised == "raised"
    assert kind == OK
    assert runner is not t
    assert cancelled == (CANCELLED, None)
    assert job.cleaned_up
