"""``threado.ProcessPoolExecutor``: cancelling running jobs in worker processes (SPEC §13).

Jobs live in ``proc_jobs`` (worker processes import them) and tell the test
they started, and that their cleanup ran, over a Unix socket: every test is
ordered by those messages, never by sleeping.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from pathlib import Path

import proc_jobs
import pytest
import remote_checks
from helpers import SLACK
from proc_jobs import Listener
from signals import CHILD_PREAMBLE

import threado
from threado.testing import wait_parked

pytestmark = pytest.mark.slow  # worker processes take a while to start


@pytest.fixture(scope="module")
def pool() -> Iterator[threado.ProcessPoolExecutor]:
    """One worker, shared (started before the thread-leak check takes its snapshot)."""
    with threado.ProcessPoolExecutor(1, grace=0.5) as p:
        p.submit(proc_jobs.getpid).result()
        yield p


def ready_now(lis: Listener, i: int) -> bool:
    """Whether job ``i``'s connection has something to read already."""
    return bool(select.select([lis.conns[i]], [], [], 0)[0])


def test_results_and_remote_tracebacks(pool: threado.ProcessPoolExecutor) -> None:
    assert pool.submit(proc_jobs.add, 1, 2).result() == 3
    f = pool.submit(proc_jobs.fail, "boom")
    with pytest.raises(ValueError, match="boom") as info:
        f.result()
    cause = info.value.__cause__
    assert type(cause).__name__ == "_RemoteTraceback"
    assert "in fail" in str(cause)
    assert list(pool.map(proc_jobs.add, range(5), range(5))) == [0, 2, 4, 6, 8]
    assert list(pool.map(proc_jobs.add, range(7), range(7), chunksize=3)) == list(range(0, 14, 2))


@pytest.mark.parametrize("how", ["sleep", "queue"])
def test_cancel_a_running_job_runs_its_cleanup_and_the_worker_goes_on(
    pool: threado.ProcessPoolExecutor, listener: Listener, how: str
) -> None:
    ended: list[bool] = []
    called = threado.Event()
    f = pool.submit(proc_jobs.block, listener.address, how)
    i, pid = listener.started()

    def callback(fut: object) -> None:
        ended.append(ready_now(listener, i))
        called.set()

    f.add_done_callback(callback)
    assert f.running()
    assert f.cancel() is True
    assert f.cancel() is True  # twice is fine
    with pytest.raises(CancelledError):
        f.result(timeout=60)
    assert f.cancelled()
    # The job's cleanup had run (its line was sent) before the future ended.
    assert called.wait(SLACK)
    assert ended == [True]
    assert listener.line(i) == b"cleanup"
    assert pool.submit(proc_jobs.getpid).result() == pid  # the same worker


def test_a_stuck_job_has_its_worker_replaced_after_the_grace(
    pool: threado.ProcessPoolExecutor, listener: Listener
) -> None:
    pid = remote_checks.stuck_job_ends_cancelled(pool, listener)
    assert pool.submit(proc_jobs.getpid).result() != pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: not even a zombie


def test_a_worker_terminated_after_the_grace_gets_no_new_job(listener: Listener) -> None:
    with threado.ProcessPoolExecutor(
        1, initializer=proc_jobs.slow_to_die_of_sigterm, grace=0.05
    ) as p:
        stuck = p.submit(proc_jobs.wait_for_sigterm, listener.address)
        _, pid = listener.started()
        innocent = p.submit(proc_jobs.die_if_terminated)
        assert stuck.cancel()
        # Its SIGTERM at the grace let it answer before it died. Once, the
        # pool then gave it the next job, and that job died with it.
        with pytest.raises(CancelledError):
            stuck.result(timeout=60)
        assert innocent.result(timeout=60) != pid


@pytest.mark.parametrize(("how", "words"), [("exit", "exit code 3"), ("kill", "signal SIGKILL")])
def test_a_worker_that_dies_fails_only_its_job(
    pool: threado.ProcessPoolExecutor, how: str, words: str
) -> None:
    f = pool.submit(proc_jobs.die, how)
    with pytest.raises(threado.WorkerDied, match=words) as info:
        f.result()
    assert isinstance(info.value, BrokenProcessPool)
    assert pool.submit(proc_jobs.add, 2, 2).result() == 4


def test_unpicklable_function_argument_or_result_fails_that_job_only(
    pool: threado.ProcessPoolExecutor,
) -> None:
    f = pool.submit(lambda: 1)
    with pytest.raises(pickle.PicklingError, match="the function"):
        f.result()
    f = pool.submit(proc_jobs.add, 1, threading.Lock())
    with pytest.raises(pickle.PicklingError, match=r"argument 1 \(<unlocked _thread.lock"):
        f.result()
    f = pool.submit(proc_jobs.unpicklable_result)
    with pytest.raises(TypeError, match="could not pickle the result of"):
        f.result()
    assert pool.submit(proc_jobs.add, 1, 1).result() == 2


