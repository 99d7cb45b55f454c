"""Randomized stress: parks that can always end must never raise Deadlock.

Each round builds a relay of threads: thread ``i`` waits, with no deadline
(or, at random, with a long one), for a baton of a random kind (an event, a
lock, a semaphore permit, a queue item, a condition notify, a byte on a
socket, the end of the previous thread), then hands the next baton on; the
main thread hands the first one and at once parks joining the last runner.
So at almost every park all threads are parked but one has been handed
something and has not resumed yet: exactly the race the detector must get
right. At random a baton is replaced by a cancel (the runner catches it and
hands on, shielded), handed by a plain thread after an unpatched sleep, or
sent through a socket. Nothing may ever raise Deadlock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import threado
import threado.socket as tsocket
from threado import _deadlock

pytestmark = pytest.mark.slow

KINDS = ("event", "lock", "semaphore", "queue", "condition", "socket", "join")
ROUNDS = 80
SEED = 20_261_206


class Baton:
    """One hand-off point: ``take()`` waits for it, ``give()`` hands it over."""

    def __init__(self, kind: str, rng: random.Random) -> None:
        self.kind = kind
        self.timeout = 60.0 if rng.random() < 0.2 else None  # a deadline in force
        self.prev: threado.Thread[Any] | None = None
        self.flag = False
        if kind == "event":
            self.ev = threado.Event()
        elif kind == "lock":
            self.lock = threado.Lock()
            self.lock.acquire()
        elif kind == "semaphore":
            self.sem = threado.Semaphore(0)
        elif kind == "queue":
            self.q: threado.Queue[int] = threado.Queue()
        elif kind == "condition":
            self.cond = threado.Condition()
        elif kind == "socket":
            self.a, self.b = tsocket.socketpair()

    def take(self) -> None:
        t = self.timeout
        if self.kind == "event":
            self.ev.wait(t)
        elif self.kind == "lock":
            self.lock.acquire(timeout=-1 if t is None else t)
        elif self.kind == "semaphore":
            self.sem.acquire(timeout=t)
        elif self.kind == "queue":
            self.q.get(timeout=t)
        elif self.kind == "condition":
            with self.cond:
                self.cond.wait_for(lambda: self.flag, t)
        elif self.kind == "socket":
            self.a.recv(1)
        elif self.kind == "join":
            assert self.prev is not None
            self.prev.wait(t)

    def give(self) -> None:
        if self.kind == "event":
            self.ev.set()
        elif self.kind == "lock":
            self.lock.release()
        elif self.kind == "semaphore":
            self.sem.release()
        elif self.kind == "queue":
            self.q.put_nowait(1)
        elif self.kind == "condition":
            with self.cond:
                self.flag = True
                self.cond.notify()
        elif self.kind == "socket":
            self.b.send(b"x")
        # "join": handed over by the previous runner ending

    def close(self) -> None:
        if self.kind == "socket":
            self.a.close()
            self.b.close()


def run_round(rng: random.Random, deadlocks: list[BaseException]) -> None:
    n = rng.randint(1, 5)
    batons = [Baton(rng.choice(KINDS[:-1]), rng)]  # the first is handed by main
    batons += [Baton(rng.choice(KINDS), rng) for _ in range(n - 1)]
    runners: list[threado.Thread[None]] = []

    def hand(i: int) -> None:
        """Hand baton ``i`` on: to the next runner, or by cancelling it."""
        if i >= len(batons) or batons[i].kind == "join":
            return
        how = rng.random()
        if how < 0.1 and i > 0:
            runners[i].cancel(blocking=False)
        elif how < 0.2:
            baton = batons[i]

            def later() -> None:  # a plain thread and an unpatched sleep
                time.sleep(rng.random() * 0.002)
                with threado.shield():
                    baton.give()

            threading.Thread(target=later).start()
        else:
            with threado.shield():
                batons[i].give()

    def runner(i: int) -> None:
        try:
            batons[i].take()
        except threado.ThreadCancelled:
            pass  # the cancel was the baton
        except BaseException as e:  # a Deadlock (or a bug of this test): recorded
            deadlocks.append(e)
        finally:
            hand(i + 1)  # the relay goes on whatever happened

    for i in range(n):
        if batons[i].kind == "join":
            batons[i].prev = runners[i - 1]
        runners.append(threado.spawn(runner, i, name=f"runner-{i}"))
    try:
        hand(0)
        last = runners[-1]
        last.wait()  # parked with no deadline while the relay runs
        for t in runners:
            t.wait()
            if t.exception is not None and not isinstance(t.exception, threado.ThreadCancelled):
                deadlocks.append(t.exception)
    except threado.Deadlock as e:
        deadlocks.append(e)
    finally:
        for b in batons:
            b.close()


@pytest.mark.parametrize("prefilter", [True, False], ids=["prefilter", "full-analysis"])
def test_relays_of_hand_offs_never_deadlock(
    prefilter: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not prefilter:
        # Without the cheap filter, the full analysis (two passes, frames,
        # every hand-off) runs at nearly every park: it alone must be right.
        monkeypatch.setattr(_deadlock, "_PREFILTER", False)
    rng = random.Random(SEED)
    deadlocks: list[BaseException] = []
    for _ in range(ROUNDS):
        run_round(rng, deadlocks)
    assert deadlocks == []


def test_many_parked_threads_woken_one_by_one() -> None:
    """Many threads parked at once on one event, main joins them all."""
    deadlocks: list[BaseException] = []
    for seed in range(5):
        rng = random.Random(SEED + seed)
        ev = threado.Event()
        workers: list[threado.Thread[None]] = []

        def work(ev: threado.Event = ev) -> None:
            try:
                ev.wait()
            except threado.Deadlock as e:
                deadlocks.append(e)

        for _ in range(rng.randint(5, 40)):
            workers.append(threado.spawn(work))
        setter: Callable[[], None] = ev.set
        if rng.random() < 0.5:
            threading.Thread(target=setter).start()
        else:
            setter()
        for w in workers:
            w.join()
    assert deadlocks == []
