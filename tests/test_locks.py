"""threado.Lock and threado.RLock (``threado/_locks.py``): the one slow path.

The wake-up holes found in review, each forced deterministically, and a
stress test whose invariant would have caught them: after any mix of
acquire / release / ``locked()`` / timeouts / cancels, the lock ends free,
no waiter is left parked on a free lock, and no owner is left behind.
"""

from __future__ import annotations

import random
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import threado
from threado import ThreadCancelled, _locks, _parking
from threado.testing import wait_parked

LOCKS: list[Callable[[], Any]] = [threado.Lock, threado.RLock]
IDS = ["Lock", "RLock"]


def age_first_waiter(lock: Any) -> None:
    """Wait until the first waiter is old enough for a direct hand-off."""
    deadline = time.monotonic() + 5
    while time.monotonic() - lock._waiters[0].since < _locks.FAIR_AFTER:
        assert time.monotonic() < deadline
        time.sleep(_locks.FAIR_AFTER)


@pytest.mark.parametrize("rounds", [60])
def test_rlock_locked_queries_never_lose_a_wakeup(rounds: int) -> None:
    """Two threads ask ``locked()`` in a loop while the owner releases to a
    parked waiter: the waiter always gets the lock (the old ``locked()``
    took and dropped the lock without waking anyone)."""
    for _ in range(rounds):
        lock = threado.RLock()
        lock.acquire()
        stop = threading.Event()

        def query(lock: Any = lock, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                lock.locked()
                lock._is_owned()
                repr(lock)

        queriers = [threading.Thread(target=query) for _ in range(2)]
        for q in queriers:
            q.start()
        try:
            waiter = threado.spawn(lambda lock=lock: lock.acquire(timeout=10) and lock.release())
            wait_parked(waiter)
            if random.random() < 0.5:
                age_first_waiter(lock)  # the hand-off (fairness) path too
            lock.release()
            assert waiter.wait(timeout=5), "the waiter was never woken"
            assert waiter.result is None
        finally:
            stop.set()
            for q in queriers:
                q.join()
        assert not lock.locked()
        assert lock.acquire(timeout=1)  # not stuck for anybody
        lock.release()


@pytest.mark.parametrize("factory", LOCKS, ids=IDS)
def test_a_query_never_takes_the_lock(factory: Callable[[], Any]) -> None:
    lock = factory()
    real = lock._inner
    calls: list[object] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(real, name)

    lock._inner = Spy()
    try:
        assert lock.locked() is False
        repr(lock)
        lock._is_owned()
    finally:
        lock._inner = real
    assert calls
    assert "acquire" not in calls
    assert "release" not in calls


@pytest.mark.parametrize("factory", LOCKS, ids=IDS)
def test_a_newcomer_cannot_take_a_lock_handed_to_an_old_waiter(factory: Callable[[], Any]) -> None:
    lock = factory()
    lock.acquire()
    order: list[str] = []

    def old() -> None:
        with lock:
            order.append("old")

    t = threado.spawn(old)
    wait_parked(t)
    age_first_waiter(lock)
    lock.release()  # hands the lock to `old`, which may not have run yet
    got = lock.acquire(False)
    if got:  # only possible if `old` already ran and released it
        assert order == ["old"]
        lock.release()
    t.join()
    assert order == ["old"]
    assert not lock.locked()
    assert not lock._waiters


@pytest.mark.parametrize("factory", LOCKS, ids=IDS)
def test_two_waiters_after_a_handoff_and_a_retry_both_get_the_lock(
    factory: Callable[[], Any],
) -> None:
    """The interleaving that wedged the old RLock's reservation: an old
    waiter is due a hand-off while a young one is woken to retry; both must
    end up with the lock, in turn, and nobody stays parked on a free lock."""
    lock = factory()
    lock.acquire()
    got: list[str] = []

    def waiter(name: str) -> None:
        with lock:
            got.append(name)

    a = threado.spawn(waiter, "a")
    wait_parked(a)
    age_first_waiter(lock)
    b = threado.spawn(waiter, "b")
    wait_parked(b)
    lock.release()  # a is handed the lock; b stays queued
    # A newcomer that tries while a holds it must not disturb b.
    for _ in range(100):
        if lock.acquire(False):
            lock.release()
    a.join()
    b.join()
    assert sorted(got) == ["a", "b"]
    assert not lock.locked()
    assert not lock._waiters


@pytest.mark.parametrize("factory", LOCKS, ids=IDS)
def test_a_retry_wakeup_that_meets_a_cancel_does_not_take_the_lock(
    factory: Callable[[], Any],
) -> None:
    """A waiter woken to retry and cancelled in the same instant raises
    instead of taking the lock, and passes the wake-up to the next waiter."""
    lock = factory()
    lock.acquire()
    ran: list[str] = []

    def first() -> None:
        with lock:
            ran.append("first")  # must not run: cancelled before it could retry

    def second() -> None:
        with lock:
            ran.append("second")

    t1 = threado.spawn(first)
    wait_parked(t1)
    t2 = threado.spawn(second)
    wait_parked(t2)
    # Release by hand with a RETRY wake-up for t1, and cancel t1 before it runs.
    if isinstance(lock, threado.RLock):
        lock._owner = None
        lock._count = 0
    with lock._mutex:
        w = lock._waiters.popleft()
        assert w.state is t1._state
        w.result = _parking.RETRY
        lock._inner.release()
        t1.cancel(blocking=False)  # marks and unparks t1
    assert t1.wait(timeout=5)
    assert t1.cancelled
    assert t2.wait(timeout=5), "the wake-up was not passed on"
    assert ran == ["second"]
    assert not lock.locked()
    assert not lock._waiters


def test_rlock_accepts_and_ignores_arguments_as_threading_does() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threading.RLock(1, x=2)  # type: ignore[call-arg]
        threado.RLock(1, x=2)
    expected = 2 if sys.version_info >= (3, 13) else 0
    assert len([w for w in caught if w.category is DeprecationWarning]) == expected


def test_rlock_repr_says_owner_and_count() -> None:
    lock = threado.RLock()
    assert repr(lock).startswith("<unlocked threado.RLock object owner=0 count=0 waiting=0")
    with lock, lock:
        assert f"owner={threading.get_ident()} count=2" in repr(lock)


@pytest.mark.parametrize("factory", LOCKS, ids=IDS)
def test_stress_every_method_with_queries_timeouts_and_cancels(
    factory: Callable[[], Any],
) -> None:
    """Workers acquire (blocking, with timeouts, non-blocking), queriers call
    every query, a canceller cancels at random; a watchdog checks that no
    waiter stays parked on a free lock. At the end the lock is free, nobody
    is queued and no owner is left."""
    lock = factory()
    reentrant = isinstance(lock, threado.RLock)
    stop = threading.Event()
    inside = [0]
    violations: list[str] = []
    ops = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                kind = rng.randrange(4)
                if kind == 0:
                    ok = lock.acquire()
                elif kind == 1:
                    ok = lock.acquire(timeout=rng.choice([0, 0.0005, 0.002]))
                elif kind == 2:
                    ok = lock.acquire(False)
                else:
                    ok = False
                    with threado.ignore_after(rng.choice([0.0003, 0.001])):
                        ok = lock.acquire()
                if not ok:
                    continue
                try:
                    inside[0] += 1
                    if inside[0] != 1:
                        violations.append("two holders")
                    try:
                        if reentrant and rng.random() < 0.3:
                            with lock:
                                pass
                        if rng.random() < 0.2:
                            threado.sleep(0)
                    finally:
                        inside[0] -= 1
                finally:
                    lock.release()
                ops[0] += 1
            except ThreadCancelled:
                return

    def query() -> None:
        while not stop.is_set():
            lock.locked()
            lock._is_owned()
            repr(lock)
            if reentrant:
                lock._recursion_count()

    def watchdog() -> None:
        stuck_since: float | None = None
        while not stop.is_set():
            if lock._waiters and not lock.locked():
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > 2.0:  # generous: only a lost wake-up
                    violations.append(f"waiters parked on a free lock: {lock!r}")
                    return
            else:
                stuck_since = None
            time.sleep(0.001)

    with threado.ThreadGroup(wait=None) as g:
        workers = [g.spawn(worker, i) for i in range(6)]
        plain = [threading.Thread(target=query) for _ in range(2)]
        plain.append(threading.Thread(target=watchdog))
        for p in plain:
            p.start()
        rng = random.Random(0)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            time.sleep(rng.uniform(0, 0.01))
            victim = rng.randrange(len(workers))
            workers[victim].cancel(blocking=False)
            if workers[victim].done():
                workers[victim] = g.spawn(worker, rng.randrange(10**6))
        stop.set()
        for p in plain:
            p.join()
    assert violations == []
    assert ops[0] > 100
    assert inside[0] == 0
    assert not lock.locked()
    assert not lock._waiters
    if reentrant:
        assert lock._owner is None
        assert lock._count == 0
