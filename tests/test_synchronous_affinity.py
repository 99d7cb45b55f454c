"""Synchronous runs pass the turn on one CPU.

The thread given the turn is pinned to its run's CPU by the thread giving it,
just before it is woken, and gives itself its own mask back as it wakes; a
spawned thread is born on the run's CPU (``threado/_sync_cpu.py``, its
theory of operation). The program's own code never runs pinned, and a thread waiting for
its turn is not pinned (but for a thread born so). These tests read real
affinity masks: Linux, two CPUs or more.
"""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from types import FrameType

import pytest
from signals import Once, resend_until

import threado
from threado import _sync_cpu, _sync_mode
from threado._state import ThreadState, local

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="affinity masks: Linux with two CPUs or more",
)


@pytest.fixture(autouse=True)
def _mask_kept() -> Iterator[None]:
    """Give the test's thread its mask back, whatever the test did to it."""
    mask = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, mask)


#: One mask set by threado: (the setting thread's native id, the target's
#: native id or 0 for itself, the mask).
Record = tuple[int, int, set[int]]


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[Record]:
    """Record every mask threado sets, once it took effect."""
    log: list[Record] = []
    real = os.sched_setaffinity

    def put(pid: int, mask: Iterable[int]) -> None:
        real(pid, mask)
        log.append((threading.get_native_id(), pid, set(mask)))

    monkeypatch.setattr(_sync_cpu, "set_affinity", put)
    return log


def _run_cpu() -> set[int]:
    """The CPU of the calling member's run."""
    m = _sync_mode._member(local.state)
    assert m is not None
    assert m.run.cpu is not None
    return m.run.cpu


