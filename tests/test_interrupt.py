"""Interruptible regions: pure-Python loops stopped without a blocking point.

Threads are ordered by events and by state; a test that must show that
nothing arrives watches the clock inside the protected code (a delivery
takes well under a millisecond, so 50 ms of quiet is a clear negative).
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time

import pytest
from helpers import run_python

import threado
import threado.testing
from threado import ThreadCancelled, ThreadTimeout, _interrupt

#: Generous bound on how long a loop may run after its cancellation
#: (the benchmark measures the real latency: well under a millisecond).
STOP_WITHIN = 10.0
#: How long protected code keeps computing after a cancel, to show that
#: nothing arrives there.
QUIET = 0.05

needs_delivery = pytest.mark.skipif(
    _interrupt.MODE is None, reason="free-threaded build: blocking points only"
)


def _compute_through_the_cancel(cancelled_at: list[float]) -> int:
    """Compute until the main thread has cancelled us, then ``QUIET`` seconds more."""
    x = 0
    while not cancelled_at:
        x += 1
    until = cancelled_at[0] + QUIET
    while time.monotonic() < until:
        x += 1
    return x


def _spin_in_region(started: threado.Event, stage: list[str]) -> None:
    x = 0
    with threado.interruptible():
        stage.append("in")
        started.set()
        while True:
            x += 1


@needs_delivery
def test_cancel_stops_a_loop_without_blocking_points() -> None:
    started, stage = threado.Event(), list[str]()
    t = threado.spawn(_spin_in_region, started, stage)
    started.wait()
    assert t.cancel(timeout=STOP_WITHIN)
    assert t.cancelled
    assert isinstance(t.exception, ThreadCancelled)
    assert t.exception.reason is threado.CancelReason.EXPLICIT


@needs_delivery
def test_group_cancel_stops_a_loop() -> None:
    started, stage = threado.Event(), list[str]()
    with threado.ThreadGroup(wait=any) as g:
        loser = g.spawn(_spin_in_region, started, stage)
        started.wait()
        g.spawn(lambda: "winner")
    assert loser.cancelled
    assert isinstance(loser.exception, ThreadCancelled)
    assert loser.exception.reason is threado.CancelReason.GROUP


@needs_delivery
@pytest.mark.parametrize("scope_inside", [False, True], ids=["scope-outside", "scope-inside"])
def test_cancel_scope_stops_a_loop_and_the_thread_carries_on(scope_inside: bool) -> None:
    started = threado.Event()
    scopes: list[threado.CancelScope] = []

    def spin() -> None:
        x = 0
        while True:
            x += 1
            if x == 1:
                started.set()

    def body() -> str:
        if scope_inside:
            with threado.interruptible(), threado.CancelScope() as scope:
                scopes.append(scope)
                spin()
        else:
            with threado.CancelScope() as scope, threado.interruptible():
                scopes.append(scope)
                spin()
        assert scope.cancelled_caught
        return "carried on"

    t = threado.spawn(body)
    started.wait()
    scopes[0].cancel()
    assert t.join(timeout=STOP_WITHIN) == "carried on"


@needs_delivery
@pytest.mark.parametrize("inside", [False, True], ids=["timeout-outside", "timeout-inside"])
def test_timeout_stops_a_loop(inside: bool) -> None:
    def loop() -> None:
        x = 0
        if inside:
            with threado.interruptible(), threado.timeout_after(0.02):
                while True:
                    x += 1
        with threado.timeout_after(0.02), threado.interruptible():
            while True:
                x += 1

    t = threado.spawn(loop)
    assert t.wait(STOP_WITHIN)
    assert isinstance(t.exception, ThreadTimeout)


@needs_delivery
def test_ignore_after_ends_a_loop_quietly_and_nested_timeouts_stay_exact() -> None:
    x = 0
    with threado.ignore_after(0.02) as outer, threado.interruptible():
        with threado.ignore_after(60) as inner:
            while True:
                x += 1
    assert outer.expired
    assert not inner.expired
    with threado.interruptible(), threado.ignore_after(0.01) as scope:
        while True:
            x += 1
    assert scope.expired
    threado.checkpoint()  # nothing left pending


@needs_delivery
def test_shield_within_a_region_holds_the_cancellation_back() -> None:
    started = threado.Event()
    log: list[str] = []
    cancelled_at: list[float] = []

    def worker() -> None:
        x = 0
        with threado.interruptible():
            with threado.shield():
                started.set()
                x += _compute_through_the_cancel(cancelled_at)
                log.append("shield done")
            while True:
                x += 1

    t = threado.spawn(worker)
    started.wait()
    t.cancel(blocking=False)
    cancelled_at.append(time.monotonic())
    assert t.wait(STOP_WITHIN)
    assert log == ["shield done"]
    assert t.cancelled


@needs_delivery
def test_cleanup_of_a_cancellation_is_not_interrupted_again() -> None:
    # Raised at a blocking point inside the region; the handler computes for a
    # while (no blocking point) and must run to its end.
    done: list[bool] = []

    def worker() -> None:
        with threado.interruptible():
            try:
                threado.sleep(math.inf)
            except ThreadCancelled:
                _compute_through_the_cancel([time.monotonic()])
                done.append(True)
                raise

    t = threado.spawn(worker)
    threado.testing.wait_parked(t)
    assert t.cancel(timeout=STOP_WITHIN)
    assert done == [True]
    assert t.cancelled


@needs_delivery
def test_with_lock_inside_a_region_releases_the_lock() -> None:
    for lock in (threado.Lock(), threado.RLock()):
        started = threado.Event()

        def worker(
            lock: threado.Lock | threado.RLock = lock, started: threado.Event = started
        ) -> None:
            x = 0
            with threado.interruptible(), lock:
                started.set()
                while True:
                    x += 1

        t = threado.spawn(worker)
        started.wait()
        assert t.cancel(timeout=STOP_WITHIN)
        assert not lock.locked()
        assert lock.acquire(timeout=1)
        lock.release()


@pytest.mark.slow
@needs_delivery
def test_nothing_arrives_after_the_block_when_exit_and_cancel_race() -> None:
    # The worker leaves its region as soon as the main thread says so, and the
    # main thread cancels it right after saying so: the cancel lands just
    # before, during or just after the region's exit. Allowed: interrupted
    # inside, or the code after the block runs to its end and the
    # cancellation waits for the next blocking point.
    rng = random.Random(17)
    outcomes: dict[str, int] = {}
    for i in range(120):
        started = threado.Event()
        stage: list[str] = []
        go: list[bool] = []
        worker_spin, pause = rng.randrange(300), rng.uniform(0, 0.0004)

        def worker(
            started: threado.Event = started,
            stage: list[str] = stage,
            go: list[bool] = go,
            worker_spin: int = worker_spin,
        ) -> None:
            x = 0
            with threado.interruptible():
                started.set()
                while not go:
                    x += 1
                for _ in range(worker_spin):
                    x += 1
                stage.append("leaving")
            stage.append("after")
            for _ in range(3000):
                x += 1
            stage.append("done")
            threado.sleep(math.inf)  # the cancellation, if it came late, ends us here

        t = threado.spawn(worker)
        started.wait()
        go.append(True)
        # A random pause (not an ordering: it only spreads the instants at
        # which the cancel lands around the worker's exit; it also lets the
        # worker take the GIL).
        time.sleep(pause)
        t.cancel(timeout=STOP_WITHIN)
        assert t.cancelled
        last = stage[-1] if stage else "in"
        assert last != "after", f"interrupted after the block (round {i})"
        outcomes[last] = outcomes.get(last, 0) + 1
    print(outcomes)
    assert outcomes.get("done", 0) > 0  # the race went both ways


@needs_delivery
def test_a_pending_cancellation_is_raised_on_entry() -> None:
    me = threado.current_thread()

    def body() -> str:
        threado.current_thread().cancel(blocking=False)
        try:
            with threado.interruptible():
                return "entered"
        except ThreadCancelled:
            return "raised on entry"

    assert threado.spawn(body).join() == "raised on entry"
    assert me is threado.current_thread()


@needs_delivery
def test_nested_regions_and_plain_threading_threads() -> None:
    handles: list[threado.Thread[object]] = []
    started = threading.Event()
    caught: list[BaseException] = []

    def plain() -> None:
        handles.append(threado.current_thread())
        x = 0
        try:
            with threado.interruptible():
                with threado.interruptible():
                    pass  # an inner region left: the outer one still delivers
                started.set()
                while True:
                    x += 1
        except ThreadCancelled as e:
            caught.append(e)

    t = threading.Thread(target=plain)
    t.start()
    started.wait()
    handles[0].cancel(blocking=False)
    t.join(STOP_WITHIN)
    assert not t.is_alive()
    assert len(caught) == 1


@needs_delivery
def test_a_region_in_the_main_thread() -> None:
    proc = run_python(
        """
        import threado, threading
        main = threado.current_thread()
        started = threading.Event()
        def canceller():
            started.wait()
            main.cancel(blocking=False)
        threading.Thread(target=canceller).start()
        x = 0
        try:
            with threado.interruptible():
                started.set()
                while True:
                    x += 1
        except threado.ThreadCancelled as e:
            print("stopped:", e.reason)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "stopped: CancelReason.EXPLICIT"