def test_whatever_pickling_raises_fails_that_job_and_the_worker_goes_on(
    pool: threado.ProcessPoolExecutor,
) -> None:
    pid = pool.submit(proc_jobs.getpid).result()
    # A __reduce__ raising SystemExit once left the worker without an answer
    # for the job, and wedged for every later one.
    f = pool.submit(proc_jobs.result_whose_pickling_exits)
    with pytest.raises(TypeError, match=r"could not pickle the result.*SystemExit"):
        f.result(timeout=60)
    f = pool.submit(proc_jobs.raise_unpicklable_unprintable)
    with pytest.raises(RuntimeError, match="_Unprintable: <_Unprintable object>"):
        f.result(timeout=60)
    for kind, exc in [("exit", SystemExit), ("interrupt", KeyboardInterrupt)]:
        with pytest.raises(exc):
            pool.submit(proc_jobs.raise_base, kind).result(timeout=60)
    assert pool.submit(proc_jobs.getpid).result(timeout=60) == pid


def test_a_pending_job_cancelled_wakes_its_waiters_before_its_callbacks(
    pool: threado.ProcessPoolExecutor, listener: Listener
) -> None:
    running = pool.submit(proc_jobs.block, listener.address)
    i, _ = listener.started()
    pending = pool.submit(proc_jobs.add, 1, 2)  # the one worker is busy
    waiter = threado.spawn(threado.wait, [pending])
    wait_parked(waiter)
    seen: list[object] = []

    def callback(f: Future[int]) -> None:
        # Once, the callbacks ran before waiters could see the cancel: a
        # wait(timeout=None) here never returned.
        seen.append(wait([f], timeout=0).done == {f})
        seen.append(threado.wait([f], 0) == [f])
        seen.append(next(as_completed([f], timeout=0)) is f)

    pending.add_done_callback(callback)
    try:
        assert pending.cancel() is True
        assert seen == [True, True, True]
        assert waiter.join() == [pending]  # without waiting for the worker
        assert pending.cancel() is True  # twice: still cancelled, callbacks not run again
        assert len(seen) == 3
    finally:
        assert running.cancel()
    assert listener.line(i) == b"cleanup"
    assert wait([running], timeout=60).done == {running}


def test_a_job_that_cancels_itself_does_not_cancel_the_next_one(
    pool: threado.ProcessPoolExecutor,
) -> None:
    pid = pool.submit(proc_jobs.getpid).result()
    with pytest.raises(threado.ThreadCancelled):
        pool.submit(proc_jobs.cancel_self).result()
    assert pool.submit(proc_jobs.nap, 0.001).result() == 0.001
    assert pool.submit(proc_jobs.getpid).result() == pid


def test_a_cancelled_thread_waiting_on_result_raises_thread_cancelled(
    pool: threado.ProcessPoolExecutor,
) -> None:
    f = pool.submit(proc_jobs.nap, 0.2)
    waiter = threado.spawn(f.result)
    wait_parked(waiter)
    waiter.cancel()
    assert waiter.cancelled
    assert f.result() == 0.2

    def cancelled_then(method: str) -> object:
        threado.current_thread().cancel(blocking=False)
        return getattr(f, method)()

    # A blocking point checks on entry, even when the future is done.
    for method in ("result", "exception"):
        t = threado.spawn(cancelled_then, method)
        assert t.wait(60)
        assert t.cancelled, t.exception


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_every_start_method_cancels_a_running_job(listener: Listener, method: str) -> None:
    ctx = multiprocessing.get_context(method)
    with threado.ProcessPoolExecutor(1, mp_context=ctx) as p:
        f = p.submit(proc_jobs.block, listener.address)
        i, pid = listener.started()
        assert f.cancel()
        assert listener.line(i) == b"cleanup"
        assert wait([f], timeout=60).done == {f}
        assert f.cancelled()
        assert p.submit(proc_jobs.getpid).result() == pid


def test_shutdown_cancel_futures_cancels_running_and_pending_jobs(listener: Listener) -> None:
    p = threado.ProcessPoolExecutor(2)
    running = [p.submit(proc_jobs.block, listener.address) for _ in range(2)]
    pending = p.submit(proc_jobs.add, 1, 2)
    started = [listener.started() for _ in running]
    p.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in running)
    assert pending.cancelled()
    assert sorted(listener.line(i) for i, _ in started) == [b"cleanup", b"cleanup"]
    for _, pid in started:  # exited and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="after shutdown"):
        p.submit(proc_jobs.add, 1, 2)


