"""threado.Condition: ``threado/_condition.py`` (SPEC §2, §4)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers import in_cancelled_thread, spawn_parked

import threado
from threado import ThreadCancelled, _parking
from threado._state import get_state
from threado.testing import wait_parked

COND_LOCKS: list[Callable[[], Any] | None] = [None, threado.Lock, threado.RLock]


COND_IDS = ["default", "Lock", "RLock"]


# -- the threading interface -----------------------------------------------------------


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_condition_without_the_lock_raises_runtime_error(make_lock: Any) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    for call in (c.notify, c.notify_all, lambda: c.wait(0), lambda: c.wait()):
        with pytest.raises(RuntimeError):
            call()


def test_condition_errors_without_the_lock() -> None:
    cond = threado.Condition(threado.Lock())
    with pytest.raises(RuntimeError):
        cond.wait()
    with pytest.raises(RuntimeError):
        cond.notify()
    with pytest.raises(RuntimeError):
        cond.notify_all()


@pytest.mark.parametrize("timeout", [0, -1])
def test_condition_wait_for_without_the_lock_raises_like_threading(timeout: float) -> None:
    with pytest.raises(RuntimeError):
        threading.Condition().wait_for(lambda: False, timeout)
    with pytest.raises(RuntimeError):
        threado.Condition().wait_for(lambda: False, timeout)


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
@pytest.mark.parametrize("timeout", [0, -1, 0.01])
def test_condition_wait_timeout_returns_false_as_threading(make_lock: Any, timeout: float) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    sc = threading.Condition()
    with c, sc:
        assert c.wait(timeout) is sc.wait(timeout) is False
        assert c.wait_for(lambda: 0, timeout) == sc.wait_for(lambda: 0, timeout) == 0
        assert c.wait_for(lambda: "yes", timeout) == "yes"


def test_condition_wait_for_timeout_returns_the_last_predicate_value() -> None:
    cond = threado.Condition()
    with cond:
        start = time.monotonic()
        assert cond.wait_for(lambda: 0, timeout=0.02) == 0
        assert time.monotonic() - start >= 0.02
        assert cond.wait_for(lambda: "yes", timeout=0) == "yes"


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_condition_notify_returns_true_from_wait_and_reacquires(make_lock: Any) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    results: list[Any] = []

    def waiter() -> None:
        with c:
            results.append(c.wait())
            results.append(c._is_owned())

    t = spawn_parked(waiter)
    with c:
        c.notify()
    t.join()
    assert results == [True, True]


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


def test_condition_notify_n_and_notify_all() -> None:
    c = threado.Condition(threado.Lock())
    woke: list[int] = []

    def waiter(i: int) -> None:
        with c:
            if c.wait(timeout=30):
                woke.append(i)

    ts = [spawn_parked(waiter, i) for i in range(5)]
    with c:
        c.notify(2)
    ts[0].join()
    ts[1].join()
    assert sorted(woke) == [0, 1]
    with c:
        c.notify(0)
        c.notify(-1)
        c.notify_all()
    for t in ts:
        t.join()
    assert sorted(woke) == [0, 1, 2, 3, 4]


def test_condition_wait_for_returns_the_predicate_value() -> None:
    c = threado.Condition()
    box: list[int] = []

    def waiter() -> Any:
        with c:
            return c.wait_for(lambda: box and box[0] * 10)

    t = spawn_parked(waiter)
    with c:
        box.append(4)
        c.notify_all()
    assert t.join() == 40


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


def test_condition_and_event_keep_threadings_aliases() -> None:
    assert hasattr(threading.Condition(), "notifyAll")
    assert hasattr(threado.Condition(), "notifyAll")
    assert hasattr(threado.Event(), "isSet")


# -- cancellation ----------------------------------------------------------------------


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


def test_condition_wait_for_checks_for_cancellation_on_entry() -> None:
    c = threado.Condition()

    def body() -> Any:
        with c:
            return c.wait_for(lambda: True)

    assert in_cancelled_thread(body).cancelled


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


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_cancelled_condition_wait_reacquires_the_lock_before_propagating(
    make_lock: Any,
) -> None:
    lock = make_lock() if make_lock else threado.RLock()
    c = threado.Condition(lock)
    seen: list[bool] = []

    def waiter() -> None:
        with c:
            try:
                c.wait()
            except ThreadCancelled:
                seen.append(c._is_owned())
                raise

    t = spawn_parked(waiter)
    with c:  # hold the lock: the cancelled waiter cannot re-acquire it yet
        t.cancel(blocking=False)
        assert not t.wait(0.05)
    assert t.wait(10)
    assert t.cancelled  # not a RuntimeError from releasing an unheld lock
    assert seen == [True]
    assert not lock.locked()


def test_cancelled_condition_wait_reacquires_its_lock_first() -> None:
    cond = threado.Condition()
    held: list[bool] = []

    def body() -> None:
        with cond:
            try:
                cond.wait()
            except ThreadCancelled:
                held.append(cond._is_owned())
                raise

    t = threado.spawn(body)
    wait_parked(t)
    t.cancel()
    assert held == [True]


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


def test_condition_notify_is_not_lost_when_the_notified_waiter_is_cancelled() -> None:
    c = threado.Condition(threado.Lock())
    returned: list[str] = []

    def waiter(name: str) -> None:
        with c:
            if c.wait():
                returned.append(name)

    a = spawn_parked(waiter, "a")
    b = spawn_parked(waiter, "b")
    with c:
        c.notify()  # goes to a (first waiter)...
        a.cancel(blocking=False)  # ...which is cancelled at the same instant
    a.wait(10)
    # Either a reports the notify (and dies at its next blocking point), or
    # the notify is passed on to b: it is never lost.
    if "a" not in returned:
        assert b.wait(10)
        assert returned == ["b"]
    else:
        b.cancel()
    assert a.wait(0)


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


@pytest.mark.parametrize("make_lock", [threado.Lock, threado.RLock], ids=["Lock", "RLock"])
def test_an_exception_during_the_reacquire_is_raised_with_the_lock_held(make_lock: Any) -> None:
    """A signal handler raising while wait() re-acquires: raised once the lock is held."""
    import signal

    from signals import Once, resend_until

    class Boom(Exception):
        pass

    def boom(_signum: int, _frame: object) -> None:
        raise Boom

    cond = threado.Condition(make_lock())
    handler = Once(boom)
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    main_st = get_state()
    old = signal.signal(signal.SIGUSR1, handler)

    def other() -> None:
        me = get_state()
        with cond:
            cond.notify()
            while main_st.waiting_on is not cond._lock:  # re-acquiring, held by us
                _parking.add_watcher(main_st, me)
                try:
                    if main_st.waiting_on is not cond._lock:
                        _parking.block(me, None)
                finally:
                    _parking.remove_watcher(main_st, me)
            resend_until(lambda: signal.pthread_kill(main, signal.SIGUSR1), handler)

    try:
        owned = None
        with cond:
            t = threado.spawn(other)
            with pytest.raises(Boom):
                try:
                    cond.wait()
                finally:
                    owned = cond._is_owned()
        t.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert owned is True
    assert not cond._lock.locked()


def test_an_interrupt_after_the_reacquire_took_a_lock_does_not_take_it_twice() -> None:
    """An exception that strikes once a Lock's re-acquire has taken it: raised, lock held once."""

    class Boom(Exception):
        pass

    lock = threado.Lock()
    cond = threado.Condition(lock)
    real = cond._acquire_restore
    fired: list[bool] = []

    def take_then_raise(saved: object) -> None:
        real(saved)  # waits for the lock, then takes it
        if not fired:
            fired.append(True)
            raise Boom  # as a signal handler could, after the lock was taken

    cond._acquire_restore = take_then_raise
    outcome: list[object] = []

    def waiter() -> None:
        with cond:
            try:
                cond.wait()
            except Boom:
                outcome.append(("Boom", lock.locked(), cond._is_owned()))

    t = threado.spawn(waiter)
    wait_parked(t)  # in cond.wait
    st = t._state
    with cond:
        cond.notify()
        me = get_state()
        while st.waiting_on is not lock:  # woken, now queued for the lock we hold
            _parking.add_watcher(st, me)
            try:
                if st.waiting_on is not lock:
                    _parking.block(me, None)
            finally:
                _parking.remove_watcher(st, me)
    t.join()  # without the fix: a second acquire of a lock it holds (Deadlock, or a hang)
    assert fired == [True]
    assert outcome == [("Boom", True, True)]
    assert not lock.locked()
