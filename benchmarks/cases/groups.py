"""Thread groups: spawning into one, cancelling one, a failure in one.

* spawning: ``N`` no-op threads spawned into a ``ThreadGroup`` and the
  block's exit, against ``N`` ``threading.Thread(...).start()`` and joining
  them; per thread.
* cancelling: a ``ThreadGroup(wait=None)`` of ``N`` threads parked on one
  ``threado.Event``; the clock runs from the end of the body until the block
  is left (every thread cancelled and ended), against ``N`` threads parked
  on one ``threading.Event``, from ``set()`` until the last ``join()``
  returns; per thread. Spawning and waiting until every thread is parked are
  outside the timed region on both sides.
* a child's failure with ``GROUP_SIZE`` siblings parked, against one cancel
  round trip (report only: both sides are threado).

Each family has one row per group size in ``SIZES``; the largest only in
the full mode. The rows with big groups take few samples and repeats, so
that each stays within a few seconds.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from time import perf_counter_ns

from harness import Case, LatencyCase, TimeCase

import threado
import threado.testing

from ._common import CONDITION_WAIT, SETTLE_S, noop, threado_cancel, wait_all_innermost

#: Group sizes of the spawn and cancel rows; in quick mode only those up to QUICK_MAX.
SIZES = (10, 100, 1000, 3000)
QUICK_MAX = 1000

#: Samples per side and repeat (full mode) of a cancel row, by group size,
#: and at most how many repeats. With the warm-up sample, a side starts at
#: most about 10,000 threads in quick mode, 5,000 more for each 1,000-thread
#: repeat in the full mode, and 9,000 for 3,000 threads (full mode only).
CANCEL_SAMPLES = {10: (50, None), 100: (10, 5), 1000: (1, 3), 3000: (1, 2)}

#: At most how many repeats of a spawn row, by group size (a repeat is at
#: least one group, and calibration runs one more).
SPAWN_REPEATS = {10: None, 100: None, 1000: 3, 3000: 2}

#: Siblings of the failing child in the failure row.
GROUP_SIZE = 100


def stdlib_start_join(size: int, n: int) -> int:
    """``n`` times: start ``size`` no-op threads, then join them."""
    Thread = threading.Thread
    target = noop
    t0 = perf_counter_ns()
    for _ in range(n):
        threads = []
        for _ in range(size):
            t = Thread(target=target)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    return perf_counter_ns() - t0


def threado_group_spawn(size: int, n: int) -> int:
    """``n`` times: a ``ThreadGroup`` block spawning ``size`` no-op threads."""
    ThreadGroup = threado.ThreadGroup
    target = noop
    t0 = perf_counter_ns()
    for _ in range(n):
        with ThreadGroup() as g:
            spawn = g.spawn
            for _ in range(size):
                spawn(target)
    return perf_counter_ns() - t0


def stdlib_event_set_join_all(size: int, n: int) -> list[int]:
    """``size`` threads parked in one ``Event.wait()``: from ``set()`` until the last
    ``join()`` returns, per thread."""
    out: list[int] = []
    for _ in range(n):
        ev = threading.Event()
        threads = [threading.Thread(target=ev.wait) for _ in range(size)]
        try:
            for th in threads:
                th.start()
            wait_all_innermost(threads, CONDITION_WAIT)
            time.sleep(SETTLE_S)
            t0 = perf_counter_ns()
            ev.set()
            for th in threads:
                th.join()
            out.append((perf_counter_ns() - t0) // size)
        finally:
            ev.set()  # something failed: never leak a thread
            for th in threads:
                if th.is_alive():
                    th.join()
    return out


def threado_group_cancel(size: int, n: int) -> list[int]:
    """A ``ThreadGroup(wait=None)`` of ``size`` threads parked in one ``Event.wait()``:
    from the end of the body until the block is left, per thread."""
    out: list[int] = []
    for _ in range(n):
        ev = threado.Event()
        with threado.ThreadGroup(wait=None) as g:
            threads = [g.spawn(ev.wait) for _ in range(size)]
            for t in threads:
                threado.testing.wait_parked(t)
            time.sleep(SETTLE_S)
            t0 = perf_counter_ns()
        out.append((perf_counter_ns() - t0) // size)
        if not all(t.cancelled for t in threads):
            raise RuntimeError("a thread of the group was not cancelled")
    return out


def _fail_when(gate: threado.Event) -> None:
    gate.wait()
    raise ValueError("boom")


def threado_group_failure(n: int) -> list[int]:
    """From a child's failure to the block raising, with GROUP_SIZE siblings parked."""
    samples = []
    for _ in range(n):
        gate = threado.Event()
        t0 = 0
        try:
            with threado.ThreadGroup() as g:
                siblings = [g.spawn(threado.sleep, 60) for _ in range(GROUP_SIZE)]
                failing = g.spawn(_fail_when, gate)
                for s in (*siblings, failing):
                    threado.testing.wait_parked(s)
                t0 = perf_counter_ns()
                gate.set()
        except ExceptionGroup:
            samples.append(perf_counter_ns() - t0)
    return samples


def threado_one_cancel(n: int) -> list[int]:
    """One cancel round trip of a parked thread: the unit of the failure row."""
    return [threado_cancel(partial(threado.sleep, 60)) for _ in range(n)]


CASES: list[Case] = [
    *(
        TimeCase(
            f"group spawn x{size} + exit, per thread (vs start+join)",
            partial(stdlib_start_join, size),
            partial(threado_group_spawn, size),
            1.2,
            batch=size,
            max_repeats=SPAWN_REPEATS[size],
            full_only=size > QUICK_MAX,
        )
        for size in SIZES
    ),
    *(
        LatencyCase(
            f"group(wait=None) cancel, {size} parked, per thread (vs set+join)",
            partial(stdlib_event_set_join_all, size),
            partial(threado_group_cancel, size),
            1.2,
            samples=CANCEL_SAMPLES[size][0],
            max_repeats=CANCEL_SAMPLES[size][1],
            full_only=size > QUICK_MAX,
        )
        for size in SIZES
    ),
    # The 'stdlib' side here is threado's own single cancel round trip: the
    # row shows how many round trips a failing group with GROUP_SIZE parked
    # siblings costs (in parallel: a few, not GROUP_SIZE).
    LatencyCase(
        f"group failure -> raise, {GROUP_SIZE} parked siblings (vs 1 cancel)",
        threado_one_cancel,
        threado_group_failure,
        None,
        samples=30,
    ),
]
