"""Queues: a first smoke test of each class (the full suite is in progress)."""

from __future__ import annotations

import queue

import pytest

import threado
from threado.testing import wait_parked


@pytest.mark.parametrize(
    ("cls", "order"),
    [
        (threado.Queue, [1, 2, 3]),
        (threado.LifoQueue, [3, 2, 1]),
        (threado.PriorityQueue, [1, 2, 3]),
    ],
)
def test_order_and_handoff(cls: type[threado.Queue[int]], order: list[int]) -> None:
    q = cls()
    for item in (2, 1, 3) if cls is threado.PriorityQueue else (1, 2, 3):
        q.put(item)
    assert [q.get() for _ in range(3)] == order
    t = threado.spawn(q.get)
    wait_parked(t)
    q.put(9)
    assert t.join() == 9
    with pytest.raises(queue.Empty):
        q.get_nowait()


def test_cancelled_get_consumes_nothing() -> None:
    q: threado.Queue[int] = threado.Queue()
    t = threado.spawn(q.get)
    wait_parked(t)
    assert t.cancel(timeout=5)
    q.put(1)
    assert q.get_nowait() == 1


def test_simple_queue_handoff_and_cancel() -> None:
    q: threado.SimpleQueue[str] = threado.SimpleQueue()
    t = threado.spawn(q.get)
    wait_parked(t)
    q.put("x")
    assert t.join() == "x"
    t2 = threado.spawn(q.get)
    wait_parked(t2)
    assert t2.cancel(timeout=5)
    q.put("y")
    assert q.get_nowait() == "y"


def test_immediate_shutdown_releases_join_only_when_no_task_is_unfinished() -> None:
    """Python 3.13: shutdown(immediate=True) counts the removed items as done,
    but an item already taken must still be marked done before join returns."""
    q: threado.Queue[int] = threado.Queue()
    q.put(0)
    q.put(1)
    q.get()  # taken, not yet done
    t = threado.spawn(q.join)
    wait_parked(t)
    q.shutdown(immediate=True)
    assert not t.wait(timeout=0.05)  # one task is still unfinished
    q.task_done()
    assert t.wait(timeout=5)
