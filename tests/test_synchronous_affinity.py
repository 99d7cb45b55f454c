"""Synchronous runs keep their threads on one CPU while they wait for the turn.

A member waiting for its turn is pinned to its run's CPU, so that passing the
turn is a same-CPU switch (``threado/_sync_run.py``, "One CPU"); the program's
own code never runs pinned. These tests read real affinity masks: Linux,
two CPUs or more.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator

import pytest

import threado
from threado import _sync_mode, _sync_run
from threado._state import ThreadState

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


#: (native thread id, mask) of one pin or unpin.
Record = tuple[int, set[int]]


def _recording(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Record], queue.Queue[Record]]:
    """Record every pin and unpin once it took effect, (native thread id, mask):
    in a list, and in a queue to wait for them."""
    log: list[Record] = []
    calls: queue.Queue[Record] = queue.Queue()
    real = os.sched_setaffinity

    def put(pid: int, mask: Iterable[int]) -> None:
        real(pid, mask)
        record = (threading.get_native_id(), set(mask))
        log.append(record)
        calls.put(record)

    monkeypatch.setattr(_sync_run, "_setaffinity", put)
    return log, calls


def test_a_thread_waiting_for_its_turn_is_pinned_and_runs_unpinned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, calls = _recording(monkeypatch)
    mine = os.sched_getaffinity(0)
    seen: dict[str, set[int]] = {}

    def partner() -> None:
        seen["partner runs with"] = os.sched_getaffinity(0)
        threado.sleep(0)  # back to main; we wait for our turn again, pinned
        seen["partner again"] = os.sched_getaffinity(0)

    def pinned(tid: int) -> set[int]:
        """The next pin of thread ``tid`` (its unpins and others' records skipped)."""
        while True:
            who, mask = calls.get(timeout=10)
            if who == tid and mask != mine:
                return mask

    def main() -> None:
        t = threado.spawn(partner)
        tid = t.native_id
        assert tid is not None
        # We started its thread pinned (and are unpinned again): it was born
        # pinned, and waits so for the turn we hold.
        me = threading.get_native_id()
        assert [who for who, _ in log] == [me, me]
        pin = seen["pin"] = log[0][1]
        assert log[1][1] == mine
        assert len(pin) == 1
        assert pin <= mine
        assert os.sched_getaffinity(tid) == pin  # really pinned, by the kernel
        threado.sleep(0)  # its turn; it gives it back, then waits pinned again
        seen["main runs with"] = os.sched_getaffinity(0)
        assert pinned(tid) == pin
        assert os.sched_getaffinity(tid) == pin
        t.join()

    threado.run(main, synchronous=True)
    assert seen["partner runs with"] == mine
    assert seen["partner again"] == mine
    assert seen["main runs with"] == mine
    assert os.sched_getaffinity(0) == mine
    # Main's own waits were pinned to the same CPU, its mask given back after.
    me = threading.get_native_id()
    assert [m for who, m in log if who == me] == [seen["pin"], mine] * 3


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
    pins, _ = _recording(monkeypatch)
    mine = os.sched_getaffinity(0)
    missing = {4095}  # no such CPU: sched_setaffinity fails (EINVAL)
    monkeypatch.setattr(_sync_run, "_run_cpu", lambda: set(missing))
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
    # The failed pin is not recorded; the first wait put the mask back, once.
    assert [m for _, m in pins] == [mine]


def test_no_pinning_when_one_cpu_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    pins, _ = _recording(monkeypatch)
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
    mine = [_sync_run._run_cpu() for _ in range(3)]
    assert mine[0] is not None
    assert len(mine[0]) == 1
    assert mine[0] <= allowed
    assert mine == [mine[0]] * 3  # explore's runs: no move between them
    theirs: list[set[int] | None] = []
    for _ in range(2 * len(allowed)):
        t = threading.Thread(target=lambda: theirs.append(_sync_run._run_cpu()))
        t.start()
        t.join()
    assert set().union(*(c for c in theirs if c is not None)) == allowed


def test_a_spawned_thread_is_born_on_the_runs_cpu_with_the_spawners_mask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, _ = _recording(monkeypatch)
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
    # The child was born pinned: its first wait only gave its mask back.
    assert [m for who, m in log if who == seen["child tid"]] == [custom]


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

    def late_first_turn(st: ThreadState, mask: set[int] | None = None) -> None:
        assert mask is not None  # born pinned
        ended.wait(10)  # the run is gone: no member to wait as
        real(st, mask)

    monkeypatch.setattr(_sync_mode, "first_turn", late_first_turn)
    masks: list[set[int]] = []

    def main() -> threado.Thread[None]:
        return threado.spawn(lambda: masks.append(os.sched_getaffinity(0)))

    t = threado.run(main, synchronous=True)
    ended.set()
    t.join()
    assert masks == [mine]
