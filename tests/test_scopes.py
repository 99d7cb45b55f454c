"""Timeouts, shields, checkpoints and sleep (SPEC §2-3)."""

from __future__ import annotations

import math
import threading
import time

import pytest

import threado
from threado import CancelReason, ThreadCancelled, ThreadTimeout
from threado._state import get_state
from threado.testing import wait_parked

# Real-time bounds: a lower bound proves the wait happened; the upper bound is
# generous because CI machines are shared and can stall a thread for a while.
SLACK = 2.0


def test_timeout_after_raises_thread_timeout_from_the_cancellation() -> None:
    with pytest.raises(ThreadTimeout) as info, threado.timeout_after(0.01) as scope:
        threado.sleep(10)
    assert isinstance(info.value, TimeoutError)
    cause = info.value.__cause__
    assert isinstance(cause, ThreadCancelled)
    assert cause.reason is CancelReason.DEADLINE
    assert cause.source is scope
    assert scope.expired


def test_except_exception_inside_the_block_does_not_swallow_the_expiry() -> None:
    swallowed = []
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.01):
        try:
            threado.sleep(10)
        except Exception as exc:
            swallowed.append(exc)
    assert swallowed == []


def test_timeout_that_does_not_expire_changes_nothing() -> None:
    with threado.timeout_after(10) as scope:
        threado.sleep(0.001)
    assert not scope.expired
    assert threado.current_deadline() == math.inf


def test_ignore_after_ends_the_block_quietly() -> None:
    reached = []
    with threado.ignore_after(0.01) as scope:
        threado.sleep(10)
        reached.append(True)  # pragma: no cover
    assert scope.expired
    assert reached == []


def test_call_forms() -> None:
    assert threado.timeout_after(5, pow, 2, 10) == 1024
    assert threado.ignore_after(5, pow, 2, 3) == 8
    assert threado.ignore_after(0.01, threado.sleep, 10) is None
    with pytest.raises(ThreadTimeout):
        threado.timeout_after(0.01, threado.sleep, 10)
    now = threado.clock()
    assert threado.timeout_at(now + 5, pow, 3, 2) == 9
    assert threado.ignore_at(now - 1, threado.sleep, 10) is None
    with pytest.raises(ThreadTimeout):
        threado.timeout_at(now - 1, threado.sleep, 10)


def test_call_form_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        threado.timeout_after(1, 42)  # type: ignore[call-overload]


def test_absolute_deadlines() -> None:
    start = threado.clock()
    with threado.ignore_at(start + 0.02) as scope:
        threado.sleep(10)
    elapsed = threado.clock() - start
    assert scope.expired
    assert 0.02 <= elapsed < 0.02 + SLACK
    with threado.timeout_at(start + 100) as scope:
        assert threado.current_deadline() == start + 100
    assert scope.deadline == start + 100


def test_none_means_no_timeout() -> None:
    with threado.timeout_after(None) as scope, threado.timeout_at(None):
        assert threado.current_deadline() == math.inf
        threado.sleep(0)
    assert scope.deadline is None
    assert not scope.expired


@pytest.mark.parametrize("seconds", [0, -1, -math.inf])
def test_zero_or_negative_expires_at_the_first_blocking_point(seconds: float) -> None:
    ran = []
    with threado.ignore_after(seconds) as scope:
        ran.append("before")  # code before the first blocking point runs
        threado.checkpoint()
        ran.append("after")  # pragma: no cover
    assert ran == ["before"]
    assert scope.expired


@pytest.mark.parametrize(
    ("bad", "error"), [(math.nan, ValueError), ("1", TypeError), ([], TypeError)]
)
def test_bad_timeouts_fail_at_once(bad: object, error: type[Exception]) -> None:
    for make in (
        threado.timeout_after,
        threado.ignore_after,
        threado.timeout_at,
        threado.ignore_at,
    ):
        with pytest.raises(error):
            make(bad)  # type: ignore[arg-type]


def test_outer_expiry_passes_through_the_inner_block() -> None:
    inner_caught = []
    with pytest.raises(ThreadTimeout) as info, threado.timeout_after(0.02) as outer:
        try:
            with threado.timeout_after(10) as inner:
                threado.sleep(10)
        except ThreadTimeout as exc:  # must not catch the outer's expiry
            inner_caught.append(exc)  # pragma: no cover
    assert inner_caught == []
    assert outer.expired
    assert not inner.expired
    assert info.value.__cause__.source is outer  # type: ignore[union-attr]


