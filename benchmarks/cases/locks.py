"""Locks: the uncontended paths, and throughput under contention.

The uncontended rows make one lock per runner call and reuse it in every
iteration; the contended row has ``CONTENDERS`` threads increment one
counter under one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns

from harness import Case, TimeCase

import threado

from ._common import Join, LockLike, Start, start_stdlib, start_threado, with_loop

#: Threads sharing the counter in the contended row.
CONTENDERS = 4


def _acquire_release_loop(make_lock: Callable[[], LockLike], n: int) -> int:
    """``lock.acquire(); lock.release()``, ``n`` times, as written in user code."""
    lock = make_lock()
    t0 = perf_counter_ns()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return perf_counter_ns() - t0


def _contended(make_lock: Callable[[], LockLike], start: Start, n: int) -> int:
    """``n`` increments of one counter under one lock, split over CONTENDERS threads.

    The threads are started first and released together; the clock runs from
    their release until the last one is joined.
    """
    lock = make_lock()
    go = threading.Event()  # the same gate on both sides
    count = 0

    def work(k: int) -> None:
        nonlocal count
        go.wait()
        for _ in range(k):
            with lock:
                count += 1

    q, r = divmod(n, CONTENDERS)
    joins: list[Join] = []
    t0 = 0
    try:
        for i in range(CONTENDERS):
            joins.append(start(partial(work, q + (i < r))))
        t0 = perf_counter_ns()
    finally:
        go.set()
        for join in joins:
            join()
    elapsed = perf_counter_ns() - t0
    if count != n:
        raise RuntimeError(f"lost increments: {count} != {n}")
    return elapsed


CASES: list[Case] = [
    TimeCase(
        "with Lock: pass",
        partial(with_loop, threading.Lock),
        partial(with_loop, threado.Lock),
        2.5,
    ),
    TimeCase(
        "with RLock: pass",
        partial(with_loop, threading.RLock),
        partial(with_loop, threado.RLock),
        2.5,
    ),
    TimeCase(
        "Lock acquire()+release()",
        partial(_acquire_release_loop, threading.Lock),
        partial(_acquire_release_loop, threado.Lock),
        3.0,
    ),
    TimeCase(
        "RLock acquire()+release()",
        partial(_acquire_release_loop, threading.RLock),
        partial(_acquire_release_loop, threado.RLock),
        3.0,
    ),
    TimeCase(
        f"{CONTENDERS} threads x with Lock: count += 1 (per increment)",
        partial(_contended, threading.Lock, start_stdlib),
        partial(_contended, threado.Lock, start_threado),
        1.25,
    ),
]
