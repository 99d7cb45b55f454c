"""Timeouts, shields, checkpoints and sleep: ``threado/_scopes.py`` (SPEC §2-3).

Also the contract that every blocking point checks for cancellation on entry,
for each blocking call of the library.
"""

from __future__ import annotations

import math
import threading
import time
import typing
from decimal import Decimal

import pytest
from helpers import SLACK, forever, self_cancelled, spawn_parked

import threado
from threado import CancelReason, ThreadCancelled, ThreadTimeout
from threado._state import get_state
from threado.testing import wait_parked

# -- timeout_after, ignore_after, timeout_at, ignore_at --------------------------------


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


def test_timeout_after_context_manager() -> None:
    inside: list[BaseException] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.01):
            try:
                threado.sleep(60)
            except Exception:  # pragma: no cover - must not swallow it
                inside.append(Exception())
            except BaseException as e:
                inside.append(e)
                raise
    assert isinstance(inside[0], ThreadCancelled)
    assert isinstance(info.value, TimeoutError)
    assert issubclass(ThreadTimeout, TimeoutError)


def test_timeout_after_not_expired_changes_nothing() -> None:
    with threado.timeout_after(60) as s:
        threado.sleep(0)
    assert s.expired is False


def test_ignore_after_context_manager_and_expired() -> None:
    with threado.ignore_after(0.01) as s:
        threado.sleep(60)
        pytest.fail("not reached")  # pragma: no cover
    assert s.expired is True
    with threado.ignore_after(60) as s2:
        threado.sleep(0)
    assert s2.expired is False


def test_thread_cancelled_reason_deadline_and_block_raises_thread_timeout() -> None:
    caught: list[ThreadCancelled] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.01) as scope:
            try:
                threado.sleep(60)
            except ThreadCancelled as exc:
                caught.append(exc)
                raise
    assert caught[0].reason is CancelReason.DEADLINE
    assert caught[0].source is scope
    assert info.value.__cause__ is caught[0]


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


def test_timeout_after_call_form() -> None:
    assert threado.timeout_after(60, pow, 2, 4) == 16
    with pytest.raises(ThreadTimeout):
        threado.timeout_after(0.01, threado.sleep, 60)


def test_ignore_after_call_form() -> None:
    assert threado.ignore_after(0.01, threado.sleep, 60) is None
    assert threado.ignore_after(60, pow, 3, 2) == 9


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


def test_timeout_at_and_ignore_at_take_absolute_clock_values() -> None:
    assert threado.clock() == pytest.approx(time.monotonic(), abs=1.0)
    start = threado.clock()
    with pytest.raises(ThreadTimeout):
        with threado.timeout_at(start + 0.02):
            threado.sleep(60)
    assert threado.clock() >= start + 0.02
    with threado.ignore_at(threado.clock() + 0.01) as s:
        threado.sleep(60)
    assert s.expired
    assert threado.timeout_at(threado.clock() + 60, pow, 2, 3) == 8
    assert threado.ignore_at(threado.clock() + 60, pow, 2, 3) == 8
    assert threado.ignore_at(threado.clock() + 0.01, threado.sleep, 60) is None
    with pytest.raises(ThreadTimeout):
        threado.timeout_at(threado.clock() + 0.01, threado.sleep, 60)


def test_none_means_no_timeout() -> None:
    with threado.timeout_after(None) as scope, threado.timeout_at(None):
        assert threado.current_deadline() == math.inf
        threado.sleep(0)
    assert scope.deadline is None
    assert not scope.expired


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
def test_none_means_no_timeout_in_every_form(fn: str) -> None:
    f = getattr(threado, fn)
    with f(None) as s:
        assert threado.current_deadline() == math.inf
        threado.sleep(0.001)
    assert s.expired is False
    assert f(None, pow, 2, 2) == 4