def test_inner_expiry_is_the_inner_blocks_own() -> None:
    with threado.timeout_after(10) as outer:
        with pytest.raises(ThreadTimeout), threado.timeout_after(0.01) as inner:
            threado.sleep(10)
        threado.sleep(0)  # the outer block goes on normally
    assert inner.expired
    assert not outer.expired


def test_when_both_expired_the_outer_block_wins() -> None:
    with pytest.raises(ThreadTimeout) as info, threado.timeout_after(0.01) as outer:
        with threado.timeout_after(0.01) as inner:
            time.sleep(0.03)  # both deadlines pass while nothing blocks
            threado.checkpoint()
    assert info.value.__cause__.source is outer  # type: ignore[union-attr]
    assert not inner.expired


def test_three_deep_middle_expires() -> None:
    with threado.timeout_after(10) as outer:
        with pytest.raises(ThreadTimeout), threado.timeout_after(0.02) as middle:
            with threado.timeout_after(10) as inner:
                threado.sleep(10)
        threado.sleep(0)
    assert (outer.expired, middle.expired, inner.expired) == (False, True, False)


def test_ignore_inside_timeout_both_ways() -> None:
    # Outer ignore expires: the inner timeout block does not turn it into
    # ThreadTimeout; the outer swallows it.
    with threado.ignore_after(0.01) as outer, threado.timeout_after(10):
        threado.sleep(10)
    assert outer.expired
    # Inner ignore expires: the outer timeout block sees nothing.
    with threado.timeout_after(10) as outer2:
        with threado.ignore_after(0.01) as inner2:
            threado.sleep(10)
        assert inner2.expired
    assert not outer2.expired


def test_expiry_is_level_triggered() -> None:
    caught = 0
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.01):
        for _ in range(3):
            try:
                threado.sleep(10)
            except ThreadCancelled:
                caught += 1
        threado.checkpoint()
    assert caught == 3


def test_current_deadline_is_the_earliest_visible_one() -> None:
    assert threado.current_deadline() == math.inf
    with threado.timeout_after(100) as a:
        assert threado.current_deadline() == a.deadline
        with threado.timeout_after(50) as b:
            assert threado.current_deadline() == b.deadline
            with threado.timeout_after(200):
                assert threado.current_deadline() == b.deadline
            with threado.shield():
                assert threado.current_deadline() == math.inf
                with threado.timeout_after(300) as c:
                    assert threado.current_deadline() == c.deadline
        assert threado.current_deadline() == a.deadline
    assert threado.current_deadline() == math.inf


def test_cancel_requested() -> None:
    assert not threado.cancel_requested()
    with threado.ignore_after(-1):
        assert threado.cancel_requested()
        with threado.shield():
            assert not threado.cancel_requested()
    assert not threado.cancel_requested()


def test_shield_holds_a_timeout_back_until_after_the_block() -> None:
    log = []
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.01):
        with threado.shield():
            threado.sleep(0.03)  # the deadline passes in here, unseen
            log.append("shielded sleep done")
        log.append("after shield")
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover
    assert log == ["shielded sleep done", "after shield"]


def test_timeout_inside_a_shield_works() -> None:
    with threado.shield(), threado.ignore_after(0.01) as scope:
        threado.sleep(10)
    assert scope.expired


def test_shield_holds_a_thread_cancel_back() -> None:
    log: list[str] = []
    inside = threading.Event()

    def worker() -> None:
        with threado.shield():
            inside.set()
            threado.sleep(0.05)  # the cancel arrives during this sleep
            log.append("cleanup finished")
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover

    t = threado.spawn(worker)
    wait_parked(t)
    assert inside.is_set()
    assert t.cancel(timeout=5)
    assert t.cancelled
    assert log == ["cleanup finished"]


def test_checkpoint_and_sleep_zero_raise_when_cancelled() -> None:
    for point in (threado.checkpoint, lambda: threado.sleep(0)):
        gate = threading.Event()
        passed = []

        def worker(point=point, gate=gate, passed=passed) -> None:  # type: ignore[no-untyped-def]
            gate.wait()
            point()
            passed.append(True)  # pragma: no cover

        t = threado.spawn(worker)
        t.cancel(blocking=False)
        gate.set()
        t.wait(timeout=5)
        assert t.cancelled
        assert passed == []


