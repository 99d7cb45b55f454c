"""The blocking mechanism: wait queues, hand-off versus abandon, latches."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

import threado
from threado import _parking
from threado._parking import TIMED_OUT, Latch, WaitQueue
from threado._state import clock, get_state
from threado.testing import wait_parked


class Pool:
    """A counted resource built directly on WaitQueue, as primitives will be.

    ``take`` gets one unit, waiting for a hand-off if there is none;
    ``give`` hands a unit to the first waiter, or keeps it.
    """

    def __init__(self, units: int = 0) -> None:
        self.mutex = threading.Lock()
        self.queue = WaitQueue(self.mutex)
        self.units = units

    def take(self, timeout: float | None = None) -> bool:
        st = get_state()
        st.check()
        with self.mutex:
            if self.units:
                self.units -= 1
                return True
            w = self.queue.enqueue_locked(st)
        deadline = None if timeout is None else clock() + timeout
        return self.queue.wait(st, w, deadline, self, self.give) is not TIMED_OUT

    def give(self, _unit: object = True) -> None:
        with self.mutex:
            if not self.queue.handoff_locked(True):
                self.units += 1

    def waiting(self) -> int:
        with self.mutex:
            return len(self.queue)


def test_handoff_wakes_the_first_waiter() -> None:
    pool = Pool()
    order: list[int] = []

    def taker(i: int) -> None:
        assert pool.take()
        order.append(i)

    t1 = threado.spawn(taker, 1)
    wait_parked(t1)
    t2 = threado.spawn(taker, 2)
    wait_parked(t2)
    pool.give()
    t1.join()
    pool.give()
    t2.join()
    assert order == [1, 2]
    assert pool.units == 0


def test_own_timeout_returns_timed_out_and_leaves_the_queue() -> None:
    pool = Pool()
    assert pool.take(timeout=0.01) is False
    assert pool.waiting() == 0


def test_cancel_removes_the_waiter_and_takes_nothing() -> None:
    pool = Pool()
    t = threado.spawn(pool.take)
    wait_parked(t)
    assert t.cancel(timeout=5)
    assert t.cancelled
    assert pool.waiting() == 0
    pool.give()
    assert pool.units == 1  # the unit was not handed to the dead waiter


def test_handoff_wins_over_a_simultaneous_cancel() -> None:
    """Hand-off and cancel land together: the waiter keeps the unit and
    the cancellation fires at its next blocking point."""
    pool = Pool()
    took: list[bool] = []
    after = threading.Event()

    def taker() -> None:
        took.append(pool.take())
        after.set()
        threado.checkpoint()  # the cancellation waits for this
        took.append(False)  # pragma: no cover - never reached

    t = threado.spawn(taker)
    wait_parked(t)
    # Both arrive while the taker is parked: hand-off first, then the cancel,
    # under the pool's mutex so that the taker sees both at once.
    with pool.mutex:
        assert pool.queue.handoff_locked(True)
        t._state.request_cancel(threado.CancelReason.EXPLICIT, None, "test")
    assert t.wait(timeout=5)
    assert took == [True]
    assert t.cancelled
    assert pool.units == 0


def test_abandon_by_async_exception_passes_the_handoff_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A KeyboardInterrupt that abandons the wait after the hand-off landed
    gives the unit to on_abandon (here: on to the next waiter)."""
    pool = Pool()
    real_block = _parking.block
    st = get_state()

    def block_then_interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            with pool.mutex:
                pool.queue.handoff_locked(True)  # the unit lands on us...
            raise KeyboardInterrupt  # ...as a signal handler raises
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", block_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pool.take()
    assert pool.waiting() == 0
    assert pool.units == 1  # passed on (no other waiter: kept by the pool)


def test_abandon_by_async_exception_before_handoff_leaves_the_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = Pool()
    st = get_state()
    real_block = _parking.block

    def interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            raise KeyboardInterrupt
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", interrupt)
    with pytest.raises(KeyboardInterrupt):
        pool.take()
    assert pool.waiting() == 0
    pool.give()
    assert pool.units == 1


def test_stale_tokens_cause_no_false_success() -> None:
    """A pending wake-up token left over from earlier makes the next wait loop
    once more, never return early."""
    st = get_state()
    threado._state.unpark(st)
    threado._state.unpark(st)  # the second one is absorbed
    pool = Pool()
    start = clock()
    assert pool.take(timeout=0.05) is False
    assert clock() - start >= 0.05


def test_latch_wakes_every_waiter_and_stays_set() -> None:
    latch = Latch()
    threads = [threado.spawn(latch.wait_until) for _ in range(5)]
    for t in threads:
        wait_parked(t)
    latch.set()
    assert [t.join(timeout=5) for t in threads] == [True] * 5
    assert latch.wait_until() is True
    assert latch.is_set()


def test_latch_wait_times_out() -> None:
    latch = Latch()
    assert latch.wait_until(clock() + 0.01) is False


