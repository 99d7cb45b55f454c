"""``threado.CancelScope``: cancel one block of one thread from anywhere (SPEC §10).

(``tests/test_scopes.py`` holds the timeouts and shields; it is already
over the size a module should have, so the cancel scopes live here.)
"""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
from collections.abc import Callable

import pytest
from helpers import SLACK, forever

import threado
from threado import CancelReason, CancelScope, ThreadCancelled, ThreadTimeout, _scopes
from threado._state import get_state
from threado.testing import wait_parked


def _in_scope_thread(
    body: Callable[[CancelScope], object],
) -> tuple[threado.Thread[object], CancelScope, threading.Event]:
    """Spawn a thread that enters a scope and runs ``body(scope)`` inside it."""
    box: list[CancelScope] = []
    ready = threading.Event()

    def run() -> object:
        with CancelScope() as scope:
            box.append(scope)
            ready.set()
            body(scope)
        return scope

    t = threado.spawn(run)
    assert ready.wait(SLACK)
    return t, box[0], ready


def test_cancel_from_another_thread_wakes_the_parked_block_and_the_thread_carries_on() -> None:
    after: list[str] = []
    box: list[CancelScope] = []

    def run() -> str:
        with CancelScope() as scope:
            box.append(scope)
            try:
                forever()
            finally:
                after.append("cleanup")
        after.append("carried on")
        threado.sleep(0)  # the thread is not cancelled any more
        return "done"

    t = threado.spawn(run)
    wait_parked(t)
    box[0].cancel()
    assert t.join(SLACK) == "done"
    assert after == ["cleanup", "carried on"]
    assert box[0].cancel_called
    assert box[0].cancelled_caught


def test_the_cancellation_says_explicit_and_names_the_scope() -> None:
    seen: list[ThreadCancelled] = []

    def body(scope: CancelScope) -> None:
        try:
            forever()
        except ThreadCancelled as exc:
            seen.append(exc)
            raise

    t, scope, _ = _in_scope_thread(body)
    wait_parked(t)
    scope.cancel()
    t.join(SLACK)
    assert seen[0].reason is CancelReason.EXPLICIT
    assert seen[0].source is scope


def test_cancel_before_entering_cancels_the_block_from_its_start() -> None:
    scope = CancelScope()
    scope.cancel()
    reached = []
    with scope:
        threado.checkpoint()
        reached.append(True)  # pragma: no cover
    assert reached == []
    assert scope.cancel_called
    assert scope.cancelled_caught
    threado.checkpoint()  # nothing leaks out


def test_cancel_after_the_block_is_a_no_op() -> None:
    with CancelScope() as scope:
        pass
    scope.cancel()
    assert scope.cancel_called
    assert not scope.cancelled_caught
    threado.sleep(0)
    assert get_state().deadline is None


def test_a_block_that_never_blocks_is_not_cut_short() -> None:
    with CancelScope() as scope:
        scope.cancel()
        x = 1 + 1
    assert x == 2
    assert scope.cancel_called
    assert not scope.cancelled_caught


def test_cancellation_is_level_triggered_inside_the_block() -> None:
    caught = 0
    with CancelScope() as scope:
        scope.cancel()
        for _ in range(3):
            try:
                threado.sleep(0)
            except ThreadCancelled:
                caught += 1
    assert caught == 3
    assert not scope.cancelled_caught  # the block ended on its own
    threado.sleep(0)


def test_entering_twice_raises() -> None:
    scope = CancelScope()
    with scope:
        pass
    with pytest.raises(RuntimeError), scope:
        pass  # pragma: no cover


def test_an_inner_scope_does_not_claim_the_outer_cancellation() -> None:
    with CancelScope() as outer:
        with CancelScope() as inner:
            outer.cancel()
            threado.sleep(0)
    assert outer.cancelled_caught
    assert not inner.cancelled_caught


def test_an_outer_timeout_passes_through_a_cancel_scope() -> None:
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.01):
        with CancelScope() as scope:
            threado.sleep(10)
    assert not scope.cancelled_caught


def test_thread_cancellation_passes_through_a_cancel_scope() -> None:
    inner: list[CancelScope] = []

    def run() -> None:
        with CancelScope() as scope:
            inner.append(scope)
            forever()

    t = threado.spawn(run)
    wait_parked(t)
    assert t.cancel(timeout=SLACK)
    assert t.cancelled
    assert not inner[0].cancelled_caught