def test_sleep_sleeps() -> None:
    start = time.monotonic()
    threado.sleep(0.02)
    assert 0.02 <= time.monotonic() - start < 0.02 + SLACK


@pytest.mark.parametrize(
    ("bad", "error"),
    [(-1, ValueError), (-0.001, ValueError), (math.nan, ValueError), ("1", TypeError)],
)
def test_sleep_rejects_bad_durations(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        threado.sleep(bad)  # type: ignore[arg-type]


def test_sleep_forever_until_cancelled() -> None:
    t = threado.spawn(threado.sleep, math.inf)
    wait_parked(t)
    assert t.cancel(timeout=5)
    assert t.cancelled


def test_timeouts_work_in_a_plain_threading_thread() -> None:
    result: list[object] = []

    def plain() -> None:
        try:
            with threado.timeout_after(0.01):
                threado.sleep(10)
        except ThreadTimeout as exc:
            result.append(exc)

    t = threading.Thread(target=plain)
    t.start()
    t.join(timeout=10)
    assert len(result) == 1


def test_spawned_threads_do_not_inherit_timeouts_or_shields() -> None:
    with threado.timeout_after(0.5), threado.shield():
        t = threado.spawn(threado.current_deadline)
        assert t.join() == math.inf
    with threado.shield():
        t2 = threado.spawn(threado.sleep, math.inf)
        wait_parked(t2)
        assert t2.cancel(timeout=5)  # the spawner's shield does not cover it


def test_misnested_exit_is_an_error() -> None:
    a = threado.timeout_after(10)
    b = threado.timeout_after(10)
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="reverse order"):
        a.__exit__(None, None, None)
    # The thread is not poisoned: a and everything after it were popped.
    assert threado.current_deadline() == math.inf
    assert get_state().scopes == []
    with pytest.raises(RuntimeError, match="reverse order"):
        b.__exit__(None, None, None)  # already gone
    s = threado.shield()
    s.__enter__()
    c = threado.timeout_after(10)
    c.__enter__()
    with pytest.raises(RuntimeError):
        s.__exit__(None, None, None)
    t = threado.spawn(threado.sleep, 60)
    wait_parked(t)
    assert t.cancel(timeout=5)  # cancellation works again
    assert get_state().visible_from == 0


def test_a_scope_cannot_be_entered_twice() -> None:
    scope = threado.timeout_after(10)
    with scope:
        pass
    with pytest.raises(RuntimeError, match="twice"), scope:
        pass  # pragma: no cover
    s = threado.shield()
    with s:
        pass
    with pytest.raises(RuntimeError, match="twice"), s:
        pass  # pragma: no cover


def test_a_scope_must_be_left_in_its_own_thread() -> None:
    scope = threado.timeout_after(10)
    scope.__enter__()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            scope.__exit__(None, None, None)
        except RuntimeError as exc:
            errors.append(exc)

    threado.spawn(other).join()
    scope.__exit__(None, None, None)
    assert len(errors) == 1


def test_explicit_cancel_beats_an_expired_timeout() -> None:
    def worker() -> None:
        with threado.timeout_after(0.01):
            time.sleep(0.03)  # deadline passes; meanwhile we get cancelled
            threado.checkpoint()

    gate = threading.Event()

    def gated() -> None:
        gate.wait()
        worker()

    t = threado.spawn(gated)
    t.cancel(blocking=False)
    gate.set()
    t.wait(timeout=5)
    assert t.cancelled
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.EXPLICIT


def test_cancel_racing_a_timeout_ends_the_thread_either_way() -> None:
    """Cancel and deadline land at about the same time, many times: the
    thread always ends, by one or the other, and its cleanup runs once."""
    for i in range(50):
        cleanups = []

        def worker(cleanups: list[int] = cleanups, limit: float = 0.001 * (i % 3)) -> None:
            try:
                with threado.timeout_after(limit):
                    threado.sleep(10)
            finally:
                cleanups.append(1)

        t = threado.spawn(worker)
        t.cancel(timeout=5)
        assert t.done()
        assert cleanups == [1]
        exc = t.exception
        assert isinstance(exc, ThreadCancelled | ThreadTimeout)
