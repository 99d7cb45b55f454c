"""threado.Event and threado.Barrier: ``threado/_events.py`` (SPEC §2, §4)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from helpers import in_cancelled_thread, spawn_parked

import threado
from threado.testing import wait_parked

BBE = threading.BrokenBarrierError


# -- Event -----------------------------------------------------------------------------


def test_event_api_matches_threading() -> None:
    def script(e: Any) -> list[Any]:
        out = [e.is_set(), e.wait(0), e.wait(-1), e.wait(0.01)]
        e.set()
        out += [e.is_set(), e.wait(), e.wait(0), e.wait(-1)]
        e.clear()
        out += [e.is_set(), e.wait(0)]
        return out

    assert script(threado.Event()) == script(threading.Event())


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


def test_event_set_wakes_every_waiter_with_true() -> None:
    e = threado.Event()
    ts = [spawn_parked(e.wait) for _ in range(3)]
    e.set()
    assert [t.join() for t in ts] == [True, True, True]


def test_event_wait_is_cancellable() -> None:
    e = threado.Event()
    t = spawn_parked(e.wait)
    assert t.cancel(timeout=10)
    assert t.cancelled

    def set_then_wait() -> bool:
        e.set()
        return e.wait()

    assert in_cancelled_thread(set_then_wait).cancelled  # set: still a blocking point


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


# -- Barrier ---------------------------------------------------------------------------


def test_barrier_properties_and_indexes() -> None:
    b = threado.Barrier(3)
    assert (b.parties, b.n_waiting, b.broken) == (3, 0, False)
    ts = [spawn_parked(b.wait) for _ in range(2)]
    assert b.n_waiting == 2
    idx = b.wait()
    assert sorted([idx] + [t.join() for t in ts]) == [0, 1, 2]
    assert b.n_waiting == 0


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


def test_barrier_action_runs_once_per_generation() -> None:
    calls: list[int] = []
    b = threado.Barrier(2, action=lambda: calls.append(1))
    t = spawn_parked(b.wait)
    b.wait()
    t.join()
    assert calls == [1]


def test_barrier_timeout_breaks_it_as_threading() -> None:
    for mod in (threading, threado):
        b = mod.Barrier(2)
        with pytest.raises(BBE):
            b.wait(0.01)
        assert b.broken
        assert b.n_waiting == 0
        with pytest.raises(BBE):
            b.wait(0.01)
        b.reset()
        assert not b.broken
        b2 = mod.Barrier(2, timeout=0.01)
        with pytest.raises(BBE):
            b2.wait()
        with pytest.raises(BBE):
            mod.Barrier(2).wait(0)


def test_barrier_abort_and_reset_wake_waiters_with_broken_barrier_error() -> None:
    b = threado.Barrier(2)
    t = spawn_parked(b.wait)
    b.abort()
    t.wait(10)
    assert isinstance(t.exception, BBE)
    assert b.broken
    b.reset()
    assert not b.broken
    t = spawn_parked(b.wait)
    b.reset()
    assert isinstance(t.wait(10) and t.exception, BBE)
    assert not b.broken
    t = spawn_parked(b.wait)
    assert b.wait() in (0, 1)
    assert t.join() in (0, 1)


def test_barrier_failing_action_breaks_it() -> None:
    def action() -> None:
        raise ZeroDivisionError

    b = threado.Barrier(2, action=action)
    t = spawn_parked(b.wait)
    with pytest.raises(ZeroDivisionError):
        b.wait()
    t.wait(10)
    assert isinstance(t.exception, BBE)
    assert b.broken


def test_barrier_raises_threadings_broken_barrier_error_class() -> None:
    b = threado.Barrier(2)
    b.abort()
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()


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


def test_barrier_cancelled_waiter_breaks_it_for_the_others() -> None:
    b = threado.Barrier(3)
    a = spawn_parked(b.wait)
    c = spawn_parked(b.wait)
    assert a.cancel(timeout=10)
    assert a.cancelled
    with pytest.raises(threado.ThreadError) as info:
        c.join(timeout=10)
    assert isinstance(info.value.__cause__, BBE)
    assert b.broken
    with pytest.raises(BBE):
        b.wait()


def test_barrier_waiter_cancelled_on_entry_breaks_it_for_the_others() -> None:
    b = threado.Barrier(2)
    other = spawn_parked(b.wait)
    t = in_cancelled_thread(b.wait)
    assert t.cancelled
    try:
        assert b.broken
        assert other.wait(10)
        assert isinstance(other.exception, BBE)
    finally:
        other.cancel()


def test_barrier_cancelled_on_entry_breaks_it_for_the_others() -> None:
    b = threado.Barrier(2)

    def waiter() -> None:
        b.wait()

    t = threado.spawn(waiter)
    wait_parked(t)
    me = threado.current_thread()
    me._state.request_cancel("explicit", None, "test")
    try:
        with pytest.raises(threado.ThreadCancelled):
            b.wait()
    finally:
        me._state.cancel = None  # only for this test: undo the level-triggered cancel
    with pytest.raises(threado.ThreadError) as info:
        t.join(timeout=10)
    assert isinstance(info.value.__cause__, threading.BrokenBarrierError)


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