def test_cancel_after_shutdown_still_cancels_the_running_job(listener: Listener) -> None:
    p = threado.ProcessPoolExecutor(1)
    f = p.submit(proc_jobs.block, listener.address)
    i, _ = listener.started()
    p.shutdown(wait=False)
    assert f.cancel() is True
    assert f.cancel() is True
    assert listener.line(i) == b"cleanup"
    p.shutdown(wait=True)
    assert f.cancelled()


def test_shutdown_cancel_futures_while_a_cancelled_job_is_in_its_finally(
    listener: Listener,
) -> None:
    p = threado.ProcessPoolExecutor(1, grace=60)
    f = p.submit(proc_jobs.block_then_slow_cleanup, listener.address)
    i, _ = listener.started()
    assert f.cancel()
    assert listener.line(i) == b"finally"
    stopper = threado.spawn(functools.partial(p.shutdown, wait=True, cancel_futures=True))
    wait_parked(stopper)
    assert not f.done()  # the job has not unwound yet
    listener.conns[i].sendall(b"x")
    stopper.join()
    assert f.cancelled()
    assert listener.line(i) == b"cleanup"


def test_shutdown_cancel_futures_never_starts_a_pending_job(listener: Listener) -> None:
    p = threado.ProcessPoolExecutor(1)
    first = p.submit(proc_jobs.block, listener.address)
    i, _ = listener.started()
    pending = [p.submit(proc_jobs.block, listener.address) for _ in range(40)]
    late: list[int] = []

    def callback(f: object) -> None:
        # Runs in shutdown()'s thread as it cancels the pending job. Once,
        # shutdown cancelled the jobs in any order: after the running one,
        # the worker it freed took a pending job not cancelled yet.
        if first._cancelling and not late:  # type: ignore[attr-defined]
            wait([first], timeout=60)
            listener.sock.settimeout(SLACK)
            late.append(listener.started()[0])

    for f in pending:
        f.add_done_callback(callback)
    p.shutdown(wait=True, cancel_futures=True)
    assert late == []
    assert first.cancelled()
    assert all(f.cancelled() for f in pending)
    assert listener.line(i) == b"cleanup"


def test_map_timeout_cancels_the_running_calls(listener: Listener) -> None:
    with threado.ProcessPoolExecutor(2) as p:
        results = p.map(proc_jobs.block, [listener.address] * 3, timeout=0.5)
        started = [listener.started()[0] for _ in range(2)]
        with pytest.raises(TimeoutError):
            next(results)
        assert sorted(listener.line(i) for i in started) == [b"cleanup", b"cleanup"]


def test_done_callbacks_may_submit_cancel_and_shut_down() -> None:
    p = threado.ProcessPoolExecutor(2)
    first = p.submit(proc_jobs.add, 1, 1)
    long = p.submit(proc_jobs.nap, 600)
    seen: list[object] = []
    called = threado.Event()

    def callback(f: object) -> None:
        seen.append(long.cancel())
        seen.append(p.submit(proc_jobs.add, 2, 2))
        try:
            p.shutdown()  # in the manager thread: it cannot wait
        except RuntimeError as e:
            seen.append(str(e))
        try:
            p.submit(proc_jobs.add, 3, 3)
        except RuntimeError as e:
            seen.append(str(e))
        called.set()

    first.add_done_callback(callback)
    assert first.result(timeout=60) == 2
    assert called.wait(60)  # (callbacks run just after result() can return)
    p.shutdown()
    assert seen[0] is True
    assert long.cancelled()
    # Once, the failed wait cancelled every job, this one included.
    assert seen[1].result(timeout=0) == 4  # type: ignore[attr-defined]
    assert seen[2:] == [
        "shutdown(wait=True) cannot wait in a done-callback of its pool",
        "cannot schedule new futures after shutdown",
    ]


def test_a_pool_dropped_without_shutdown_finishes_its_jobs_and_stops() -> None:
    before = set(threading.enumerate())
    p = threado.ProcessPoolExecutor(1)
    pid = p.submit(proc_jobs.getpid).result()
    last = p.submit(proc_jobs.nap, 0.01)
    handle = weakref.ref(p)
    del p
    gc.collect()
    # Once, the manager thread held the handle: the worker lived until exit.
    assert handle() is None
    managers = [t for t in threading.enumerate() if t not in before]
    assert [t.name[:20] for t in managers] == ["threado-process-pool"]
    managers[0].join(60)
    assert not managers[0].is_alive()
    assert last.result(timeout=0) == 0.01  # its jobs ran to the end, as the stdlib's
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped


