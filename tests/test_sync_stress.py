"""Randomized stress tests for the synchronization primitives.

Many workers use one primitive at random while a chaos thread cancels random
workers at random times (``cancel(blocking=False)``) and replaces each victim
with a fresh worker. At the end every worker is cancelled (blocking) and
joined, and the invariants are checked: nothing held, nothing lost, nobody
still queued, every thread ended by its cancellation and nothing else.

Workers never assert: they record violations in a :class:`Tally` (a failed
assertion would only end one worker, and the chaos would replace it). Each
test then asserts zero violations and enough work and cancellations to show
that it really exercised the cancel paths.

The random choices are seeded (``chaos.SEED``); thread scheduling is not
reproducible, so each test prints its counters (``pytest -s`` shows them).
``THREADO_STRESS_SECONDS`` sets how long each test runs (default 1.5 s); for
a long run, switch off the global faulthandler dump, which would fire at 45 s::

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_sync_stress.py -s \\
        -o faulthandler_timeout=0
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from chaos import DURATION, HANG, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, Worker, work

import threado
from threado import ThreadCancelled, ThreadTimeout

# The run, plus joining, plus checking; above the global 60 s timeout when
# THREADO_STRESS_SECONDS is large.
pytestmark = pytest.mark.timeout(2 * DURATION + 60)


def queued(primitive: object) -> int:
    """Waiter records still in a primitive's wait queue (private state).

    After every thread has ended it must be zero: a record left behind by an
    abandoned wait would swallow the next hand-off.
    """
    if isinstance(primitive, threado.Barrier):
        return len(primitive._gen.queue)
    return len(primitive._queue)  # type: ignore[attr-defined]


# -- Semaphore, BoundedSemaphore -----------------------------------------------


@pytest.mark.parametrize("factory", [threado.Semaphore, threado.BoundedSemaphore])
def test_semaphore_permits_survive_random_cancels(factory: type[threado.Semaphore]) -> None:
    """Holders never exceed the permits, no permit is created or lost, and a
    correct acquire/release pairing never over-releases a bounded one."""
    permits = 3
    sem = factory(permits)
    tally = Tally(f"{factory.__name__}")
    guard = threading.Lock()
    holders = 0  # threads between a successful acquire and their release

    def took(n: int) -> None:
        nonlocal holders
        with guard:
            holders += n
            # Permits are free (value), held (holders) or in between; a free
            # one counted as held as well would be a permit made from nothing.
            seen = (holders, sem.value)
        if seen[0] > permits or seen[0] + seen[1] > permits:
            tally.violation(f"holders={seen[0]}, value={seen[1]}, permits={permits}")
        tally.add("ops")

    def gave(n: int) -> None:
        nonlocal holders
        with guard:
            holders -= n

    def release(n: int) -> None:
        try:
            sem.release(n)
        except ValueError as exc:
            tally.violation(f"release({n}) of held permits raised {exc!r}")

    def acquire(rng: random.Random) -> bool:
        mode = rng.randrange(3)
        if mode == 0:
            return sem.acquire()
        if mode == 1:
            ok = sem.acquire(timeout=rng.choice((0, 0.0001, 0.001, 0.005)))
        else:
            ok = sem.acquire(blocking=False)
        if not ok:
            tally.add("timed out")
        return ok

    def worker(rng: random.Random) -> None:
        while True:
            mode = rng.randrange(3)
            if mode == 0:
                entered = False
                try:
                    with sem:
                        entered = True
                        took(1)
                        try:
                            work(rng)
                        finally:
                            gave(1)
                except ThreadCancelled:
                    if not entered:
                        tally.add("cancelled in acquire")
                    raise
                continue
            held = 0
            try:
                if not acquire(rng):
                    continue
                held = 1
                # A second permit, released together; never waiting for it
                # for ever while holding one (the test's own deadlock).
                if mode == 2 and sem.acquire(timeout=rng.choice((0, 0.0001, 0.001))):
                    held = 2
            except ThreadCancelled:
                tally.add("cancelled in acquire")
                if held:
                    release(held)
                raise
            took(held)
            try:
                work(rng)
            finally:
                gave(held)
                release(held)

    crew = Crew(tally, [worker] * 10)
    crew.run_chaos()
    crew.stop()

    tally.check(
        ops=MIN_OPS, **{"cancels delivered": MIN_CANCELS, "cancelled in acquire": MIN_IN_WAIT}
    )
    assert holders == 0
    assert sem.value == permits
    assert queued(sem) == 0
    if factory is threado.BoundedSemaphore:
        with pytest.raises(ValueError, match="too many"):
            sem.release()  # the bound is intact


# -- Lock, RLock -----------------------------------------------------------------


@pytest.mark.parametrize("factory", [threado.Lock, threado.RLock])
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


# -- Condition -------------------------------------------------------------------


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


# -- Event -----------------------------------------------------------------------


def test_event_waiters_survive_random_cancels_while_it_flips() -> None:
    """Waiters are cancelled while setters set and clear the event: a wait
    without timeout only returns True, a timed wait returns False only after
    its timeout, and once the event stays set every waiter wakes up."""
    ev = threado.Event()
    tally = Tally("Event")
    progress = threading.Condition()  # plain: the test's own view of the waiters
    woken: Counter[str] = Counter()  # successful waits, by thread name (unique)

    def waiter(rng: random.Random) -> None:
        me = threado.current_thread().name
        while True:
            timeout = rng.choice((None, None, 0, 0.0001, 0.001))
            start = threado.clock()
            try:
                ok = ev.wait(timeout)
            except ThreadCancelled:
                tally.add("cancelled in wait")
                raise
            if ok:
                tally.add("ops")
                with progress:
                    woken[me] += 1
                    progress.notify_all()
            elif timeout is None:
                tally.violation("wait() without a timeout returned False")
            elif threado.clock() - start < timeout:
                tally.violation(f"wait({timeout}) returned False early")
            else:
                tally.add("timed out")
            work(rng)

    def setter(rng: random.Random) -> None:
        while True:
            ev.set()
            tally.add("sets")
            work(rng)
            ev.clear()
            work(rng)

    waiters = 6
    crew = Crew(tally, [waiter] * waiters + [setter] * 2)
    crew.run_chaos()
    crew.stop(list(range(waiters, len(crew.roles))))  # the setters
    ev.set()
    live = [t.name for t in crew.threads[:waiters]]
    with progress:
        before = {ident: woken[ident] for ident in live}
        # Ordered by state: each waiter counts a wake-up after the final set.
        all_woke = progress.wait_for(lambda: all(woken[i] > before[i] for i in live), timeout=HANG)
    if not all_woke:
        tally.violation(f"waiters did not wake after the final set: {crew.threads[:waiters]}")
    crew.stop()

    tally.check(ops=MIN_OPS, **{"cancels delivered": MIN_CANCELS, "cancelled in wait": MIN_IN_WAIT})
    assert queued(ev) == 0


# -- Barrier ---------------------------------------------------------------------


@pytest.mark.parametrize("with_action", [False, True], ids=["no action", "action"])
def test_barrier_survives_random_cancels(with_action: bool) -> None:
    """Cancelled waiters break the barrier, the others get BrokenBarrierError,
    somebody resets it and the crew carries on.

    A generation is passed by all its parties or by none, and by no other
    thread (as in ``threading``, where the last arrival runs the action and
    releases everybody under one lock, and later arrivals wait for the next
    generation): each index in ``range(parties)`` is returned once per trip.
    """
    parties = 3
    tally = Tally(f"Barrier({'action' if with_action else 'no action'})")

    def action() -> None:
        threado.sleep(0)  # a blocking point: a cancel here breaks the barrier
        tally.add("actions")

    barrier = threado.Barrier(parties, action=action if with_action else None)

    def waiter(rng: random.Random) -> None:
        while True:
            try:
                index = barrier.wait(rng.choice((None, None, None, 0.001, 0.005)))
            except threading.BrokenBarrierError:
                tally.add("broken")
                if barrier.broken:
                    barrier.reset()
                    tally.add("resets")
            except ThreadCancelled:
                tally.add("cancelled in wait")
                raise
            else:
                tally.add("ops")
                tally.add(f"index {index}")
            work(rng)

    crew = Crew(tally, [waiter] * (2 * parties + 1))
    crew.run_chaos()
    crew.stop()

    tally.check(
        ops=MIN_OPS,
        broken=MIN_IN_WAIT,
        **{"cancels delivered": MIN_CANCELS, "cancelled in wait": MIN_IN_WAIT},
    )
    assert queued(barrier) == 0
    # The last arrival gets index parties - 1 and runs the action.
    trips = tally.counts["actions"] if with_action else tally.counts[f"index {parties - 1}"]
    returned = {int(k.split()[1]): v for k, v in tally.counts.items() if k.startswith("index ")}
    assert returned == dict.fromkeys(range(parties), trips), (
        f"{trips} trips of a {parties}-party barrier, but returns by index: "
        f"{dict(sorted(returned.items()))}"
    )


# -- timeouts instead of cancels ---------------------------------------------------


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