@pytest.mark.parametrize("seconds", [0, -1, -math.inf])
def test_zero_or_negative_expires_at_the_first_blocking_point(seconds: float) -> None:
    ran = []
    with threado.ignore_after(seconds) as scope:
        ran.append("before")  # code before the first blocking point runs
        threado.checkpoint()
        ran.append("after")  # pragma: no cover
    assert ran == ["before"]
    assert scope.expired


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
@pytest.mark.parametrize("value", [0, -1, -0.5, 0.0, -math.inf])
def test_zero_or_negative_expires_at_the_first_blocking_point_in_every_form(
    fn: str, value: float
) -> None:
    f = getattr(threado, fn)
    if fn.endswith("_at"):
        value = value if value == -math.inf else threado.clock() + value
    log: list[str] = []
    raised: BaseException | None = None
    try:
        with f(value) as s:
            log.append("body runs")
            threado.sleep(60)
            log.append("not reached")  # pragma: no cover
    except ThreadTimeout as e:
        raised = e
    assert log == ["body runs"]
    assert s.expired
    assert (raised is not None) == fn.startswith("timeout")


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
            make(bad)  # type: ignore[call-overload]


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
@pytest.mark.parametrize(
    ("bad", "error"),
    [(math.nan, ValueError), ("1", TypeError), (object(), TypeError), (Decimal(1), TypeError)],
    ids=["nan", "str", "object", "decimal"],
)
def test_nan_or_non_number_raises(fn: str, bad: object, error: type[Exception]) -> None:
    f = getattr(threado, fn)
    with pytest.raises(error):
        with f(bad):
            pass
    with pytest.raises(error):
        f(bad, pow, 2, 2)


def test_a_timeout_costs_no_thread() -> None:
    before = threading.active_count()
    with threado.ignore_after(0.05):
        assert threading.active_count() == before
        threado.Event().wait()
    assert threading.active_count() == before


def test_timeout_after_counts_from_entering_the_block() -> None:
    cm = threado.timeout_after(0.05)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass  # the scope object exists, but no block has started yet
    with cm:
        threado.sleep(0.001)  # well within 0.05 s of entering
    assert not cm.expired


# -- nested blocks ---------------------------------------------------------------------


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


def test_nested_outer_expiry_passes_through_inner_as_outer_timeout() -> None:
    caught_inner: list[BaseException] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.02) as outer:
            try:
                with threado.timeout_after(60) as inner:
                    threado.sleep(60)
            except ThreadTimeout as e:  # pragma: no cover - must not catch it
                caught_inner.append(e)
    assert caught_inner == []
    assert outer.expired
    assert not inner.expired
    cause = info.value.__cause__
    assert isinstance(cause, ThreadCancelled)
    assert cause.source is outer


def test_nested_outer_expiry_is_not_swallowed_by_an_inner_ignore() -> None:
    with threado.ignore_after(0.02) as outer:
        with threado.ignore_after(60) as inner:
            threado.sleep(60)
        pytest.fail("not reached")  # pragma: no cover
    assert outer.expired
    assert not inner.expired


def test_inner_expiry_is_the_inner_blocks_own() -> None:
    with threado.timeout_after(10) as outer:
        with pytest.raises(ThreadTimeout), threado.timeout_after(0.01) as inner:
            threado.sleep(10)
        threado.sleep(0)  # the outer block goes on normally
    assert inner.expired
    assert not outer.expired


def test_nested_inner_expiry_is_reported_by_the_inner_block_only() -> None:
    with threado.timeout_after(60) as outer:
        with pytest.raises(ThreadTimeout):
            with threado.timeout_after(0.01) as inner:
                threado.sleep(60)
        threado.sleep(0)
    assert inner.expired
    assert not outer.expired


def test_when_both_expired_the_outer_block_wins() -> None:
    with pytest.raises(ThreadTimeout) as info, threado.timeout_after(0.01) as outer:
        with threado.timeout_after(0.01) as inner:
            time.sleep(0.03)  # both deadlines pass while nothing blocks
            threado.checkpoint()
    assert info.value.__cause__.source is outer  # type: ignore[union-attr]
    assert not inner.expired