def test_the_turn_comes_pinned_and_is_taken_unpinned(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _recording(monkeypatch)
    mine = os.sched_getaffinity(0)
    main_tid = threading.get_native_id()
    seen: dict[str, set[int]] = {}

    def partner() -> None:
        seen["partner runs with"] = os.sched_getaffinity(0)
        seen["main waits with"] = os.sched_getaffinity(main_tid)
        threado.sleep(0)  # the turn goes back to main
        seen["partner again"] = os.sched_getaffinity(0)

    def main() -> None:
        pin = seen["pin"] = _run_cpu()
        assert len(pin) == 1
        assert pin <= mine
        t = threado.spawn(partner)
        tid = t.native_id
        assert tid is not None
        seen["born"] = os.sched_getaffinity(tid)  # it waits for its first turn
        threado.sleep(0)  # its turn; it gives it back
        seen["main runs with"] = os.sched_getaffinity(0)
        seen["partner waits with"] = os.sched_getaffinity(tid)
        t.join()
        seen["tid"] = {tid}

    threado.run(main, synchronous=True)
    pin = seen["pin"]
    assert seen["born"] == pin  # born on the run's CPU
    # Waiting for the turn, threads are not pinned (but for the born one).
    assert seen["main waits with"] == mine
    assert seen["partner waits with"] == mine
    # Running, never.
    assert seen["partner runs with"] == mine
    assert seen["partner again"] == mine
    assert seen["main runs with"] == mine
    assert os.sched_getaffinity(0) == mine
    # Each pin of a thread by another is undone by that thread as it wakes.
    (tid,) = seen["tid"]
    pins = [(who, pid) for who, pid, m in log if pid != 0]
    # Main's sleep(0) found the partner born pinned; the partner's sleep(0)
    # gave main the turn, main's join() the partner, the partner's end main.
    assert pins == [(tid, main_tid), (main_tid, tid), (tid, main_tid)]
    assert all(m == pin for _, pid, m in log if pid != 0)
    assert [m for who, pid, m in log if pid == 0 and who == tid] == [mine] * 2
    # Main pinned itself around the partner's start, then woke pinned twice.
    assert [m for who, pid, m in log if pid == 0 and who == main_tid] == [pin] + [mine] * 3


def test_a_spawned_thread_is_born_on_the_runs_cpu_with_the_spawners_mask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = _recording(monkeypatch)
    allowed = sorted(os.sched_getaffinity(0))
    custom = {allowed[-1]}
    seen: dict[str, object] = {}

    def child() -> None:
        seen["child"] = os.sched_getaffinity(0)
        seen["child tid"] = threading.get_native_id()

    def main() -> None:
        os.sched_setaffinity(0, custom)  # the program's own mask: inherited
        t = threado.spawn(child)
        seen["main"] = os.sched_getaffinity(0)
        t.join()

    threado.run(main, synchronous=True)
    assert seen["main"] == custom
    assert seen["child"] == custom
    # The child was born pinned: its first turn only gave its mask back.
    assert [(pid, m) for who, pid, m in log if who == seen["child tid"]] == [(0, custom)]


def test_a_mask_another_thread_sets_while_a_thread_waits_for_its_turn_is_kept() -> None:
    allowed = set(os.sched_getaffinity(0))
    seen: list[set[int]] = []
    custom: set[int] = set()

    def child() -> None:
        seen.append(os.sched_getaffinity(0))
        threado.sleep(0)  # waits for the turn again while main sets its mask
        seen.append(os.sched_getaffinity(0))

    def main() -> None:
        custom.add(min(allowed - _run_cpu()))
        t = threado.spawn(child)
        tid = t.native_id  # it has begun: it waits for the turn we hold
        assert tid is not None
        os.sched_setaffinity(tid, custom)  # while born pinned
        threado.sleep(0)  # its turn; it gives the turn back, waits again
        os.sched_setaffinity(tid, allowed)  # while waiting
        t.join()

    threado.run(main, synchronous=True)
    assert seen == [custom, allowed]


class _AnnouncedBaton:
    """A member's baton that sets ``waiting`` as its thread begins to wait on it."""

    def __init__(self, baton: _thread.LockType) -> None:
        self.baton = baton
        self.waiting = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking:
            self.waiting.set()
        return self.baton.acquire(blocking, timeout)

    def release(self) -> None:
        self.baton.release()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread",
)
def test_a_signal_handler_run_while_main_waits_for_its_turn_is_not_pinned() -> None:
    # Python runs signal handlers in the main thread, also in the middle of
    # its wait for the turn: the handler is the program's code, and what it
    # starts must not inherit a pin.
    mine = os.sched_getaffinity(0)
    seen: dict[str, set[int]] = {}

    def record(key: str) -> None:
        seen[key] = os.sched_getaffinity(0)

    def handle(signum: int, frame: FrameType | None) -> None:
        record("handler")
        t = threading.Thread(target=record, args=("thread",))
        t.start()
        t.join()
        threado.spawn(record, "member")  # joins the run, runs at its turn

    handler = Once(handle)
    main_ident = threading.get_ident()

    def partner(baton: _AnnouncedBaton) -> None:
        baton.waiting.wait(10)  # main waits for the turn we hold (we keep it)
        resend_until(lambda: signal.pthread_kill(main_ident, signal.SIGUSR1), handler)

    def main() -> None:
        m = _sync_mode._member(local.state)
        assert m is not None
        baton = m.baton = _AnnouncedBaton(m.baton)  # type: ignore[assignment]
        t = threado.spawn(partner, baton)
        threado.sleep(0)  # the partner's turn: main waits, and runs the handler
        t.join()
        threado.sleep(0)  # the member the handler spawned runs

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        threado.run(main, synchronous=True)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert seen == {"handler": mine, "thread": mine, "member": mine}
    assert os.sched_getaffinity(0) == mine


