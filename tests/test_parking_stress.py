"""Randomized stress test of the parking layer: takers and givers of a
:class:`helpers.Pool` under a chaos thread (``THREADO_STRESS_SECONDS``, default 1.5 s).
"""

from __future__ import annotations

import random
import threading

import pytest
from helpers import Pool

import threado
from threado._state import clock

# Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = pytest.mark.slow


def test_stress_handoff_and_cancel_conserve_every_unit() -> None:
    """Takers, givers and a chaos thread cancelling takers at random: at the
    end every unit is accounted for, held by nobody and waited on by nobody."""
    units = 8
    pool = Pool(units)
    held = [0]
    held_lock = threading.Lock()
    rng = random.Random(1234)
    stop = threading.Event()
    duration = float(__import__("os").environ.get("THREADO_STRESS_SECONDS", "1.5"))

    def worker() -> None:
        while True:
            if not pool.take(timeout=rng.choice([None, 0.001, 0.01])):
                continue
            with held_lock:
                held[0] += 1
                assert held[0] <= units
            try:
                threado.sleep(rng.choice([0, 0, 0.0005]))
            finally:
                with held_lock:
                    held[0] -= 1
                pool.give()

    workers = [threado.spawn(worker) for _ in range(12)]
    cancels = 0

    def chaos() -> None:
        nonlocal cancels
        end = clock() + duration
        while clock() < end:
            victim = rng.randrange(len(workers))
            workers[victim].cancel(blocking=False)
            cancels += 1
            workers[victim].wait()
            workers[victim] = threado.spawn(worker)
            threado.sleep(rng.random() * 0.002)
        stop.set()

    c = threado.spawn(chaos)
    c.join()
    for w in workers:
        w.cancel()
    assert cancels > 10
    assert held[0] == 0
    assert pool.waiting() == 0
    assert pool.units == units
