"""Randomized stress: cancellations interrupt region code at random instants.

Workers loop inside ``threado.interruptible()`` regions doing threado lock,
``RLock``, ``Condition``, ``Queue`` and ``Semaphore`` operations mixed with
pure-Python computation (no blocking point at all), and now and then leave
their region to compute outside it. A chaos thread (``chaos.Crew``) cancels
random workers at random instants. Afterwards every invariant is checked:
no lock, ``RLock``, condition lock or permit left held, no waiter record
left in any wait queue, every item put is either got or still queued, once,
every worker ended by its cancellation, and none was ever interrupted outside
its region (the ``stage`` each worker records says where it was).
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import threading
from collections.abc import Iterator

import pytest
from chaos import DURATION, MIN_CANCELS, Crew, Tally, queued

import threado
from threado import ThreadCancelled, _interrupt

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(2 * DURATION + 60),
    pytest.mark.skipif(_interrupt.MODE is None, reason="free-threaded build: no async delivery"),
]


def _spin(rng: random.Random) -> int:
    x = 0
    for _ in range(rng.randrange(2000)):
        x += 1
    return x


def test_regions_interrupted_at_random_keep_every_primitive_whole() -> None:
    tally = Tally("interruptible regions")
    lock, rlock, sem = threado.Lock(), threado.RLock(), threado.Semaphore(2)
    cond = threado.Condition(threado.Lock())
    q: threado.Queue[int] = threado.Queue(maxsize=4)
    serial = itertools.count()
    put_ok: list[int] = []
    got: list[int] = []
    guard = threading.Lock()  # plain: never a blocking point

    def worker(rng: random.Random) -> None:
        stage = "start"
        try:
            while True:
                with threado.interruptible():
                    stage = "in"
                    for _ in range(rng.randrange(1, 20)):
                        op = rng.randrange(8)
                        if op == 0:
                            with lock:
                                _spin(rng)
                        elif op == 1:
                            with rlock, rlock:
                                _spin(rng)
                        elif op == 2:
                            with cond:
                                cond.notify()
                                cond.wait(0.0005)
                        elif op == 3:
                            item = next(serial)
                            try:
                                q.put(item, timeout=0.0005)
                            except queue.Full:
                                pass
                            else:
                                put_ok.append(item)
                        elif op == 4:
                            try:
                                item = q.get(timeout=0.0005)
                            except queue.Empty:
                                pass
                            else:
                                got.append(item)
                        elif op == 5:
                            with sem:
                                _spin(rng)
                        else:
                            _spin(rng)
                    stage = "leaving"
                stage = "outside"
                _spin(rng)
                stage = "checkpoint"
                threado.checkpoint()
        except ThreadCancelled:
            if stage == "outside":
                tally.violation("a cancellation arrived after the region was left")
            with guard:
                tally.counts[f"stopped {stage}"] += 1
            raise

    crew = Crew(tally, [worker] * 6)
    crew.run_chaos()
    crew.stop()

    assert not lock.locked()
    assert not rlock.locked()
    assert not cond._lock.locked()
    assert sem._value == 2
    for primitive in (lock, rlock, sem, cond):
        assert queued(primitive) == 0, primitive
    assert len(q._getters) == len(q._putters) == 0
    left = []
    while True:
        try:
            left.append(q.get_nowait())
        except queue.Empty:
            break
    assert len(got) == len(set(got)), "an item was got twice"
    assert sorted(got + left) == sorted(put_ok), "an item was lost or invented"
    tally.counts["items"] = len(put_ok)
    # Interrupted inside a region, away from any blocking point, many times.
    tally.check(cancels=MIN_CANCELS, **{"stopped in": 5})


class _Counted:
    """A user context manager that counts what it holds (a plain lock guards it)."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.held = 0
        self.entered = 0

    def __enter__(self) -> None:
        with self.mutex:
            self.held += 1
            self.entered += 1
        for _ in range(50):  # work after taking the resource: never interrupted
            pass

    def __exit__(self, *exc: object) -> None:
        for _ in range(50):  # work before giving it back: never interrupted
            pass
        with self.mutex:
            self.held -= 1


@contextlib.contextmanager
def _counted_gen(counter: _Counted) -> Iterator[None]:
    with counter.mutex:
        counter.held += 1
    try:
        yield
    finally:
        for _ in range(50):
            pass
        with counter.mutex:
            counter.held -= 1


def test_user_context_managers_in_regions_always_exit() -> None:
    tally = Tally("user context managers in regions")
    plain, generated = _Counted(), _Counted()

    def worker(rng: random.Random) -> None:
        with threado.interruptible():
            while True:
                with plain:
                    _spin(rng)
                with _counted_gen(generated):
                    _spin(rng)
                _spin(rng)

    crew = Crew(tally, [worker] * 4)
    crew.run_chaos()
    crew.stop()
    tally.counts["entered"] = plain.entered
    assert plain.held == 0
    assert generated.held == 0
    tally.check(cancels=10, entered=50)
