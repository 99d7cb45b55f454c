"""Locks, conditions, semaphores, events and barriers (SPEC §2, §4).

The generic tests run for every lock-like class; the race tests force each
interleaving named in the contract by ordering threads with ``wait_parked``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import threado
from threado import ThreadCancelled, ThreadTimeout, _locks, _parking
from threado._state import get_state
from threado.testing import wait_parked

SLACK = 2.0  # generous upper bound for real-time assertions on shared CI machines

LockFactory = Callable[[], Any]

LOCK_FACTORIES: dict[str, LockFactory] = {
    "Lock": threado.Lock,
    "RLock": threado.RLock,
    "Semaphore": lambda: threado.Semaphore(1),
    "BoundedSemaphore": lambda: threado.BoundedSemaphore(1),
}


@pytest.fixture(params=list(LOCK_FACTORIES), ids=list(LOCK_FACTORIES))
def make_lock(request: pytest.FixtureRequest) -> LockFactory:
    return LOCK_FACTORIES[request.param]


def held_elsewhere(lock: Any) -> tuple[threado.Thread[None], threading.Event]:
    """Hold ``lock`` in another thread until the returned event is set."""
    got = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with lock:
            got.set()
            done.wait()

    t = threado.spawn(holder)
    got.wait()
    return t, done


# -- generic: every lock-like class ---------------------------------------------


def test_mutual_exclusion(make_lock: LockFactory) -> None:
    lock = make_lock()
    inside = 0
    violations = 0
    total = 0

    def worker() -> None:
        nonlocal inside, violations, total
        for _ in range(300):
            with lock:
                inside += 1
                if inside != 1:
                    violations += 1
                total += 1
                if total % 17 == 0:
                    threado.sleep(0)
                inside -= 1

    threads = [threado.spawn(worker) for _ in range(4)]
    for t in threads:
        t.join()
    assert violations == 0
    assert total == 1200


def test_non_blocking_and_timed_acquire_fail_while_held(make_lock: LockFactory) -> None:
    lock = make_lock()
    holder, release = held_elsewhere(lock)
    assert lock.acquire(blocking=False) is False
    start = time.monotonic()
    assert lock.acquire(timeout=0.02) is False
    assert 0.02 <= time.monotonic() - start < 0.02 + SLACK
    release.set()
    holder.join()
    assert lock.acquire(timeout=5) is True
    lock.release()


def test_cancel_while_waiting_takes_nothing(make_lock: LockFactory) -> None:
    lock = make_lock()
    holder, release = held_elsewhere(lock)
    got: list[bool] = []
    waiter = threado.spawn(lambda: got.append(lock.acquire()))
    wait_parked(waiter)
    assert waiter.cancel(timeout=5)
    assert waiter.cancelled
    assert got == []
    release.set()
    holder.join()
    assert lock.acquire(blocking=False)  # free: the cancelled waiter has nothing
    lock.release()


def test_cancel_while_holding_releases_on_the_way_out(make_lock: LockFactory) -> None:
    lock = make_lock()
    entered = threading.Event()

    def holder() -> None:
        with lock:
            entered.set()
            threado.sleep(60)

    t = threado.spawn(holder)
    entered.wait()
    wait_parked(t)
    assert t.cancel(timeout=5)
    assert lock.acquire(blocking=False)
    lock.release()


def test_timeout_around_acquire(make_lock: LockFactory) -> None:
    lock = make_lock()
    holder, release = held_elsewhere(lock)

    def impatient() -> None:
        with threado.timeout_after(0.02):
            lock.acquire()

    t = threado.spawn(impatient)
    assert t.wait(timeout=10)
    assert isinstance(t.exception, ThreadTimeout)
    release.set()
    holder.join()
    assert lock.acquire(blocking=False)
    lock.release()


def test_contended_acquire_checks_for_cancellation_on_entry(make_lock: LockFactory) -> None:
    lock = make_lock()
    holder, release = held_elsewhere(lock)
    gate = threading.Event()

    def late() -> None:
        gate.wait()
        lock.acquire(timeout=10)

    t = threado.spawn(late)
    t.cancel(blocking=False)
    gate.set()
    assert t.wait(timeout=5)  # it never waits its 10 s
    assert t.cancelled
    release.set()
    holder.join()


def test_no_starvation_under_hammering(make_lock: LockFactory) -> None:
    """Threads re-taking the lock in a tight loop do not starve a waiter."""
    lock = make_lock()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            with lock:
                pass

    hammers = [threado.spawn(hammer) for _ in range(3)]
    try:
        for _ in range(20):
            start = time.monotonic()
            assert lock.acquire(timeout=10)
            lock.release()
            assert time.monotonic() - start < SLACK
    finally:
        stop.set()
        for h in hammers:
            h.join()


def test_works_from_a_plain_thread(make_lock: LockFactory) -> None:
    lock = make_lock()
    holder, release = held_elsewhere(lock)
    results: list[object] = []

    def plain() -> None:
        try:
            with threado.timeout_after(0.02):
                lock.acquire()
        except ThreadTimeout as exc:
            results.append(exc)

    t = threading.Thread(target=plain)
    t.start()
    t.join(timeout=10)
    assert len(results) == 1
    release.set()
    holder.join()


# -- Lock and RLock ---------------------------------------------------------------


@pytest.mark.parametrize("cls", [threado.Lock, threado.RLock])
def test_acquire_argument_errors_match_threading(cls: Callable[[], Any]) -> None:
    lock = cls()
    with pytest.raises(ValueError, match="non-blocking"):
        lock.acquire(False, 1)
    with pytest.raises(ValueError, match="timeout value must be positive"):
        lock.acquire(timeout=-5)
    with pytest.raises(OverflowError):
        lock.acquire(timeout=threading.TIMEOUT_MAX + 1)
    with pytest.raises(TypeError):
        lock.acquire(timeout="1")
    with pytest.raises(ValueError, match="NaN"):
        lock.acquire(timeout=float("nan"))
    assert not lock.locked()


def test_lock_release_errors_and_foreign_release() -> None:
    lock = threado.Lock()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    threado.spawn(lock.release).join()  # any thread may release a Lock
    assert not lock.locked()


def test_rlock_reentrancy_and_ownership() -> None:
    lock = threado.RLock()
    with lock, lock:
        assert lock._is_owned()
        assert lock._recursion_count() == 2
        t = threado.spawn(lock.release)
        assert isinstance(t.exception if t.wait() else None, RuntimeError)
        assert lock.acquire(blocking=False)
        lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_reprs_show_state() -> None:
    lock = threado.Lock()
    assert repr(lock).startswith("<unlocked threado.Lock object waiting=0 at 0x")
    holder, release = held_elsewhere(lock)
    waiter = threado.spawn(lock.acquire)
    wait_parked(waiter)
    assert repr(lock).startswith("<locked threado.Lock object waiting=1 at 0x")
    assert "waiting on <locked threado.Lock" in repr(waiter)
    release.set()
    holder.join()
    waiter.join()
    lock.release()
    r = threado.RLock()
    with r:
        assert f"owner={threading.get_ident()} count=1" in repr(r)
    assert "threado.Semaphore at" in repr(threado.Semaphore(2))
    assert repr(threado.Event()).endswith(": unset>")
    assert "waiters=0/2" in repr(threado.Barrier(2))


def test_lock_handed_at_the_instant_of_a_cancel_is_kept_then_released() -> None:
    """Release (with a direct hand-off) and cancel land together: the waiter
    returns holding the lock, the cancel fires at its next blocking point, and
    `with` releases the lock on the way out."""
    lock = threado.Lock()
    log: list[str] = []
    lock.acquire()

    def waiter() -> None:
        with lock:
            log.append("got it")
            threado.checkpoint()
            log.append("not reached")  # pragma: no cover

    t = threado.spawn(waiter)
    wait_parked(t)
    deadline = time.monotonic() + 5
    while time.monotonic() - lock._waiters[0].since < _locks.FAIR_AFTER:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline  # the waiter is old enough for a hand-off
        time.sleep(_locks.FAIR_AFTER)
    lock.release()  # hands the lock to the waiter...
    t.cancel()  # ...and the cancel arrives before it could run
    assert log == ["got it"]
    assert t.cancelled
    assert not lock.locked()


def test_lock_abandoned_by_an_async_exception_passes_the_handoff_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A KeyboardInterrupt that abandons an acquire after the lock was handed
    over releases it to the next waiter instead of dropping it."""
    lock = threado.Lock()
    lock.acquire()
    second = threado.spawn(lambda: lock.acquire(timeout=10))
    wait_parked(second)
    st = get_state()
    real_block = _parking.block

    def hand_over_then_interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            with lock._mutex:  # hand the lock to us, first in line, directly
                w = lock._waiters[0]
                assert w.state is st
                lock._waiters.popleft()
                w.result = _parking.HANDED
            raise KeyboardInterrupt
        return real_block(state, deadline)

    # Put the main thread first in line, ahead of `second`.
    with lock._mutex:
        pass
    monkeypatch.setattr(_parking, "block", hand_over_then_interrupt)
    mine = _locks._LockWaiter(st)
    with lock._mutex:
        lock._waiters.appendleft(mine)
    with pytest.raises(KeyboardInterrupt):
        lock._queue.wait(st, mine, None, lock, lock._pass_on)
    monkeypatch.undo()
    assert second.join() is True  # the lock went on to the next waiter
    assert lock.locked()
    lock.release()


