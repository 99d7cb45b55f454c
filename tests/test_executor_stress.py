"""``threado.ThreadPoolExecutor`` under random cancels racing completion, and random shutdowns.

Invariants checked for thousands of jobs:

* every future ends exactly once (its done-callbacks run exactly once) and
  is done once ``shutdown(wait=True)`` has returned;
* ``cancel()``'s return value matches the final state: a ``True`` means the
  future ends cancelled, a ``False`` means it ended finished;
* a finished future holds what its job returned or raised;
* no worker thread, and no job, outlives ``shutdown(wait=True)``.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import threading
from typing import Any

import pytest

import threado
from threado import ThreadCancelled

pytestmark = pytest.mark.slow


class Tracker:
    """One job and what happened to its future."""

    def __init__(self, kind: str, arg: float, active: list[int], lock: threading.Lock) -> None:
        self.kind = kind
        self.arg = arg
        self.active = active
        self.lock = lock
        self.callbacks = 0
        self.cancel_results: list[bool] = []
        self.future: cf.Future[Any] | None = None

    def __call__(self) -> float:
        with self.lock:
            self.active[0] += 1
        try:
            if self.kind == "sleep":
                threado.sleep(self.arg)
            elif self.kind == "forever":
                threado.sleep(3600)
            elif self.kind == "raise":
                raise KeyError(self.arg)
            elif self.kind == "swallow":  # catches its cancellation and returns
                try:
                    threado.sleep(self.arg)
                except ThreadCancelled:
                    pass
            return self.arg
        finally:
            with self.lock:
                self.active[0] -= 1

    def done(self, _: cf.Future[Any]) -> None:
        self.callbacks += 1


def _round(rng: random.Random, n: int) -> list[str]:
    problems: list[str] = []
    active = [0]
    lock = threading.Lock()
    ex = threado.ThreadPoolExecutor(max_workers=rng.randint(1, 8))
    cancel_all = rng.random() < 0.5
    kinds = ["quick", "sleep", "raise", "swallow"] + (["forever"] if cancel_all else [])
    trackers = [Tracker(rng.choice(kinds), rng.random() * 0.002, active, lock) for _ in range(n)]
    stop = threading.Event()

    def canceller(seed: float) -> None:
        r = random.Random(seed)
        while not stop.is_set():
            t = trackers[r.randrange(n)]
            if t.future is not None:
                t.cancel_results.append(t.future.cancel())
            if r.random() < 0.3:
                threado.sleep(0)

    cancellers = [threado.spawn(canceller, rng.random()) for _ in range(2)]
    try:
        for t in trackers:
            sub = ex.submit(t)
            sub.add_done_callback(t.done)
            t.future = sub
            if rng.random() < 0.02:
                threado.sleep(0.0005)
    finally:
        stop.set()
        for c in cancellers:
            c.join()
        ex.shutdown(wait=True, cancel_futures=cancel_all)

    if any(th.is_alive() for th in ex._threads):
        problems.append("a worker outlived shutdown()")
    if active[0] != 0:
        problems.append(f"{active[0]} jobs outlived shutdown()")
    for i, t in enumerate(trackers):
        fut = t.future
        assert fut is not None
        f: cf.Future[Any] = fut
        if not f.done():
            problems.append(f"{i}: not done after shutdown")
            continue
        if t.callbacks != 1:
            problems.append(f"{i}: {t.callbacks} done-callbacks")
        if True in t.cancel_results and not f.cancelled():
            problems.append(f"{i}: cancel() said True, ended {f._state}")
        if False in t.cancel_results and f.cancelled():
            problems.append(f"{i}: cancel() said False, ended cancelled")
        if f.cancelled():
            continue
        if t.kind == "forever":
            problems.append(f"{i}: a job that never ends finished")
        elif t.kind == "raise":
            if not isinstance(f.exception(), KeyError):
                problems.append(f"{i}: lost its exception")
        elif f.result() != t.arg:
            problems.append(f"{i}: wrong result {f.result()!r}")
    return problems


def test_random_cancels_race_completion_and_shutdown() -> None:
    rng = random.Random(1616)
    problems: list[str] = []
    for _ in range(20):
        problems += _round(rng, 300)
    assert problems == []
