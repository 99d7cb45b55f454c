"""The parent half of the cluster executors: ``_remote_executor.RemoteExecutor``.

With a fake engine (no Dask, no Ray): the test plays the engine, so it can
hold a job inside ``_launch`` while another thread cancels it. The real
engines' cases are in ``cluster_dask_cases.py`` and ``cluster_ray_cases.py``.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any

import pytest
from helpers import SLACK

import threado
from threado._process_future import JobFuture
from threado._remote_executor import Job, RemoteExecutor
from threado._remote_job import OK


class FakeEngine(RemoteExecutor):
    """Launches by waiting for the test's ``go``; a signal ends the job cancelled."""

    def __init__(self) -> None:
        super().__init__(grace=1.0)
        self.launching = threado.Event()
        self.go = threado.Event()
        self.fail_launch = False
        self.launched: list[tuple[Job, JobFuture]] = []
        self.signals: list[str] = []

    def _launch(self, job: Job, future: JobFuture) -> str:
        self.launching.set()
        assert self.go.wait(SLACK)
        if self.fail_launch:
            raise ValueError("cannot serialize")
        self.launched.append((job, future))
        return f"token-{len(self.launched)}"

    def _signal(self, token: str, future: JobFuture) -> None:
        self.signals.append(token)
        self._outcome(future, "cancelled", None)  # the job unwound at once


def job() -> int:
    return 42


def test_a_job_ends_with_its_tasks_answer() -> None:
    engine = FakeEngine()
    engine.go.set()
    f = engine.submit(job)
    assert f.running()
    (fn, args, kwargs), future = engine.launched[0]
    assert (fn, args, kwargs, future) == (job, (), {}, f)
    engine._outcome(future, OK, fn())
    assert f.result(timeout=0) == 42
    assert f.cancel() is False
    assert engine.signals == []


def test_a_cancel_after_the_launch_sends_the_signal_once() -> None:
    engine = FakeEngine()
    engine.go.set()
    f = engine.submit(job)
    assert f.cancel() is True
    assert f.cancel() is True  # asked already: not sent again
    assert engine.signals == ["token-1"]
    with pytest.raises(CancelledError):
        f.result(timeout=0)


def test_a_cancel_during_the_launch_is_sent_once_the_token_is_known() -> None:
    engine = FakeEngine()
    submitter = threado.spawn(engine.submit, job)
    assert engine.launching.wait(SLACK)
    engine.shutdown(wait=False, cancel_futures=True)  # the only way to reach it now
    assert engine.signals == []  # no token yet: nothing can be sent
    engine.go.set()
    f: Any = submitter.join(timeout=SLACK)
    assert engine.signals == ["token-1"]
    assert f.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        engine.submit(job)


def test_a_launch_that_fails_fails_the_future_and_a_cancel_sends_nothing() -> None:
    engine = FakeEngine()
    engine.fail_launch = True
    engine.go.set()
    f = engine.submit(job)
    with pytest.raises(TypeError, match=r"could not submit .* ValueError: cannot serialize"):
        f.result(timeout=0)
    assert f.cancel() is False
    assert engine.signals == []
    engine.shutdown(wait=True)  # nothing left to wait for


def test_submit_checks_its_function() -> None:
    engine = FakeEngine()
    with pytest.raises(TypeError, match="is not callable"):
        engine.submit(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grace must be a number >= 0"):
        RemoteExecutor(grace=-1)