def test_a_shield_inside_hides_the_cancel_until_it_ends() -> None:
    steps: list[str] = []
    box: list[CancelScope] = []
    shielded = threado.Event()

    def run() -> None:
        with CancelScope() as scope:
            box.append(scope)
            with threado.shield():
                shielded.set()
                threado.sleep(0.05)  # parks; the cancel arrives meanwhile
                steps.append("shield done")
            try:
                threado.sleep(0)
            except ThreadCancelled:
                steps.append("raised after the shield")
                raise
        steps.append("carried on")

    t = threado.spawn(run)
    shielded.wait(SLACK)
    wait_parked(t)
    box[0].cancel()
    t.join(SLACK)
    assert steps == ["shield done", "raised after the shield", "carried on"]
    assert box[0].cancelled_caught


def test_a_cancel_scope_inside_a_shield_still_works() -> None:
    def run() -> bool:
        with threado.shield(), CancelScope() as scope:
            scope.cancel()
            threado.sleep(10)
        return scope.cancelled_caught

    assert threado.spawn(run).join(SLACK)


def test_a_cancel_scope_outside_a_shield_does_not_reach_into_it_from_another_thread() -> None:
    box: list[CancelScope] = []
    inside = threado.Event()

    steps: list[str] = []

    def run() -> None:
        with CancelScope() as scope:
            box.append(scope)
            with threado.shield(), threado.timeout_after(10):
                inside.set()
                threado.sleep(0.05)  # the cancel arrives while this one parks
            steps.append("shield ended normally")
            threado.sleep(0)
            steps.append("unreachable")  # pragma: no cover

    t = threado.spawn(run)
    inside.wait(SLACK)
    wait_parked(t)
    box[0].cancel()
    t.join(SLACK)
    assert steps == ["shield ended normally"]
    assert box[0].cancelled_caught


def test_cancel_of_an_outer_scope_survives_the_exit_of_an_inner_one() -> None:
    """The cancel lands while an inner timeout block is open; after it pops
    the outer scope is still cancelled (its pop restores the cancel)."""
    box: list[CancelScope] = []
    parked = threado.Event()

    def run() -> list[str]:
        steps = []
        with CancelScope() as scope:
            box.append(scope)
            with threado.timeout_after(100) as inner:
                parked.set()
                try:
                    threado.sleep(100)
                except ThreadCancelled as exc:
                    steps.append(f"inner raised, source is scope: {exc.source is scope}")
                    raise
            steps.append("unreachable")  # pragma: no cover
        assert not inner.cancelled_caught
        steps.append("after")
        return steps

    t = threado.spawn(run)
    parked.wait(SLACK)
    wait_parked(t)
    box[0].cancel()
    assert t.join(SLACK) == ["inner raised, source is scope: True", "after"]


def test_a_timeout_scope_is_a_cancel_scope_and_cancel_ends_it_quietly() -> None:
    def run() -> tuple[bool, bool, bool]:
        with threado.timeout_after(100) as scope:
            assert isinstance(scope, CancelScope)
            scope.cancel()
            threado.sleep(100)
        return scope.cancel_called, scope.cancelled_caught, scope.expired

    assert threado.spawn(run).join(SLACK) == (True, True, False)


def test_an_expired_timeout_is_caught_by_its_cancel_scope_base() -> None:
    with threado.ignore_after(0) as scope:
        threado.sleep(1)
    assert scope.expired
    assert scope.cancelled_caught
    assert not scope.cancel_called


def test_cancel_after_the_thread_left_the_block_does_not_leak() -> None:
    left = threado.Event()
    go = threado.Event()
    box: list[CancelScope] = []

    def run() -> str:
        with CancelScope() as scope:
            box.append(scope)
        left.set()
        go.wait()
        threado.sleep(0)
        return "not cancelled"

    t = threado.spawn(run)
    left.wait(SLACK)
    box[0].cancel()
    go.set()
    assert t.join(SLACK) == "not cancelled"


def test_cancel_from_a_signal_handler() -> None:
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        pytest.skip("signals go to the main thread")
    scope = CancelScope()
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: scope.cancel())
    try:
        with scope:
            signal.raise_signal(signal.SIGUSR1)  # the handler runs in this thread
            forever()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert scope.cancelled_caught