def test_outer_deadline_passing_during_inner_with_earlier_inner_deadline() -> None:
    # Both deadlines pass before the first blocking point: the outer one was
    # passing while the inner block ran, so the inner block must not raise.
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.02) as outer:
            with threado.timeout_after(0.01) as inner:
                end = threado.clock() + 0.03
                while threado.clock() < end:
                    pass
                threado.checkpoint()
    assert outer.expired
    assert not inner.expired
    assert info.value.__cause__.source is outer  # type: ignore[union-attr]


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


def test_explicit_cancel_passes_through_a_timeout_block_unchanged() -> None:
    def body() -> None:
        with threado.timeout_after(60):
            threado.sleep(60)

    t = threado.spawn(body)
    wait_parked(t)
    t.cancel()
    assert t.cancelled
    assert t.exception.reason is CancelReason.EXPLICIT  # type: ignore[union-attr]


# -- current_deadline and cancel_requested ---------------------------------------------


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


def test_current_deadline() -> None:
    assert threado.current_deadline() == math.inf
    before = threado.clock()
    with threado.timeout_after(100):
        d1 = threado.current_deadline()
        assert before + 100 <= d1 <= threado.clock() + 100
        with threado.timeout_after(1000):
            assert threado.current_deadline() == d1  # the earliest
        with threado.timeout_at(before + 10):
            assert threado.current_deadline() == before + 10
        with threado.timeout_after(None):
            assert threado.current_deadline() == d1
        assert threado.current_deadline() == d1
    assert threado.current_deadline() == math.inf


def test_current_deadline_in_a_plain_thread() -> None:
    out: list[float] = []

    def plain() -> None:
        out.append(threado.current_deadline())
        with threado.timeout_at(12345.0):
            out.append(threado.current_deadline())

    pt = threading.Thread(target=plain)
    pt.start()
    pt.join()
    assert out == [math.inf, 12345.0]


def test_cancel_requested() -> None:
    assert not threado.cancel_requested()
    with threado.ignore_after(-1):
        assert threado.cancel_requested()
        with threado.shield():
            assert not threado.cancel_requested()
    assert not threado.cancel_requested()


def test_cancel_requested_sees_a_thread_cancel_held_back_by_a_shield() -> None:
    assert threado.cancel_requested() is False
    with threado.timeout_after(0):
        assert threado.cancel_requested() is True
        with threado.shield():
            assert threado.cancel_requested() is False
    assert threado.cancel_requested() is False

    def body() -> list[bool]:
        out = [threado.cancel_requested()]
        threado.current_thread().cancel()
        out.append(threado.cancel_requested())
        with threado.shield():
            out.append(threado.cancel_requested())
        out.append(threado.cancel_requested())
        return out

    assert threado.spawn(body).join() == [False, True, False, True]


# -- shield ----------------------------------------------------------------------------


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


def test_shield_holds_back_an_enclosing_timeout_and_inner_timeouts_still_work() -> None:
    log: list[str] = []
    with pytest.raises(ThreadTimeout):
        with threado.timeout_after(0.01):
            with threado.shield():
                threado.sleep(0.05)  # outlives the outer deadline
                log.append("slept in shield")
                assert threado.current_deadline() == math.inf
                with threado.timeout_after(0.01) as inner:
                    with pytest.raises(ThreadCancelled):
                        threado.sleep(60)
                # (ThreadTimeout was raised by inner and caught below)
            log.append("after shield")
            threado.checkpoint()
    assert log == ["slept in shield", "after shield"]
    assert inner.expired is False  # ThreadCancelled was caught inside; no ThreadTimeout


def test_timeout_inside_a_shield_works() -> None:
    with threado.shield(), threado.ignore_after(0.01) as scope:
        threado.sleep(10)
    assert scope.expired


def test_timeout_opened_inside_a_shield_raises_thread_timeout() -> None:
    with threado.shield():
        with pytest.raises(ThreadTimeout):
            with threado.timeout_after(0.01):
                threado.sleep(60)


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