def test_stdlib_condition_over_threado_locks() -> None:
    for lock in (threado.Lock(), threado.RLock()):
        cond = threading.Condition(lock)
        ready: list[int] = []

        def consumer(cond: threading.Condition = cond, ready: list[int] = ready) -> int:
            with cond:
                cond.wait_for(lambda: ready)
                return ready[0]

        t = threado.spawn(consumer)  # wait_for makes the order irrelevant
        with cond:
            ready.append(7)
            cond.notify()
        assert t.join(timeout=10) == 7


@pytest.mark.parametrize("cls", [threado.Lock, threado.RLock, threado.Event, threado.Condition])
def test_at_fork_reinit_leaves_a_fresh_primitive(cls: Callable[[], Any]) -> None:
    obj = cls()
    if hasattr(obj, "acquire"):
        obj.acquire()
    obj._at_fork_reinit()
    if hasattr(obj, "acquire"):
        assert obj.acquire(blocking=False)
        obj.release()


# -- Condition ----------------------------------------------------------------------


def test_condition_notify_n_and_all() -> None:
    cond = threado.Condition()
    woken: list[int] = []

    def waiter(i: int) -> None:
        with cond:
            cond.wait()
            woken.append(i)

    threads = [threado.spawn(waiter, i) for i in range(5)]
    for t in threads:
        wait_parked(t)
    with cond:
        cond.notify(2)
    for t in threads[:2]:
        t.join()
    assert sorted(woken) == [0, 1]  # notify wakes in arrival order
    with cond:
        cond.notify_all()
    for t in threads:
        t.join()
    assert sorted(woken) == [0, 1, 2, 3, 4]


