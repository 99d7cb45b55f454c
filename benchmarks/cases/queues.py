"""Queues: hand-offs between two threads, each side against ``queue``.

* SPSC: a producer thread puts ``n`` integers, this thread gets them; per
  item, from the producer's release until the last get. Unbounded,
  ``maxsize=SPSC_MAXSIZE``, and ``SimpleQueue`` (report only: against the C
  ``queue.SimpleQueue``).
* ping-pong: two queues between this thread and a partner; one sample is a
  ``put`` and the ``get`` of the answer.

Cancelling a consumer parked in ``get`` is a row of :mod:`cases.cancel`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns
from typing import Any, Protocol

from harness import Case, LatencyCase, TimeCase

import threado

from ._common import Start, start_stdlib, start_threado


class _QueueLike(Protocol):
    def put(self, item: Any, block: bool = ..., timeout: float | None = ...) -> None: ...
    def get(self, block: bool = ..., timeout: float | None = ...) -> Any: ...


#: The bounded SPSC row's ``maxsize``: small enough that the producer keeps
#: filling the queue and blocking in ``put``, as a bounded pipeline stage does.
SPSC_MAXSIZE = 64


def _spsc(make_queue: Callable[[], _QueueLike], start: Start, n: int) -> int:
    """A producer thread puts ``n`` items; this thread gets them.

    The producer is started first and released by a gate; the clock runs from
    its release until this thread has got the last item.
    """
    q = make_queue()
    go = threading.Event()  # the same gate on both sides

    def producer() -> None:
        go.wait()
        put = q.put
        for i in range(n):
            put(i)

    join = start(producer)
    get = q.get
    got = 0
    try:
        t0 = perf_counter_ns()
        go.set()
        for got in range(1, n + 1):  # noqa: B007 -- ``got`` is read if a get fails
            get()
        elapsed = perf_counter_ns() - t0
    finally:
        go.set()
        # If a get failed, take what the producer has left (all but at most
        # one item), so that it never stays blocked on a full queue.
        for _ in range(n - got):
            get()
        join()
    return elapsed


def _queue_ping_pong(make_queue: Callable[[], _QueueLike], start: Start, n: int) -> list[int]:
    """Two queues: we put into ``ping`` and get from ``pong``, the partner the reverse.

    One sample: a put and the get of the answer. ``None`` stops the partner.
    """
    ping = make_queue()
    pong = make_queue()

    def partner() -> None:
        get = ping.get
        put = pong.put
        while True:
            item = get()
            if item is None:
                return
            put(item)

    join = start(partner)
    clock = perf_counter_ns
    put = ping.put
    get = pong.get
    out: list[int] = []
    append = out.append
    try:
        for _ in range(n):
            t0 = clock()
            put(1)
            get()
            append(clock() - t0)
    finally:
        ping.put(None)
        join()
    return out


CASES: list[Case] = [
    TimeCase(
        "Queue SPSC, unbounded (per item)",
        partial(_spsc, queue.Queue, start_stdlib),
        partial(_spsc, threado.Queue, start_threado),
        1.0,
    ),
    TimeCase(
        f"Queue SPSC, maxsize={SPSC_MAXSIZE} (per item)",
        partial(_spsc, partial(queue.Queue, SPSC_MAXSIZE), start_stdlib),
        partial(_spsc, partial(threado.Queue, SPSC_MAXSIZE), start_threado),
        1.0,
    ),
    TimeCase(
        "SimpleQueue SPSC (per item)",
        partial(_spsc, queue.SimpleQueue, start_stdlib),
        partial(_spsc, threado.SimpleQueue, start_threado),
        None,
    ),
    LatencyCase(
        "Queue ping-pong round trip (two queues)",
        partial(_queue_ping_pong, queue.Queue, start_stdlib),
        partial(_queue_ping_pong, threado.Queue, start_threado),
        1.0,
        samples=5000,
        p99_target=1.5,
    ),
]