def test_shield_holds_back_thread_cancellation_until_the_first_blocking_point_after() -> None:
    log: list[str] = []
    gate = threado.Event()

    def body() -> None:
        with threado.shield():
            gate.wait()  # not interrupted by the cancel
            log.append("shielded wait done")
            assert threado.cancel_requested() is False
            threado.checkpoint()
            log.append("checkpoint in shield passed")
        log.append("after shield")
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel(timeout=0.05) is False  # held back
    gate.set()
    assert t.wait(timeout=10)
    assert log == ["shielded wait done", "checkpoint in shield passed", "after shield"]
    assert t.cancelled


# -- checkpoint, sleep, and the check on entry of every blocking point -----------------


def test_checkpoint_and_sleep_zero_raise_when_cancelled() -> None:
    for point in (threado.checkpoint, lambda: threado.sleep(0)):
        gate = threading.Event()
        passed: list[bool] = []

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


def test_checkpoint_raises_when_cancelled_and_not_otherwise() -> None:
    threado.checkpoint()  # nothing pending: returns
    exc = self_cancelled(threado.checkpoint)
    assert isinstance(exc, ThreadCancelled)


def test_checkpoint_in_a_cpu_loop() -> None:
    ready = threading.Event()
    n = 0

    def loop() -> None:
        nonlocal n
        ready.set()
        while True:
            n += 1
            threado.checkpoint()

    t = threado.spawn(loop)
    assert ready.wait(10)
    assert t.cancel(timeout=10) is True
    assert t.cancelled
    assert n > 0


def test_sleep_sleeps() -> None:
    start = time.monotonic()
    threado.sleep(0.02)
    assert 0.02 <= time.monotonic() - start < 0.02 + SLACK


def test_sleep_is_a_blocking_point_and_sleep_zero_a_checkpoint() -> None:
    assert isinstance(self_cancelled(lambda: threado.sleep(0)), ThreadCancelled)
    assert isinstance(self_cancelled(lambda: threado.sleep(0.001)), ThreadCancelled)
    threado.sleep(0)
    start = time.monotonic()
    threado.sleep(0.02)
    assert time.monotonic() - start >= 0.02


@pytest.mark.parametrize(
    ("bad", "error"),
    [(-1, ValueError), (-0.001, ValueError), (math.nan, ValueError), ("1", TypeError)],
)
def test_sleep_rejects_bad_durations(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        threado.sleep(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [-1, -0.5, math.nan, "1", None, Decimal("0.1"), 1j, object()],
    ids=["neg-int", "neg-float", "nan", "str", "none", "decimal", "complex", "object"],
)
def test_sleep_rejects_bad_durations_as_time_sleep_does(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)) as expected:
        time.sleep(bad)  # type: ignore[arg-type]
    with pytest.raises(expected.type):
        threado.sleep(bad)  # type: ignore[arg-type]


def test_sleep_accepts_what_time_sleep_accepts() -> None:
    class Idx:
        def __index__(self) -> int:
            return 0

    for ok in (0, 0.0, False, Idx()):
        time.sleep(ok)
        threado.sleep(ok)  # type: ignore[arg-type]


def test_sleep_forever_until_cancelled() -> None:
    t = threado.spawn(threado.sleep, math.inf)
    wait_parked(t)
    assert t.cancel(timeout=5)
    assert t.cancelled