def test_outside_a_region_a_loop_is_never_interrupted() -> None:
    started = threado.Event()
    done: list[bool] = []
    cancelled_at: list[float] = []

    def worker() -> None:
        with threado.interruptible():
            pass
        started.set()
        _compute_through_the_cancel(cancelled_at)
        done.append(True)
        threado.checkpoint()

    t = threado.spawn(worker)
    started.wait()
    t.cancel(blocking=False)
    cancelled_at.append(time.monotonic())
    assert t.wait(STOP_WITHIN)
    assert done == [True]
    assert t.cancelled


def test_misuse_raises() -> None:
    region = threado.interruptible()
    with region:
        with pytest.raises(RuntimeError):
            region.__enter__()
    outer, inner = threado.interruptible(), threado.interruptible()
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="reverse order"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)
    assert repr(region) == "<threado.interruptible>"


def test_the_exception_says_threado_and_pickles() -> None:
    import pickle

    exc = _interrupt._AsyncCancelled("x", threado.CancelReason.DEADLINE, None)
    assert isinstance(exc, ThreadCancelled)
    assert type(exc).__module__ == "threado"
    copy = pickle.loads(pickle.dumps(exc))
    assert isinstance(copy, ThreadCancelled)
    assert copy.reason is threado.CancelReason.DEADLINE


def test_mode_matches_the_interpreter() -> None:
    if _interrupt.MODE is not None:
        expected = "monitor" if sys.version_info >= (3, 12) else "async"
        assert expected == _interrupt.MODE
