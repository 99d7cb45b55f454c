"""Randomized stress tests of Condition, under a chaos thread (``chaos.py``).

Many workers use one primitive at random while a chaos thread cancels random
workers at random times (``cancel(blocking=False)``) and replaces each victim
with a fresh worker. At the end every worker is cancelled (blocking) and
joined, and the invariants are checked: nothing held, nothing lost, nobody
still queued, every thread ended by its cancellation and nothing else.

Workers never assert: they record violations in a :class:`chaos.Tally`. The
random choices are seeded (``chaos.SEED``); thread scheduling is not
reproducible, so each test prints its counters (``pytest -s`` shows them).
``THREADO_STRESS_SECONDS`` sets how long each test runs (default 1.5 s); for
a long run, switch off the global faulthandler dump, which would fire at 45 s::

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_condition_stress.py -s \\
        -o faulthandler_timeout=0
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from chaos import DURATION, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, Worker, queued, work

import threado
from threado import ThreadCancelled

# The run, plus joining, plus checking; above the global 60 s timeout when
# THREADO_STRESS_SECONDS is large. Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * DURATION + 60)]


@pytest.mark.parametrize("factory", [threado.RLock, threado.Lock])
def test_condition_producers_consumers_survive_random_cancels(
    factory: Callable[[], Any],
) -> None:
    """Two conditions over one lock guard a bounded counter: the count stays in
    bounds, a cancelled wait holds the lock again when it raises, and the
    items produced minus those consumed are exactly those left."""
    capacity = 3
    lock = factory()
    not_full = threado.Condition(lock)
    not_empty = threado.Condition(lock)
    tally = Tally(f"Condition({factory.__name__})")
    guard = threading.Lock()
    inside = 0
    items = 0  # under lock
    produced = 0  # totals published by each worker as it ends (under guard)
    consumed = 0

    if factory is threado.RLock:
        owned: Callable[[], bool] = lock._is_owned
    else:
        owned = lock.locked  # a plain lock has no owner: held by somebody

    def alone(what: str) -> None:
        nonlocal inside
        with guard:
            inside += 1
            n = inside
            inside -= 1
        if n != 1:
            tally.violation(f"{n} threads inside the condition's lock ({what})")

    def has_room() -> bool:
        if not owned():
            tally.violation("predicate called without the lock")
        return items < capacity

    def has_items() -> bool:
        if not owned():
            tally.violation("predicate called without the lock")
        return items > 0

    def notify(cond: threado.Condition, rng: random.Random) -> None:
        how = rng.randrange(3)
        if how == 0:
            cond.notify()
        elif how == 1:
            cond.notify(2)
        else:
            cond.notify_all()

    def side(
        cond: threado.Condition, ready: Callable[[], bool], step: int, other: threado.Condition
    ) -> Worker:
        def worker(rng: random.Random) -> None:
            nonlocal items, produced, consumed
            mine = 0
            try:
                while True:
                    with cond:
                        try:
                            ok = cond.wait_for(ready, rng.choice((None, None, 0, 0.0005, 0.002)))
                        except ThreadCancelled:
                            tally.add("cancelled in wait")
                            if not owned():
                                tally.violation("a cancelled wait raised without the lock")
                            alone("after a cancelled wait")
                            raise
                        if ok:
                            alone("after a wait")
                            items += step
                            mine += 1
                            if not 0 <= items <= capacity:
                                tally.violation(f"items={items} out of [0, {capacity}]")
                            tally.add("ops")
                            notify(other, rng)
                            if rng.random() < 0.3:
                                # Hold on to the lock a little (a cancel may
                                # land here too), so that waiters woken or
                                # cancelled meanwhile must wait to re-acquire.
                                work(rng)
                        else:
                            tally.add("timed out")
                    work(rng)
            finally:
                with guard:
                    if step > 0:
                        produced += mine
                    else:
                        consumed += mine

        worker.__name__ = "producer" if step > 0 else "consumer"
        return worker

    producer = side(not_full, has_room, +1, not_empty)
    consumer = side(not_empty, has_items, -1, not_full)
    crew = Crew(tally, [producer] * 4 + [consumer] * 4)
    crew.run_chaos()
    crew.stop()

    tally.check(ops=MIN_OPS, **{"cancels delivered": MIN_CANCELS, "cancelled in wait": MIN_IN_WAIT})
    assert not lock.locked()
    assert queued(not_full) == queued(not_empty) == queued(lock) == 0
    assert 0 <= items <= capacity
    assert produced - consumed == items
