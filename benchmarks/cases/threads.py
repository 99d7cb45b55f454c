"""Threads, sleeping and timeout scopes; and the control row.

* spawn + join of a no-op thread, one at a time;
* ``sleep(0)`` and the overshoot of ``sleep(0.001)``;
* entering and leaving ``timeout_after(60)``, against an uncontended
  ``with lock: pass`` (the cheapest block the stdlib has);
* the control row: the stdlib's spawn + join against itself (``CONTROL``,
  printed last).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns

from harness import Case, LatencyCase, TimeCase

import threado

from ._common import noop, with_loop


def stdlib_spawn_join(n: int) -> int:
    Thread = threading.Thread
    target = noop
    t0 = perf_counter_ns()
    for _ in range(n):
        t = Thread(target=target)
        t.start()
        t.join()
    return perf_counter_ns() - t0


def threado_spawn_join(n: int) -> int:
    spawn = threado.spawn
    target = noop
    t0 = perf_counter_ns()
    for _ in range(n):
        spawn(target).join()
    return perf_counter_ns() - t0


def stdlib_sleep0(n: int) -> int:
    sleep = time.sleep
    t0 = perf_counter_ns()
    for _ in range(n):
        sleep(0)
    return perf_counter_ns() - t0


def threado_sleep0(n: int) -> int:
    sleep = threado.sleep
    t0 = perf_counter_ns()
    for _ in range(n):
        sleep(0)
    return perf_counter_ns() - t0


def _overshoot(sleep: Callable[[float], None], n: int) -> list[int]:
    out: list[int] = []
    for _ in range(n):
        t0 = perf_counter_ns()
        sleep(0.001)
        out.append(perf_counter_ns() - t0 - 1_000_000)
    return out


def threado_timeout_with(n: int) -> int:
    """``with threado.timeout_after(60): pass``, the scope made per iteration."""
    timeout_after = threado.timeout_after
    t0 = perf_counter_ns()
    for _ in range(n):
        with timeout_after(60):
            pass
    return perf_counter_ns() - t0


CASES: list[Case] = [
    TimeCase("spawn + join, no-op thread", stdlib_spawn_join, threado_spawn_join, 1.2),
    TimeCase("sleep(0)", stdlib_sleep0, threado_sleep0, 1.1),
    LatencyCase(
        "sleep(0.001) overshoot",
        partial(_overshoot, time.sleep),
        partial(_overshoot, threado.sleep),
        1.2,
        samples=500,
    ),
    TimeCase(
        "timeout_after(60) block (vs with Lock)",
        partial(with_loop, threading.Lock),
        threado_timeout_with,
        3.0,
    ),
]

#: The control row: one stdlib case against itself shows the noise of the run.
CONTROL = TimeCase(
    "control: stdlib spawn + join vs itself",
    stdlib_spawn_join,
    stdlib_spawn_join,
    None,
    control=True,
)