def test_max_tasks_per_child_and_initializer() -> None:
    with threado.ProcessPoolExecutor(1, max_tasks_per_child=1) as p:
        first, second = p.submit(proc_jobs.getpid).result(), p.submit(proc_jobs.getpid).result()
        assert first != second
    forkserver.ensure_running()  # process-wide, started once: not the pool's
    fds = os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []
    gc.disable()  # what a cycle holds stays held
    try:
        p = threado.ProcessPoolExecutor(3, initializer=proc_jobs.raise_unloadable)
        jobs = [p.submit(proc_jobs.add, 1, 2) for _ in range(6)]
        with pytest.raises(BrokenProcessPool, match="initializer"):
            jobs[0].result()
        assert all(isinstance(f.exception(), BrokenProcessPool) for f in jobs)
        with pytest.raises(BrokenProcessPool):
            p.submit(proc_jobs.add, 1, 2)
        p.shutdown()
    finally:
        gc.enable()
    # Once, a reference cycle (the initializer's exception, which the parent
    # could not unpickle) kept the killed workers' sentinels open.
    assert len(os.listdir("/proc/self/fd") if fds else []) == len(fds)


def test_a_pool_broken_by_its_initializer_ends_a_future_only_once_its_job_is_gone(
    tmp_path: Path, listener: Listener
) -> None:
    p = threado.ProcessPoolExecutor(
        2, initializer=proc_jobs.fail_if_exists, initargs=(str(tmp_path / "first"),), grace=60
    )
    stuck = p.submit(proc_jobs.spin, listener.address)
    _, pid = listener.started()
    assert stuck.cancel()  # it cannot unwind: no blocking point
    alive: list[bool] = []

    def callback(f: object) -> None:
        try:
            os.kill(pid, 0)
            alive.append(True)
        except ProcessLookupError:
            alive.append(False)

    stuck.add_done_callback(callback)
    second = p.submit(proc_jobs.add, 1, 1)  # its worker's initializer fails
    with pytest.raises(BrokenProcessPool, match="initializer"):
        second.result(timeout=60)
    assert stuck.cancelled()
    p.shutdown()
    # Once, the futures ended before the workers were killed.
    assert alive == [False]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_worker_that_cannot_start_fails_the_jobs_and_leaks_nothing() -> None:
    forkserver.ensure_running()  # process-wide, started once: not the pool's
    fds = len(os.listdir("/proc/self/fd"))
    gc.disable()  # what a cycle holds stays held
    try:
        p = threado.ProcessPoolExecutor(2, initializer=lambda: None)  # cannot be pickled
        jobs = [p.submit(proc_jobs.add, 1, 1) for _ in range(4)]
        for f in jobs:
            with pytest.raises(RuntimeError, match="could not start a worker process"):
                f.result(timeout=60)
        p.shutdown()
        # Once, each failed start left its pipe open until a garbage collection.
        assert len(os.listdir("/proc/self/fd")) == fds
    finally:
        gc.enable()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        threado.ProcessPoolExecutor(0)
    with pytest.raises(ValueError, match="grace"):
        threado.ProcessPoolExecutor(grace=-1)
    with pytest.raises(ValueError, match="max_tasks_per_child"):
        threado.ProcessPoolExecutor(max_tasks_per_child=0)
    with pytest.raises(TypeError, match="not callable"):
        threado.ProcessPoolExecutor().submit(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        # Interpreter exit with the job running: the exit hook cancels it.
        "p = threado.ProcessPoolExecutor(1)\n    p.submit(proc_jobs.block, ADDRESS).result()",
        # The with block's exit, with KeyboardInterrupt: cancelled, not waited for.
        "with threado.ProcessPoolExecutor(1) as p:\n"
        "        p.submit(proc_jobs.block, ADDRESS).result()",
    ],
    ids=["exit", "with"],
)
def test_ctrl_c_cancels_the_running_jobs_and_their_cleanup_runs(
    tmp_path: Path, listener: Listener, body: str
) -> None:
    script = tmp_path / "ctrl_c.py"
    script.write_text(
        CHILD_PREAMBLE
        + "import threado, proc_jobs\n"
        + "if __name__ == '__main__':\n"
        + "    "
        + body.replace("ADDRESS", repr(listener.address))
        + "\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        i, _ = listener.started()
        child.send_signal(signal.SIGINT)
        assert listener.line(i) == b"cleanup"  # the job was cancelled, not waited for
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert "KeyboardInterrupt" in err, err
    assert child.returncode != 0


def test_import_threado_loads_neither_processes_nor_engines() -> None:
    code = (
        "import sys\n"
        "import threado\n"
        "heavy = ('multiprocessing', 'concurrent.futures', 'threado._process_pool',\n"
        "         'threado.dask', 'threado.ray', 'distributed', 'dask', 'ray')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "threado.ProcessPoolExecutor, threado.run_in, threado.WorkerDied\n"
        "print('threado._process_pool' in sys.modules, 'ray' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.split("\n")[:2] == ["[]", "True False"]
