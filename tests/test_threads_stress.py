"""Randomized stress test of threads: many threads sleep for random times
under random cancels and timeouts (``THREADO_STRESS_ROUNDS`` rounds, default 3).
"""

from __future__ import annotations

import os
import random
import threading

import pytest

import threado
from threado import ThreadCancelled

# Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = pytest.mark.slow


def test_stress_random_sleeps_cancels_and_timeouts() -> None:
    """100+ threads sleep random times under random cancels and timeouts:
    every thread ends, every finally runs once, no thread is left over."""
    baseline = threading.active_count()
    rng = random.Random(42)
    rounds = int(os.environ.get("THREADO_STRESS_ROUNDS", "3"))
    finals: list[int] = []
    finals_lock = threading.Lock()
    for _ in range(rounds):
        finals.clear()

        def worker(i: int, pause: float, limit: float | None) -> None:
            try:
                with threado.timeout_after(limit):
                    threado.sleep(pause)
                    threado.sleep(pause)
            finally:
                with finals_lock:
                    finals.append(i)

        n = 120
        ts = [
            threado.spawn(worker, i, rng.random() * 0.02, rng.choice([None, 0.0, 0.005, 0.01, 1.0]))
            for i in range(n)
        ]
        victims = rng.sample(ts, n // 2)
        for v in victims:
            v.cancel(blocking=rng.random() < 0.5)
        for t in ts:
            assert t.wait(timeout=30)
            exc = t.exception
            assert exc is None or isinstance(exc, ThreadCancelled | threado.ThreadTimeout)
        assert sorted(finals) == list(range(n))
    assert threading.active_count() == baseline