def test_latch_wait_is_a_blocking_point() -> None:
    latch = Latch()
    latch.set()
    gate = threading.Event()  # a plain wait: not a blocking point

    def waiter() -> bool:
        gate.wait()
        return latch.wait_until()

    t = threado.spawn(waiter)
    t.cancel(blocking=False)
    gate.set()
    # The latch is set, so it would not wait; the entry check raises anyway.
    t.wait(timeout=5)
    assert t.cancelled


@pytest.mark.parametrize("value", ["1", None, [1], 1j])
def test_check_seconds_rejects_non_numbers(value: object) -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        _parking.check_seconds(value, "timeout")


def test_check_seconds_rejects_nan_and_accepts_integers() -> None:
    with pytest.raises(ValueError, match="NaN"):
        _parking.check_seconds(float("nan"), "timeout")
    assert _parking.check_seconds(True, "timeout") == 1.0
    assert _parking.check_seconds(3, "timeout") == 3.0


def test_stress_handoff_and_cancel_conserve_every_unit() -> None:
    """Takers, givers and a chaos thread cancelling takers at random: at the
    end every unit is accounted for, held by nobody and waited on by nobody."""
    units = 8
    pool = Pool(units)
    held = [0]
    held_lock = threading.Lock()
    rng = random.Random(1234)
    stop = threading.Event()
    duration = float(__import__("os").environ.get("THREADO_STRESS_SECONDS", "1.5"))

    def worker() -> None:
        while True:
            if not pool.take(timeout=rng.choice([None, 0.001, 0.01])):
                continue
            with held_lock:
                held[0] += 1
                assert held[0] <= units
            try:
                threado.sleep(rng.choice([0, 0, 0.0005]))
            finally:
                with held_lock:
                    held[0] -= 1
                pool.give()

    workers = [threado.spawn(worker) for _ in range(12)]
    cancels = 0

    def chaos() -> None:
        nonlocal cancels
        end = clock() + duration
        while clock() < end:
            victim = rng.randrange(len(workers))
            workers[victim].cancel(blocking=False)
            cancels += 1
            workers[victim].wait()
            workers[victim] = threado.spawn(worker)
            threado.sleep(rng.random() * 0.002)
        stop.set()

    c = threado.spawn(chaos)
    c.join()
    for w in workers:
        w.cancel()
    assert cancels > 10
    assert held[0] == 0
    assert pool.waiting() == 0
    assert pool.units == units


def test_an_exception_between_enqueueing_and_waiting_leaves_no_waiter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal can raise after the waiter is queued but before the wait's own
    cleanup is in place: the caller's protection takes it out again."""
    pool = Pool()
    fired = []

    def interrupted(st: Any) -> tuple[object, float]:
        fired.append(True)
        raise KeyboardInterrupt

    monkeypatch.setattr(_parking, "enter_wait", interrupted)

    def take() -> bool:
        st = get_state()
        w = None
        try:
            with pool.mutex:
                w = pool.queue.enqueue_locked(st)
            return pool.queue.wait(st, w, None, pool, pool.give) is not TIMED_OUT
        except BaseException:
            if w is not None:
                pool.queue.abandon(w, pool.give)
            raise

    with pytest.raises(KeyboardInterrupt):
        take()
    assert fired == [True]
    assert pool.waiting() == 0
    pool.give()
    assert pool.units == 1  # not handed to a ghost


def test_a_thread_cancelled_raised_by_a_signal_handler_abandons_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """threado code run by a signal handler can raise ThreadCancelled inside
    another wait; that wait must still leave its queue and pass on its unit."""
    pool = Pool()
    st = get_state()
    real_block = _parking.block

    def handoff_then_handler_raises(state: Any, deadline: float | None) -> bool:
        if state is st:
            pool.give()  # the unit lands on us
            raise threado.ThreadCancelled("from a signal handler")
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", handoff_then_handler_raises)
    with pytest.raises(threado.ThreadCancelled):
        pool.take()
    assert pool.waiting() == 0
    assert pool.units == 1  # passed on, not dropped


def test_a_wait_nested_in_a_signal_handler_does_not_steal_the_outer_wake_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signal handler that waits while its thread is parked can consume the
    wake-up token meant for the outer wait; leaving the inner wait re-arms it."""
    pool = Pool()
    st = get_state()
    real_block = _parking.block
    calls = [0]

    def handler_waits(state: Any, deadline: float | None) -> bool:
        if state is st and calls[0] == 0:
            calls[0] += 1
            with pool.mutex:  # the hand-off for the outer wait, token released...
                w = pool.queue.waiters.popleft()
                w.result = True
            threado._state.unpark(st)
            Latch().wait_until(clock() + 0.01)  # ...and an inner wait eats the token
            return real_block(state, None if deadline is None else deadline)
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", handler_waits)
    # The outer wait was handed its unit: it must return at once, not sleep
    # until the (generous) deadline because its wake-up was eaten.
    start = clock()
    with threado.timeout_after(5):
        assert pool.take() is True
    assert clock() - start < 2.5
