"""Stress: cancels racing completions in ``threado.ProcessPoolExecutor``.

Random cancels land before, during and after each job; afterwards every
future ended exactly once, ``cancel()``'s answer matches its final state,
and nothing is left behind (processes, descriptors).
"""

from __future__ import annotations

import os
import random
from concurrent.futures import CancelledError, Future
from multiprocessing import forkserver
from typing import Any

import proc_jobs
import pytest

import threado

pytestmark = pytest.mark.slow


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_random_cancels_racing_completions() -> None:
    rng = random.Random(22)
    forkserver.ensure_running()  # process-wide, started once: not the pool's
    fds = open_fds()
    pids: set[int] = set()
    with threado.ProcessPoolExecutor(2, grace=2.0) as pool:
        pids.update(pool.submit(proc_jobs.getpid).result() for _ in range(4))
        ends: dict[int, int] = {}
        futures: list[tuple[Future[Any], bool]] = []

        def count(f: Future[Any]) -> None:
            ends[id(f)] = ends.get(id(f), 0) + 1

        for round_ in range(120):
            f = pool.submit(proc_jobs.nap, rng.choice([0, 0.001, 0.005, 0.02]))
            f.add_done_callback(count)
            if round_ % 3:
                threado.sleep(rng.choice([0, 0.001, 0.003, 0.01]))
                futures.append((f, f.cancel()))
            else:
                futures.append((f, False))
        for f, cancelled in futures:
            try:
                f.result(timeout=60)
            except CancelledError:
                assert cancelled, "cancelled without a successful cancel()"
            else:
                assert not cancelled, "cancel() returned True but the job finished"
            assert f.cancelled() == cancelled
        assert pool.submit(proc_jobs.add, 1, 1).result() == 2
    assert all(ends.get(id(f)) == 1 for f, _ in futures)
    assert sum(c for _, c in futures) > 10  # the cancels did race the jobs
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert open_fds() == fds


def test_shutdown_racing_submits_leaves_no_accepted_job_behind() -> None:
    pool = threado.ProcessPoolExecutor(2)
    accepted: list[Future[Any]] = []
    first = threado.Event()

    def submitter() -> None:
        while True:
            try:
                accepted.append(pool.submit(proc_jobs.add, 1, 1))
            except RuntimeError:
                return
            first.set()
            threado.sleep(0)

    t = threado.spawn(submitter)
    first.wait()
    pool.shutdown(wait=True)
    t.join()
    assert accepted
    assert all(f.result(timeout=0) == 2 for f in accepted)