def test_condition_errors_without_the_lock() -> None:
    cond = threado.Condition(threado.Lock())
    with pytest.raises(RuntimeError):
        cond.wait()
    with pytest.raises(RuntimeError):
        cond.notify()
    with pytest.raises(RuntimeError):
        cond.notify_all()


def test_condition_over_rlock_releases_every_level_while_waiting() -> None:
    lock = threado.RLock()
    cond = threado.Condition(lock)
    levels: list[int] = []

    def waiter() -> None:
        with lock, lock, cond:
            cond.wait()
            levels.append(lock._recursion_count())

    t = threado.spawn(waiter)
    wait_parked(t)
    assert lock.acquire(blocking=False)  # all three levels were released
    cond.notify()
    lock.release()
    t.join()
    assert levels == [3]
    assert not lock.locked()


def test_cancelled_condition_wait_reacquires_the_lock_first() -> None:
    """The cancel arrives while another thread holds the lock: the waiter
    waits for the lock (shielded) and only then raises, holding it."""
    cond = threado.Condition(threado.Lock())
    held_when_raised: list[bool] = []

    def waiter() -> None:
        with cond:
            try:
                cond.wait()
            except ThreadCancelled:
                held_when_raised.append(cond._lock.locked())
                raise

    t = threado.spawn(waiter)
    wait_parked(t)
    cond.acquire()
    t.cancel(blocking=False)
    wait_parked(t)  # now parked re-acquiring the lock, not raising
    assert held_when_raised == []
    cond.release()
    assert t.wait(timeout=5)
    assert held_when_raised == [True]
    assert t.cancelled
    assert not cond._lock.locked()


def test_condition_notified_at_the_instant_of_a_cancel_returns_true() -> None:
    cond = threado.Condition()
    log: list[object] = []

    def waiter() -> None:
        with cond:
            log.append(cond.wait())
        threado.checkpoint()

    t = threado.spawn(waiter)
    wait_parked(t)
    with cond:
        cond.notify()  # the hand-off lands first...
        t.cancel(blocking=False)  # ...then the cancel, before the waiter runs
    assert t.wait(timeout=5)
    assert log == [True]
    assert t.cancelled


