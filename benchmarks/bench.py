"""threado against the standard library, side by side in one process.

Usage::

    python benchmarks/bench.py            # full run, about five minutes
    python benchmarks/bench.py --quick    # CI: about a minute
    python benchmarks/bench.py --json out.json --only sleep

Every row runs a standard-library case and the matching threado case in the
same process, alternating their repeats (stdlib, threado, stdlib, threado,
...), and reports the ratio threado/stdlib next to the target of the
performance contract (SPEC.md section 9). Absolute times on a shared machine
are noise; ratios measured in the same run are what counts. The control row
runs one stdlib case against itself in the same way, so its distance from
1.00x shows how noisy the run was. A row whose target is ``None`` only
reports its ratio (marked ``report``). The script only reports: it never
fails because of a number.

There are two kinds of case:

* ``TimeCase``: a *runner* ``(n) -> ns`` performs the operation ``n`` times
  in its own loop and returns the elapsed time. Each side's ``n`` is
  calibrated so one repeat takes about ``Mode.budget_s``; the row reports the
  median per-operation time over the repeats.
* ``LatencyCase``: a *sampler* ``(n) -> [ns, ...]`` returns ``n`` individual
  measurements (set-up excluded). Samples are pooled per side over all the
  repeats; the row reports p50 and p99 and the ratio of each (``p99_target``
  gives p99 its own target where it differs).

To add a row, write the two functions and append a case to ``CASES``.
Runners bind what they call to locals so that both sides pay the same loop
and name-lookup overhead. Nothing global is switched off (the garbage
collector stays on); ``gc.collect()`` runs before each side's repeat, outside
the timed region, so neither side pays for the other's garbage.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import math
import os
import platform
import queue
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from time import perf_counter_ns
from types import CodeType, TracebackType
from typing import Any, Protocol

try:
    import threado
except ModuleNotFoundError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import threado
import threado.socket
import threado.testing

Runner = Callable[[int], int]
"""Perform an operation ``n`` times; return the elapsed nanoseconds."""

Sampler = Callable[[int], list[int]]
"""Take ``n`` measurements; return each one in nanoseconds."""


@dataclass(frozen=True)
class TimeCase:
    """A row reporting the median time per operation."""

    name: str
    stdlib: Runner
    threado: Runner
    target: float | None
    """Largest acceptable ratio threado/stdlib; ``None``: no target, the row only reports."""
    control: bool = False
    """The control row: the same stdlib case on both sides, to show the run's noise."""


@dataclass(frozen=True)
class LatencyCase:
    """A row reporting p50 and p99 of pooled per-sample latencies."""

    name: str
    stdlib: Sampler
    threado: Sampler
    target: float | None
    """Largest acceptable ratio threado/stdlib for p50 (and for p99 unless ``p99_target``);
    ``None``: no target, the row only reports."""
    samples: int
    """Samples per side and per repeat in the full mode (quick mode takes fewer)."""
    p99_target: float | None = None
    """Largest acceptable p99 ratio, where it differs from ``target``."""


Case = TimeCase | LatencyCase


@dataclass(frozen=True)
class Mode:
    name: str
    repeats: int
    budget_s: float
    """Target duration of one repeat of one side of a TimeCase."""
    sample_fraction: float
    """Fraction of ``LatencyCase.samples`` taken per repeat."""


QUICK = Mode("quick", repeats=9, budget_s=0.08, sample_fraction=0.4)
FULL = Mode("full", repeats=15, budget_s=0.4, sample_fraction=1.0)

#: Pause before starting the clock in the cancel round trip, on both sides,
#: so the parked thread is really blocked in the OS, not on its way there.
SETTLE_S = 0.001


# -- cases ----------------------------------------------------------------------


def _noop() -> None:
    pass


# What the helpers shared by both sides need from either side's primitives.