class _AnnouncedTurn(_AnnouncedBaton):
    """... that also sets ``given`` once its turn was given (released)."""

    def __init__(self, baton: _thread.LockType) -> None:
        super().__init__(baton)
        self.given = threading.Event()

    def release(self) -> None:
        super().release()
        self.given.set()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread",
)
@pytest.mark.xfail(
    strict=True,
    reason="known window: the turn given to the main thread while a signal handler "
    "runs in its wait for the turn pins the handler until it returns (not pinning "
    "the main thread would cost its hand-offs the same-CPU wake-up)",
)
def test_a_signal_handler_in_main_given_the_turn_as_it_runs_is_not_pinned() -> None:
    # The handler runs inside main's wait for its baton; the turn holder
    # gives main the turn (pinning it) before the handler returns.
    mine = os.sched_getaffinity(0)
    seen: dict[str, set[int]] = {}
    batons: list[_AnnouncedTurn] = []

    def record(key: str) -> None:
        seen[key] = os.sched_getaffinity(0)

    def handle(signum: int, frame: FrameType | None) -> None:
        batons[0].given.wait(10)  # main's turn comes as its handler runs
        record("handler")
        t = threading.Thread(target=record, args=("thread",))
        t.start()
        t.join()

    handler = Once(handle)
    main_ident = threading.get_ident()

    def partner(baton: _AnnouncedTurn) -> None:
        baton.waiting.wait(10)  # main waits for the turn we hold
        resend_until(lambda: signal.pthread_kill(main_ident, signal.SIGUSR1), handler)
        threado.sleep(0)  # main's turn, its handler running

    def main() -> None:
        m = _sync_mode._member(local.state)
        assert m is not None
        baton = _AnnouncedTurn(m.baton)
        m.baton = baton  # type: ignore[assignment]
        batons.append(baton)
        t = threado.spawn(partner, baton)
        threado.sleep(0)  # the partner's turn: main waits, and runs the handler
        t.join()

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        threado.run(main, synchronous=True)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert os.sched_getaffinity(0) == mine  # its mask back as its wait ended
    assert seen == {"handler": mine, "thread": mine}


def test_a_spawn_inside_a_pinned_start_is_born_with_the_real_mask() -> None:
    # A signal handler that spawns while its thread starts another member
    # (pinned around Thread.start()): the inner spawn must not take the pin
    # for the spawner's own mask.
    mine = os.sched_getaffinity(0)
    births: list[list[_sync_cpu.Birth]] = [[], []]
    inside: list[set[int]] = []

    def main() -> None:
        m = _sync_mode._member(local.state)
        assert m is not None

        def inner_start() -> None:
            inside.append(os.sched_getaffinity(0))

        def outer_start() -> None:
            inside.append(os.sched_getaffinity(0))
            m.run.start_pinned(m, inner_start, births[1])

        m.run.start_pinned(m, outer_start, births[0])
        inside.append(os.sched_getaffinity(0))

    threado.run(main, synchronous=True)
    assert births == [[(mine, inside[0])], [(mine, inside[0])]]
    assert inside[0] == inside[1] != mine  # pinned while starting
    assert inside[2] == mine


@pytest.mark.parametrize("seed", [None, 3])
def test_a_mask_the_program_sets_is_kept_across_turns(seed: int | None) -> None:
    mine = sorted(os.sched_getaffinity(0))
    results: list[set[int]] = []

    def partner(cpu: int) -> None:
        os.sched_setaffinity(0, {cpu})
        for _ in range(5):
            threado.sleep(0)
            threado.checkpoint()
            results.append(os.sched_getaffinity(0))

    def main() -> None:
        with threado.ThreadGroup() as g:
            g.spawn(partner, mine[0])
            g.spawn(partner, mine[-1])

    threado.run(main, synchronous=True, seed=seed)
    assert sorted(results, key=sorted) == sorted([{mine[0]}] * 5 + [{mine[-1]}] * 5, key=sorted)
    assert os.sched_getaffinity(0) == set(mine)