def test_condition_notify_abandoned_by_an_async_exception_goes_to_the_next_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cond = threado.Condition()
    woken: list[bool] = []

    def other() -> None:
        with cond:
            woken.append(cond.wait(timeout=10))

    second = threado.spawn(other)
    wait_parked(second)
    st = get_state()
    real_block = _parking.block

    def notified_then_interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            with cond._mutex:  # the notify lands on us (first in line)
                w = cond._queue.waiters.popleft()
                assert w.state is st
                w.result = True
            raise KeyboardInterrupt
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", notified_then_interrupt)
    with cond:
        with cond._mutex:
            mine = _parking.Waiter(st)
            cond._queue.waiters.appendleft(mine)
        saved = cond._release_save()
        with pytest.raises(KeyboardInterrupt):
            cond._queue.wait(st, mine, None, cond, cond._pass_on)
        cond._acquire_restore(saved)
    monkeypatch.undo()
    second.join()
    assert woken == [True]  # the notification was passed on, not lost


def test_condition_wait_for_timeout_returns_the_last_predicate_value() -> None:
    cond = threado.Condition()
    with cond:
        start = time.monotonic()
        assert cond.wait_for(lambda: 0, timeout=0.02) == 0
        assert time.monotonic() - start >= 0.02
        assert cond.wait_for(lambda: "yes", timeout=0) == "yes"


# -- Semaphore ----------------------------------------------------------------------


def test_semaphore_validation() -> None:
    with pytest.raises(ValueError, match="initial value"):
        threado.Semaphore(-1)
    sem = threado.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    with pytest.raises(ValueError, match="one or more"):
        sem.release(0)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(False, timeout=1)
    assert sem.value == 2


def test_semaphore_hands_permits_in_arrival_order() -> None:
    sem = threado.Semaphore(0)
    order: list[int] = []

    def taker(i: int) -> None:
        with sem:
            order.append(i)

    threads = []
    for i in range(4):
        threads.append(threado.spawn(taker, i))
        wait_parked(threads[-1])
    sem.release(4)
    for t in threads:
        t.join()
    assert sorted(order) == [0, 1, 2, 3]
    assert sem.value == 4


def test_semaphore_permit_handed_at_the_instant_of_a_cancel_is_given_back() -> None:
    sem = threado.BoundedSemaphore(1)
    sem.acquire()
    log: list[str] = []

    def taker() -> None:
        with sem:
            log.append("got it")
            threado.checkpoint()

    t = threado.spawn(taker)
    wait_parked(t)
    sem.release()  # the permit is handed to the taker...
    t.cancel()  # ...and the cancel arrives before it could run
    assert log == ["got it"]
    assert sem.value == 1  # given back by `with` on the way out


def test_semaphore_permit_caught_by_an_abandoning_waiter_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sem = threado.Semaphore(0)
    st = get_state()
    real_block = _parking.block

    def permit_then_interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            sem.release()  # handed to us, the only waiter
            raise KeyboardInterrupt
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", permit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sem.acquire()
    assert sem.value == 1


def test_blocking_semaphore_acquire_checks_on_entry_even_with_permits() -> None:
    sem = threado.Semaphore(5)
    gate = threading.Event()

    def taker() -> None:
        gate.wait()
        sem.acquire()

    t = threado.spawn(taker)
    t.cancel(blocking=False)
    gate.set()
    t.wait()
    assert t.cancelled
    assert sem.value == 5
    assert sem.acquire(blocking=False)  # non-blocking is not a blocking point


# -- Event --------------------------------------------------------------------------


def test_event_set_wakes_all_and_clear_resets() -> None:
    ev = threado.Event()
    threads = [threado.spawn(ev.wait) for _ in range(3)]
    for t in threads:
        wait_parked(t)
    ev.set()
    assert [t.join() for t in threads] == [True, True, True]
    assert ev.is_set()
    ev.clear()
    assert not ev.is_set()
    assert ev.wait(timeout=0.01) is False


def test_event_set_at_the_instant_of_a_cancel_returns_true() -> None:
    ev = threado.Event()
    log: list[bool] = []

    def waiter() -> None:
        log.append(ev.wait())
        threado.checkpoint()

    t = threado.spawn(waiter)
    wait_parked(t)
    ev.set()
    t.cancel()
    assert log == [True]
    assert t.cancelled


# -- Barrier ------------------------------------------------------------------------


