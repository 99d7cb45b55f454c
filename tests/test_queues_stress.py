"""Randomized stress tests for the queues.

Producers and consumers use one queue in every way at random (blocking,
timed, non-blocking, inside ``timeout_after``) while a chaos thread cancels
random workers at random times (``cancel(blocking=False)``) and replaces
each victim with a fresh one. Then the producers stop, the consumers must
drain what is left, every worker is cancelled (blocking) and joined, and the
ledger is checked: every item whose ``put`` returned was got exactly once or
is still in the queue (lost: 0, duplicated: 0), no item whose ``put`` failed
ever appears, ``task_done`` accounting is exact and nobody is left queued.

Workers never assert: they record violations in a :class:`Tally`. The random
choices are seeded (``chaos.SEED``); thread scheduling is not reproducible, so
each test prints its counters (``pytest -s`` shows them).
``THREADO_STRESS_SECONDS`` sets how long each test runs (default 1.5 s); for a
long run, switch off the global faulthandler dump, which would fire at 45 s::

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_queues_stress.py -s \\
        -o faulthandler_timeout=0
"""

from __future__ import annotations

import queue
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from chaos import DURATION, HANG, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, Worker, work

import threado
from threado import ShutDown, ThreadCancelled, ThreadTimeout

#: Timeouts the workers pass to put/get and to timeout_after.
TIMEOUTS = (0, 0.0001, 0.001, 0.005)


# The run, plus draining, joining and checking; above the global 60 s timeout
# when THREADO_STRESS_SECONDS is large. Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * DURATION + 60)]


