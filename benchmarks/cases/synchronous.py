"""Synchronous runs: the cost of passing the turn, and how fast ``explore`` finds bugs.

The issue's row, "baton hand-off between two threads (synchronous mode) vs
stdlib Condition ping-pong round trip", measures the turn itself: two
threads of a FIFO synchronous run pass it back and forth with ``sleep(0)``
(which always gives the turn away), one sample per round trip (two
hand-offs: one OS wake-up of the partner, one of us), against the standard
library's Condition ping-pong round trip (two wake-ups too). On Linux the
thread given the turn is pinned to the run's CPU by its giver, so a
hand-off is a same-CPU switch where the stdlib's threads wake each other
across CPUs (``threado/_sync_cpu.py``). The row
"hand-off control" runs that stdlib side against itself: its distance from
1.00x is the noise of the run (``--only hand-off`` runs all of them).

The other latency rows run the events family's ping-pong inside
``threado.run(..., synchronous=True)``, where every exchange passes the
run's turn twice (a park gives it to the partner, the partner's park gives it
back), against the same ping-pong between free-running threads: the
standard library's, and threado's own.

The figures are SPEC §15's: how many schedules ``threado.testing.explore``
runs before it fails on a classic lost update (two threads read, checkpoint,
write a shared counter) and on a two-lock deadlock (lock order a-b against
b-a), the median over seeds 0-6 for each strategy (the limits are 10 and
20); and the time ``explore(runs=100)`` takes on a small passing program.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns

from harness import Case, Figure, FigureCase, LatencyCase, Mode

import threado
import threado.testing

from ._common import start_stdlib, start_threado
from .events import _condition_ping_pong, _event_ping_pong


def _in_sync_run(sampler: Callable[[int], list[int]], n: int) -> list[int]:
    """Take the samples inside a synchronous run (FIFO)."""
    return threado.run(sampler, n, synchronous=True)


def _baton_round_trip(n: int) -> list[int]:
    """Two threads of a synchronous run hand the turn to each other with ``sleep(0)``.

    One sample: our ``sleep(0)`` gives the turn to the partner, whose own
    ``sleep(0)`` gives it back. Called inside the run.
    """
    stop = False

    def partner() -> None:
        while not stop:
            threado.sleep(0)

    t = threado.spawn(partner)
    clock = perf_counter_ns
    out: list[int] = []
    append = out.append
    try:
        threado.sleep(0)  # the partner starts and gives the turn back
        for _ in range(n):
            t0 = clock()
            threado.sleep(0)
            append(clock() - t0)
    finally:
        stop = True
        t.join()
    return out


_STD_EVENT = partial(_event_ping_pong, threading.Event, start_stdlib)
_STD_CONDITION = partial(_condition_ping_pong, threading.Condition, start_stdlib)
_EVENT = partial(_event_ping_pong, threado.Event, start_threado)
_CONDITION = partial(_condition_ping_pong, threado.Condition, start_threado)


# -- the programs explore searches -----------------------------------------------------


def _both(*funcs: Callable[[], None]) -> None:
    with threado.ThreadGroup() as group:
        for f in funcs:
            group.spawn(f)


class _Counter:
    """A counter whose increment reads, blocks (a checkpoint), then writes."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        seen = self.value
        threado.checkpoint()
        self.value = seen + 1


def lost_update() -> None:
    counter = _Counter()
    _both(counter.increment, counter.increment)
    assert counter.value == 2


def two_lock_deadlock() -> None:
    locks = (threado.Lock(), threado.Lock())

    def take(first: int, second: int) -> None:
        with locks[first], locks[second]:
            pass

    _both(partial(take, 0, 1), partial(take, 1, 0))


def counted_correctly() -> None:
    lock = threado.Lock()
    box = {"n": 0}

    def increment() -> None:
        with lock:
            box["n"] += 1
            threado.checkpoint()

    _both(increment, increment)
    assert box["n"] == 2


def schedules_to_fail(func: Callable[[], None], seed: int, strategy: str) -> int:
    """How many schedules ``explore`` ran up to and including the failing one."""
    try:
        threado.testing.explore(func, runs=1000, seed=seed, strategy=strategy)
    except (AssertionError, threado.Deadlock) as exc:
        m = re.search(r"schedule (\d+)", exc.__notes__[0])
        assert m is not None
        return int(m.group(1))
    raise AssertionError(f"explore did not find the bug of {func.__name__}")


def measure_explore(mode: Mode) -> list[Figure]:
    figures = []
    for strategy in ("random", "pct", "dfs"):
        for func, what, limit in (
            (lost_update, "lost update", 10),
            (two_lock_deadlock, "two-lock deadlock", 20),
        ):
            counts = [schedules_to_fail(func, seed, strategy) for seed in range(7)]
            figures.append(
                Figure(
                    f"explore({strategy}): schedules to find a {what}",
                    statistics.median(counts),
                    "schedules",
                    limit,
                    f"median over seeds 0-6: {counts}",
                )
            )
    times_ms = []
    for _ in range(3 if mode.quick else 7):
        t0 = time.perf_counter()
        threado.testing.explore(counted_correctly, runs=100)
        times_ms.append((time.perf_counter() - t0) * 1000)
    figures.append(
        Figure(
            "explore(runs=100) of a passing 2-thread program",
            statistics.median(times_ms),
            "ms",
            None,
            f"median of {len(times_ms)}, {min(times_ms):.0f}-{max(times_ms):.0f} ms",
        )
    )
    return figures


CASES: list[Case] = [
    LatencyCase(
        "baton hand-off between two threads (synchronous mode) vs stdlib Condition "
        "ping-pong round trip",
        _STD_CONDITION,
        partial(_in_sync_run, _baton_round_trip),
        1.0,
        samples=3000,
        p99_target=1.5,
    ),
    LatencyCase(
        "turn hand-off, synchronous vs stdlib (Event ping-pong)",
        _STD_EVENT,
        partial(_in_sync_run, _EVENT),
        1.0,
        samples=3000,
        p99_target=1.5,
    ),
    LatencyCase(
        "turn hand-off, synchronous vs stdlib (Condition ping-pong)",
        _STD_CONDITION,
        partial(_in_sync_run, _CONDITION),
        1.0,
        samples=3000,
        p99_target=1.5,
    ),
    LatencyCase(
        "turn hand-off, synchronous vs free threado (Condition ping-pong)",
        _CONDITION,
        partial(_in_sync_run, _CONDITION),
        None,
        samples=3000,
    ),
    LatencyCase(
        "hand-off control: stdlib Condition ping-pong round trip vs itself",
        _STD_CONDITION,
        _STD_CONDITION,
        None,
        samples=3000,
    ),
    FigureCase("explore: schedules to find a bug", measure_explore),
]
