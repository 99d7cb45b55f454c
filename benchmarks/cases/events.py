"""Wake-ups between two threads: Event and Condition ping-pong.

One sample is one full exchange between this thread and a partner thread,
which runs the mirror image of this thread's loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns
from typing import Protocol

from harness import Case, LatencyCase

import threado

from ._common import ConditionLike, Start, start_stdlib, start_threado


class _EventLike(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = ...) -> bool: ...


def _event_ping_pong(make_event: Callable[[], _EventLike], start: Start, n: int) -> list[int]:
    """Two events: we set ``ping`` and wait on ``pong``, the partner the reverse.

    Each side clears the event it waited on before setting the other's, so
    no set is ever lost or seen twice. One sample: set, wait, clear.
    """
    ping = make_event()
    pong = make_event()
    stop = False

    def partner() -> None:
        while True:
            ping.wait()
            ping.clear()
            if stop:
                return
            pong.set()

    join = start(partner)
    clock = perf_counter_ns
    out: list[int] = []
    append = out.append
    try:
        for _ in range(n):
            t0 = clock()
            ping.set()
            pong.wait()
            pong.clear()
            append(clock() - t0)
    finally:
        stop = True
        ping.set()
        join()
    return out


def _condition_ping_pong(
    make_condition: Callable[[], ConditionLike], start: Start, n: int
) -> list[int]:
    """One condition (over its default RLock) and a turn variable.

    We hand the turn to the partner and notify, then wait until it hands the
    turn back; the partner does the reverse. One sample: one full exchange.
    """
    cond = make_condition()
    turn = 0  # 0: ours, 1: the partner's, -1: the partner must stop

    def partner() -> None:
        nonlocal turn
        with cond:
            while True:
                while turn == 0:
                    cond.wait()
                if turn < 0:
                    return
                turn = 0
                cond.notify()

    join = start(partner)
    clock = perf_counter_ns
    out: list[int] = []
    append = out.append
    try:
        with cond:
            for _ in range(n):
                t0 = clock()
                turn = 1
                cond.notify()
                while turn:
                    cond.wait()
                append(clock() - t0)
    finally:
        with cond:
            turn = -1
            cond.notify()
        join()
    return out


CASES: list[Case] = [
    LatencyCase(
        "Event ping-pong round trip",
        partial(_event_ping_pong, threading.Event, start_stdlib),
        partial(_event_ping_pong, threado.Event, start_threado),
        1.0,
        samples=5000,
        p99_target=1.5,
    ),
    LatencyCase(
        "Condition ping-pong round trip",
        partial(_condition_ping_pong, threading.Condition, start_stdlib),
        partial(_condition_ping_pong, threado.Condition, start_threado),
        1.0,
        samples=5000,
        p99_target=1.5,
    ),
]