class _LockLike(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class _EventLike(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = ...) -> bool: ...


class _ConditionLike(Protocol):
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def wait(self, timeout: float | None = ...) -> bool: ...
    def notify(self, n: int = ...) -> None: ...


Join = Callable[[], object]
Start = Callable[[Callable[[], object]], Join]
"""Start a function in a new thread; return what joins it."""


def _start_stdlib(fn: Callable[[], object]) -> Join:
    th = threading.Thread(target=fn)
    th.start()
    return th.join


def _start_threado(fn: Callable[[], object]) -> Join:
    return threado.spawn(fn).join


# 1. spawn + join of a no-op thread


def stdlib_spawn_join(n: int) -> int:
    Thread = threading.Thread
    noop = _noop
    t0 = perf_counter_ns()
    for _ in range(n):
        t = Thread(target=noop)
        t.start()
        t.join()
    return perf_counter_ns() - t0


def threado_spawn_join(n: int) -> int:
    spawn = threado.spawn
    noop = _noop
    t0 = perf_counter_ns()
    for _ in range(n):
        spawn(noop).join()
    return perf_counter_ns() - t0


# 2. sleep(0)


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


# 3. sleep(0.001) overshoot


def _overshoot(sleep: Callable[[float], None], n: int) -> list[int]:
    out: list[int] = []
    for _ in range(n):
        t0 = perf_counter_ns()
        sleep(0.001)
        out.append(perf_counter_ns() - t0 - 1_000_000)
    return out


def stdlib_sleep_overshoot(n: int) -> list[int]:
    return _overshoot(time.sleep, n)


def threado_sleep_overshoot(n: int) -> list[int]:
    return _overshoot(threado.sleep, n)


# 4. cancel round trip of a parked thread: threado's blocking ``cancel()``
# against the stdlib's wake-up (release / set / notify) followed by ``join()``
# of the same wait. Each sample starts a fresh thread and a fresh primitive;
# both sides pause SETTLE_S once the thread is parked, then start the clock.


_CONDITION_WAIT = threading.Condition.wait.__code__
_THREAD_RUN = threading.Thread.run.__code__


def _wait_until_innermost(ident: int, code: CodeType) -> None:
    """Spin until the thread's innermost Python frame runs ``code``.

    A thread blocked in a C call (``Lock.acquire``) shows the Python frame
    that made the call; once that frame is innermost, the thread is at most
    a few bytecodes from blocking, and ``SETTLE_S`` covers those.
    """
    while True:
        frame = sys._current_frames().get(ident)
        if frame is not None and frame.f_code is code:
            return
        time.sleep(0)


def _stdlib_wake_join(
    target: Callable[[], object], code: CodeType, wake: Callable[[], object]
) -> int:
    """Run ``target`` in a thread; once it blocks in ``code``, time ``wake()`` + ``join()``."""
    th = threading.Thread(target=target)
    th.start()
    try:
        assert th.ident is not None
        _wait_until_innermost(th.ident, code)
        time.sleep(SETTLE_S)
        t0 = perf_counter_ns()
        wake()
        th.join()
        return perf_counter_ns() - t0
    finally:
        # Something failed before the wake-up: wake it until it ends, never leak it.
        while th.is_alive():
            with contextlib.suppress(RuntimeError):
                wake()
            th.join(0.1)


def _threado_cancel(target: Callable[[], object]) -> int:
    """Spawn ``target``; once it is parked, time the blocking ``cancel()``."""
    t = threado.spawn(target)
    try:
        threado.testing.wait_parked(t)
        time.sleep(SETTLE_S)
        t0 = perf_counter_ns()
        t.cancel()
        elapsed = perf_counter_ns() - t0
    finally:
        t.cancel()  # a no-op once it has ended; otherwise do not leak it
    if not t.cancelled:
        raise RuntimeError(f"{t!r} was not cancelled")
    return elapsed


def stdlib_cancel_round_trip(n: int) -> list[int]:
    """A thread parked in ``Event.wait()``: from ``set()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        ev = threading.Event()
        out.append(_stdlib_wake_join(ev.wait, _CONDITION_WAIT, ev.set))
    return out


def threado_cancel_round_trip(n: int) -> list[int]:
    """A thread parked in ``threado.sleep(60)``: the blocking ``cancel()`` call."""
    return [_threado_cancel(partial(threado.sleep, 60)) for _ in range(n)]


def stdlib_lock_release_join(n: int) -> list[int]:
    """A thread parked in ``Lock.acquire()``: from ``release()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        lock = threading.Lock()
        lock.acquire()
        # The thread runs lock.acquire itself: Thread.run is its innermost frame.
        out.append(_stdlib_wake_join(lock.acquire, _THREAD_RUN, lock.release))
    return out


def threado_cancel_lock(n: int) -> list[int]:
    """A thread parked in ``threado.Lock.acquire()``, the lock held by this thread."""
    out: list[int] = []
    for _ in range(n):
        lock = threado.Lock()
        lock.acquire()
        out.append(_threado_cancel(lock.acquire))
        lock.release()
    return out


def threado_cancel_event(n: int) -> list[int]:
    """A thread parked in ``threado.Event.wait()``."""
    return [_threado_cancel(threado.Event().wait) for _ in range(n)]


def _condition_wait(cond: _ConditionLike) -> None:
    with cond:
        cond.wait()


def _condition_notify(cond: _ConditionLike) -> None:
    with cond:
        cond.notify()


def stdlib_condition_notify_join(n: int) -> list[int]:
    """A thread parked in ``Condition.wait()``: from ``notify()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        cond = threading.Condition()
        out.append(
            _stdlib_wake_join(
                partial(_condition_wait, cond), _CONDITION_WAIT, partial(_condition_notify, cond)
            )
        )
    return out


def threado_cancel_condition(n: int) -> list[int]:
    """A thread parked in ``threado.Condition.wait()``."""
    return [_threado_cancel(partial(_condition_wait, threado.Condition())) for _ in range(n)]


# 5. entering and leaving a timeout block


def stdlib_lock_with(n: int) -> int:
    """An uncontended ``with lock: pass``, the lock made once."""
    return _with_loop(threading.Lock, n)


def threado_timeout_with(n: int) -> int:
    """``with threado.timeout_after(60): pass``, the scope made per iteration."""
    timeout_after = threado.timeout_after
    t0 = perf_counter_ns()
    for _ in range(n):
        with timeout_after(60):
            pass
    return perf_counter_ns() - t0


# 6. uncontended locks: one lock made per runner call, reused by every iteration


def _with_loop(make_lock: Callable[[], _LockLike], n: int) -> int:
    """``with lock: pass``, ``n`` times."""
    lock = make_lock()
    t0 = perf_counter_ns()
    for _ in range(n):
        with lock:
            pass
    return perf_counter_ns() - t0


def _acquire_release_loop(make_lock: Callable[[], _LockLike], n: int) -> int:
    """``lock.acquire(); lock.release()``, ``n`` times, as written in user code."""
    lock = make_lock()
    t0 = perf_counter_ns()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return perf_counter_ns() - t0


# 7. contended lock throughput: CONTENDERS threads share one counter

CONTENDERS = 4


def _contended(make_lock: Callable[[], _LockLike], start: Start, n: int) -> int:
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


# 8. ping-pong between this thread and a partner: per-round-trip latency


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
    make_condition: Callable[[], _ConditionLike], start: Start, n: int
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


# 9. queues: hand-offs between two threads, and cancelling a parked consumer


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


def stdlib_queue_put_join(n: int) -> list[int]:
    """A thread parked in ``queue.Queue.get()``: from ``put()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        q: queue.Queue[None] = queue.Queue()
        # queue.Queue.get waits in Condition.wait.
        out.append(_stdlib_wake_join(q.get, _CONDITION_WAIT, partial(q.put, None)))
    return out


def threado_cancel_queue_get(n: int) -> list[int]:
    """A thread parked in ``threado.Queue.get()``."""
    return [_threado_cancel(threado.Queue[None]().get) for _ in range(n)]


# -- thread groups ---------------------------------------------------------------

GROUP_SIZE = 100


def stdlib_100_threads(n: int) -> int:
    """100 threading.Thread start + join, n times."""
    thread = threading.Thread
    start = perf_counter_ns()
    for _ in range(n):
        ts = [thread(target=_noop) for _ in range(GROUP_SIZE)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    return perf_counter_ns() - start


def threado_group_100(n: int) -> int:
    """A ThreadGroup of 100 no-op threads (spawn, exit), n times."""
    group = threado.ThreadGroup
    start = perf_counter_ns()
    for _ in range(n):
        with group() as g:
            for _ in range(GROUP_SIZE):
                g.spawn(_noop)
    return perf_counter_ns() - start


def _fail_when(gate: threado.Event) -> None:
    gate.wait()
    raise ValueError("boom")


def threado_group_failure(n: int) -> list[int]:
    """From a child's failure to the block raising, with 100 siblings parked."""
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
    """One cancel round trip of a parked thread: the unit of the row above."""
    return [_threado_cancel(lambda: threado.sleep(60)) for _ in range(n)]


# -- sockets ------------------------------------------------------------------------

ECHO_CHUNK = b"x"
BULK_BYTES = 32 * 1024 * 1024
BULK_CHUNK = 256 * 1024


def _echo_server(sock: Any) -> None:
    """Echo until the peer closes (runs in a plain thread: the far end)."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


def _echo_round_trips(make_pair: Callable[[], tuple[Any, Any]], in_threado: bool, n: int) -> int:
    """n one-byte echo round trips; the client runs in a threado thread or a plain one."""
    a, b = make_pair()
    server = threading.Thread(target=_echo_server, args=(b,))
    server.start()
    out: list[int] = []

    def client() -> None:
        recv, send = a.recv, a.send
        t0 = perf_counter_ns()
        for _ in range(n):
            send(ECHO_CHUNK)
            recv(1)
        out.append(perf_counter_ns() - t0)

    try:
        if in_threado:
            threado.spawn(client).join()
        else:
            c = threading.Thread(target=client)
            c.start()
            c.join()
    finally:
        a.close()
        server.join()
        b.close()
    return out[0]


def stdlib_echo(n: int) -> int:
    return _echo_round_trips(socket.socketpair, False, n)


def threado_echo(n: int) -> int:
    return _echo_round_trips(threado.socket.socketpair, True, n)


def threado_echo_uncancellable(n: int) -> int:
    # What a patched stdlib socket costs a plain thread nobody can cancel.
    return _echo_round_trips(threado.socket.socketpair, False, n)


def _bulk(
    make_server: Callable[..., Any], connect: Callable[..., Any], in_threado: bool, n: int
) -> int:
    """Send n * BULK_BYTES through a TCP loopback connection; time it."""
    listener = make_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[int] = []

    def receive() -> None:
        conn, _ = listener.accept()
        total = 0
        with conn:
            while True:
                data = conn.recv(BULK_CHUNK)
                if not data:
                    break
                total += len(data)
        received.append(total)

    def send_all() -> None:
        payload = b"\0" * BULK_CHUNK
        with connect(("127.0.0.1", port)) as s:
            for _ in range(n * BULK_BYTES // BULK_CHUNK):
                s.sendall(payload)

    t0 = perf_counter_ns()
    if in_threado:
        with threado.ThreadGroup() as g:
            g.spawn(receive)
            g.spawn(send_all)
    else:
        ts = [threading.Thread(target=receive), threading.Thread(target=send_all)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    elapsed = perf_counter_ns() - t0
    listener.close()
    if received != [n * BULK_BYTES]:
        raise RuntimeError(f"bulk transfer lost data: {received}")
    return elapsed


def stdlib_bulk(n: int) -> int:
    return _bulk(socket.create_server, socket.create_connection, False, n)


def threado_bulk(n: int) -> int:
    return _bulk(threado.socket.create_server, threado.socket.create_connection, True, n)


def _recv_one(sock: Any) -> None:
    sock.recv(1)


def stdlib_recv_wake_join(n: int) -> list[int]:
    """A thread blocked in recv: from sending it one byte until join() returns."""
    out: list[int] = []
    for _ in range(n):
        a, b = socket.socketpair()
        try:
            out.append(
                _stdlib_wake_join(
                    functools.partial(_recv_one, a),
                    _recv_one.__code__,
                    functools.partial(b.send, b"!"),
                )
            )
        finally:
            a.close()
            b.close()
    return out


def threado_cancel_recv(n: int) -> list[int]:
    out: list[int] = []
    for _ in range(n):
        a, b = threado.socket.socketpair()
        try:
            out.append(_threado_cancel(functools.partial(_recv_one, a)))
        finally:
            a.close()
            b.close()
    return out


CASES: list[Case] = [
    TimeCase("spawn + join, no-op thread", stdlib_spawn_join, threado_spawn_join, 1.2),
    TimeCase("sleep(0)", stdlib_sleep0, threado_sleep0, 1.1),
    LatencyCase(
        "sleep(0.001) overshoot",
        stdlib_sleep_overshoot,
        threado_sleep_overshoot,
        1.2,
        samples=500,
    ),
    LatencyCase(
        "cancel round trip (vs Event.set+join)",
        stdlib_cancel_round_trip,
        threado_cancel_round_trip,
        1.5,
        samples=400,
    ),
    LatencyCase(
        "cancel in Lock.acquire (vs release+join)",
        stdlib_lock_release_join,
        threado_cancel_lock,
        1.5,
        samples=400,
    ),
    LatencyCase(
        "cancel in Event.wait (vs set+join)",
        stdlib_cancel_round_trip,
        threado_cancel_event,
        1.5,
        samples=400,
    ),
    LatencyCase(
        "cancel in Condition.wait (vs notify+join)",
        stdlib_condition_notify_join,
        threado_cancel_condition,
        1.5,
        samples=400,
    ),
    TimeCase("timeout_after(60) block (vs with Lock)", stdlib_lock_with, threado_timeout_with, 5.0),
    TimeCase(
        "with Lock: pass",
        partial(_with_loop, threading.Lock),
        partial(_with_loop, threado.Lock),
        2.5,
    ),
    TimeCase(
        "with RLock: pass",
        partial(_with_loop, threading.RLock),
        partial(_with_loop, threado.RLock),
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
        partial(_contended, threading.Lock, _start_stdlib),
        partial(_contended, threado.Lock, _start_threado),
        1.25,
    ),
    LatencyCase(
        "Event ping-pong round trip",
        partial(_event_ping_pong, threading.Event, _start_stdlib),
        partial(_event_ping_pong, threado.Event, _start_threado),
        1.0,
        samples=5000,
        p99_target=1.5,
    ),
    LatencyCase(
        "Condition ping-pong round trip",
        partial(_condition_ping_pong, threading.Condition, _start_stdlib),
        partial(_condition_ping_pong, threado.Condition, _start_threado),
        1.1,
        samples=5000,
        p99_target=1.5,
    ),
    TimeCase(
        "Queue SPSC, unbounded (per item)",
        partial(_spsc, queue.Queue, _start_stdlib),
        partial(_spsc, threado.Queue, _start_threado),
        1.0,
    ),
    TimeCase(
        f"Queue SPSC, maxsize={SPSC_MAXSIZE} (per item)",
        partial(_spsc, partial(queue.Queue, SPSC_MAXSIZE), _start_stdlib),
        partial(_spsc, partial(threado.Queue, SPSC_MAXSIZE), _start_threado),
        1.0,
    ),
    TimeCase(
        "SimpleQueue SPSC (per item)",
        partial(_spsc, queue.SimpleQueue, _start_stdlib),
        partial(_spsc, threado.SimpleQueue, _start_threado),
        None,
    ),
    LatencyCase(
        "Queue ping-pong round trip (two queues)",
        partial(_queue_ping_pong, queue.Queue, _start_stdlib),
        partial(_queue_ping_pong, threado.Queue, _start_threado),
        1.0,
        samples=5000,
        p99_target=1.5,
    ),
    LatencyCase(
        "cancel in Queue.get (vs put+join)",
        stdlib_queue_put_join,
        threado_cancel_queue_get,
        1.5,
        samples=400,
    ),
    TimeCase(
        "ThreadGroup of 100 no-op threads (vs 100 Thread start+join)",
        stdlib_100_threads,
        threado_group_100,
        1.2,
    ),
    # The 'stdlib' side here is threado's own single cancel round trip: the
    # row shows how many round trips a failing group with 100 parked
    # siblings costs (in parallel: a few, not 100).
    LatencyCase(
        "group failure -> raise, 100 parked siblings (vs 1 cancel)",
        threado_one_cancel,
        threado_group_failure,
        None,
        samples=30,
    ),
    TimeCase("socket echo round trip: threado.socket", stdlib_echo, threado_echo, 1.3),
    TimeCase(
        "socket echo round trip: patched, uncancellable thread",
        stdlib_echo,
        threado_echo_uncancellable,
        1.05,
    ),
    # Throughput: time per BULK_BYTES (32 MiB); >= 0.9x the rate is <= 1.11x the time.
    TimeCase("bulk TCP loopback, time per 32 MiB", stdlib_bulk, threado_bulk, 1.11),
    LatencyCase(
        "cancel in recv (vs send 1 byte + join)",
        stdlib_recv_wake_join,
        threado_cancel_recv,
        1.5,
        samples=200,
    ),
    # The control row: one stdlib case against itself shows the noise of the run.
    TimeCase(
        "control: stdlib spawn + join vs itself",
        stdlib_spawn_join,
        stdlib_spawn_join,
        None,
        control=True,
    ),
]


# -- measuring ------------------------------------------------------------------


@dataclass
class Row:
    """One printed line."""

    case: str
    stat: str
    stdlib_ns: float
    threado_ns: float
    target: float | None
    spread: tuple[float, float] | None = None
    """Min and max of the per-repeat ratios, where that is meaningful."""
    control: bool = False

    @property
    def ratio(self) -> float:
        return self.threado_ns / self.stdlib_ns if self.stdlib_ns > 0 else math.inf


@dataclass
class Result:
    case: str
    kind: str
    rows: list[Row]
    raw: dict[str, Any] = field(default_factory=dict)


def calibrate(runner: Runner, budget_s: float) -> int:
    """Return how many operations take about ``budget_s``; warms the runner up too."""
    n = 1
    while True:
        elapsed = runner(n)
        if elapsed >= budget_s * 1e9 / 10 or n >= 1 << 30:
            break
        n *= 4 if elapsed < budget_s * 1e9 / 100 else 2
    per_op = max(elapsed / n, 1.0)
    return max(1, round(budget_s * 1e9 / per_op))


def percentile(sorted_data: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; data must be sorted."""
    if not sorted_data:
        return math.nan
    pos = (len(sorted_data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_data) - 1)
    return sorted_data[lo] + (sorted_data[hi] - sorted_data[lo]) * (pos - lo)


def _ratio_range(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    ratios = [y / x for x, y in zip(a, b, strict=True) if x > 0]
    return (min(ratios), max(ratios)) if ratios else (math.nan, math.nan)


def measure_time(case: TimeCase, mode: Mode) -> Result:
    n_std = calibrate(case.stdlib, mode.budget_s)
    n_thr = calibrate(case.threado, mode.budget_s)
    std: list[float] = []
    thr: list[float] = []
    for _ in range(mode.repeats):
        gc.collect()
        std.append(case.stdlib(n_std) / n_std)
        gc.collect()
        thr.append(case.threado(n_thr) / n_thr)
    row = Row(
        case.name,
        "per op",
        statistics.median(std),
        statistics.median(thr),
        case.target,
        _ratio_range(std, thr),
        case.control,
    )
    raw = {"n_stdlib": n_std, "n_threado": n_thr, "stdlib_ns": std, "threado_ns": thr}
    return Result(case.name, "time", [row], raw)


def measure_latency(case: LatencyCase, mode: Mode) -> Result:
    n = max(20, round(case.samples * mode.sample_fraction))
    warm = max(2, n // 10)
    case.stdlib(warm)
    case.threado(warm)
    std: list[int] = []
    thr: list[int] = []
    std_p50: list[float] = []
    thr_p50: list[float] = []
    for _ in range(mode.repeats):
        gc.collect()
        s = case.stdlib(n)
        gc.collect()
        t = case.threado(n)
        std += s
        thr += t
        std_p50.append(statistics.median(s))
        thr_p50.append(statistics.median(t))
    std.sort()
    thr.sort()
    rows = [
        Row(
            case.name,
            "p50",
            percentile(std, 50),
            percentile(thr, 50),
            case.target,
            _ratio_range(std_p50, thr_p50),
        ),
        Row(
            case.name,
            "p99",
            percentile(std, 99),
            percentile(thr, 99),
            case.target if case.p99_target is None else case.p99_target,
        ),
    ]
    raw = {
        "samples_per_repeat": n,
        "stdlib_pcts_ns": {q: percentile(std, q) for q in (0, 10, 50, 90, 99, 100)},
        "threado_pcts_ns": {q: percentile(thr, q) for q in (0, 10, 50, 90, 99, 100)},
    }
    return Result(case.name, "latency", rows, raw)


def measure(case: Case, mode: Mode) -> Result:
    if isinstance(case, TimeCase):
        return measure_time(case, mode)
    return measure_latency(case, mode)


# -- reporting ------------------------------------------------------------------


def fmt_ns(ns: float) -> str:
    if math.isnan(ns):
        return "-"
    a = abs(ns)
    if a >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if a >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def fmt_target(row: Row) -> str:
    if row.control:
        return "(noise)"
    return "report" if row.target is None else f"<= {row.target:g}x"


def fmt_verdict(row: Row) -> str:
    if row.target is None:
        return ""
    return "ok" if row.ratio <= row.target else "OVER"


def render(rows: Sequence[Row]) -> str:
    header = ["case", "stat", "stdlib", "threado", "ratio", "pair min-max", "target", ""]
    lines: list[list[str]] = []
    last = None
    for r in rows:
        spread = "-" if r.spread is None else f"{r.spread[0]:.2f}-{r.spread[1]:.2f}"
        lines.append(
            [
                r.case if r.case != last else "",
                r.stat,
                fmt_ns(r.stdlib_ns),
                fmt_ns(r.threado_ns),
                f"{r.ratio:.2f}x",
                spread,
                fmt_target(r),
                fmt_verdict(r),
            ]
        )
        last = r.case
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    left = {0, 1}

    def fmt(cols: list[str]) -> str:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])]
    out += [fmt(x) for x in lines]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run for CI (about a minute)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the results here")
    parser.add_argument("--only", metavar="TEXT", help="run only cases whose name contains TEXT")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    args = parser.parse_args(argv)

    mode = QUICK if args.quick else FULL
    if args.repeats is not None:
        mode = Mode(mode.name, max(1, args.repeats), mode.budget_s, mode.sample_fraction)
    cases = [c for c in CASES if args.only is None or args.only.lower() in c.name.lower()]
    if not cases:
        parser.error(f"no case name contains {args.only!r}")

    print(f"threado {threado.__version__} benchmark, threado/stdlib ratios (lower is better)")
    print(
        f"python   {sys.version.split()[0]} ({platform.python_implementation()}) {sys.executable}"
    )
    print(f"platform {platform.platform()}, {_cpus()} CPUs")
    print(
        f"mode     {mode.name}: {mode.repeats} interleaved repeats per side, "
        f"{mode.budget_s:g} s per repeat (per-op rows), medians; latency rows pool samples"
    )
    print()
    sys.stdout.flush()

    start = time.monotonic()
    results: list[Result] = []
    for case in cases:
        t0 = time.monotonic()
        results.append(measure(case, mode))
        print(f"  measured {case.name!r} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    elapsed = time.monotonic() - start

    rows = [r for res in results for r in res.rows]
    print(render(rows))
    print()
    print(
        "ratio: threado/stdlib of the medians (latency: of the pooled p50 / p99); "
        "pair min-max: range of the per-repeat ratios."
    )
    print(f"total {elapsed:.1f} s")

    if args.json is not None:
        doc = {
            "python": sys.version,
            "platform": platform.platform(),
            "cpus": _cpus(),
            "mode": asdict(mode),
            "threado_version": threado.__version__,
            "elapsed_s": elapsed,
            "results": [
                {
                    "case": res.case,
                    "kind": res.kind,
                    "rows": [{**asdict(r), "ratio": r.ratio} for r in res.rows],
                    "raw": res.raw,
                }
                for res in results
            ],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