def test_a_process_started_in_a_run_gets_the_programs_mask_not_the_pin() -> None:
    mine = os.sched_getaffinity(0)
    code = "import os; print(sorted(os.sched_getaffinity(0)))"

    def child_mask() -> str:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()

    def child_masks() -> list[str]:
        first = child_mask()  # in its first turn: born pinned, unpinned since
        for _ in range(3):
            threado.sleep(0)  # waits for the turn, pinned, three times
        return [first, child_mask()]

    def main() -> list[str]:
        t = threado.spawn(child_masks)
        for _ in range(3):
            threado.sleep(0)
        return t.join()

    assert threado.run(main, synchronous=True) == [str(sorted(mine))] * 2


def test_a_pin_that_fails_stops_pinning_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pins = _recording(monkeypatch)
    mine = os.sched_getaffinity(0)
    missing = {4095}  # no such CPU: sched_setaffinity fails (EINVAL)
    monkeypatch.setattr(_sync_cpu, "run_cpu", lambda: set(missing))
    log: list[str] = []

    def step(name: str) -> None:
        for _ in range(3):
            log.append(name)
            threado.sleep(0)

    def main() -> None:
        with threado.ThreadGroup() as g:
            g.spawn(step, "a")
            g.spawn(step, "b")

    threado.run(main, synchronous=True)
    assert log == ["a", "b"] * 3  # FIFO hand-offs as ever
    assert os.sched_getaffinity(0) == mine
    # The first pin failed (at the first spawn): nothing was pinned after it.
    assert pins == []


def test_no_pinning_when_one_cpu_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    pins = _recording(monkeypatch)
    mine = os.sched_getaffinity(0)
    one = {min(mine)}
    seen: list[set[int]] = []

    def step() -> None:
        for _ in range(3):
            threado.sleep(0)
            seen.append(os.sched_getaffinity(0))

    def main() -> None:
        with threado.ThreadGroup() as g:
            g.spawn(step)
            g.spawn(step)

    os.sched_setaffinity(0, one)
    try:
        threado.run(main, synchronous=True)
    finally:
        os.sched_setaffinity(0, mine)
    assert seen == [one] * 6
    assert pins == []


def test_a_thread_keeps_its_cpu_for_its_runs_and_new_threads_take_them_in_turn() -> None:
    allowed = os.sched_getaffinity(0)
    mine = [_sync_cpu.run_cpu() for _ in range(3)]
    assert mine[0] is not None
    assert len(mine[0]) == 1
    assert mine[0] <= allowed
    assert mine == [mine[0]] * 3  # explore's runs: no move between them
    theirs: list[set[int] | None] = []
    for _ in range(2 * len(allowed)):
        t = threading.Thread(target=lambda: theirs.append(_sync_cpu.run_cpu()))
        t.start()
        t.join()
    assert set().union(*(c for c in theirs if c is not None)) == allowed


def test_a_thread_spawned_as_its_run_ends_runs_with_the_spawners_mask() -> None:
    mine = os.sched_getaffinity(0)
    masks: list[set[int]] = []
    threads: list[threado.Thread[None]] = []

    def child() -> None:
        masks.append(os.sched_getaffinity(0))

    def main() -> None:
        # Returning at once ends the run: each thread begins in it or after.
        threads.extend(threado.spawn(child) for _ in range(5))

    for _ in range(5):
        threado.run(main, synchronous=True)
    for t in threads:
        t.join()
    assert masks == [mine] * 25


def test_a_thread_born_pinned_that_begins_after_its_run_ended_is_unpinned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = os.sched_getaffinity(0)
    ended = threading.Event()
    real = _sync_mode.first_turn

    def late_first_turn(st: ThreadState, birth: _sync_cpu.Birth | None = None) -> None:
        assert birth is not None  # born pinned
        ended.wait(10)  # the run is gone: no member to wait as
        real(st, birth)

    monkeypatch.setattr(_sync_mode, "first_turn", late_first_turn)
    masks: list[set[int]] = []

    def main() -> threado.Thread[None]:
        return threado.spawn(lambda: masks.append(os.sched_getaffinity(0)))

    t = threado.run(main, synchronous=True)
    ended.set()
    t.join()
    assert masks == [mine]


