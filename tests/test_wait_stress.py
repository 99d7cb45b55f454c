"""threado.wait() under load: overlapping random sets, producers, a chaos thread (SPEC §7)."""

from __future__ import annotations

import os
import random

import pytest
from helpers import SLACK, needs_proc, open_fds, wait_registrations

import threado
from threado.testing import wait_parked

pytestmark = pytest.mark.slow

CALLS = 10_000  # wait() calls in all
WAITERS = 8  # threads waiting at once, per round
EVENTS = 6


def _chaos(victims: list[threado.Thread[list[object]]]) -> None:
    for t in victims:
        t.cancel(blocking=False)


def _waiter(items: list[object]) -> list[object]:
    return threado.wait(items)


@needs_proc
def test_no_wake_up_is_lost_and_nothing_is_left_behind() -> None:
    rng = random.Random(13)
    r, w = os.pipe()
    threado.wait([threado.readable(r)], timeout=0)  # this thread's wake-up descriptor, for good
    fds_before = open_fds()
    q: threado.Queue[int] = threado.Queue()
    sq: threado.SimpleQueue[int] = threado.SimpleQueue()
    calls = cancelled = woken = 0
    events: list[threado.Event] = []
    try:
        while calls < CALLS:
            events = [threado.Event() for _ in range(EVENTS)]
            sets: list[list[object]] = []
            threads: list[threado.Thread[list[object]]] = []
            for _ in range(WAITERS):
                items: list[object] = list(rng.sample(events, rng.randint(1, 3)))
                if rng.random() < 0.3:
                    items.append(threado.readable(r))
                if rng.random() < 0.3:
                    items.append(q)
                if rng.random() < 0.2:
                    items.append(sq)
                if rng.random() < 0.1:
                    items.append(threado.after(60))
                rng.shuffle(items)
                sets.append(items)
                threads.append(threado.spawn(_waiter, items))
            calls += WAITERS
            for t in threads:
                wait_parked(t)
            # The chaos thread's part: cancel some at random, racing the firing.
            victims = {i for i in range(WAITERS) if rng.random() < 0.2}
            fired = rng.choice(events)
            chaos = threado.spawn(_chaos, [threads[i] for i in victims])
            fired.set()
            chaos.join()
            # Every waiter of the fired event that was not cancelled wakes, with it.
            for i, t in enumerate(threads):
                if fired in sets[i]:
                    assert t.wait(SLACK), f"lost wake-up: {sets[i]!r}"
                    if t.cancelled:
                        assert i in victims
                        cancelled += 1
                    else:
                        assert fired in t.result
                        woken += 1
            # Now the other sources, then everybody still waiting is cancelled.
            action = rng.random()
            if action < 0.3:
                os.write(w, b"x")
            elif action < 0.6:
                q.put(1)
            elif action < 0.8:
                sq.put(1)
            for t in threads:
                t.cancel(timeout=SLACK)
                _ = t.exception
            if threado.wait([threado.readable(r)], timeout=0):
                os.read(r, 1 << 16)
            while not q.empty():
                q.get_nowait()
            while not sq.empty():
                sq.get_nowait()
            assert wait_registrations(*events, q, sq, *threads) == 0
        assert open_fds() == fds_before
    finally:
        os.close(r)
        os.close(w)
    assert woken > 0
    assert woken + cancelled > 0