def _entry_checks() -> dict[str, typing.Callable[[], object]]:
    def q_get() -> object:
        q: threado.Queue[int] = threado.Queue()
        q.put_nowait(1)
        try:
            return q.get()
        finally:
            assert q.qsize() == 1  # consumed nothing

    def q_put() -> None:
        q: threado.Queue[int] = threado.Queue(maxsize=5)
        try:
            q.put(1)
        finally:
            assert q.qsize() == 0

    def sq_get() -> object:
        q: threado.SimpleQueue[int] = threado.SimpleQueue()
        q.put(1)
        try:
            return q.get()
        finally:
            assert q.qsize() == 1

    def event_wait() -> object:
        e = threado.Event()
        e.set()
        return e.wait()

    def sem_acquire() -> object:
        s = threado.Semaphore(1)
        try:
            return s.acquire()
        finally:
            assert s.value == 1

    def bsem_acquire() -> object:
        s = threado.BoundedSemaphore(1)
        return s.acquire()

    def cond_wait_for() -> object:
        c = threado.Condition()
        with c:
            return c.wait_for(lambda: True)

    def cond_wait() -> object:
        c = threado.Condition()
        with c:
            return c.wait(timeout=0)

    def barrier_one() -> object:
        return threado.Barrier(1).wait()

    def join_finished() -> object:
        t = threado.spawn(lambda: None)
        with threado.shield():
            t.wait()
        return t.join()

    def wait_finished() -> object:
        t = threado.spawn(lambda: None)
        with threado.shield():
            t.wait()
        return t.wait()

    def queue_join() -> None:
        threado.Queue().join()

    def sleep_zero() -> None:
        threado.sleep(0)

    def timed_get() -> object:
        q: threado.Queue[int] = threado.Queue()
        q.put_nowait(1)
        return q.get(timeout=0)

    def timed_event() -> object:
        e = threado.Event()
        e.set()
        return e.wait(timeout=0)

    return {
        f.__name__: f
        for f in (
            q_get,
            q_put,
            sq_get,
            event_wait,
            sem_acquire,
            bsem_acquire,
            cond_wait_for,
            cond_wait,
            barrier_one,
            join_finished,
            wait_finished,
            queue_join,
            sleep_zero,
            timed_get,
            timed_event,
        )
    }


@pytest.mark.parametrize("name", list(_entry_checks()))
def test_every_blocking_point_checks_on_entry_even_without_waiting(name: str) -> None:
    func = _entry_checks()[name]
    assert isinstance(self_cancelled(func), ThreadCancelled)


def test_blocking_point_in_an_expired_timeout_checks_on_entry() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put_nowait(1)
    with threado.ignore_after(0) as s:
        q.get()
    assert s.expired
    assert q.qsize() == 1


# -- other threads ---------------------------------------------------------------------


def test_timeouts_work_in_the_main_thread() -> None:
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(ThreadTimeout):
        threado.timeout_after(0.01, threado.Event().wait)


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


def test_timeout_and_ignore_blocks_work_in_a_plain_threading_thread() -> None:
    out: list[object] = []

    def plain() -> None:
        try:
            with threado.timeout_after(0.01):
                threado.Queue().get()
        except ThreadTimeout:
            out.append("timeout")
        with threado.ignore_after(0.01) as s:
            threado.sleep(60)
        out.append(s.expired)

    pt = threading.Thread(target=plain)
    pt.start()
    pt.join(timeout=SLACK)
    assert out == ["timeout", True]


def test_timeouts_work_in_a_spawned_thread() -> None:
    def body() -> str:
        try:
            with threado.timeout_after(0.01):
                threado.Lock().acquire()
                threado.sleep(60)
        except ThreadTimeout:
            return "timeout"
        return "no"  # pragma: no cover

    assert threado.spawn(body).join(timeout=SLACK) == "timeout"


def test_spawned_threads_do_not_inherit_timeouts_or_shields() -> None:
    with threado.timeout_after(0.5), threado.shield():
        t = threado.spawn(threado.current_deadline)
        assert t.join() == math.inf
    with threado.shield():
        t2 = threado.spawn(threado.sleep, math.inf)
        wait_parked(t2)
        assert t2.cancel(timeout=5)  # the spawner's shield does not cover it


def test_spawned_thread_does_not_inherit_deadlines() -> None:
    def deadline_then_sleep() -> float:
        deadline = threado.current_deadline()
        threado.sleep(0.05)
        return deadline

    with threado.timeout_after(0.01):
        t = threado.spawn(deadline_then_sleep)
        with threado.shield():
            t.wait()
    assert t.join() == math.inf


def test_spawned_thread_does_not_inherit_shields() -> None:
    with threado.shield():
        t = spawn_parked(forever)
        assert t.cancel(timeout=SLACK) is True
    assert t.cancelled


# -- misuse ----------------------------------------------------------------------------


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


# -- cancels racing deadlines ----------------------------------------------------------


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
        cleanups: list[int] = []

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
