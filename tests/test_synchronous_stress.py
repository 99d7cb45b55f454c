"""Synchronous runs under random seeds and random cancels: nothing lost, all reproducible."""

from __future__ import annotations

import queue
import random

import pytest

import threado


def _pipeline(seed: int) -> list[object]:
    """Producers, consumers and a cancelling main, all in one seeded run.

    Returns the trace of events; checks that every item is consumed once or
    left in the queue, whatever was cancelled when.
    """
    rng = random.Random(seed)  # main's own decisions: part of the program
    trace: list[object] = []
    q: threado.Queue[int] = threado.Queue(maxsize=rng.randint(1, 3))
    lock = threado.Lock()
    consumed: list[int] = []
    produced: list[int] = []

    def producer(base: int) -> None:
        for i in range(10):
            q.put(base + i)
            with lock:
                produced.append(base + i)
            trace.append(("put", base + i))

    def consumer(name: str) -> None:
        try:
            while True:
                item = q.get(timeout=rng.choice([None, 0.5, 5.0]))
                with lock:
                    consumed.append(item)
                trace.append((name, item))
                if rng.random() < 0.3:
                    threado.checkpoint()
        except (threado.ThreadCancelled, queue.Empty) as exc:
            trace.append((name, type(exc).__name__))

    producers = [threado.spawn(producer, 100 * k) for k in range(2)]
    consumers = [threado.spawn(consumer, f"c{k}") for k in range(3)]
    for c in consumers:
        for _ in range(rng.randint(0, 3)):
            threado.sleep(0)
        if rng.random() < 0.5:
            c.cancel(blocking=False)
    # Whatever the consumers did, drain what is left so the producers end.
    while any(not p.done() for p in producers):
        try:
            consumed.append(q.get(timeout=1))
        except queue.Empty:
            pass
    for c in consumers:
        c.cancel(blocking=False)  # or they would wait for items forever: a deadlock
    for t in [*producers, *consumers]:
        t.wait()
    while not q.empty():
        consumed.append(q.get_nowait())
    assert sorted(consumed) == sorted(produced) == sorted(range(10)) + list(range(100, 110))
    return trace


@pytest.mark.slow
def test_random_cancels_lose_nothing_and_replay_exactly() -> None:
    for seed in range(150):
        first = threado.run(_pipeline, seed, synchronous=True, seed=seed)
        again = threado.run(_pipeline, seed, synchronous=True, seed=seed)
        assert first == again, seed


@pytest.mark.slow
def test_explore_over_many_seeds_finds_no_false_failure() -> None:
    def program() -> None:
        _pipeline(3)

    res = threado.testing.explore(program, runs=60, seed=1000)
    assert res.schedules == 60
    res = threado.testing.explore(program, runs=60, seed=0, strategy="pct")
    assert res.schedules == 60


@pytest.mark.slow
def test_outside_waits_and_plain_threads_mixed_in() -> None:
    """Threads waiting inside blocking() for plain threads, others taking turns."""
    import threading

    def program(seed: int) -> int:
        rng = random.Random(seed)
        events = [threado.Event() for _ in range(4)]
        box = {"n": 0}

        def plain(ev: threado.Event) -> None:
            ev.set()  # a wake-up from outside the run

        def outside_waiter(k: int) -> None:
            with threado.blocking():
                assert events[k].wait(timeout=10)  # parked while outside the turn
            for _ in range(3):
                box["n"] += 1
                threado.checkpoint()

        def turn_taker() -> None:
            for _ in range(5):
                with threado.blocking():
                    pass
                x = box["n"]
                box["n"] = x + 1  # no blocking point in between: never lost

        ts = [threado.spawn(outside_waiter, k) for k in range(4)]
        ts += [threado.spawn(turn_taker) for _ in range(2)]
        plains = [threading.Thread(target=plain, args=(ev,)) for ev in events]
        rng.shuffle(plains)
        for p in plains:
            p.start()
        for t in ts:
            t.join()
        for p in plains:
            p.join()
        return box["n"]

    for seed in range(20):
        assert threado.run(program, seed, synchronous=True, seed=seed) == 4 * 3 + 2 * 5