def test_cancel_on_a_plain_threading_thread() -> None:
    result: list[object] = []
    box: list[CancelScope] = []
    entered = threading.Event()

    def run() -> None:
        with CancelScope() as scope:
            box.append(scope)
            entered.set()
            forever()
        result.append(scope.cancelled_caught)

    t = threading.Thread(target=run)
    t.start()
    entered.wait(SLACK)
    box[0].cancel()
    t.join(SLACK)
    assert result == [True]


def test_nesting_restores_the_deadline() -> None:
    st = get_state()
    with threado.timeout_after(100), CancelScope() as scope:
        d = st.deadline
        scope.cancel()
        assert st.deadline == -math.inf
        with threado.shield():
            assert st.deadline is None
        assert st.deadline == -math.inf
        with pytest.raises(ThreadCancelled):
            threado.checkpoint()
    assert d is not None
    assert st.deadline is None


@pytest.mark.slow
@pytest.mark.parametrize("locked", [False, True], ids=["gil-paths", "free-threaded-paths"])
def test_stress_cancels_racing_the_exit_never_leak(
    locked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random cancels from other threads racing scope entry, nesting and exit:
    a cancel reaches only its own block, and nothing leaks after the block.
    Both the lock-free pushes and pops (GIL builds) and the locked ones
    (free-threaded builds) are exercised."""
    monkeypatch.setattr(_scopes, "_FREE_THREADED", locked)
    rng = random.Random(16)
    N = 1500
    scopes: list[CancelScope] = [CancelScope() for _ in range(N)]
    problems: list[str] = []

    def owner() -> None:
        for i, scope in enumerate(scopes):
            with scope:
                try:
                    if i % 3 == 0:
                        with threado.shield():
                            threado.sleep(0)
                    if i % 2:
                        with threado.timeout_after(100):
                            threado.sleep(rng.random() * 0.0005)
                    else:
                        threado.sleep(rng.random() * 0.0005)
                except ThreadCancelled as exc:
                    if exc.source is not scope:
                        problems.append(f"{i}: cancelled by {exc.source!r}")
                    raise
            try:
                threado.checkpoint()
            except ThreadCancelled:
                problems.append(f"{i}: leaked")
            if scope.cancelled_caught and not scope.cancel_called:
                problems.append(f"{i}: caught without a cancel")

    def canceller(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(N):
            scopes[r.randrange(N)].cancel()
            threado.sleep(r.random() * 0.0005)

    def owner_checked() -> tuple[float | None, int]:
        owner()
        st = get_state()
        return st.deadline, len(st.scopes)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: between the lines of a push or pop
    try:
        t = threado.spawn(owner_checked)
        cancellers = [threado.spawn(canceller, s) for s in range(3)]
        end_state = t.join(60)
        for c in cancellers:
            c.join(60)
    finally:
        sys.setswitchinterval(old_interval)
    assert problems == []
    assert end_state == (None, 0)  # nothing leaked into the thread's state


class _Meddling(threado.TimeoutScope):
    """A timeout scope whose entry lets another thread cancel a scope in the
    middle of the push (between reading and writing the thread's deadline),
    the interleaving the push's re-check of ``scope_gen`` exists for."""

    __slots__ = ("_called", "hook")

    def __init__(self, hook: Callable[[], None]) -> None:
        self.hook: Callable[[], None] | None = None
        super().__init__(None, True, 100.0)
        self.hook = hook

    @property
    def cancel_called(self) -> bool:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return self._called

    @cancel_called.setter
    def cancel_called(self, value: bool) -> None:
        self._called = value


def test_a_cancel_landing_in_the_middle_of_a_push_is_not_lost() -> None:
    def run() -> tuple[bool, bool]:
        with CancelScope() as outer:

            def cancel_from_another_thread() -> None:
                # A plain thread and join: no blocking point in the middle of the push.
                t = threading.Thread(target=outer.cancel)
                t.start()
                t.join()

            with _Meddling(cancel_from_another_thread) as inner:
                threado.sleep(100)  # without the re-check: 100 s, then ThreadTimeout
        return outer.cancelled_caught, inner.cancelled_caught

    assert threado.spawn(run).join(SLACK) == (True, False)
