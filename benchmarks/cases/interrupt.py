"""Interruptible regions: how fast a cancel stops a pure-Python loop, and what a region costs.

Rows:

* latency from ``cancel()`` to the ``ThreadCancelled`` in a
  ``while True: x += 1`` loop inside ``threado.interruptible()``, against the
  stdlib's only way to stop such a loop: a loop that tests a flag on every
  iteration (``while not stop: x += 1``), from setting the flag until the loop
  notices (a report: the two loops are not the same loop);
* the same loop, not cancelled, inside a region against outside one: what a
  region adds to computation (nothing is armed until a cancellation is due);
* ``with lock:`` on a threado ``Lock`` inside a region against outside one;
* entering and leaving a region against entering and leaving ``shield()``;
* the control row: the loop outside a region against itself;
* figures: the latency's p50 and p99 (SPEC §11: at most 1 ms at the median)
  and the time to enter and leave a region (issue 17: at most 2 µs).
"""

from __future__ import annotations

import statistics
import threading
from time import perf_counter_ns

from harness import Case, Figure, FigureCase, LatencyCase, Mode, TimeCase

import threado

#: Iterations of the computing loop per operation of the overhead rows.
LOOP = 1000
#: Samples per side and repeat of the latency row (full mode): each starts a thread.
SAMPLES = 300


def _spin_until_cancelled(ready: threading.Event, out: list[int]) -> None:
    x = 0
    try:
        with threado.interruptible():
            ready.set()
            while True:
                x += 1
    except threado.ThreadCancelled:
        out.append(perf_counter_ns())


def _one_cancel() -> int:
    ready, out = threading.Event(), list[int]()
    t = threado.spawn(_spin_until_cancelled, ready, out)
    ready.wait()
    for _ in range(2000):  # let it get into its loop
        pass
    t0 = perf_counter_ns()
    t.cancel(blocking=False)
    t.wait()
    return out[0] - t0


def threado_cancel_loop(n: int) -> list[int]:
    """A ``while True: x += 1`` loop in a region: from ``cancel()`` to the exception."""
    return [_one_cancel() for _ in range(n)]


def _spin_until_flag(ready: threading.Event, stop: list[int], out: list[int]) -> None:
    x = 0
    ready.set()
    while not stop:
        x += 1
    out.append(perf_counter_ns())


def stdlib_flag_loop(n: int) -> list[int]:
    """A loop testing a flag each iteration: from setting it until the loop sees it."""
    samples = []
    for _ in range(n):
        ready, stop, out = threading.Event(), list[int](), list[int]()
        t = threading.Thread(target=_spin_until_flag, args=(ready, stop, out))
        t.start()
        ready.wait()
        for _ in range(2000):
            pass
        t0 = perf_counter_ns()
        stop.append(1)
        t.join()
        samples.append(out[0] - t0)
    return samples


def loop_outside(n: int) -> int:
    """``LOOP`` additions, ``n`` times, with no region."""
    t0 = perf_counter_ns()
    for _ in range(n):
        x = 0
        for _ in range(LOOP):
            x += 1  # noqa: SIM113 - the loop under test
    return perf_counter_ns() - t0


def loop_inside(n: int) -> int:
    """The same loop inside one region."""
    t0 = perf_counter_ns()
    with threado.interruptible():
        for _ in range(n):
            x = 0
            for _ in range(LOOP):
                x += 1  # noqa: SIM113 - the loop under test
    return perf_counter_ns() - t0


_LOCK = threado.Lock()


def lock_outside(n: int) -> int:
    """``with lock:`` on a threado ``Lock``, ``n`` times, with no region."""
    lock = _LOCK
    t0 = perf_counter_ns()
    for _ in range(n):
        with lock:
            pass
    return perf_counter_ns() - t0


def lock_inside(n: int) -> int:
    """The same inside one region."""
    lock = _LOCK
    t0 = perf_counter_ns()
    with threado.interruptible():
        for _ in range(n):
            with lock:
                pass
    return perf_counter_ns() - t0


def shield_enter_exit(n: int) -> int:
    """Enter and leave ``threado.shield()``, ``n`` times."""
    shield = threado.shield
    t0 = perf_counter_ns()
    for _ in range(n):
        with shield():
            pass
    return perf_counter_ns() - t0


def region_enter_exit(n: int) -> int:
    """Enter and leave ``threado.interruptible()``, ``n`` times."""
    region = threado.interruptible
    t0 = perf_counter_ns()
    for _ in range(n):
        with region():
            pass
    return perf_counter_ns() - t0


def measure_figures(mode: Mode) -> list[Figure]:
    n = 60 if mode.quick else SAMPLES
    threado_cancel_loop(5)  # warm up: the first region loads what delivery needs
    lat = sorted(threado_cancel_loop(n))
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
    enter = statistics.median(region_enter_exit(10_000) / 10_000 for _ in range(mode.repeats))
    return [
        Figure("cancel() -> exception in a region loop, p50", p50 / 1e6, "ms", 1.0, f"{n} cancels"),
        Figure(
            "cancel() -> exception in a region loop, p99", p99 / 1e6, "ms", None, f"{n} cancels"
        ),
        Figure("enter + leave a region", enter / 1e3, "us", 2.0, f"median of {mode.repeats}"),
    ]


CASES: list[Case] = [
    LatencyCase(
        "cancel -> exception in a region's busy loop (vs a loop polling a flag)",
        stdlib_flag_loop,
        threado_cancel_loop,
        None,
        samples=SAMPLES,
    ),
    TimeCase(f"{LOOP}-step loop inside a region (vs outside)", loop_outside, loop_inside, 1.05),
    TimeCase("with Lock inside a region (vs outside)", lock_outside, lock_inside, 1.05),
    TimeCase("enter + leave a region (vs shield())", shield_enter_exit, region_enter_exit, None),
    TimeCase(
        f"control: {LOOP}-step loop outside a region vs itself",
        loop_outside,
        loop_outside,
        None,
        control=True,
    ),
    FigureCase("interruptible region: absolute latency and entry cost", measure_figures),
]
