"""The blocking mechanism: wait queues, hand-off versus abandon, latches."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from helpers import Pool

import threado
from threado import _parking
from threado._parking import TIMED_OUT, Latch, WaitQueue
from threado._state import clock, get_state
from threado.testing import wait_parked


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
        t._state.request_cancel("explicit", None, "test")
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


# -- O(1) departures: tombstones ----------------------------------------------------


def _live_in_deque(q: WaitQueue) -> int:
    return sum(1 for w in q.waiters if w.result is not _parking.LEFT)


def test_waiters_cancelled_in_the_middle_leave_tombstones_that_wakers_skip() -> None:
    ev = threado.Event()
    threads = [threado.spawn(ev.wait) for _ in range(40)]
    for t in threads:
        wait_parked(t)
    q = ev._queue
    # Cancel every other waiter but the first and the last: middle departures.
    victims = threads[1:-1:2]
    for t in victims:
        t.cancel()
    with q.mutex:
        assert len(q) == _live_in_deque(q) == 40 - len(victims)
        assert q.waiters[0].result is _parking.PENDING  # the head is never a tombstone
        assert len(q.waiters) <= 2 * len(q) + 17  # compaction bounds the tombstones
    ev.set()
    for t in threads:
        assert t.wait(timeout=10)
    assert all(t.cancelled for t in victims)
    assert all(t.result is True for t in threads if t not in victims)
    with q.mutex:
        assert not q.waiters
        assert q.dead == 0


def test_the_head_leaving_drops_the_tombstones_behind_it() -> None:
    ev = threado.Event()
    threads = [threado.spawn(ev.wait) for _ in range(5)]
    for t in threads:
        wait_parked(t)
    for t in threads[1:4]:  # the middle ones: tombstones
        t.cancel()
    threads[0].cancel()  # the head leaves: the tombstones behind it go too
    with ev._queue.mutex:
        assert [w.state for w in ev._queue.waiters] == [threads[4]._state]
        assert ev._queue.dead == 0
    threads[4].cancel()
    with ev._queue.mutex:
        assert not ev._queue.waiters


def test_an_item_put_after_middle_getters_left_reaches_a_live_getter() -> None:
    q: threado.Queue[int] = threado.Queue()
    getters = [threado.spawn(q.get) for _ in range(6)]
    for t in getters:
        wait_parked(t)
    for t in getters[:5]:
        t.cancel()  # the head and then each new head: and the middle on the way
    q.put(7)
    assert getters[5].join() == 7
    assert q.qsize() == 0


def test_a_departure_never_scans_the_queue() -> None:
    """Leaving is O(1): no waiter is compared with another (a deque.remove
    would compare it with every waiter ahead of it), whatever the position."""
    compares = [0]

    class Counting(_parking.Waiter):
        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            compares[0] += 1
            return self is other

        __hash__ = object.__hash__

    q = WaitQueue(threading.Lock())
    st = get_state()
    ws = [Counting(st) for _ in range(1000)]
    with q.mutex:
        q.waiters.extend(ws)
        order = list(range(1, 999))
        random.Random(0).shuffle(order)
        for i in order:  # middle departures, in random order
            q.leave_locked(ws[i])
        assert len(q) == 2
        q.leave_locked(ws[0])  # the head: every tombstone behind it goes too
        assert list(q.waiters) == [ws[999]]
        assert q.dead == 0
        q.leave_locked(ws[999])
        assert not q.waiters
    assert compares[0] == 0
