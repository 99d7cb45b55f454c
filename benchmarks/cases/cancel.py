"""Cancel round trips: one thread parked in a wait, cancelled.

Each row times threado's blocking ``t.cancel()`` of a thread parked in a
threado wait against the stdlib waking the same wait and joining the thread
(see :mod:`cases._common`). Each sample starts a fresh thread and a fresh
primitive (a fresh socket pair for ``recv``).

The first row parks the threado thread in ``threado.sleep(60)``, which the
stdlib cannot wake at all; its stdlib side is the ``Event.wait`` row's.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from harness import Case, LatencyCase

import threado
import threado.socket

from ._common import (
    CONDITION_WAIT,
    THREAD_RUN,
    ConditionLike,
    stdlib_wake_join,
    threado_cancel,
)

#: Largest acceptable ratios of every row: a cancel costs about one OS
#: wake-up, as the stdlib's wake-and-join does.
TARGET_P50 = 1.2
TARGET_P99 = 1.3

#: Samples per side and repeat (full mode): each one starts a thread.
SAMPLES = 400


def stdlib_event_set_join(n: int) -> list[int]:
    """A thread parked in ``Event.wait()``: from ``set()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        ev = threading.Event()
        out.append(stdlib_wake_join(ev.wait, CONDITION_WAIT, ev.set))
    return out


def threado_cancel_sleep(n: int) -> list[int]:
    """A thread parked in ``threado.sleep(60)``."""
    return [threado_cancel(partial(threado.sleep, 60)) for _ in range(n)]


def stdlib_lock_release_join(n: int) -> list[int]:
    """A thread parked in ``Lock.acquire()``: from ``release()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        lock = threading.Lock()
        lock.acquire()
        # The thread runs lock.acquire itself: Thread.run is its innermost frame.
        out.append(stdlib_wake_join(lock.acquire, THREAD_RUN, lock.release))
    return out


def threado_cancel_lock(n: int) -> list[int]:
    """A thread parked in ``threado.Lock.acquire()``, the lock held by this thread."""
    out: list[int] = []
    for _ in range(n):
        lock = threado.Lock()
        lock.acquire()
        out.append(threado_cancel(lock.acquire))
        lock.release()
    return out


def threado_cancel_event(n: int) -> list[int]:
    """A thread parked in ``threado.Event.wait()``."""
    return [threado_cancel(threado.Event().wait) for _ in range(n)]


def _condition_wait(cond: ConditionLike) -> None:
    with cond:
        cond.wait()


def _condition_notify(cond: ConditionLike) -> None:
    with cond:
        cond.notify()


def stdlib_condition_notify_join(n: int) -> list[int]:
    """A thread parked in ``Condition.wait()``: from ``notify()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        cond = threading.Condition()
        out.append(
            stdlib_wake_join(
                partial(_condition_wait, cond), CONDITION_WAIT, partial(_condition_notify, cond)
            )
        )
    return out


def threado_cancel_condition(n: int) -> list[int]:
    """A thread parked in ``threado.Condition.wait()``."""
    return [threado_cancel(partial(_condition_wait, threado.Condition())) for _ in range(n)]


def stdlib_semaphore_release_join(n: int) -> list[int]:
    """A thread parked in ``Semaphore.acquire()``: from ``release()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        sem = threading.Semaphore(0)
        # Semaphore.acquire waits in Condition.wait.
        out.append(stdlib_wake_join(sem.acquire, CONDITION_WAIT, sem.release))
    return out


def threado_cancel_semaphore(n: int) -> list[int]:
    """A thread parked in ``threado.Semaphore(0).acquire()``."""
    return [threado_cancel(threado.Semaphore(0).acquire) for _ in range(n)]


def stdlib_queue_put_join(n: int) -> list[int]:
    """A thread parked in ``queue.Queue.get()``: from ``put()`` until ``join()`` returns."""
    out: list[int] = []
    for _ in range(n):
        q: queue.Queue[None] = queue.Queue()
        # queue.Queue.get waits in Condition.wait.
        out.append(stdlib_wake_join(q.get, CONDITION_WAIT, partial(q.put, None)))
    return out


def threado_cancel_queue_get(n: int) -> list[int]:
    """A thread parked in ``threado.Queue.get()``."""
    return [threado_cancel(threado.Queue[None]().get) for _ in range(n)]


def _recv_one(sock: Any) -> None:
    sock.recv(1)


def _in_socketpair(make_pair: Callable[[], tuple[Any, Any]], run: Callable[[Any, Any], int]) -> int:
    """``run(a, b)`` with a fresh socket pair, closed afterwards."""
    a, b = make_pair()
    with a, b:
        return run(a, b)


def stdlib_recv_send_join(n: int) -> list[int]:
    """A thread blocked in ``recv`` of a socket pair: from sending it one byte from the
    other end until ``join()`` returns."""

    def one(a: socket.socket, b: socket.socket) -> int:
        # recv is a C call: _recv_one is the innermost Python frame.
        return stdlib_wake_join(partial(_recv_one, a), _recv_one.__code__, partial(b.send, b"!"))

    return [_in_socketpair(socket.socketpair, one) for _ in range(n)]


def threado_cancel_recv(n: int) -> list[int]:
    """A thread parked in ``recv`` of a ``threado.socket.socketpair()``."""

    def one(a: Any, b: Any) -> int:
        return threado_cancel(partial(_recv_one, a))

    return [_in_socketpair(threado.socket.socketpair, one) for _ in range(n)]


def _row(
    name: str,
    stdlib: Callable[[int], list[int]],
    thr: Callable[[int], list[int]],
    samples: int = SAMPLES,
) -> Case:
    return LatencyCase(name, stdlib, thr, TARGET_P50, samples=samples, p99_target=TARGET_P99)


CASES: list[Case] = [
    _row(
        "cancel round trip: sleep(60) (vs Event.set+join)",
        stdlib_event_set_join,
        threado_cancel_sleep,
    ),
    _row("cancel in Lock.acquire (vs release+join)", stdlib_lock_release_join, threado_cancel_lock),
    _row("cancel in Event.wait (vs set+join)", stdlib_event_set_join, threado_cancel_event),
    _row(
        "cancel in Condition.wait (vs notify+join)",
        stdlib_condition_notify_join,
        threado_cancel_condition,
    ),
    _row(
        "cancel in Semaphore.acquire (vs release+join)",
        stdlib_semaphore_release_join,
        threado_cancel_semaphore,
    ),
    _row("cancel in Queue.get (vs put+join)", stdlib_queue_put_join, threado_cancel_queue_get),
    # Fewer samples: each one also makes a socket pair.
    _row(
        "cancel in recv (vs send 1 byte + join)",
        stdlib_recv_send_join,
        threado_cancel_recv,
        samples=200,
    ),
]