KINDS: dict[str, Callable[[], Any]] = {
    "Queue": threado.Queue,
    "Queue(maxsize=4)": lambda: threado.Queue(4),
    "LifoQueue(maxsize=4)": lambda: threado.LifoQueue(4),
    "PriorityQueue(maxsize=4)": lambda: threado.PriorityQueue(4),
    "SimpleQueue": threado.SimpleQueue,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_item_is_got_once_or_still_queued(kind: str) -> None:
    q = KINDS[kind]()
    tracked = isinstance(q, threado.Queue)  # task_done/join; SimpleQueue has neither
    maxsize = q.maxsize if tracked else 0
    tally = Tally(kind)
    guard = tally.lock  # also guards the ledger below
    serial = 0
    put_ok: set[int] = set()  # put returned: in the queue or got, exactly once
    put_failed: set[int] = set()  # put raised: must never appear
    got: Counter[int] = Counter()
    done_calls = 0

    def producer(rng: random.Random) -> None:
        nonlocal serial
        while True:
            with guard:
                serial += 1
                item = serial
            mode = rng.randrange(4)
            try:
                if mode == 0:
                    q.put(item)
                elif mode == 1:
                    q.put(item, timeout=rng.choice(TIMEOUTS))
                elif mode == 2:
                    q.put_nowait(item)
                else:
                    with threado.timeout_after(rng.choice(TIMEOUTS)):
                        q.put(item)
            except (queue.Full, ThreadTimeout):
                with guard:
                    put_failed.add(item)
                tally.add("puts timed out")
                continue
            except ThreadCancelled:
                with guard:
                    put_failed.add(item)
                tally.add("cancelled in put")
                raise
            except BaseException as exc:
                with guard:
                    put_failed.add(item)
                tally.violation(f"put({item}) raised {exc!r}")
                raise
            with guard:
                put_ok.add(item)
            tally.add("puts")
            if maxsize and q.qsize() > maxsize:
                tally.violation(f"qsize {q.qsize()} > maxsize {maxsize}")
            work(rng)

    def consumer(rng: random.Random) -> None:
        nonlocal done_calls
        while True:
            mode = rng.randrange(5 if tracked else 4)
            try:
                if mode == 0:
                    item = q.get()
                elif mode == 1:
                    item = q.get(timeout=rng.choice(TIMEOUTS))
                elif mode == 2:
                    item = q.get_nowait()
                elif mode == 3:
                    with threado.timeout_after(rng.choice(TIMEOUTS)):
                        item = q.get()
                else:
                    item = next(iter(q))  # one step of `for item in q`
            except (queue.Empty, ThreadTimeout):
                tally.add("gets timed out")
                continue
            except ThreadCancelled:
                tally.add("cancelled in get")
                raise
            except (ShutDown, StopIteration) as exc:
                tally.violation(f"get raised {exc!r} on a queue never shut down")
                raise
            with guard:
                got[item] += 1
            tally.add("gets")
            if tracked:
                try:
                    q.task_done()
                except ValueError as exc:
                    tally.violation(f"task_done() for a got item raised {exc!r}")
                with guard:
                    done_calls += 1
            work(rng)

    def joiner(rng: random.Random) -> None:
        while True:
            try:
                q.join()
            except ThreadCancelled:
                tally.add("cancelled in join")
                raise
            tally.add("joins")
            work(rng)

    producers, consumers = 4, 4
    roles: list[Worker] = [*[producer] * producers, *[consumer] * consumers]
    if tracked:
        roles.append(joiner)
    crew = Crew(tally, roles)
    crew.run_chaos()

    # Liveness: with the producers gone, the consumers drain the queue.
    crew.stop(list(range(producers)))
    deadline = threado.clock() + HANG
    while q.qsize() and threado.clock() < deadline:
        threado.sleep(0.001)  # polling a state (the queue's size), not ordering
    if q.qsize():
        tally.violation(f"consumers asleep with {q.qsize()} items queued: {q!r}")
    crew.stop()

    leftover: list[int] = []
    while True:
        try:
            leftover.append(q.get_nowait())
        except queue.Empty:
            break
    seen = set(got) | set(leftover)
    lost = len(put_ok - seen)
    duplicated = sum(n - 1 for n in got.values()) + len(leftover) - len(set(leftover))
    duplicated += len(set(got) & set(leftover))
    phantom = len(seen - put_ok)  # failed puts whose item appeared anyway
    tally.add("items", len(put_ok))
    tally.add("left in queue", len(leftover))
    tally.add("lost", lost)
    tally.add("duplicated", duplicated)
    tally.add("phantom", phantom)
    if tracked:
        # Every item put counts until its task_done: the consumers called it
        # for each item they got, so what remains is exactly the leftover.
        tally.add("unfinished at end", q.unfinished_tasks)
        if q.unfinished_tasks != len(leftover):
            tally.violation(
                f"unfinished_tasks={q.unfinished_tasks}, but {len(leftover)} items left "
                f"({len(put_ok)} put, {done_calls} task_done calls)"
            )
        for _ in leftover:
            q.task_done()
        with threado.timeout_after(HANG):
            q.join()
        waiting = (len(q._getters), len(q._putters), len(q._joiners))
        if waiting != (0, 0, 0):
            tally.violation(f"waiter records left behind (getters, putters, joiners): {waiting}")
    elif len(q._waiting):
        tally.violation(f"{len(q._waiting)} getter records left behind")

    minimums = {"cancels delivered": MIN_CANCELS, "cancelled in get": MIN_IN_WAIT}
    if tracked:
        minimums["cancelled in put"] = MIN_IN_WAIT
    tally.check(puts=MIN_OPS, gets=MIN_OPS, **minimums)
    assert (lost, duplicated, phantom) == (0, 0, 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_simplequeue_stress_cancel_timeout_no_loss_no_leak(seed: int) -> None:
    """Getters that time out, get cancelled or succeed, racing puts: every
    item is got exactly once or still queued, and no record stays behind."""
    rng = random.Random(seed)
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    got: list[int] = []
    got_lock = threading.Lock()
    n_items = 3000

    def getter() -> None:
        while True:
            try:
                item = q.get(timeout=rng.choice([0.0005, 0.002, None]))
            except queue.Empty:
                continue
            if item < 0:
                return
            with got_lock:
                got.append(item)

    getters = [threado.spawn(getter) for _ in range(4)]
    victims: list[threado.Thread[Any]] = []

    def victim() -> None:
        while True:
            item = q.get()
            with got_lock:
                got.append(item)

    for i in range(n_items):
        q.put(i)
        if i % 300 == 0:
            v = threado.spawn(victim)
            victims.append(v)
        if i % 300 == 150 and victims:
            victims[-1].cancel(blocking=False)
    for v in victims:
        v.cancel(timeout=10)
    for _ in getters:
        q.put(-1)
    for g in getters:
        g.join(timeout=20)
    rest = []
    while True:
        try:
            rest.append(q.get_nowait())
        except queue.Empty:
            break
    assert sorted(got + [x for x in rest if x >= 0]) == list(range(n_items))
    assert not q._waiting
