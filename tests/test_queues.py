"""Queues: Queue, LifoQueue, PriorityQueue, SimpleQueue (SPEC §2, §4).

The generic tests run for every class of the family (and for SimpleQueue
where its smaller interface applies); the race tests force each interleaving
named in the contract by ordering threads by their state, never by sleeping;
a Hypothesis state machine checks the non-blocking interface against a model.
"""

from __future__ import annotations

import functools
import gc
import heapq
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import (
    SLACK,
    in_cancelled_thread,
    outcome_type,
    run_python,
    self_cancelled,
    sigusr1_script,
    spawn_parked,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import threado
from threado import (
    ShutDown,
    ThreadCancelled,
    ThreadTimeout,
    _parking,
    _queues,
    _simplequeue,
    _state,
)
from threado._state import get_state, unpark
from threado.testing import wait_parked

SHORT = 0.05  # a timeout that must pass before the call gives up


ROUNDS = 30  # repetitions of a race whose outcome is left to the scheduler


Spawn = Callable[..., threado.Thread[Any]]


AnyQueue = Any  # threado.Queue[Any] | threado.SimpleQueue[Any]


FAMILY: dict[str, type[threado.Queue[Any]]] = {
    "Queue": threado.Queue,
    "LifoQueue": threado.LifoQueue,
    "PriorityQueue": threado.PriorityQueue,
}


EVERY: dict[str, Callable[[], AnyQueue]] = {**FAMILY, "SimpleQueue": threado.SimpleQueue}


@pytest.fixture(params=list(FAMILY), ids=list(FAMILY))
def qcls(request: pytest.FixtureRequest) -> type[threado.Queue[Any]]:
    """Each class of the Queue family (the full interface)."""
    return FAMILY[request.param]


@pytest.fixture(params=list(EVERY), ids=list(EVERY))
def anycls(request: pytest.FixtureRequest) -> Callable[[], AnyQueue]:
    """Each queue class, SimpleQueue included (``put``/``get`` and friends)."""
    return EVERY[request.param]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """``threado.spawn``, with every thread cancelled (and its outcome read)
    when the test ends, so that a failing test does not leave one parked."""
    started: list[threado.Thread[Any]] = []

    def _spawn(func: Callable[..., Any], *args: Any) -> threado.Thread[Any]:
        t = threado.spawn(func, *args)
        started.append(t)
        return t

    yield _spawn
    for t in started:
        t.cancel(timeout=5)
        if t.done():
            t.exception  # noqa: B018 -- read: the outcome is not logged as unretrieved


def parked(t: threado.Thread[Any], q: AnyQueue = None) -> None:
    """Return once ``t`` is parked where a put, a get or a cancel reaches it.

    ``SimpleQueue.get`` does not wake ``wait_parked``'s watchers (see
    ``test_wait_parked_sees_a_simple_queue_getter_park``), so for it this
    polls the getter's registration instead: state, not elapsed time.
    """
    if not isinstance(q, threado.SimpleQueue):
        wait_parked(t)
        return
    registered(t._state, q)
    assert not t.done()


def registered(state: Any, q: threado.SimpleQueue[Any]) -> None:
    """Wait until the thread with ``state`` is registered as a getter of ``q``."""
    deadline = time.monotonic() + 10
    while not any(w.state is state for w in list(q._waiting)):
        assert time.monotonic() < deadline, "the getter never registered"
        time.sleep(0.0005)  # polling a state, not ordering by time


def expected(cls: Any, items: list[Any]) -> list[Any]:
    """The order in which ``cls`` returns ``items`` put in this order."""
    if issubclass(cls, threado.LifoQueue):
        return items[::-1]
    if issubclass(cls, threado.PriorityQueue):
        return sorted(items)
    return list(items)


def drain(q: AnyQueue) -> list[Any]:
    """Take every item without blocking (``get_nowait`` until ``Empty``)."""
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except (queue.Empty, ShutDown):
            return items


QUEUES = [
    (queue.Queue, threado.Queue),
    (queue.LifoQueue, threado.LifoQueue),
    (queue.PriorityQueue, threado.PriorityQueue),
]


QUEUE_IDS = ["Queue", "LifoQueue", "PriorityQueue"]


# -- the family: order, bounds, timeouts --------------------------------------------


def test_order(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    items = [3, 1, 4, 1, 5, 9, 2, 6]
    for item in items:
        q.put(item)
    assert q.qsize() == len(items)
    assert [q.get() for _ in items] == expected(type(q), items)
    assert q.empty()


def test_maxsize_full_and_sizes(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls(maxsize=2)
    assert q.maxsize == 2
    assert (q.empty(), q.full(), q.qsize()) == (True, False, 0)
    q.put(1)
    assert (q.empty(), q.full(), q.qsize()) == (False, False, 1)
    q.put(2)
    assert (q.empty(), q.full(), q.qsize()) == (False, True, 2)
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, block=False)
    assert q.qsize() == 2
    for maxsize in (0, -1):  # zero or negative: unbounded, as in the stdlib
        unbounded = qcls(maxsize)
        for i in range(100):
            unbounded.put_nowait(i)
        assert not unbounded.full()


def test_put_blocks_on_a_full_queue_until_handed_a_slot(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls(maxsize=1)
    q.put(1)
    t = spawn(q.put, 2)
    parked(t)
    assert q.qsize() == 1  # still waiting: nothing inserted yet
    assert q.get() == 1  # frees the slot: the waiting put's item goes in
    assert t.join(timeout=10) is None
    assert q.get_nowait() == 2
    assert q.unfinished_tasks == 2


def test_get_blocks_on_an_empty_queue_until_handed_an_item(
    anycls: Callable[[], AnyQueue], spawn: Spawn
) -> None:
    q = anycls()
    t = spawn(q.get)
    parked(t, q)
    q.put("x")
    assert t.join(timeout=10) == "x"
    assert q.empty()


def test_getters_are_served_in_arrival_order(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    q = qcls()
    getters = []
    for _ in range(3):
        getters.append(spawn(q.get))
        parked(getters[-1])
    for item in ("a", "b", "c"):
        q.put(item)
    assert [t.join(timeout=10) for t in getters] == ["a", "b", "c"]


def test_get_timeout_raises_empty_after_the_timeout(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    start = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=SHORT)
    assert SHORT <= time.monotonic() - start < SHORT + SLACK
    with pytest.raises(queue.Empty):
        q.get(timeout=0)
    with pytest.raises(queue.Empty):
        q.get(block=False, timeout=10)  # the timeout is ignored without block
    q.put(1)
    assert q.get(timeout=0) == 1


def test_put_timeout_raises_full_after_the_timeout(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls(maxsize=1)
    q.put(1)
    start = time.monotonic()
    with pytest.raises(queue.Full):
        q.put(2, timeout=SHORT)
    assert SHORT <= time.monotonic() - start < SHORT + SLACK
    with pytest.raises(queue.Full):
        q.put(2, timeout=0)
    assert drain(q) == [1]
    assert q.unfinished_tasks == 1  # the timed-out puts counted nothing


def test_negative_timeout_raises_value_error(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    with pytest.raises(ValueError, match="non-negative"):
        q.get(timeout=-1)
    q.put(1)
    with pytest.raises(ValueError, match="non-negative"):
        q.get(timeout=-1)  # even with an item ready, as in the stdlib
    assert q.qsize() == 1
    if isinstance(q, threado.Queue):
        bounded = type(q)(maxsize=1)
        with pytest.raises(ValueError, match="non-negative"):
            bounded.put(1, timeout=-1)
        bounded.put(1)
        with pytest.raises(ValueError, match="non-negative"):
            bounded.put(2, timeout=-1)
        assert bounded.qsize() == 1


@pytest.mark.parametrize(
    ("maxsize", "prefill", "op", "block", "timeout"),
    [
        (0, 0, "put", True, -1),
        (0, 1, "put", True, "1"),
        (2, 0, "put", True, -1),
        (2, 2, "put", True, -1),
        (2, 0, "put", True, "1"),
        (2, 2, "put", True, 0),
        (2, 2, "put", False, -1),
        (0, 0, "put", False, "1"),
        (0, 0, "get", True, -1),
        (0, 1, "get", True, -1),
        (0, 0, "get", True, "1"),
        (0, 0, "get", True, 0),
        (0, 0, "get", False, -1),
        (0, 1, "get", False, "1"),
    ],
)
def test_argument_handling_matches_the_stdlib(
    qcls: type[threado.Queue[Any]],
    maxsize: int,
    prefill: int,
    op: str,
    block: bool,
    timeout: Any,
) -> None:
    """Each call (none of which waits) succeeds or raises as the stdlib's does."""
    stdlib_cls = getattr(queue, qcls.__name__)
    outcomes = []
    for q in (stdlib_cls(maxsize), qcls(maxsize)):
        for i in range(prefill):
            q.put_nowait(i)
        if op == "put":
            outcomes.append(outcome_type(functools.partial(q.put, 9, block, timeout)))
        else:
            outcomes.append(outcome_type(functools.partial(q.get, block, timeout)))
    assert outcomes[1] == outcomes[0], f"stdlib: {outcomes[0]}, threado: {outcomes[1]}"


def test_nowait(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    with pytest.raises(queue.Empty):
        q.get_nowait()
    q.put_nowait(1)
    q.put(2, block=False)
    assert q.get_nowait() == expected(type(q), [1, 2])[0]
    assert q.get(block=False) == expected(type(q), [1, 2])[1]
    with pytest.raises(queue.Empty):
        q.get(block=False)


def test_generic_alias() -> None:
    for cls in (*FAMILY.values(), threado.SimpleQueue):
        q = cls[int]()  # type: ignore[index]
        assert type(q) is cls


@pytest.mark.parametrize(("std", "td"), QUEUES, ids=QUEUE_IDS)
@pytest.mark.parametrize("maxsize", [0, 2, -1])
def test_queue_script_matches_stdlib(std: Any, td: Any, maxsize: int) -> None:
    def script(make: Any) -> list[Any]:
        q = make(maxsize)
        out: list[Any] = [q.maxsize, q.qsize(), q.empty(), q.full()]
        for i in (3, 1, 2):
            out.append(outcome_type(functools.partial(q.put, i, timeout=0.001)))
        out.append(outcome_type(lambda: q.put_nowait(5)))
        out.append(outcome_type(lambda: q.put(6, False)))
        out += [q.qsize(), q.empty(), q.full(), q.unfinished_tasks]
        out.append(outcome_type(lambda: q.get(timeout=-1)))
        out.append(outcome_type(lambda: q.put(7, timeout=-1)))
        for _ in range(7):
            out.append(outcome_type(q.get_nowait))
        out.append(outcome_type(lambda: q.get(timeout=0.001)))
        out.append(outcome_type(lambda: q.get(False, timeout=-1)))
        for _ in range(8):
            out.append(outcome_type(q.task_done))
        out.append(outcome_type(q.join))
        return out

    assert script(td) == script(std)


@pytest.mark.parametrize(("std", "td"), QUEUES, ids=QUEUE_IDS)
def test_queue_empty_and_full_are_the_stdlib_exceptions(std: Any, td: Any) -> None:
    q = td(1)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)
    q.put(1)
    with pytest.raises(queue.Full):
        q.put_nowait(2)
    with pytest.raises(queue.Full):
        q.put(2, timeout=0.01)
    with pytest.raises(queue.Full):
        q.put(2, timeout=0)


@pytest.mark.parametrize("make", [threado.Queue, threado.SimpleQueue], ids=["Queue", "SimpleQueue"])
def test_queue_get_overflowing_timeout_raises_overflow_error(make: Any) -> None:
    with pytest.raises(OverflowError):
        queue.SimpleQueue().get(timeout=1e300)
    res: list[Any] = []
    with threado.ignore_after(0.2) as scope:
        res.append(outcome_type(lambda: make().get(timeout=1e300)))
    assert not scope.expired
    assert res == [("exc", OverflowError)]


# -- tasks ------------------------------------------------------------------------


def test_task_done_too_many_times_raises(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    q.put(1)
    q.get()
    q.task_done()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    assert q.unfinished_tasks == 0


def test_join_waits_for_the_last_task_done(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    q = qcls()
    q.join()  # nothing unfinished: returns at once
    for i in range(3):
        q.put(i)
    joiner = spawn(q.join)
    parked(joiner)
    for _ in range(3):
        q.get()
    q.task_done()
    q.task_done()
    assert not joiner.done()  # one task still unfinished...
    wait_parked(joiner)
    q.task_done()  # ...until now
    assert joiner.join(timeout=10) is None


def test_join_is_a_cancellable_blocking_point(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    q = qcls()
    q.put(1)
    joiner = spawn(q.join)
    parked(joiner)
    assert joiner.cancel(timeout=5)
    assert joiner.cancelled
    assert q.unfinished_tasks == 1
    assert repr(q).endswith("0 getters, 0 putters waiting>")
    q.get()
    q.task_done()
    q.join()

    gate = threading.Event()

    def join_when_cancelled() -> None:
        gate.wait()
        q.join()  # nothing to wait for, but a blocking point: checks on entry

    late = spawn(join_when_cancelled)
    late.cancel(blocking=False)
    gate.set()
    assert late.wait(timeout=5)
    assert late.cancelled


def test_queue_join_waits_for_task_done_and_is_cancellable() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put(1)
    j = spawn_parked(q.join)
    q.get()
    assert j.is_alive()
    q.task_done()
    assert j.join(10) is None
    q.put(2)
    j = spawn_parked(q.join)
    assert j.cancel(timeout=10)
    assert j.cancelled


# -- shutdown (Python 3.13 semantics) ------------------------------------------------


def test_shutdown_is_queue_shutdown_where_the_stdlib_has_one() -> None:
    if hasattr(queue, "ShutDown"):
        assert threado.ShutDown is queue.ShutDown
    else:
        assert issubclass(threado.ShutDown, Exception)
        assert not issubclass(threado.ShutDown, (queue.Empty, queue.Full))
        assert threado.ShutDown.__module__ == "threado"


def test_shutdown_put_raises_get_drains_then_raises(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls(maxsize=3)
    q.put(1)
    q.put(2)
    assert not q.is_shutdown
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(ShutDown):
        q.put(3)
    with pytest.raises(ShutDown):
        q.put_nowait(3)
    with pytest.raises(ShutDown):
        q.put(3, timeout=1)
    assert sorted([q.get(), q.get_nowait()]) == [1, 2]
    with pytest.raises(ShutDown):
        q.get()
    with pytest.raises(ShutDown):
        q.get_nowait()
    with pytest.raises(ShutDown):
        q.get(timeout=10)  # at once, not after the timeout
    assert q.unfinished_tasks == 2  # task_done and join keep working
    q.task_done()
    q.task_done()
    q.join()
    q.shutdown()  # again: harmless
    q.shutdown(immediate=True)
    assert q.is_shutdown


def test_shutdown_wakes_blocked_getters_and_putters(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    empty = qcls()
    getters = [spawn(empty.get) for _ in range(2)]
    full = qcls(maxsize=1)
    full.put("kept")
    putters = [spawn(full.put, i) for i in range(2)]
    for t in getters + putters:
        parked(t)
    empty.shutdown()
    full.shutdown()
    for t in getters + putters:
        assert t.wait(timeout=10)
        assert isinstance(t.exception, ShutDown)
    assert drain(full) == ["kept"]  # the woken putters inserted nothing
    assert full.unfinished_tasks == 1


def test_shutdown_immediate_empties_and_releases_join(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls(maxsize=3)
    for i in range(3):
        q.put(i)
    taken = q.get()  # a consumer holds one item, not yet done
    q.put(3)
    putter = spawn(q.put, 4)
    joiner = spawn(q.join)
    parked(putter)
    parked(joiner)
    q.shutdown(immediate=True)
    assert q.qsize() == 0
    assert q.unfinished_tasks == 1  # the item in the consumer's hands
    with pytest.raises(ShutDown):
        q.get()
    assert putter.wait(timeout=10)
    assert isinstance(putter.exception, ShutDown)
    assert not joiner.done()
    wait_parked(joiner)
    assert taken in range(4)
    q.task_done()  # the consumer finishes its item
    assert joiner.join(timeout=10) is None
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


def test_shutdown_immediate_with_nothing_taken_releases_join_at_once(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls()
    q.put(1)
    q.put(2)
    joiner = spawn(q.join)
    parked(joiner)
    q.shutdown(immediate=True)
    assert joiner.join(timeout=10) is None
    assert q.unfinished_tasks == 0
    q.join()


def test_iteration_yields_items_until_shutdown(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls()
    items = [5, 3, 8]
    for item in items:
        q.put(item)
    q.shutdown()
    assert list(q) == expected(qcls, items)

    live = qcls()
    seen: list[Any] = []
    progress = threading.Condition()  # plain: the test's own view of the consumer

    def consume() -> None:
        for item in live:
            with progress:
                seen.append(item)
                progress.notify()

    def seen_more_than(n: int) -> bool:
        return len(seen) > n

    consumer = spawn(consume)
    for i, item in enumerate(items):
        parked(consumer)  # waiting in the loop's next get...
        live.put(item)  # ...so the item is handed straight to it
        with progress:
            assert progress.wait_for(functools.partial(seen_more_than, i), timeout=10)
    parked(consumer)
    live.shutdown()
    assert consumer.join(timeout=10) is None
    assert seen == items


def test_iteration_is_cancellable(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    q = qcls()
    seen: list[Any] = []

    def consume() -> None:
        for item in q:
            seen.append(item)

    t = spawn(consume)
    parked(t)
    q.put(1)
    parked(t)
    assert t.cancel(timeout=5)
    assert t.cancelled
    assert seen == [1]


def test_shutdown_class_identity() -> None:
    assert issubclass(threado.ShutDown, Exception)
    if hasattr(queue, "ShutDown"):
        assert threado.ShutDown is queue.ShutDown


@pytest.mark.parametrize("make", [threado.Queue, threado.LifoQueue, threado.PriorityQueue])
def test_shutdown_lets_the_queue_drain_then_get_raises(make: Any) -> None:
    q = make()
    q.put(1)
    q.put(2)
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(threado.ShutDown):
        q.put(3)
    with pytest.raises(threado.ShutDown):
        q.put_nowait(3)
    assert sorted([q.get(), q.get_nowait()]) == [1, 2]
    with pytest.raises(threado.ShutDown):
        q.get()
    with pytest.raises(threado.ShutDown):
        q.get_nowait()
    with pytest.raises(threado.ShutDown):
        q.get(timeout=1)
    assert q.unfinished_tasks == 2
    q.task_done()
    q.task_done()
    q.join()


def test_shutdown_wakes_blocked_getters_and_putters_with_shutdown() -> None:
    q: threado.Queue[int] = threado.Queue()
    g = spawn_parked(q.get)
    full: threado.Queue[int] = threado.Queue(1)
    full.put(0)
    p = spawn_parked(full.put, 1)
    q.shutdown()
    full.shutdown()
    assert isinstance(g.wait(10) and g.exception, threado.ShutDown)
    assert isinstance(p.wait(10) and p.exception, threado.ShutDown)
    assert full.get() == 0  # the blocked put inserted nothing
    with pytest.raises(threado.ShutDown):
        full.get_nowait()


def test_shutdown_immediate_drains_and_releases_join() -> None:
    q: threado.Queue[int] = threado.Queue()
    for i in range(3):
        q.put(i)
    j = spawn_parked(q.join)
    q.shutdown(immediate=True)
    assert q.qsize() == 0
    assert q.empty()
    assert q.unfinished_tasks == 0
    assert j.join(10) is None
    with pytest.raises(threado.ShutDown):
        q.get()
    with pytest.raises(threado.ShutDown):
        q.get_nowait()
    with pytest.raises(threado.ShutDown):
        q.put(1)


def test_shutdown_immediate_join_still_waits_for_items_already_taken() -> None:
    # 3.13: the drained items count as done; one taken earlier still needs task_done().
    q: threado.Queue[int] = threado.Queue()
    q.put(1)
    q.put(2)
    q.get()
    q.shutdown(immediate=True)
    assert q.unfinished_tasks == 1
    j = spawn_parked(q.join)
    q.task_done()
    assert j.join(10) is None
    with pytest.raises(ValueError):
        q.task_done()


def test_shutdown_is_checked_before_timeout_validation_as_in_3_13() -> None:
    q: threado.Queue[int] = threado.Queue(1)
    q.shutdown()
    with pytest.raises(threado.ShutDown):
        q.get(timeout=-1)
    with pytest.raises(threado.ShutDown):
        q.put(1, timeout=-1)


def test_iterating_a_queue_yields_items_until_shutdown() -> None:
    q: threado.Queue[int] = threado.Queue()
    got: list[int] = []
    t = threado.spawn(lambda: got.extend(q))
    q.put(1)
    q.put(2)
    wait_parked(t)
    q.put(3)
    q.shutdown()
    t.join(10)
    assert got == [1, 2, 3]


# -- subclasses and the stdlib's internals ---------------------------------------------


class Shelf:
    """Storage without list or deque methods: items by arrival number.

    A user subclass may keep its items in anything; the stdlib's four hooks
    are the whole contract between ``Queue`` and its storage.
    """

    def __init__(self, order: str) -> None:
        self.order = order
        self.items: dict[int, Any] = {}
        self.arrivals = 0

    def add(self, item: Any) -> None:
        self.arrivals += 1
        self.items[self.arrivals] = item

    def take(self) -> Any:
        if self.order == "fifo":
            key = min(self.items)
        elif self.order == "lifo":
            key = max(self.items)
        else:
            key = min(self.items, key=lambda k: (self.items[k], k))
        return self.items.pop(key)

    def __len__(self) -> int:
        return len(self.items)


def shelf_queue(base: type[threado.Queue[Any]], order: str) -> type[threado.Queue[Any]]:
    """A subclass of ``base`` overriding ``_init``, ``_qsize``, ``_put``, ``_get``."""

    class ShelfQueue(base):  # type: ignore[valid-type,misc]
        def _init(self, maxsize: int) -> None:
            self.queue = Shelf(order)

        def _qsize(self) -> int:
            return len(self.queue)

        def _put(self, item: Any) -> None:
            self.queue.add(item)

        def _get(self) -> Any:
            return self.queue.take()

    ShelfQueue.__name__ = ShelfQueue.__qualname__ = f"Shelf{base.__name__}"
    return ShelfQueue


SHELVES = [
    pytest.param(threado.Queue, "fifo", id="Queue"),
    pytest.param(threado.LifoQueue, "lifo", id="LifoQueue"),
    pytest.param(threado.PriorityQueue, "priority", id="PriorityQueue"),
]


@pytest.mark.parametrize(("base", "order"), SHELVES)
def test_user_subclass_overriding_the_storage_hooks(
    base: type[threado.Queue[Any]], order: str, spawn: Spawn
) -> None:
    cls = shelf_queue(base, order)
    q = cls(maxsize=3)
    assert isinstance(q.queue, Shelf)
    for item in (2, 3, 1):
        q.put(item)
    assert q.full()
    putter = spawn(q.put, 0)
    parked(putter)
    first = q.get()
    assert putter.join(timeout=10) is None
    assert [first, *drain(q)] == [
        {"fifo": 2, "lifo": 1, "priority": 1}[order],
        *{"fifo": [3, 1, 0], "lifo": [0, 3, 2], "priority": [0, 2, 3]}[order],
    ]
    getter = spawn(q.get)
    parked(getter)
    q.put("handed")
    assert getter.join(timeout=10) == "handed"
    assert f"Shelf{base.__name__} at 0x" in repr(q)
    q.put(7)
    q.put(8)
    q.shutdown(immediate=True)  # empties through _qsize/_get
    assert len(q.queue) == 0
    assert q.unfinished_tasks == 5  # 7 put, none done, the last 2 removed


def test_mutex_and_conditions_exist_as_in_the_stdlib(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls(maxsize=2)
    q.put(1)
    with q.mutex:  # the stdlib's way to look at the storage consistently
        snapshot = list(q.queue)
    assert snapshot == [1]
    assert q.mutex.acquire(blocking=False)
    q.mutex.release()
    conds = (q.not_empty, q.not_full, q.all_tasks_done)
    assert all(isinstance(c, threado.Condition) for c in conds)
    assert len({id(c) for c in conds}) == 3
    assert q.not_empty is q.not_empty  # made once


def test_waiting_on_not_empty_is_woken_by_put(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    """A hand-written get in the stdlib's style, over ``not_empty``."""
    q = qcls()
    not_empty = q.not_empty

    def stdlib_style_get() -> Any:
        with not_empty:
            while not q._qsize():
                not_empty.wait()
            return q._get()

    t = spawn(stdlib_style_get)
    parked(t)
    q.put_nowait("x")
    assert t.join(timeout=10) == "x"

    cancelled = spawn(stdlib_style_get)
    parked(cancelled)
    assert cancelled.cancel(timeout=5)  # a wait on not_empty is a blocking point
    assert cancelled.cancelled
    assert q.mutex.acquire(blocking=False)  # released on the way out
    q.mutex.release()


def test_waiting_on_all_tasks_done_is_woken_by_task_done(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls()
    all_done = q.all_tasks_done
    q.put(1)

    def stdlib_style_join() -> None:
        with all_done:
            while q.unfinished_tasks:
                all_done.wait()

    t = spawn(stdlib_style_join)
    parked(t)
    q.get()
    q.task_done()
    assert t.join(timeout=10) is None


class _GatedDeque(deque):  # type: ignore[type-arg]
    """A deque whose next read of its first item (``[0]`` or ``popleft``),
    once armed, pauses the reader just after the read: a thread preempted in
    the middle of a hand-off."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.armed = False
        self.paused = threading.Event()
        self.resume = threading.Event()

    def _gate(self) -> None:
        if self.armed:
            self.armed = False
            self.paused.set()
            self.resume.wait()

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        self._gate()
        return item

    def popleft(self) -> Any:
        item = super().popleft()
        self._gate()
        return item


def test_condition_waiter_cancelled_while_a_put_notifies(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls()
    not_empty = q.not_empty
    not_empty._queue.waiters = gated = _GatedDeque(not_empty._queue.waiters)

    def stdlib_style_get() -> Any:
        with not_empty:
            while not q._qsize():
                not_empty.wait()
            return q._get()

    first = spawn(stdlib_style_get)
    parked(first)
    second = spawn(stdlib_style_get)
    parked(second)
    gated.armed = True
    putter = threading.Thread(target=q.put_nowait, args=("x",))
    putter.start()
    assert gated.paused.wait(timeout=10)  # the put is inside its notify
    if not not_empty._mutex.locked():  # the notify does not exclude the waiters' exit
        first.cancel(blocking=False)
        deadline = time.monotonic() + 10
        while first._state.cancel is None or first in [w.state.handle for w in gated]:
            assert time.monotonic() < deadline
            time.sleep(0.0005)  # polling a state: the first waiter left the queue
    else:  # the notify excludes the exit: the cancel meets the hand-off
        first.cancel(blocking=False)
    gated.resume.set()
    putter.join()
    assert first.wait(timeout=10)
    if first.exception is None:  # the notify won: the cancel waits for later
        assert first.result == "x"
        q.put_nowait("y")  # and the second waiter is still reachable
        assert second.wait(timeout=SLACK), "the second waiter was never notified"
        assert second.result == "y"
    else:
        assert isinstance(first.exception, ThreadCancelled)
        assert second.wait(timeout=SLACK), "the second waiter was never notified"
        assert second.result == "x"
    assert q.qsize() == 0


def run_stuck_prone(q: threado.Queue[Any], func: Callable[[], Any], spawn: Spawn) -> None:
    """Run ``func`` in a thread; fail if it does not finish within SLACK.

    A thread stuck acquiring ``q.mutex`` (a plain lock: no cancel reaches it)
    is freed by releasing the mutex for it, so that no thread is left behind.
    """
    t = spawn(func)
    if not t.wait(timeout=SLACK):
        q.mutex.release()
        t.wait(timeout=10)
        pytest.fail("self-deadlock on q.mutex: the code never finished")
    t.join()


def test_stdlib_condition_idioms_inside_the_lock(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls()
    q.put(1)

    def stdlib_style_get() -> Any:
        with q.not_empty:  # takes q.mutex...
            while not q._qsize():
                q.not_empty.wait()  # ...and the property takes it again
            item = q._get()
            q.not_full.notify()
            return item

    run_stuck_prone(q, stdlib_style_get, spawn)


def test_stdlib_style_insert_and_notify_reaches_a_waiting_get(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    class PutFront(qcls):  # type: ignore[valid-type,misc]
        def put_first(self, item: Any) -> None:
            not_empty = self.not_empty
            with not_empty:
                self._put(item)
                self.unfinished_tasks += 1
                not_empty.notify()

    q = PutFront()
    getter = spawn(lambda: q.get(timeout=SLACK))
    parked(getter)
    q.put_first("x")
    assert getter.wait(timeout=10)
    assert getter.exception is None, "the item stayed queued while get() waited"
    assert getter.result == "x"


def test_hook_error_reaches_the_waiting_caller(spawn: Spawn) -> None:
    """PriorityQueue with items that cannot be compared: as in the stdlib,
    the waiting put's heappush raises TypeError in the putter, after the get
    that freed the slot returned its item (heappush has appended the item
    before comparing it: it stays in the list, uncounted, as in the stdlib)."""
    q: threado.PriorityQueue[Any] = threado.PriorityQueue(maxsize=2)
    q.put((1, "a"))
    q.put((2, "b"))
    putter = spawn(q.put, (2, {}))  # {} and "b" cannot be ordered
    parked(putter)
    assert q.get(timeout=SLACK) == (1, "a")
    assert putter.wait(timeout=SLACK), "the putter was never woken"
    assert isinstance(putter.exception, TypeError)
    with q.mutex:
        assert q.queue == [(2, "b"), (2, {})]
    assert q.unfinished_tasks == 2


class HookFailed(Exception):
    pass


def test_failing_hooks_raise_in_the_waiting_thread(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    """A subclass whose ``_put``/``_get`` raise once on demand (CPython's
    FailingQueue): the exception reaches the waiter the hook was serving, the
    thread that woke it goes on, and the queue stays consistent."""

    class Failing(qcls):  # type: ignore[valid-type,misc]
        fail_put = fail_get = False

        def _put(self, item: Any) -> None:
            if self.fail_put:
                self.fail_put = False
                raise HookFailed("put")
            super()._put(item)

        def _get(self) -> Any:
            if self.fail_get:
                self.fail_get = False
                raise HookFailed("get")
            return super()._get()

    q = Failing(maxsize=1)
    q.put("a")
    putter = spawn(q.put, "b")
    parked(putter)
    q.fail_put = True
    assert q.get() == "a"  # frees the slot; the putter's _put fails
    assert putter.wait(timeout=10)
    assert isinstance(putter.exception, HookFailed)
    assert (q.qsize(), q.unfinished_tasks) == (0, 1)

    getter = spawn(q.get)
    parked(getter)
    q.fail_get = True
    q.put("c")  # inserted; the getter's _get fails
    assert getter.wait(timeout=10)
    assert isinstance(getter.exception, HookFailed)
    assert (q.qsize(), q.unfinished_tasks) == (1, 2)
    assert q.get_nowait() == "c"
    assert "0 getters, 0 putters" in repr(q)


def test_reprs(qcls: type[threado.Queue[Any]], spawn: Spawn) -> None:
    name = qcls.__name__
    q = qcls(maxsize=2)
    assert repr(q).startswith(f"<threado.{name} at 0x")
    assert repr(q).endswith(": 0/2 items, 0 getters, 0 putters waiting>")
    getter = spawn(q.get)
    parked(getter)
    assert repr(q).endswith(": 0/2 items, 1 getters, 0 putters waiting>")
    assert f"waiting on <threado.{name} at" in repr(getter)
    q.put(1)
    getter.join()
    q.put(1)
    q.put(2)
    putter = spawn(q.put, 3)
    parked(putter)
    assert repr(q).endswith(": 2/2 items, 0 getters, 1 putters waiting>")
    q.shutdown()
    putter.wait()
    assert repr(q).endswith(": 2/2 items, 0 getters, 0 putters waiting, shut down>")
    assert repr(qcls()).endswith(": 0 items, 0 getters, 0 putters waiting>")
    sq: threado.SimpleQueue[int] = threado.SimpleQueue()
    sq.put(1)
    assert repr(sq).startswith("<threado.SimpleQueue at 0x")
    assert repr(sq).endswith(": 1 items, 0 getters waiting>")


def test_queue_stdlib_style_subclass_conditions_serve_threado_waiters() -> None:
    class DropOldest(threado.Queue[int]):
        def put(self, item: int, block: bool = True, timeout: float | None = None) -> None:
            with self.not_full:
                if self._qsize() >= self.maxsize:
                    self._get()
                    self.unfinished_tasks -= 1
                self._put(item)
                self.unfinished_tasks += 1
                self.not_empty.notify()

    q = DropOldest(maxsize=1)
    t = threado.spawn(q.get)
    wait_parked(t)
    q.put(1)
    assert t.join(timeout=10) == 1
    # The stdlib idiom on a threado queue, woken by threado's own put.
    res: list[int] = []

    def stdlib_style_get() -> None:
        with q.not_empty:
            while not q._qsize():
                q.not_empty.wait()
            res.append(q._get())

    t2 = threado.spawn(stdlib_style_get)
    wait_parked(t2)
    threado.Queue.put(q, 7)
    t2.join(timeout=10)
    assert res == [7]


# -- cancellation: entry checks, nowait, timeouts ------------------------------------


def test_cancelled_get_on_a_non_empty_queue_raises_and_consumes_nothing(
    anycls: Callable[[], AnyQueue], spawn: Spawn
) -> None:
    q = anycls()
    q.put(1)
    gate = threading.Event()
    got: list[Any] = []

    def consumer() -> None:
        gate.wait()
        got.append(q.get_nowait())  # never blocks, never raises ThreadCancelled
        got.append(q.get())  # a blocking point: raises although an item is ready

    t = spawn(consumer)
    t.cancel(blocking=False)
    q.put(2)
    gate.set()
    assert t.wait(timeout=5)
    assert t.cancelled
    assert got == expected(type(q), [1, 2])[:1]
    assert q.qsize() == 1


def test_cancelled_put_raises_and_inserts_nothing(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls(maxsize=5)
    gate = threading.Event()
    outcomes: list[Any] = []

    def producer() -> None:
        gate.wait()
        q.put_nowait("nowait")  # never raises ThreadCancelled
        outcomes.append(q.qsize())
        q.get_nowait()
        q.put_nowait("again")
        q.task_done()
        outcomes.append((q.qsize(), q.empty(), q.full()))
        q.put("blocking")  # a blocking point: raises although a slot is free

    t = spawn(producer)
    t.cancel(blocking=False)
    gate.set()
    assert t.wait(timeout=5)
    assert t.cancelled
    assert outcomes == [1, (1, False, False)]
    assert drain(q) == ["again"]
    assert q.unfinished_tasks == 1


def test_cancel_while_parked_consumes_and_inserts_nothing(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    empty = qcls()
    getter = spawn(empty.get)
    full = qcls(maxsize=1)
    full.put("a")
    putter = spawn(full.put, "b")
    parked(getter)
    parked(putter)
    assert getter.cancel(timeout=5)
    assert putter.cancel(timeout=5)
    assert getter.cancelled
    assert putter.cancelled
    empty.put("x")
    assert drain(empty) == ["x"]
    assert drain(full) == ["a"]
    assert (empty.unfinished_tasks, full.unfinished_tasks) == (1, 1)
    assert "0 getters, 0 putters" in repr(empty)
    assert "0 getters, 0 putters" in repr(full)


def test_timeout_after_around_get(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    start = time.monotonic()
    with pytest.raises(ThreadTimeout), threado.timeout_after(SHORT):
        q.get()
    assert SHORT <= time.monotonic() - start < SHORT + SLACK
    start = time.monotonic()
    with pytest.raises(ThreadTimeout), threado.timeout_after(SHORT):
        q.get(timeout=10)  # the earlier deadline wins: the scope's
    assert SHORT <= time.monotonic() - start < SHORT + SLACK
    with threado.timeout_after(10), pytest.raises(queue.Empty):
        q.get(timeout=SHORT)  # the call's own timeout: Empty, not the scope's
    q.put(1)
    with pytest.raises(ThreadTimeout), threado.timeout_after(0):
        q.get()  # an expired deadline: raises at entry, consumes nothing
    assert q.qsize() == 1


def test_timeout_after_around_put(qcls: type[threado.Queue[Any]]) -> None:
    q = qcls(maxsize=1)
    q.put(1)
    start = time.monotonic()
    with pytest.raises(ThreadTimeout), threado.timeout_after(SHORT):
        q.put(2)
    assert SHORT <= time.monotonic() - start < SHORT + SLACK
    with threado.timeout_after(10), pytest.raises(queue.Full):
        q.put(2, timeout=SHORT)
    assert drain(q) == [1]
    assert q.unfinished_tasks == 1
    with pytest.raises(ThreadTimeout), threado.timeout_after(0):
        q.put(2)  # a free slot, but an expired deadline: inserts nothing
    assert q.qsize() == 0
    assert q.unfinished_tasks == 1


def test_timeout_after_in_a_plain_thread(anycls: Callable[[], AnyQueue]) -> None:
    q = anycls()
    outcomes: list[object] = []

    def plain() -> None:
        try:
            with threado.timeout_after(SHORT):
                q.get()
        except ThreadTimeout as exc:
            outcomes.append(exc)

    t = threading.Thread(target=plain)
    t.start()
    t.join(timeout=10)
    assert len(outcomes) == 1


def test_blocking_calls_check_cancellation_on_entry_and_consume_nothing() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put(1)
    assert in_cancelled_thread(q.get).cancelled
    assert q.qsize() == 1
    assert in_cancelled_thread(lambda: q.put(2)).cancelled
    assert q.qsize() == 1
    assert q.unfinished_tasks == 1
    sq: threado.SimpleQueue[int] = threado.SimpleQueue()
    sq.put(1)
    t = in_cancelled_thread(sq.get)
    assert t.cancelled
    assert sq.qsize() == 1
    q.get()
    q.task_done()
    assert in_cancelled_thread(q.join).cancelled
    assert in_cancelled_thread(threado.Barrier(1).wait).cancelled


def test_nowait_calls_never_raise_thread_cancelled() -> None:
    q: threado.Queue[int] = threado.Queue(1)
    sq: threado.SimpleQueue[int] = threado.SimpleQueue()

    def body() -> list[Any]:
        q.put_nowait(1)
        q.task_done()
        sq.put(2)
        sq.put_nowait(3)
        out: list[Any] = [
            outcome_type(lambda: q.put_nowait(9)),
            outcome_type(lambda: q.put(9, False)),
        ]
        out += [q.get_nowait(), sq.get_nowait(), sq.get(False)]
        out += [
            outcome_type(q.get_nowait),
            outcome_type(lambda: q.get(False)),
            outcome_type(sq.get_nowait),
        ]
        out.append(threado.Lock().acquire(False))
        return out

    t = in_cancelled_thread(body)
    assert not t.cancelled
    assert t.result == [
        ("exc", queue.Full),
        ("exc", queue.Full),
        1,
        2,
        3,
        ("exc", queue.Empty),
        ("exc", queue.Empty),
        ("exc", queue.Empty),
        True,
    ]


@pytest.mark.parametrize("kind", ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"])
def test_nowait_methods_never_raise_thread_cancelled(kind: str) -> None:
    def body() -> list[object]:
        q = getattr(threado, kind)()
        out: list[object] = []
        q.put_nowait(1)
        out.append(q.get_nowait())
        try:
            q.get_nowait()
        except queue.Empty:
            out.append("empty")
        if kind != "SimpleQueue":
            b = getattr(threado, kind)(maxsize=1)
            b.put_nowait(1)
            try:
                b.put_nowait(2)
            except queue.Full:
                out.append("full")
        return out

    res = self_cancelled(body)
    expected = [1, "empty"] if kind == "SimpleQueue" else [1, "empty", "full"]
    assert res == expected


def test_cancelled_consumer_of_a_never_empty_queue_dies() -> None:
    q: threado.Queue[int] = threado.Queue()
    for i in range(10):
        q.put_nowait(i)
    taken: list[int] = []

    def consumer() -> None:
        while True:
            taken.append(q.get())
            q.put(taken[-1])  # never empties
            if len(taken) == 3:
                threado.current_thread().cancel(blocking=False)

    t = threado.spawn(consumer)
    assert t.wait(timeout=10)
    assert t.cancelled
    assert q.qsize() == 10


def test_cancelled_put_never_inserts_and_get_never_consumes() -> None:
    q: threado.Queue[int] = threado.Queue(maxsize=1)
    q.put(0)
    p = threado.spawn(q.put, 1)
    wait_parked(p)
    p.cancel()
    assert q.get_nowait() == 0
    assert q.empty()
    g = threado.spawn(q.get)
    wait_parked(g)
    g.cancel()
    q.put_nowait(5)
    assert q.get_nowait() == 5


@pytest.mark.parametrize("make", [threado.Queue, threado.LifoQueue, threado.PriorityQueue])
def test_cancelled_get_consumes_nothing(make: Any) -> None:
    q = make()
    t = spawn_parked(q.get)
    assert t.cancel(timeout=10)
    assert t.cancelled
    q.put(1)
    assert q.get_nowait() == 1


def test_cancelled_simple_queue_get_consumes_nothing() -> None:
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    t = spawn_parked(q.get)
    assert t.cancel(timeout=10)
    assert t.cancelled
    q.put(1)
    assert q.get_nowait() == 1
    assert q.empty()


@pytest.mark.parametrize("make", [threado.Queue, threado.LifoQueue, threado.PriorityQueue])
def test_cancelled_put_inserts_nothing(make: Any) -> None:
    q = make(1)
    q.put(1)
    t = spawn_parked(q.put, 2)
    assert t.cancel(timeout=10)
    assert t.cancelled
    assert q.get_nowait() == 1
    assert q.empty()
    assert q.unfinished_tasks == 1


# -- races: each interleaving named in the contract -----------------------------------


def test_item_handed_at_the_instant_of_a_cancel_is_returned(
    anycls: Callable[[], AnyQueue], spawn: Spawn
) -> None:
    """The put hands the item over, then the cancel lands before the getter
    runs: get returns the item, the cancel fires at the next blocking point."""
    q = anycls()
    log: list[Any] = []

    def getter() -> None:
        log.append(q.get())
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover

    t = spawn(getter)
    parked(t, q)
    q.put("x")
    t.cancel(blocking=False)
    assert t.wait(timeout=5)
    assert log == ["x"]
    assert t.cancelled
    assert q.empty()


def test_get_racing_a_cancel_either_returns_or_consumes_nothing(
    anycls: Callable[[], AnyQueue], spawn: Spawn
) -> None:
    """A put and a cancel from two threads at once: either get returned the
    item (and the queue is empty) or it raised and the item is queued."""
    outcomes: set[str] = set()
    for _ in range(ROUNDS):
        q = anycls()
        log: list[str] = []

        def getter(q: AnyQueue = q, log: list[str] = log) -> None:
            try:
                log.append(q.get())
            except ThreadCancelled:
                log.append("cancelled")
                raise
            threado.checkpoint()

        t = spawn(getter)
        parked(t, q)
        start = threading.Barrier(2)

        def put(q: AnyQueue = q, start: threading.Barrier = start) -> None:
            start.wait()
            q.put("x")

        putter = threading.Thread(target=put)
        putter.start()
        start.wait()
        t.cancel(blocking=False)
        putter.join()
        assert t.wait(timeout=5)
        assert t.cancelled
        left = drain(q)
        if log == ["x"]:
            assert left == []
        else:
            assert log == ["cancelled"]
            assert left == ["x"]
        outcomes.add(log[0])
    print(f"outcomes seen: {sorted(outcomes)}")


def test_putter_handed_a_slot_at_the_instant_of_a_cancel_returns(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls(maxsize=1)
    q.put("a")
    log: list[str] = []

    def putter() -> None:
        q.put("b")
        log.append("put")
        threado.checkpoint()

    t = spawn(putter)
    parked(t)
    assert q.get() == "a"  # frees the slot: "b" goes in, in this call...
    t.cancel(blocking=False)  # ...before the putter runs again
    assert t.wait(timeout=5)
    assert t.cancelled
    assert log == ["put"]
    assert drain(q) == ["b"]
    assert q.unfinished_tasks == 2


def test_put_racing_a_cancel_either_inserts_or_not(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    """A slot frees (another thread's get) as the cancel lands: either the
    item was inserted and put returned, or neither; never twice."""
    outcomes: set[str] = set()
    for _ in range(ROUNDS):
        q = qcls(maxsize=1)
        q.put("a")
        log: list[str] = []

        def putter(q: threado.Queue[Any] = q, log: list[str] = log) -> None:
            try:
                q.put("b")
            except ThreadCancelled:
                log.append("cancelled")
                raise
            log.append("put")
            threado.checkpoint()

        t = spawn(putter)
        parked(t)
        start = threading.Barrier(2)
        got: list[Any] = []

        def free(
            q: threado.Queue[Any] = q, start: threading.Barrier = start, got: list[Any] = got
        ) -> None:
            start.wait()
            got.append(q.get_nowait())

        freer = threading.Thread(target=free)
        freer.start()
        start.wait()
        t.cancel(blocking=False)
        freer.join()
        assert t.wait(timeout=5)
        assert t.cancelled
        assert got == ["a"]
        left = drain(q)
        if log == ["put"]:
            assert left == ["b"]
            assert q.unfinished_tasks == 2
        else:
            assert log == ["cancelled"]
            assert left == []
            assert q.unfinished_tasks == 1
        outcomes.add(log[0])
    print(f"outcomes seen: {sorted(outcomes)}")


@pytest.mark.parametrize("first", ["shutdown", "cancel"])
def test_cancel_with_shutdown(qcls: type[threado.Queue[Any]], spawn: Spawn, first: str) -> None:
    """A shutdown and a cancel reach a waiting getter and a waiting putter
    together: each raises ShutDown or ThreadCancelled, takes and inserts
    nothing, and the cancel is delivered in the end."""
    empty = qcls()
    full = qcls(maxsize=1)
    full.put("a")
    raised: list[str] = []

    def waiter(call: Callable[[], Any]) -> None:
        try:
            call()
        except (ShutDown, ThreadCancelled) as exc:
            raised.append(type(exc).__name__)
        threado.checkpoint()

    getter = spawn(waiter, empty.get)
    putter = spawn(waiter, lambda: full.put("b"))
    parked(getter)
    parked(putter)
    if first == "shutdown":
        empty.shutdown()
        full.shutdown()
        getter.cancel(blocking=False)
        putter.cancel(blocking=False)
    else:
        getter.cancel(blocking=False)
        putter.cancel(blocking=False)
        empty.shutdown()
        full.shutdown()
    assert getter.wait(timeout=5)
    assert putter.wait(timeout=5)
    assert getter.cancelled
    assert putter.cancelled
    assert len(raised) == 2
    assert set(raised) <= {"ShutDown", "ThreadCancelled"}
    if first == "shutdown":  # the shutdown was handed over first: it wins
        assert raised == ["ShutDown", "ShutDown"]
    assert drain(full) == ["a"]
    assert full.unfinished_tasks == 1
    assert empty.unfinished_tasks == 0


def test_task_done_accounting_exact_after_cancels(
    qcls: type[threado.Queue[Any]], spawn: Spawn
) -> None:
    q = qcls(maxsize=2)
    q.put(1)
    q.put(2)
    putters = []
    for i in range(4):
        putters.append(spawn(q.put, 10 + i))
        parked(putters[-1])
    assert putters[1].cancel(timeout=5)
    assert putters[3].cancel(timeout=5)
    joiner = spawn(q.join)
    parked(joiner)
    assert joiner.cancel(timeout=5)
    got = [q.get(), q.get()]  # two slots free: the two live putters get them
    assert putters[0].join(timeout=10) is None
    assert putters[2].join(timeout=10) is None
    assert q.unfinished_tasks == 4
    taken: list[Any] = []

    def consume() -> None:
        while True:
            taken.append(q.get())

    getter = spawn(consume)
    parked(getter)  # it parks once it has taken both items
    assert getter.cancel(timeout=5)  # cancelled while waiting: takes nothing more
    assert sorted(got + taken) == [1, 2, 10, 12]
    assert q.empty()
    assert q.unfinished_tasks == 4
    for _ in range(4):
        q.task_done()
    q.join()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


def test_item_handed_to_a_getter_at_the_instant_of_cancel_is_not_lost() -> None:
    q: threado.Queue[int] = threado.Queue()
    t = spawn_parked(q.get)
    q.put(42)  # handed to t...
    t.cancel(blocking=False)  # ...cancelled at the same instant
    t.wait(10)
    if t.cancelled:
        assert q.get_nowait() == 42
    else:
        assert t.result == 42
        assert q.empty()


# -- abandoned by an asynchronous exception (KeyboardInterrupt) ----------------------


def interrupt_after(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """Make the calling thread's next park run ``action`` (which hands it
    something), then raise KeyboardInterrupt, as a signal handler would."""
    me = get_state()
    real_block = _parking.block
    fired = False

    def handed_then_interrupted(state: Any, deadline: float | None) -> bool:
        nonlocal fired
        if state is me and not fired:
            fired = True
            action()
            raise KeyboardInterrupt
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", handed_then_interrupted)
    monkeypatch.setattr(_simplequeue, "block_until", handed_then_interrupted)


@pytest.mark.parametrize(
    ("cls", "items", "order"),
    [
        (threado.Queue, ["x", "y", "z"], ["x", "y", "z"]),  # back at the front
        (threado.LifoQueue, ["x", "y", "z"], ["x", "z", "y"]),  # back on top
        (threado.PriorityQueue, [2, 1, 3], [1, 2, 3]),  # back in the heap
        (threado.SimpleQueue, ["x", "y", "z"], ["x", "y", "z"]),  # never taken
    ],
)
def test_item_handed_to_an_interrupted_getter_is_put_back_in_its_place(
    cls: Callable[[], AnyQueue],
    items: list[Any],
    order: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q = cls()

    def hand_over() -> None:
        q.put_nowait(items[0])  # handed to us, the only getter
        if isinstance(q, threado.Queue):
            assert q.qsize() == 0
        for item in items[1:]:
            q.put_nowait(item)

    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    monkeypatch.undo()
    assert drain(q) == order
    if isinstance(q, threado.Queue):
        assert q.unfinished_tasks == 3
        assert "0 getters" in repr(q)
    else:
        assert len(q._waiting) == 0


def test_item_handed_to_an_interrupted_getter_goes_to_the_next_getter(
    anycls: Callable[[], AnyQueue], monkeypatch: pytest.MonkeyPatch, spawn: Spawn
) -> None:
    q = anycls()
    others: list[threado.Thread[Any]] = []

    def hand_over() -> None:
        others.append(spawn(q.get))  # in line behind us
        parked(others[0], q)
        q.put_nowait("x")  # handed to us, first in line

    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    monkeypatch.undo()
    assert others[0].join(timeout=10) == "x"
    assert q.empty()


@pytest.mark.parametrize(
    ("base", "order"),
    SHELVES,
)
def test_interrupted_getter_of_a_user_subclass_loses_nothing(
    base: type[threado.Queue[Any]], order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = shelf_queue(base, order)()

    def hand_over() -> None:
        q.put_nowait(1)
        q.put_nowait(2)

    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    monkeypatch.undo()
    assert sorted(drain(q)) == [1, 2]
    assert q.unfinished_tasks == 2


class Watermark:
    """Wraps a queue's ``_put``/``_put_back`` hooks to record the most items
    its storage ever held (``Queue.queue`` can be looked at only between calls)."""

    def __init__(self, q: threado.Queue[Any], monkeypatch: pytest.MonkeyPatch) -> None:
        self.high = 0
        for name in ("_put", "_put_back"):
            monkeypatch.setattr(q, name, self._wrap(q, getattr(q, name)))

    def _wrap(self, q: threado.Queue[Any], hook: Callable[[Any], None]) -> Callable[[Any], None]:
        def counted(item: Any) -> None:
            hook(item)
            self.high = max(self.high, q._qsize())

        return counted


@pytest.mark.parametrize(
    ("cls", "items", "order"),
    [
        (threado.Queue, ["x", "y"], ["x", "y"]),  # x, taken first, comes first again
        (threado.LifoQueue, ["x", "y"], ["y", "x"]),  # y was put last
        (threado.PriorityQueue, [1, 2], [1, 2]),  # the lowest first...
        (threado.PriorityQueue, [2, 1], [1, 2]),  # ...whichever was handed over
    ],
)
def test_item_given_back_to_a_full_queue_never_exceeds_maxsize(
    cls: type[threado.Queue[Any]],
    items: list[Any],
    order: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slot an item handed to a getter freed lets a putter in; when the
    getter is then interrupted, its item must neither overflow the queue nor
    be lost."""
    q = cls(maxsize=1)

    def hand_over() -> None:
        q.put_nowait(items[0])  # handed to us, the only getter: the queue stays empty...
        q.put_nowait(items[1])  # ...so this one is let in, and the queue is full
        assert q.full()

    watermark = Watermark(q, monkeypatch)
    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    assert watermark.high <= 1, f"a queue of maxsize 1 held {watermark.high} items"
    assert q.qsize() == 1
    with pytest.raises(queue.Full):
        q.put_nowait("late")  # the item given back still counts: the queue is full
    assert drain(q) == order
    assert watermark.high <= 1
    assert q.unfinished_tasks == 2
    q.put_nowait("z")  # and the slots are all free again
    assert drain(q) == ["z"]


def test_item_given_back_to_a_full_queue_goes_ahead_of_waiting_putters(
    monkeypatch: pytest.MonkeyPatch, spawn: Spawn
) -> None:
    q: threado.Queue[str] = threado.Queue(maxsize=2)
    putters: list[threado.Thread[Any]] = []

    def hand_over() -> None:
        q.put_nowait("a")  # handed to us
        q.put_nowait("b")
        q.put_nowait("c")  # the queue is full...
        putters.append(spawn(q.put, "d"))
        wait_parked(putters[0])  # ...and "d" waits for a slot

    watermark = Watermark(q, monkeypatch)
    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    assert q.qsize() == 2
    assert repr(q).endswith(": 2/2 items (+1 held back), 0 getters, 1 putters waiting>")
    assert not putters[0].done()  # "a" went back in ahead of it: still no slot
    assert [q.get(), q.get()] == ["a", "b"]  # each get frees a slot, in order:
    assert putters[0].join(timeout=10) is None  # first for "c", then for "d"
    assert drain(q) == ["c", "d"]
    assert watermark.high <= 2, f"a queue of maxsize 2 held {watermark.high} items"
    assert q.unfinished_tasks == 4


def test_items_given_back_to_a_full_fifo_keep_their_order() -> None:
    """Two getters abandoned in turn (the later-handed item given back first,
    each to the front): the items held back keep the order they were put in."""
    q: threado.Queue[str] = threado.Queue(maxsize=2)
    for item in "ax":
        q.put_nowait(item)
    assert [q.get_nowait(), q.get_nowait()] == ["a", "x"]  # handed out...
    q.put_nowait("b")
    q.put_nowait("c")  # ...and their slots taken
    q._give_back("x")
    q._give_back("a")
    assert q.qsize() == 2
    assert repr(q).endswith(": 2/2 items (+2 held back), 0 getters, 0 putters waiting>")
    assert drain(q) == ["a", "x", "b", "c"]


@pytest.mark.parametrize(("base", "order"), SHELVES)
def test_item_given_back_to_a_full_user_subclass_loses_nothing(
    base: type[threado.Queue[Any]], order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = shelf_queue(base, order)(maxsize=1)

    def hand_over() -> None:
        q.put_nowait(1)
        q.put_nowait(2)

    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    assert len(q.queue) == 1
    assert sorted(drain(q)) == [1, 2]
    assert q.unfinished_tasks == 2


def test_shutdown_immediate_drops_an_item_given_back_to_a_full_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q: threado.Queue[str] = threado.Queue(maxsize=1)

    def hand_over() -> None:
        q.put_nowait("x")
        q.put_nowait("y")

    interrupt_after(monkeypatch, hand_over)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    q.shutdown(immediate=True)  # removes what is queued, the item held back too
    assert q.unfinished_tasks == 0
    q.join()
    with pytest.raises(ShutDown):
        q.get_nowait()


def test_keyboard_interrupt_abandon_passes_a_handed_item_on() -> None:
    # The handler hands an item to the parked main thread, then raises:
    # the item must stay available, not be dropped with the waiter.
    code = sigusr1_script(
        """
        q = threado.Queue()
        @Once
        def handler(*_):
            q.put("item")
            raise Boom
        signal.signal(signal.SIGUSR1, handler)
        threado.spawn(poke, handler)
        try:
            q.get()
        except Boom:
            pass
        print("left", q.get_nowait(), flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() == "left item", proc.stderr


def test_simplequeue_interrupt_after_registering_leaks_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q: threado.SimpleQueue[str] = threado.SimpleQueue()
    real_enter_wait = _simplequeue.enter_wait  # type: ignore[attr-defined]
    fired: list[bool] = []

    def interrupted(st: Any) -> Any:
        # A signal handler's KeyboardInterrupt at the first bytecode after
        # `waiting.append(rec)`, before `try:`.
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return real_enter_wait(st)

    monkeypatch.setattr(_simplequeue, "enter_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        q.get()
    t = threado.spawn(q.get)
    try:
        wait_parked(t)
        q.put("item")  # pops the leaked record, marks it, unparks the main thread
        assert t.wait(timeout=2), "item queued, getter still parked: a lost wake-up"
        assert t.join() == "item"
    finally:
        t.cancel(timeout=5)
        assert not q._waiting


# -- SimpleQueue --------------------------------------------------------------------


def test_simple_queue_keeps_the_stdlib_interface() -> None:
    def public(cls: type) -> set[str]:
        return {name for name in dir(cls) if not name.startswith("_")}

    assert public(threado.SimpleQueue) == public(queue.SimpleQueue)
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    q.put(1, block=False, timeout=-5)  # block and timeout are ignored, as in the stdlib
    q.put(2, True, "not even a number")  # type: ignore[arg-type]
    assert [q.get(), q.get()] == [1, 2]


def test_simple_queue_put_from_a_signal_handler() -> None:
    """A SIGUSR1 handler puts while the main thread is parked in get."""
    q: threado.SimpleQueue[str] = threado.SimpleQueue()
    main = get_state()

    def handler(signum: int, frame: object) -> None:
        q.put("from the handler")

    def kill_when_parked() -> None:
        registered(main, q)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        killer = threading.Thread(target=kill_when_parked)
        killer.start()
        assert q.get(timeout=10) == "from the handler"
        killer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert q.empty()
    assert len(q._waiting) == 0


def test_simple_queue_get_honours_a_scope_deadline_of_zero(
    monkeypatch: pytest.MonkeyPatch, spawn: Spawn
) -> None:
    """0.0 is a deadline like any other (the monotonic clock's origin is
    undefined): a parked get must end when the clock passes it, not take it
    for "no deadline" (and spin without end once the clock has passed it)."""
    shift = -time.monotonic() - 1000.0  # the clock reads about -1000: 0.0 is ahead

    def shifted_clock() -> float:
        return time.monotonic() + shift

    for module in (_state, _parking, _queues, _simplequeue):
        monkeypatch.setattr(module, "clock", shifted_clock)
    q: threado.SimpleQueue[str] = threado.SimpleQueue()

    def get_until_zero() -> str:
        try:
            with threado.timeout_at(0.0):
                q.get()
        except ThreadTimeout:
            return "timed out"
        return "got an item"

    t = spawn(get_until_zero)
    registered(t._state, q)  # parked: the entry check found 0.0 still ahead
    shift += 2000.0  # the clock reads about +1000: the deadline has passed...
    unpark(t._state)  # ...and the getter wakes, as its timed block would have
    assert t.wait(timeout=SLACK), "the getter did not see its deadline of 0.0 pass"
    assert t.result == "timed out"
    assert len(q._waiting) == 0


def test_simple_queue_put_from_del(spawn: Spawn) -> None:
    """``__del__`` run by the garbage collector, in another thread while a
    getter is parked, and in the getter's own thread inside its get."""
    q: threado.SimpleQueue[str] = threado.SimpleQueue()

    class Cyclic:
        def __init__(self, tag: str) -> None:
            self.me = self
            self.tag = tag

        def __del__(self) -> None:
            q.put(self.tag)

    t = spawn(q.get)
    parked(t, q)
    Cyclic("elsewhere")
    gc.collect()
    assert t.join(timeout=10) == "elsewhere"

    thresholds = gc.get_threshold()
    gc.disable()
    try:
        Cyclic("inside get")
        gc.set_threshold(1)  # the next allocation (in get, say) collects it
        gc.enable()
        assert q.get(timeout=10) == "inside get"
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()


def test_wait_parked_sees_a_simple_queue_getter_park(spawn: Spawn) -> None:
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    gate = threading.Event()

    def late_get() -> int:
        gate.wait()
        return q.get()

    t = spawn(late_get)
    me = get_state()

    def open_gate_once_watched() -> None:
        while me not in (t._state.watchers or ()):
            time.sleep(0.0005)  # polling a state: wait_parked is watching
        gate.set()

    opener = threading.Thread(target=open_gate_once_watched)
    opener.start()
    start = time.monotonic()
    wait_parked(t, timeout=SLACK + 1)
    elapsed = time.monotonic() - start
    opener.join()
    q.put(1)
    assert t.join(timeout=10) == 1
    assert elapsed < SLACK, f"wait_parked took {elapsed:.1f}s for a getter that parked at once"


def test_simple_queue_wakeup_is_not_lost_after_a_preempted_put(
    monkeypatch: pytest.MonkeyPatch, spawn: Spawn
) -> None:
    q: threado.SimpleQueue[str] = threado.SimpleQueue()
    q._waiting = gated = _GatedDeque()  # the put pauses just after popping a record
    blocks = 0  # times the first getter went (back) to sleep
    progress = threading.Condition()
    real_block_until = _simplequeue.block_until

    def counting_block_until(state: Any, deadline: float | None) -> bool:
        nonlocal blocks
        with progress:  # until `second` starts, only `first` blocks here
            blocks += 1
            progress.notify_all()
        return real_block_until(state, deadline)

    def slept(n: int) -> None:
        with progress:
            assert progress.wait_for(lambda: blocks >= n, timeout=10)

    monkeypatch.setattr(_simplequeue, "block_until", counting_block_until)
    first = spawn(q.get)
    slept(1)
    gated.armed = True
    putter = threading.Thread(target=q.put, args=("a",))
    putter.start()
    assert gated.paused.wait(timeout=10)  # the put popped the getter's record...
    assert q.get_nowait() == "a"  # ...another consumer takes the item...
    # ...and the getter wakes now (a stale token, or its timeout lapsing), loops
    # and finds nothing.
    unpark(first._state)
    slept(2)
    gated.resume.set()  # the put marks the record and wakes the getter
    putter.join()
    slept(3)
    q.put("b")
    assert first.join(timeout=10) == "b"
    second = spawn(q.get)
    parked(second, q)
    q.put("c")
    assert second.wait(timeout=SLACK), f"a getter sleeps with {q.qsize()} item(s) queued"
    assert second.result == "c"


def test_simple_queue_keeps_the_stdlib_smaller_interface() -> None:
    for attr in ("task_done", "join", "maxsize", "full"):
        assert hasattr(threado.SimpleQueue(), attr) == hasattr(queue.SimpleQueue(), attr)

    def script(q: Any) -> list[Any]:
        q.put(1)
        q.put(2, False)
        q.put(3, timeout=-5)
        q.put_nowait(4)
        out = [q.qsize(), q.empty(), q.get(), q.get(False), q.get(timeout=1), q.get_nowait()]
        out += [q.empty(), outcome_type(q.get_nowait), outcome_type(lambda: q.get(timeout=0.01))]
        out += [
            outcome_type(lambda: q.get(timeout=-1)),
            outcome_type(lambda: q.get(False, timeout=-1)),
        ]
        return out

    assert script(threado.SimpleQueue()) == script(queue.SimpleQueue())


def test_simple_queue_put_is_reentrant() -> None:
    # Re-enter put from inside put (as a __del__ or signal handler can).
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    blocked = spawn_parked(q.get)  # a getter is waiting: put takes its wake-up path
    reentered: list[bool] = []
    put_code = type(q).put.__code__

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and not reentered:
            f = frame
            while f is not None:
                if f.f_code is put_code:
                    reentered.append(True)
                    q.put(2)
                    return
                f = f.f_back

    def run() -> None:
        sys.setprofile(profiler)
        try:
            q.put(1)
        finally:
            sys.setprofile(None)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "put deadlocked when re-entered"
    assert reentered
    assert blocked.join(10) in (1, 2)
    assert q.qsize() == 1


# -- a model of the non-blocking interface (Hypothesis) ------------------------------


class QueueModel(RuleBasedStateMachine):
    """Queue, LifoQueue and PriorityQueue (bounded or not) against a list.

    Only calls that cannot wait: they must behave exactly as the model says,
    and qsize/empty/full/unfinished_tasks must match it after every step.
    """

    def __init__(self) -> None:
        super().__init__()
        self.q: threado.Queue[int] = threado.Queue()
        self.kind = "Queue"
        self.items: list[int] = []  # in the order they will come out
        self.unfinished = 0
        self.shut = False
        self.maxsize = 0

    @initialize(kind=st.sampled_from(list(FAMILY)), maxsize=st.sampled_from([0, 1, 3]))
    def make(self, kind: str, maxsize: int) -> None:
        self.kind = kind
        self.q = FAMILY[kind](maxsize)
        self.maxsize = maxsize

    def _full(self) -> bool:
        return 0 < self.maxsize <= len(self.items)

    def _add(self, item: int) -> None:
        if self.kind == "Queue":
            self.items.append(item)
        elif self.kind == "LifoQueue":
            self.items.insert(0, item)
        else:
            heapq.heappush(self.items, item)

    def _take(self) -> int:
        if self.kind == "PriorityQueue":
            return heapq.heappop(self.items)
        return self.items.pop(0)

    @rule(item=st.integers(-5, 5), how=st.sampled_from(["nowait", "timeout0", "block"]))
    def put(self, item: int, how: str) -> None:
        if self.shut:
            expect: type[Exception] | None = ShutDown
        elif self._full():
            expect = queue.Full
            if how == "block":
                return  # it would wait
        else:
            expect = None
        calls: dict[str, Callable[[], None]] = {
            "nowait": lambda: self.q.put_nowait(item),
            "timeout0": lambda: self.q.put(item, timeout=0),
            "block": lambda: self.q.put(item),
        }
        call = calls[how]
        if expect is not None:
            with pytest.raises(expect):
                call()
            return
        call()
        self._add(item)
        self.unfinished += 1

    @rule(how=st.sampled_from(["nowait", "timeout0", "block"]))
    def get(self, how: str) -> None:
        if self.items:
            want = self._take()
            getters: dict[str, Callable[[], int]] = {
                "nowait": self.q.get_nowait,
                "timeout0": lambda: self.q.get(timeout=0),
                "block": self.q.get,
            }
            got = getters[how]()
            assert got == want
            return
        if not self.shut and how == "block":
            return  # it would wait
        with pytest.raises(ShutDown if self.shut else queue.Empty):
            if how == "nowait":
                self.q.get_nowait()
            else:
                self.q.get(timeout=0)

    @rule()
    def task_done(self) -> None:
        if self.unfinished == 0:
            with pytest.raises(ValueError, match="too many"):
                self.q.task_done()
        else:
            self.q.task_done()
            self.unfinished -= 1

    @precondition(lambda self: self.unfinished == 0)
    @rule()
    def join(self) -> None:
        self.q.join()  # nothing unfinished: returns at once

    @rule(immediate=st.booleans())
    def shutdown(self, immediate: bool) -> None:
        self.q.shutdown(immediate)
        self.shut = True
        if immediate:
            self.unfinished = max(0, self.unfinished - len(self.items))
            self.items.clear()

    @invariant()
    def matches_the_model(self) -> None:
        q = self.q
        assert q.qsize() == len(self.items)
        assert q.empty() == (not self.items)
        assert q.full() == self._full()
        assert q.unfinished_tasks == self.unfinished
        assert q.is_shutdown == self.shut
        with q.mutex:
            assert sorted(q.queue) == sorted(self.items)


TestQueueModel = QueueModel.TestCase


TestQueueModel.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
