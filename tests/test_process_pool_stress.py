"""Stress: cancels racing completions in ``threado.ProcessPoolExecutor``.

Random cancels land before, during and after each job; afterwards every
future ended exactly once, ``cancel()``'s answer matches its final state,
and nothing is left behind (processes, descriptors).
"""

from __future__ import annotations

import functools
import os
import random
import threading
from concurrent.futures import CancelledError, Future
from concurrent.futures import wait as futures_wait
from multiprocessing import forkserver
from pathlib import Path
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


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_random_cancels_racing_deaths_kills_and_recycling(tmp_path: Path) -> None:
    """Cancels (twice, from other threads and from done-callbacks) racing
    results, errors, workers dying on their own, workers killed at the grace,
    and workers recycled by ``max_tasks_per_child``; then a shutdown with
    ``cancel_futures`` while jobs are still queued and running. Jobs are
    queued ahead on the busy workers all along: the "mark" jobs create a
    file, so that a job run twice (a dead worker's job queued ahead sent
    elsewhere although it had started) fails, and a job cancelled while
    pending that ran anyway leaves its file behind."""
    rng = random.Random(2222)
    forkserver.ensure_running()
    fds = open_fds()
    ends: dict[int, int] = {}
    count_lock = threading.Lock()
    said: dict[int, set[bool]] = {}  # id(future) -> what its cancel() calls returned
    jobs: list[tuple[Future[Any], str]] = []

    def count(f: Future[Any]) -> None:
        with count_lock:
            ends[id(f)] = ends.get(id(f), 0) + 1

    def cancel(f: Future[Any]) -> None:
        answer = f.cancel()
        with count_lock:
            said.setdefault(id(f), set()).add(answer)

    def cancel_other(other: Future[Any], _: Future[Any]) -> None:
        cancel(other)

    def canceller(f: Future[Any], delay: float) -> None:
        threado.sleep(delay)
        cancel(f)
        if rng.random() < 0.3:
            cancel(f)

    pool = threado.ProcessPoolExecutor(2, max_tasks_per_child=5, grace=0.05)
    threads = []
    for n in range(40):
        kinds = ["nap", "nap", "mark", "mark", "mark", "die", "stuck", "fail"]
        kind = rng.choice(kinds) if n else "die"
        f: Future[Any]
        if kind == "mark":
            f = pool.submit(proc_jobs.mark, str(tmp_path / str(n)), rng.choice([0, 0.001, 0.01]))
        elif kind == "nap":
            f = pool.submit(proc_jobs.nap, rng.choice([0, 0.001, 0.01]))
        elif kind == "die":
            f = pool.submit(proc_jobs.die, "exit")
        elif kind == "stuck":
            f = pool.submit(proc_jobs.stuck, 0.1)
        else:
            f = pool.submit(proc_jobs.fail, "boom")
        f.add_done_callback(count)
        if n > 1 and rng.random() < 0.2:  # a done-callback cancelling another job
            f.add_done_callback(functools.partial(cancel_other, jobs[rng.randrange(1, n)][0]))
        jobs.append((f, kind))
        if n and rng.random() < 0.5:  # (the first job is never cancelled)
            delay = rng.choice([0, 0, 0.001, 0.005, 0.02])
            threads.append(threado.spawn(canceller, f, delay))
        if n == 32:  # most of them run their course; the last ones meet the shutdown
            for t in threads:
                t.join()
            futures_wait([f for f, _ in jobs], timeout=60)
    done_before = {id(f) for f, _ in jobs if f.done()}
    pool.shutdown(wait=True, cancel_futures=True)  # cancels the others
    for t in threads:
        t.join()
    for n, (f, kind) in enumerate(jobs):
        assert f.done()
        if kind == "mark" and f.cancelled() and not f._cancelling:  # type: ignore[attr-defined]
            assert not (tmp_path / str(n)).exists(), "cancelled while pending, but it ran"
        if kind == "mark" and not f.cancelled() and f.exception(timeout=0) is None:
            assert (tmp_path / str(n)).exists()
        answers = said.get(id(f), set())
        if answers:  # True always means cancelled, False never
            assert answers == {f.cancelled()}, (kind, f, answers)
        elif id(f) in done_before:
            assert not f.cancelled(), (kind, f)
        if not f.cancelled():
            error = f.exception(timeout=0)
            expected = {"die": threado.WorkerDied, "fail": ValueError}.get(kind, type(None))
            assert type(error) is expected, (kind, error)
        assert ends.get(id(f)) == 1, (kind, ends.get(id(f)))  # ended exactly once
    assert 5 < sum(True in answers for answers in said.values()) < len(jobs)
    outcomes = {type(f.exception(timeout=0)) for f, _ in jobs if not f.cancelled()}
    assert threado.WorkerDied in outcomes
    assert [t for t in threading.enumerate() if t.name.startswith("threado-process")] == []
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
