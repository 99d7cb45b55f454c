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
from collections.abc import Iterator
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


def test_jobs_reuse_a_runner_thread_and_leave_no_event_behind(
    executor: threado.dask.Executor, listener: Listener
) -> None:
    assert len({executor.submit(proc_jobs.where).result() for _ in range(5)}) == 1
    remote_checks.cancel_running_job(executor, listener)
    executor.submit(proc_jobs.add, 1, 1).result()

    def events(dask_scheduler: Any) -> int:
        extension = dask_scheduler.extensions["events"]
        return len(extension._events) + len(extension._waiter_count)

    left = -1
    for _ in range(200):  # each task clears its event just after it returned
        left = executor._client.run_on_scheduler(events)
        if not left:
            break
        threado.sleep(0.05)
    assert left == 0