class _AnnouncedGive:
    """A member's baton that sets ``given`` once its turn was given (released)."""

    def __init__(self, baton: _thread.LockType) -> None:
        self.baton = baton
        self.given = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self.baton.acquire(blocking, timeout)

    def release(self) -> None:
        self.baton.release()
        self.given.set()


def test_a_mask_set_for_a_spawned_thread_before_its_first_turn_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its native id is known once spawn() returns, before the thread reaches
    # first_turn (which learns its id): given the turn then (unpinned), it
    # must not give itself its spawner's mask over the one set for it.
    allowed = set(os.sched_getaffinity(0))
    real = _sync_mode.first_turn
    batons: list[_AnnouncedGive] = []
    wrapped = threading.Event()

    def late_first_turn(st: ThreadState, birth: _sync_cpu.Birth | None = None) -> None:
        wrapped.wait(10)
        batons[0].given.wait(10)  # its turn came before it knew its id
        real(st, birth)

    monkeypatch.setattr(_sync_mode, "first_turn", late_first_turn)
    seen: list[set[int]] = []
    custom: set[int] = set()

    def main() -> None:
        custom.add(min(allowed - _run_cpu()))
        t = threado.spawn(lambda: seen.append(os.sched_getaffinity(0)))
        m = _sync_mode._member(local.state)
        assert m is not None
        child = m.run.members[-1]
        baton = _AnnouncedGive(child.baton)
        child.baton = baton  # type: ignore[assignment]
        batons.append(baton)
        wrapped.set()
        tid = t.native_id
        assert tid is not None
        os.sched_setaffinity(tid, custom)
        t.join()  # its turn

    threado.run(main, synchronous=True)
    assert seen == [custom]


def test_a_mask_set_for_a_thread_born_pinned_before_it_begins_after_its_run_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allowed = set(os.sched_getaffinity(0))
    set_ = threading.Event()
    real = _sync_mode.first_turn

    def late_first_turn(st: ThreadState, birth: _sync_cpu.Birth | None = None) -> None:
        set_.wait(10)  # the run is gone, and its mask was set meanwhile
        real(st, birth)

    monkeypatch.setattr(_sync_mode, "first_turn", late_first_turn)
    masks: list[set[int]] = []
    custom: set[int] = set()

    def main() -> threado.Thread[None]:
        custom.add(min(allowed - _run_cpu()))
        return threado.spawn(lambda: masks.append(os.sched_getaffinity(0)))

    t = threado.run(main, synchronous=True)
    tid = t.native_id
    assert tid is not None
    os.sched_setaffinity(tid, custom)
    set_.set()
    t.join()
    assert masks == [custom]


def test_ctrl_c_as_a_thread_unpins_itself_on_waking_still_gives_its_mask_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # KeyboardInterrupt raised as the woken thread is about to unpin itself
    # (a signal handler runs at the call): its wait raises, the run
    # dissolves, and the mask must still come back.
    mine = os.sched_getaffinity(0)
    real = _sync_cpu.unpin
    raised: list[int] = []
    tid = threading.get_native_id()

    def interrupted_unpin(mask: set[int]) -> None:
        mine_to_undo = threading.get_native_id() == tid
        if mine_to_undo and not raised and sys._getframe(1).f_code.co_name == "_unpin_member":
            raised.append(tid)
            raise KeyboardInterrupt
        real(mask)

    monkeypatch.setattr(_sync_cpu, "unpin", interrupted_unpin)
    threads: list[threado.Thread[None]] = []

    def main() -> None:
        threads.append(threado.spawn(threado.sleep, 0))
        threado.sleep(0)  # the partner's turn; it gives it back, pinning us

    with pytest.raises(KeyboardInterrupt):
        threado.run(main, synchronous=True)
    threads[0].join()
    assert raised == [tid]
    assert os.sched_getaffinity(0) == mine
