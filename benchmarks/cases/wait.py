"""``threado.wait()``: its wake-ups against the single-object waits, its cost per waitable.

* wake-up latency: an event ping-pong between this thread and a partner,
  each side waiting with ``threado.wait([event])`` against the same
  ping-pong with ``threado.Event.wait()`` (the "stdlib" column holds the
  threado single-object wait here: the issue's comparison);
* the same with a socket pair: ``threado.wait([readable(sock)])`` against
  ``threado.wait_readable(sock)``;
* ``wait()`` over N idle events and the one the partner sets, N = 1, 10,
  100, 1000, against a ``threading.Event`` ping-pong (report only: the
  growth with N is the figure; it must be linear);
* ``Event.set()``, ``Queue.put()`` and ``SimpleQueue.put()`` when nobody uses
  ``wait()``, against the standard library (report only: the hooks ``wait()``
  needs must not show).
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Callable
from functools import partial
from time import perf_counter_ns
from typing import Any, Protocol

from harness import Case, LatencyCase, TimeCase

import threado

from ._common import Start, start_stdlib, start_threado


class _EventLike(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...


def _ping_pong(
    make_event: Callable[[], Any],
    wait_for: Callable[[Any], object],
    start: Start,
    idle: int,
    n: int,
) -> list[int]:
    """Two events: we set ``ping`` and wait for ``pong``, the partner the reverse."""
    ping = make_event()
    pong = make_event()
    stop = False

    def partner() -> None:
        while True:
            wait_for(ping)
            ping.clear()
            if stop:
                return
            pong.set()

    join = start(partner)
    others = [threado.Event() for _ in range(idle)]
    wait = threado.wait
    out: list[int] = []
    append = out.append
    clock = perf_counter_ns
    try:
        if idle:
            watched = [*others, pong]
            for _ in range(n):
                t0 = clock()
                ping.set()
                wait(watched)
                pong.clear()
                append(clock() - t0)
        else:
            for _ in range(n):
                t0 = clock()
                ping.set()
                wait_for(pong)
                pong.clear()
                append(clock() - t0)
    finally:
        stop = True
        ping.set()
        join()
    return out


def _event_wait(e: Any) -> object:
    return e.wait()


def _wait_one(e: Any) -> object:
    return threado.wait([e])


def _socket_ping_pong(wait_for: Callable[[socket.socket], object], n: int) -> list[int]:
    """One byte back and forth over a socket pair; each side waits, then reads."""
    a, b = socket.socketpair()

    def partner() -> None:
        while True:
            wait_for(b)
            data = b.recv(1)
            if data != b"x":
                return
            b.send(b"x")

    t = threado.spawn(partner)
    out: list[int] = []
    append = out.append
    clock = perf_counter_ns
    try:
        for _ in range(n):
            t0 = clock()
            a.send(b"x")
            wait_for(a)
            a.recv(1)
            append(clock() - t0)
    finally:
        a.send(b"q")
        t.join()
        a.close()
        b.close()
    return out


def _wait_readable(sock: socket.socket) -> object:
    return threado.wait_readable(sock)


def _wait_readable_cond(sock: socket.socket) -> object:
    return threado.wait([threado.readable(sock)])


def _set_loop(make: Callable[[], Any], n: int) -> int:
    e = make()
    s = e.set
    t0 = perf_counter_ns()
    for _ in range(n):
        s()
    return perf_counter_ns() - t0


def _put_loop(make: Callable[[], Any], n: int) -> int:
    q = make()
    put = q.put
    t0 = perf_counter_ns()
    for i in range(n):
        put(i)
    return perf_counter_ns() - t0


CASES: list[Case] = [
    LatencyCase(
        "wait([event]) vs Event.wait() ping-pong (stdlib column: threado Event.wait)",
        partial(_ping_pong, threado.Event, _event_wait, start_threado, 0),
        partial(_ping_pong, threado.Event, _wait_one, start_threado, 0),
        1.2,
        samples=3000,
        p99_target=None,
    ),
    LatencyCase(
        "wait([readable(sock)]) vs wait_readable(sock) ping-pong (stdlib column: wait_readable)",
        partial(_socket_ping_pong, _wait_readable),
        partial(_socket_ping_pong, _wait_readable_cond),
        1.2,
        samples=3000,
    ),
    *(
        LatencyCase(
            f"wait() over {idle} idle events + 1 that fires, vs threading.Event ping-pong",
            partial(_ping_pong, threading.Event, _event_wait, start_stdlib, 0),
            partial(_ping_pong, threado.Event, _event_wait, start_threado, idle),
            None,
            samples=2000 if idle < 1000 else 300,
            full_only=idle == 1000,
        )
        for idle in (1, 10, 100, 1000)
    ),
    TimeCase(
        "Event.set() with no wait() user",
        partial(_set_loop, threading.Event),
        partial(_set_loop, threado.Event),
        None,
    ),
    TimeCase(
        "Queue.put() with no wait() user (unbounded)",
        partial(_put_loop, queue.Queue),
        partial(_put_loop, threado.Queue),
        None,
    ),
    TimeCase(
        "SimpleQueue.put() with no wait() user",
        partial(_put_loop, queue.SimpleQueue),
        partial(_put_loop, threado.SimpleQueue),
        None,
    ),
]
