"""``threado.dask``: cancellable jobs on a real Dask ``LocalCluster`` (SPEC §13).

One cluster (one worker process with three threads, behind a nanny) is
shared by the module. Jobs report to the test over a Unix socket
(``proc_jobs``): the tests are ordered by those messages, never by sleeping.

These cases run in a fresh interpreter, started by ``test_dask.py``: the
engine leaves threads of its own behind (a profiler, an offload pool),
which would change what the deadlock detector may conclude in the tests
that follow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from typing import Any

import proc_jobs
import pytest
import remote_checks
from proc_jobs import Listener
from remote_checks import no_thread_left_behind  # noqa: F401 - replaces conftest's

import threado

pytest.importorskip("distributed", reason="threado[dask] is not installed")
import threado.dask

pytestmark = [
    pytest.mark.slow,
    # Dask's own threads and comms trip these in the test process, not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

PIDS: set[int] = set()


@pytest.fixture(scope="module")
def executor() -> Iterator[threado.dask.Executor]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=3, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        ex = threado.dask.Executor(client, grace=0.5)
        PIDS.add(ex.submit(proc_jobs.getpid).result())
        yield ex
        ex.shutdown()
    finally:
        client.close()
        cluster.close()
    for pid in PIDS:  # the workers are gone, reaped by their nanny
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_results_and_errors(executor: threado.dask.Executor) -> None:
    assert executor.submit(proc_jobs.add, 1, 2).result() == 3
    with pytest.raises(ValueError, match="bad"):
        executor.submit(proc_jobs.fail, "bad").result()
    assert list(executor.map(proc_jobs.add, [1, 2], [3, 4])) == [4, 6]
    with pytest.raises(TypeError):
        threado.dask.Executor(object())


def test_cancel_a_running_job_runs_its_cleanup_and_the_worker_goes_on(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    pid = remote_checks.cancel_running_job(executor, listener)
    assert executor.submit(proc_jobs.getpid).result() == pid  # the same worker


def test_run_in_and_groups_cancel_the_remote_jobs(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    remote_checks.cancelled_run_in_waits_for_the_remote_cleanup(executor, listener)
    remote_checks.first_answer_cancels_the_other_jobs(executor, listener)


def test_a_stuck_job_has_its_worker_restarted(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    pid = remote_checks.stuck_job_ends_cancelled(executor, listener)
    new: Any = executor.submit(proc_jobs.getpid).result(timeout=60)
    PIDS.add(new)
    assert new != pid


def worker_state() -> tuple[int, int]:
    """Run on the worker: the tokens it keeps (cancelled, running)."""
    import threado.dask

    with threado.dask._local_lock:
        return len(threado.dask._cancelled), len(threado.dask._running)


def assert_no_token_left(executor: threado.dask.Executor) -> None:
    left: Any = None
    for _ in range(200):  # a cancelled job's future ends, then the forget goes out
        left = set(executor._client.run(worker_state).values())
        if left == {(0, 0)}:
            break
        threado.sleep(0.05)
    assert left == {(0, 0)}


def test_jobs_reuse_a_runner_thread_and_leave_no_token_behind(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    assert len({executor.submit(proc_jobs.where).result() for _ in range(5)}) == 1
    remote_checks.cancel_running_job(executor, listener)
    executor.submit(proc_jobs.add, 1, 1).result()
    assert_no_token_left(executor)


def test_a_job_cancelled_before_it_starts_starts_cancelled(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    # The worker's three threads blocked: a fourth job waits in the worker.
    running = [executor.submit(proc_jobs.block, listener.address) for _ in range(3)]
    started = [listener.started()[0] for _ in running]
    queued = executor.submit(proc_jobs.block, listener.address)
    assert queued.cancel()
    for f in running:
        assert f.cancel()
    i, _ = listener.started()  # it starts: its first blocking point raises
    assert listener.line(i) == b"cleanup"
    for f in [*running, queued]:
        with pytest.raises(CancelledError):
            f.result(timeout=60)
    assert [listener.line(j) for j in started] == [b"cleanup"] * 3
    assert_no_token_left(executor)


def test_many_jobs_with_random_cancels_leave_no_token_behind(
    executor: threado.dask.Executor,
) -> None:
    remote_checks.many_jobs_with_random_cancels(executor)
    assert_no_token_left(executor)


def test_a_cancel_does_not_wait_for_a_worker_busy_in_c_code(listener: Listener) -> None:
    # Two worker processes: one runs a job that holds the GIL for 6 s (its
    # event loop answers nobody meanwhile), the other a job we cancel.
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        ex = threado.dask.Executor(client, grace=0.5)
        blocked = ex.submit(proc_jobs.block, listener.address)
        i, pid = listener.started()
        busy = ex.submit(proc_jobs.hold_the_gil, listener.address, 6.0)
        assert listener.started()[1] != pid
        start = time.monotonic()
        assert blocked.cancel()
        with pytest.raises(CancelledError):
            blocked.result(timeout=60)
        assert listener.line(i) == b"cleanup"
        # Generous: a cancel takes a round trip to the worker (ms), not the 6 s.
        assert time.monotonic() - start < 3.0
        busy.result(timeout=60)
        ex.shutdown()
    finally:
        client.close()
        cluster.close()
