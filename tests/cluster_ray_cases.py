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

import gc
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError
from functools import partial

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


def start_ray() -> None:
    # The workers import the jobs (proc_jobs) and this checkout's threado.
    path = os.pathsep.join(p for p in sys.path if p)
    ray.init(
        num_cpus=3,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    start_ray()
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def executor(runtime: None) -> Iterator[threado.ray.Executor]:
    ex = threado.ray.Executor(grace=0.5)
    ex.submit(proc_jobs.getpid).result()
    yield ex
    ex.shutdown()


def cancel_jobs_on_every_worker(executor: threado.ray.Executor, listener: Listener) -> None:
    """Three jobs blocked at once (one per CPU: three worker processes), all cancelled."""
    futures = [executor.submit(proc_jobs.block, listener.address) for _ in range(3)]
    started = [listener.started()[0] for _ in futures]
    for f in futures:
        assert f.cancel()
    for f in futures:
        with pytest.raises(CancelledError):
            f.result(timeout=60)
    assert [listener.line(i) for i in started] == [b"cleanup"] * 3


def test_an_executor_made_after_the_last_one_went_still_cancels(
    runtime: None, listener: Listener
) -> None:
    # First in the module: no other executor holds the actor.
    first = threado.ray.Executor(grace=0.5)
    cancel_jobs_on_every_worker(first, listener)
    first.shutdown()
    del first
    gc.collect()
    second = threado.ray.Executor(grace=0.5)
    try:
        cancel_jobs_on_every_worker(second, listener)
    finally:
        second.shutdown()


def test_the_actor_is_restarted_if_it_dies(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    cancel_jobs_on_every_worker(executor, listener)  # every worker has a watcher
    ray.kill(ray.get_actor(threado.ray.SIGNALS_NAME), no_restart=False)
    cancel_jobs_on_every_worker(executor, listener)


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

    assert_no_token_left()


def assert_no_token_left() -> None:
    signals = ray.get_actor(threado.ray.SIGNALS_NAME)
    left = -1
    for _ in range(200):  # the future's end sends the actor a forget just after
        left = ray.get(signals.__ray_call__.remote(lambda self: len(self._cancelled)))
        if not left:
            break
        threado.sleep(0.05)
    assert left == 0


def test_every_kind_of_function_and_argument(
    executor: threado.ray.Executor, listener: Listener
) -> None:
    # Module-level functions get a Ray task of their own; the others go whole.
    offset = 40

    def closure(x: int) -> int:
        return x + offset

    assert executor.submit(proc_jobs.add, 1, b=2).result() == 3
    # A decorated function takes the arguments its wrapper takes, not the wrapped one's.
    assert executor.submit(proc_jobs.add_ten, 32).result() == 42
    # One whose default (a lock) cannot be pickled.
    assert executor.submit(proc_jobs.add_under_lock, 41).result() == 42
    assert executor.submit(lambda: 6 * 7).result() == 42
    assert executor.submit(closure, 2).result() == 42
    assert executor.submit(partial(proc_jobs.add, 40), 2).result() == 42
    assert executor.submit(divmod, 85, 2).result() == (42, 1)
    assert executor.submit("{}{}".format, 4, 2).result() == "42"
    # An ObjectRef argument reaches the job as it is, on either path.
    ref = ray.put(5)
    assert executor.submit(proc_jobs.kind_of, ref, key=ref).result() == ["ObjectRef"] * 2
    assert executor.submit(lambda r: type(r).__name__, ref).result() == "ObjectRef"
    # What Ray cannot send fails the future, with what it was; so do
    # arguments the function does not take.
    with pytest.raises(TypeError, match="could not submit"):
        executor.submit(proc_jobs.add, threading.Lock(), 1).result()
    with pytest.raises(TypeError, match=r"could not submit .*'b'"):
        executor.submit(proc_jobs.add, 1).result()
    # A job that is not a module-level function is cancellable too.
    f = executor.submit(lambda a: proc_jobs.block(a), listener.address)
    i, _ = listener.started()
    assert f.cancel()
    with pytest.raises(CancelledError):
        f.result(timeout=60)
    assert listener.line(i) == b"cleanup"


def test_many_jobs_with_random_cancels_leave_no_token_behind(
    executor: threado.ray.Executor,
) -> None:
    remote_checks.many_jobs_with_random_cancels(executor)
    assert_no_token_left()


def test_ray_started_again_gets_an_actor_of_its_own(runtime: None, listener: Listener) -> None:
    # Last in the module: it restarts the runtime. The new runtime numbers
    # its jobs from 1 again: the driver's actor of the last one is gone.
    ray.shutdown()
    start_ray()
    ex = threado.ray.Executor(grace=0.5)
    try:
        cancel_jobs_on_every_worker(ex, listener)
    finally:
        ex.shutdown(wait=False)  # (a cancel that did not reach a job would wait 600 s)
