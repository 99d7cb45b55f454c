"""``threado.run_in``: a blocking point over any executor (SPEC §13)."""

from __future__ import annotations

import concurrent.futures
import select
import threading
from collections.abc import Iterator

import proc_jobs
import pytest
import remote_checks
from helpers import SLACK
from proc_jobs import Listener

import threado
from threado import _run_in
from threado.testing import wait_parked

pytestmark = pytest.mark.slow  # worker processes


@pytest.fixture(scope="module")
def pool() -> Iterator[threado.ProcessPoolExecutor]:
    with threado.ProcessPoolExecutor(3, grace=0.5) as p:
        for _ in range(3):
            p.submit(proc_jobs.getpid).result()
        yield p


def test_returns_the_result_or_raises_the_error(pool: threado.ProcessPoolExecutor) -> None:
    assert threado.run_in(pool, proc_jobs.add, 2, 3) == 5
    with pytest.raises(ValueError, match="bad"):
        threado.run_in(pool, proc_jobs.fail, "bad")
    with concurrent.futures.ThreadPoolExecutor(1) as stdlib:
        assert threado.run_in(stdlib, proc_jobs.add, 1, 1) == 2
    with pytest.raises(TypeError, match="needs an executor"):
        threado.run_in(42, proc_jobs.add, 1, 1)  # type: ignore[arg-type]


def test_timeout_cancels_the_remote_job_and_raises_after_its_cleanup(
    pool: threado.ProcessPoolExecutor, listener: Listener
) -> None:
    def started_then_timeout() -> None:
        with threado.timeout_after(60) as scope:
            waiter = threado.spawn(listener.started)
            job = threado.spawn(threado.run_in, pool, proc_jobs.block, listener.address)
            i, _ = waiter.join()
            job.cancel()
            assert job.cancelled
            # run_in returned only after the remote cleanup ran.
            assert listener.line(i) == b"cleanup"
        assert not scope.expired

    started_then_timeout()
    with pytest.raises(threado.ThreadTimeout):
        with threado.timeout_after(1.0):
            threado.run_in(pool, proc_jobs.block, listener.address)
    listener.sock.settimeout(0)
    try:
        i, _ = listener.started()
    except BlockingIOError:  # a very slow machine: the timeout came before the job started
        return
    # It did start: its cleanup had run before ThreadTimeout was raised.
    assert select.select([listener.conns[i]], [], [], 0)[0]
    assert listener.line(i) == b"cleanup"


def test_a_group_of_run_in_calls_first_answer_cancels_the_others(
    pool: threado.ProcessPoolExecutor, listener: Listener
) -> None:
    remote_checks.first_answer_cancels_the_other_jobs(pool, listener)
    remote_checks.cancelled_run_in_waits_for_the_remote_cleanup(pool, listener)


def test_a_stdlib_job_that_cannot_stop_is_left_after_the_default_grace() -> None:
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as stdlib:
        caller = threado.spawn(threado.run_in, stdlib, release.wait, 60)
        wait_parked(caller)
        start = threado.clock()
        caller.cancel()
        assert caller.cancelled
        waited = threado.clock() - start
        assert _run_in.DEFAULT_GRACE <= waited < _run_in.DEFAULT_GRACE + SLACK
        release.set()
