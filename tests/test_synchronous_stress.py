"""Synchronous runs under random seeds and random cancels: nothing lost, all reproducible."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import cast

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


def _mask() -> set[int] | None:
    """The calling thread's affinity mask (Linux), else ``None``."""
    get = getattr(os, "sched_getaffinity", None)
    return None if get is None else set(get(0))


class _Turn:
    """Who runs: entered after each blocking point, left before the next."""

    def __init__(self) -> None:
        self.cur: str | None = None
        self.errors: list[str] = []
        # The program's code never runs pinned to the run's CPU (_sync_cpu),
        # whatever ended the blocking point: a wake-up, a timeout, a cancel.
        self.mask = _mask()

    def enter(self, name: str) -> None:
        if self.cur is not None:
            self.errors.append(f"{name} resumed while {self.cur} runs")
        self.cur = name
        if _mask() != self.mask:
            self.errors.append(f"{name} resumed pinned: {_mask()}")

    def leave(self, name: str) -> None:
        if self.cur != name:
            self.errors.append(f"{name} gave up a turn held by {self.cur}")
        self.cur = None

    def check(self, name: str) -> None:
        time.sleep(0)  # let the OS run any other thread that could run now
        if self.cur != name:
            self.errors.append(f"{name} runs while {self.cur} does")


def _turns(seed: int) -> tuple[list[object], list[str]]:
    """Threads doing random blocking operations, cancelled at random, a
    group timeout over them; every stretch between two blocking points is
    checked to run alone. Returns the trace and the overlaps seen."""
    turn = _Turn()
    trace: list[object] = []
    t0 = 0.0  # the virtual time main starts at
    lock = threado.Lock()
    cond = threado.Condition(threado.Lock())
    q: threado.Queue[int] = threado.Queue(maxsize=1)
    sem = threado.BoundedSemaphore(2)
    ev = threado.Event()
    bar = threado.Barrier(2, timeout=3)

    def blocks(name: str, fn: Callable[..., object], *args: object, **kw: object) -> object:
        turn.leave(name)
        try:
            return fn(*args, **kw)
        finally:
            turn.enter(name)

    def worker(i: int) -> None:
        name = f"t{i}"
        turn.enter(name)
        rng = random.Random(seed * 100 + i)
        try:
            for s in range(10):
                op = rng.randrange(10)
                trace.append((name, s, op, threado.clock() - t0))
                turn.check(name)
                if op == 0:
                    blocks(name, lock.acquire)
                    turn.check(name)
                    blocks(name, threado.checkpoint)
                    lock.release()
                elif op == 1:
                    blocks(name, cond.acquire)
                    try:
                        if rng.random() < 0.5:
                            trace.append(blocks(name, cond.wait, rng.choice([0.01, 1])))
                        else:
                            cond.notify()
                    finally:
                        cond.release()
                elif op == 2:
                    with contextlib.suppress(queue.Full):
                        blocks(name, q.put, s, timeout=rng.choice([0.1, 1]))
                elif op == 3:
                    with contextlib.suppress(queue.Empty):
                        trace.append(blocks(name, q.get, timeout=rng.choice([0.1, 1])))
                elif op == 4:
                    if blocks(name, sem.acquire, timeout=0.3):
                        blocks(name, threado.sleep, rng.choice([0, 0.2]))
                        sem.release()
                elif op == 5:
                    trace.append(blocks(name, ev.wait, rng.choice([0.05, 0.5])))
                    ev.set() if rng.random() < 0.3 else ev.clear()
                elif op == 6:
                    try:
                        trace.append(blocks(name, bar.wait))
                    except threading.BrokenBarrierError:
                        bar.reset()
                elif op == 7:
                    got = blocks(name, threado.wait, [ev, q, threado.after(0.1)], timeout=0.2)
                    trace.append(len(cast("list[object]", got)))
                elif op == 8:
                    with threado.ignore_after(rng.choice([0.01, 0.2])):
                        blocks(name, threado.sleep, rng.choice([0.005, 0.3, 30]))
                else:
                    t = threado.spawn(lambda: None)
                    blocks(name, t.join)
        except threado.ThreadCancelled:
            trace.append((name, "cancelled"))
        finally:
            turn.leave(name)

    def main() -> None:
        nonlocal t0
        t0 = threado.clock()  # virtual
        rng = random.Random(seed)
        turn.enter("main")
        with threado.ignore_after(rng.choice([3, 1000])), threado.ThreadGroup() as g:
            ts = [g.spawn(worker, i) for i in range(4)]
            for _ in range(rng.randrange(4)):
                blocks("main", threado.sleep, rng.choice([0, 0.1]))
                if rng.random() < 0.4:
                    rng.choice(ts).cancel(blocking=False)
            turn.leave("main")  # the group's exit waits
        turn.enter("main")
        trace.append(("end", threado.clock() - t0))
        turn.leave("main")

    threado.run(main, synchronous=True, seed=seed)
    return trace, turn.errors


@pytest.mark.slow
def test_one_thread_at_a_time_and_the_same_trace_for_a_seed() -> None:
    for seed in range(25):
        first, errors = _turns(seed)
        again, errors2 = _turns(seed)
        assert errors == errors2 == [], seed
        assert first == again, seed
