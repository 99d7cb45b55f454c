"""``threado.ray``: cancellable jobs on a real local Ray runtime (SPEC §13).

One runtime (``ray.init(num_cpus=3)``) is shared by the module. Jobs report
to the test over a Unix socket (``proc_jobs``): the tests are ordered by
those messages, never by sleeping.

These cases run in a fresh interpreter, started by ``test_ray.py``: the
engine leaves threads of its own behind (a profiler, an offload pool),
which would change what the deadlock detector may conclude in the tests
that follow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import proc_jobs
import pytest
import remote_checks
from proc_jobs import Listener
from remote_checks import no_thread_left_behind  # noqa: F401 - replaces conftest's

import threado

ray = pytest.importorskip("ray", reason="threado[ray] is not installed")
import threado.ray  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(scope="module")
def executor() -> Iterator[threado.ray.Executor]:
    # The workers import the jobs (proc_jobs) and this checkout's threado.
    path = os.pathsep.join(p for p in sys.path if p)
    ray.init(
        num_cpus=3,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        ex = threado.ray.Executor(grace=0.5)
        ex.submit(proc_jobs.getpid).result()
        yield ex
        ex.shutdown()
    finally:
        ray.shutdown()


def test_results_and_errors(executor: threado.ray.Executor) -> None:
    assert executor.submit(proc_jobs.add, 1, 2).result() == 3
    with pytest.raises(ValueError, match="bad"):
        executor.submit(proc_jobs.fail, "bad").result()


def test_cancel_a_running_job_runs_its_cleanup_and_the_worker_goes_on(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    pid = remote_checks.cancel_running_job(executor, listener)
    os.kill(pid, 0)  # the worker survived (Ray picks which worker runs next)


def test_run_in_and_groups_cancel_the_remote_jobs(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    remote_checks.cancelled_run_in_waits_for_the_remote_cleanup(executor, listener)
    remote_checks.first_answer_cancels_the_other_jobs(executor, listener)


def test_a_stuck_job_has_its_worker_replaced(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    pid = remote_checks.stuck_job_ends_cancelled(executor, listener)
    assert executor.submit(proc_jobs.add, 2, 2).result(timeout=60) == 4
    gone = threado.Event()
    for _ in range(100):  # the raylet reaps the dead worker
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            gone.set()
            break
        threado.sleep(0.05)
    assert gone.is_set(), f"worker {pid} still exists"


def test_jobs_reuse_one_thread_and_cancels_are_forgotten(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    threads: dict[int, set[int]] = {}
    for _ in range(6):
        pid, thread = executor.submit(proc_jobs.where).result()
        threads.setdefault(pid, set()).add(thread)
    assert all(len(t) == 1 for t in threads.values())  # one job thread per worker process
    remote_checks.cancel_running_job(executor, listener)

    signals = ray.get_actor(threado.ray.SIGNALS_NAME)
    left = -1
    for _ in range(200):  # the future's end sends the actor a forget just after
        left = ray.get(signals.__ray_call__.remote(lambda self: len(self._cancelled)))
        if not left:
            break
        threado.sleep(0.05)
    assert left == 0
