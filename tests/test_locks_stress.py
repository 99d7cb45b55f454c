"""Randomized stress tests of the locks, and of timeouts around every lock-like class.

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

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_locks_stress.py -s \\
        -o faulthandler_timeout=0

The last test does without the harness: workers, queriers, a watchdog and a
canceller use one lock for 2 s.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from chaos import DURATION, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, queued, work

import threado
from threado import ThreadCancelled, ThreadTimeout, _locks

# The run, plus joining, plus checking; above the global 60 s timeout when
# THREADO_STRESS_SECONDS is large. Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * DURATION + 60)]


class FreeThreadedLock(threado.Lock):
    """Lock with the release paths free-threaded builds use (no unlocked peek)."""

    __slots__ = ()


class FreeThreadedRLock(threado.RLock):
    """RLock with the release paths free-threaded builds use."""

    __slots__ = ()


_locks.use_free_threaded_paths(FreeThreadedLock)
_locks.use_free_threaded_paths(FreeThreadedRLock)


@pytest.mark.parametrize(
    "factory",
    [threado.Lock, threado.RLock, FreeThreadedLock, FreeThreadedRLock],
    ids=["Lock", "RLock", "Lock-free-threaded-paths", "RLock-free-threaded-paths"],
)
def test_lock_exclusion_survives_random_cancels(factory: Callable[[], Any]) -> None:
    """Never two threads inside; an RLock's owner re-enters at any depth; the
    lock is free at the end and nobody is left queued."""
    lock = factory()
    reentrant = factory is threado.RLock
    tally = Tally(factory.__name__)
    guard = threading.Lock()
    inside = 0  # threads that hold the lock, by their own account

    def nest(rng: random.Random, levels: int) -> None:
        """Acquire the RLock ``levels`` more times, each way at random."""
        if levels == 0:
            work(rng)
            return
        tally.add("nested")
        how = rng.randrange(3)
        if how == 0:
            with lock:
                nest(rng, levels - 1)
            return
        ok = lock.acquire(timeout=0.001) if how == 1 else lock.acquire(blocking=False)
        if not ok:
            tally.violation("the owner's nested acquire returned False")
            return
        try:
            nest(rng, levels - 1)
        finally:
            lock.release()

    def exclusive(rng: random.Random) -> None:
        nonlocal inside
        with guard:
            inside += 1
            n = inside
        try:
            if n != 1:
                tally.violation(f"{n} threads inside on entry")
            if reentrant:
                nest(rng, rng.randrange(4))
            else:
                work(rng)
            with guard:
                n = inside
            if n != 1:
                tally.violation(f"{n} threads inside on exit")
            tally.add("ops")
        finally:
            with guard:
                inside -= 1

    def worker(rng: random.Random) -> None:
        while True:
            mode = rng.randrange(4)
            entered = False
            try:
                if mode == 0:
                    with lock:
                        entered = True
                        exclusive(rng)
                else:
                    if mode == 1:
                        ok = lock.acquire()
                    elif mode == 2:
                        ok = lock.acquire(timeout=rng.choice((0, 0.0001, 0.001, 0.005)))
                    else:
                        ok = lock.acquire(blocking=False)
                    if not ok:
                        tally.add("timed out")
                        continue
                    entered = True
                    try:
                        exclusive(rng)
                    finally:
                        lock.release()
            except ThreadCancelled:
                if not entered:
                    tally.add("cancelled in acquire")
                raise
            if reentrant and rng.random() < 0.1:
                # Fully released: we are not the owner any more.
                try:
                    lock.release()
                except RuntimeError:
                    pass
                else:
                    tally.violation("released an RLock it had fully released")

    crew = Crew(tally, [worker] * 8)
    crew.run_chaos()
    crew.stop()

    minimums = {"cancels delivered": MIN_CANCELS, "cancelled in acquire": MIN_IN_WAIT}
    if reentrant:
        minimums["nested"] = MIN_OPS
    tally.check(ops=MIN_OPS, **minimums)
    assert inside == 0
    assert not lock.locked()
    assert queued(lock) == 0
    if reentrant:
        assert lock._owner is None  # no owner left behind
        assert lock._count == 0


# -- timeouts instead of cancels -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "factory", "bound"),
    [
        ("Lock", threado.Lock, 1),
        ("RLock", threado.RLock, 1),
        ("Semaphore", lambda: threado.Semaphore(2), 2),
        ("BoundedSemaphore", lambda: threado.BoundedSemaphore(2), 2),
    ],
)
def test_random_timeouts_around_acquires(name: str, factory: Callable[[], Any], bound: int) -> None:
    """Nested ``timeout_after`` blocks with random deadlines: the inner one
    around the acquire, the outer one also around the work done while
    holding. Each block reports only its own expiry, and the bound, the
    holders' count and the primitive's state stay intact."""
    prim = factory()
    tally = Tally(f"timeout_after+{name}")
    guard = threading.Lock()
    holders = 0
    deadlines = (0, 0.0001, 0.0005, 0.002, None)

    def hold(rng: random.Random) -> None:
        nonlocal holders
        with guard:
            holders += 1
            n = holders
        try:
            if n > bound:
                tally.violation(f"{n} holders, bound {bound}")
            tally.add("ops")
            work(rng)
        finally:
            with guard:
                holders -= 1

    def one(rng: random.Random) -> None:
        outer = threado.timeout_after(rng.choice(deadlines))
        try:
            with outer:
                inner = threado.timeout_after(rng.choice(deadlines))
                try:
                    with inner:
                        prim.acquire()
                except ThreadTimeout:
                    if not inner.expired:
                        tally.violation("the inner block raised another block's timeout")
                    tally.add("inner timeouts")
                    return
                try:
                    hold(rng)
                finally:
                    prim.release()
        except ThreadTimeout:
            if not outer.expired:
                tally.violation("the outer block raised a timeout that is not its own")
            tally.add("outer timeouts")

    def worker(rng: random.Random) -> None:
        while True:
            one(rng)

    crew = Crew(tally, [worker] * 8)  # no chaos: only the deadlines interrupt
    threado.sleep(DURATION)  # the length of the run, not an ordering
    crew.stop()

    tally.check(ops=MIN_OPS, **{"inner timeouts": MIN_IN_WAIT, "outer timeouts": MIN_IN_WAIT})
    assert holders == 0
    if isinstance(prim, threado.Semaphore):
        assert prim.value == bound
    else:
        assert not prim.locked()
    assert queued(prim) == 0


@pytest.mark.parametrize(
    "factory",
    [threado.Lock, threado.RLock, FreeThreadedLock, FreeThreadedRLock],
    ids=["Lock", "RLock", "Lock-free-threaded-paths", "RLock-free-threaded-paths"],
)
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