def test_cancelled_barrier_waiter_breaks_the_barrier() -> None:
    barrier = threado.Barrier(3)
    outcomes: list[str] = []

    def party() -> None:
        try:
            barrier.wait()
            outcomes.append("passed")  # pragma: no cover
        except threading.BrokenBarrierError:
            outcomes.append("broken")

    a = threado.spawn(party)
    wait_parked(a)
    b = threado.spawn(barrier.wait)
    wait_parked(b)
    assert b.cancel(timeout=5)
    assert b.cancelled
    a.join()
    assert outcomes == ["broken"]
    assert barrier.broken
    barrier.reset()
    assert not barrier.broken


def test_barrier_action_and_indices() -> None:
    ran: list[int] = []
    barrier = threado.Barrier(3, action=lambda: ran.append(1))
    threads = [threado.spawn(barrier.wait) for _ in range(3)]
    assert sorted(t.join() for t in threads) == [0, 1, 2]
    assert ran == [1]
    assert barrier.n_waiting == 0
    assert barrier.parties == 3
    with pytest.raises(ValueError, match="parties"):
        threado.Barrier(0)


def test_barrier_passed_before_a_cancel_is_passed_for_every_party() -> None:
    """Cancelled while the last party runs the action: the generation has
    passed, so the waiter returns its index (the cancel fires later), and a
    thread arriving meanwhile waits for the next generation."""
    in_action = threading.Event()
    finish_action = threading.Event()  # a plain wait: the action cannot be cut short

    def action() -> None:
        in_action.set()
        finish_action.wait()

    barrier = threado.Barrier(2, action=action)
    log: list[object] = []

    def first() -> None:
        log.append(barrier.wait())
        threado.checkpoint()

    a = threado.spawn(first)
    wait_parked(a)
    b = threado.spawn(barrier.wait)
    in_action.wait()
    a.cancel(blocking=False)
    late = threado.spawn(barrier.wait)
    wait_parked(late)
    assert barrier.n_waiting == 1  # the newcomer is in the next generation
    finish_action.set()
    assert b.join() == 1
    assert a.wait(timeout=10)
    assert log == [0]
    assert a.cancelled
    late.cancel()
    assert barrier.broken  # the newcomer's generation had not passed


def test_barrier_waiter_cancelled_during_a_failing_action_sees_it_break() -> None:
    """Every party waits for the action, as in threading; if the action fails,
    all of them raise BrokenBarrierError, a cancelled one too."""
    in_action = threading.Event()
    finish_action = threading.Event()

    def action() -> None:
        in_action.set()
        finish_action.wait()
        raise RuntimeError("action failed")

    barrier = threado.Barrier(2, action=action)
    a = threado.spawn(barrier.wait)
    wait_parked(a)
    b = threado.spawn(barrier.wait)
    in_action.wait()
    a.cancel(blocking=False)
    finish_action.set()
    assert b.wait(timeout=10)
    assert a.wait(timeout=10)
    assert isinstance(b.exception, RuntimeError)
    assert isinstance(a.exception, threading.BrokenBarrierError)
    assert barrier.broken


def test_condition_wait_for_is_a_blocking_point_even_when_true() -> None:
    cond = threado.Condition()
    gate = threading.Event()
    reached: list[bool] = []

    def waiter() -> None:
        gate.wait()
        with cond:
            cond.wait_for(lambda: True)
            reached.append(True)  # pragma: no cover

    t = threado.spawn(waiter)
    t.cancel(blocking=False)
    gate.set()
    assert t.wait(timeout=5)
    assert t.cancelled
    assert reached == []
    assert not cond._lock.locked()


@pytest.mark.parametrize("make", [threado.Lock, threado.RLock])
def test_stdlib_condition_reacquire_is_shielded(make: Callable[[], Any]) -> None:
    """A stdlib Condition over a threado lock re-acquires it through the
    lock's _acquire_restore even in a cancelled thread whose lock is taken:
    `with cond:` then releases a lock it really holds."""
    lock = make()
    cond = threading.Condition(lock)
    inside = threading.Event()

    def waiter() -> None:
        with cond:
            inside.set()
            cond.wait(timeout=30)  # a stdlib wait: not a blocking point
        threado.checkpoint()

    t = threado.spawn(waiter)
    inside.wait()
    cond.acquire()  # succeeds only once the waiter released it in wait()
    t.cancel(blocking=False)
    cond.notify()
    wait_parked(t)  # re-acquiring (shielded) while we hold the lock
    cond.release()
    assert t.wait(timeout=10)
    assert isinstance(t.exception, ThreadCancelled)  # not RuntimeError
    assert not lock.locked()
