"""Checks every cancellable executor must pass (process pool, Dask, Ray), given one.

Each takes the executor and the test's :class:`proc_jobs.Listener`, and is
ordered by the jobs' messages, never by sleeping.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError, Executor
from pathlib import Path

import proc_jobs
import pytest
from proc_jobs import Listener

import threado


def cancel_running_job(executor: Executor, listener: Listener) -> int:
    """A running job, cancelled, runs its cleanup; the future ends cancelled.

    Returns the pid of the worker that ran it.
    """
    f = executor.submit(proc_jobs.block, listener.address)
    i, pid = listener.started()
    assert f.cancel() is True
    with pytest.raises(CancelledError):
        f.result(timeout=60)
    assert listener.line(i) == b"cleanup"
    return pid


def cancelled_run_in_waits_for_the_remote_cleanup(executor: Executor, listener: Listener) -> None:
    caller = threado.spawn(threado.run_in, executor, proc_jobs.block, listener.address)
    i, _ = listener.started()
    caller.cancel()
    assert caller.cancelled
    assert listener.line(i) == b"cleanup"  # run_in returned after the remote cleanup


def first_answer_cancels_the_other_jobs(executor: Executor, listener: Listener) -> None:
    with threado.ThreadGroup(wait=any) as g:
        for _ in range(2):
            g.spawn(threado.run_in, executor, proc_jobs.block, listener.address)
        started = [listener.started()[0] for _ in range(2)]
        g.spawn(threado.run_in, executor, proc_jobs.add, 20, 22)
    assert [t.result for t in g.threads if not t.cancelled] == [42]
    assert [listener.line(i) for i in started] == [b"cleanup", b"cleanup"]


def stuck_job_ends_cancelled(executor: Executor, listener: Listener) -> int:
    """A job in a loop with no blocking point, cancelled, ends cancelled after the grace.

    Returns the pid of the worker that ran it.
    """
    f = executor.submit(proc_jobs.spin, listener.address)
    _, pid = listener.started()
    assert f.cancel()
    with pytest.raises(CancelledError):
        f.result(timeout=60)
    return pid


def many_jobs_with_random_cancels(executor: Executor, n: int = 200, seed: int = 0) -> None:
    """Quick jobs, about half cancelled at random moments (before they run,
    while they run, as they end): each future ends as its ``cancel()`` said."""
    rng = random.Random(seed)
    futures = []
    asked: dict[int, bool] = {}
    for i in range(n):
        futures.append(executor.submit(proc_jobs.add, i, 1))
        if rng.random() < 0.5:
            j = rng.randrange(len(futures))
            if j not in asked:
                asked[j] = futures[j].cancel()
        if rng.random() < 0.1:  # now and then, wait for one (more cancels race ends)
            j = rng.randrange(len(futures))
            if not asked.get(j):
                assert futures[j].result(timeout=60) == j + 1
    for i, f in enumerate(futures):
        if asked.get(i):
            with pytest.raises(CancelledError):
                f.result(timeout=60)
        else:
            assert f.result(timeout=60) == i + 1
    assert any(asked.values())


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """For the cluster tests, instead of conftest's: the engines start threads of
    their own (their module's fixture stops them), so only threado's are checked."""
    before = set(threading.enumerate())
    yield
    ours = [t for t in threading.enumerate() if t not in before and t.name.startswith("threado")]
    for t in ours:
        t.join(timeout=5.0)
    assert not [t for t in ours if t.is_alive()]


def run_cases_in_a_fresh_interpreter(filename: str) -> None:
    """Run the pytest cases in ``tests/<filename>`` in a child interpreter; fail with its report.

    The cluster engines leave threads of their own behind in the process
    that used them; a child keeps them out of the other tests.
    """
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(here.parent), str(here), env.get("PYTHONPATH")])
    )
    args = ["-p", "no:cacheprovider", "-p", "no:logging", "-q", "-rs", str(here / filename)]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=here.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{filename} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
