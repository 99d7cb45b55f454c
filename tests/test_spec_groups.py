"""SPEC §4 (synchronization primitives and queues) and §5 (thread groups).

One small deterministic test per claim of the contract, compared with the
standard library where the contract says "drop-in". Threads are ordered with
events and ``threado.testing.wait_parked``, never by sleeping.
"""

from __future__ import annotations

import math
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import threado
from threado import ThreadCancelled, ThreadTimeout
from threado.testing import wait_parked

BBE = threading.BrokenBarrierError


def outcome(f: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) or ("exc", exception type)."""
    try:
        return ("ok", f())
    except Exception as e:
        return ("exc", type(e))


def forever() -> None:
    threado.Event().wait()


def in_cancelled_thread(f: Callable[[], Any]) -> threado.Thread[Any]:
    """Run ``f`` in a thread that has cancelled itself first; return the ended thread."""

    def body() -> Any:
        threado.current_thread().cancel(blocking=False)
        return f()

    t = threado.spawn(body)
    t.wait()
    return t


def parked(func: Callable[..., Any], *args: Any) -> threado.Thread[Any]:
    t = threado.spawn(func, *args)
    wait_parked(t)
    return t


# =============================================================================
# §4 Lock / RLock
# =============================================================================

LOCKS = [(threading.Lock, threado.Lock), (threading.RLock, threado.RLock)]
LOCK_IDS = ["Lock", "RLock"]


@pytest.mark.parametrize(("std", "td"), LOCKS, ids=LOCK_IDS)
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((True,), {}),
        ((False,), {}),
        ((), {"blocking": 0}),
        ((), {"timeout": -1}),
        ((), {"timeout": -1.0}),
        ((False,), {"timeout": -1}),
        ((True,), {"timeout": 0}),
        ((), {"timeout": 0.01}),
        ((False,), {"timeout": 1}),
        ((False,), {"timeout": 0}),
        ((), {"timeout": -2}),
        ((), {"timeout": -0.5}),
        ((), {"timeout": None}),
        ((), {"timeout": "1"}),
        ((), {"timeout": math.nan}),
        ((), {"timeout": 1e300}),
    ],
)
def test_lock_acquire_arguments_match_threading(
    std: Any, td: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    assert outcome(lambda: td().acquire(*args, **kwargs)) == outcome(
        lambda: std().acquire(*args, **kwargs)
    )


@pytest.mark.parametrize(("std", "td"), LOCKS, ids=LOCK_IDS)
@pytest.mark.parametrize("blocking", [None, "x", [], 1.5, 0, 2], ids=repr)
def test_lock_acquire_blocking_is_parsed_as_the_running_stdlib_does(
    std: Any, td: Any, blocking: object
) -> None:
    # 3.11 wants an integer (None is a TypeError); 3.12+ takes any truth value.
    expected = outcome(lambda: std().acquire(blocking))
    if sys.version_info < (3, 12):
        assert expected[1] is TypeError or isinstance(blocking, int)
    else:
        assert expected[1] is not TypeError
    assert outcome(lambda: td().acquire(blocking)) == expected


@pytest.mark.parametrize(("std", "td"), LOCKS, ids=LOCK_IDS)
def test_lock_held_elsewhere_nonblocking_and_timeout_return_false(std: Any, td: Any) -> None:
    for make in (std, td):
        lock = make()
        got, done = threading.Event(), threading.Event()

        def holder(
            lock: Any = lock, got: threading.Event = got, done: threading.Event = done
        ) -> None:
            with lock:
                got.set()
                done.wait()

        t = threading.Thread(target=holder)
        t.start()
        got.wait()
        try:
            assert lock.acquire(False) is False
            assert lock.acquire(timeout=0) is False
            assert lock.acquire(timeout=0.01) is False
            assert lock.acquire(True, 0.01) is False
        finally:
            done.set()
            t.join()
        assert lock.acquire(timeout=1) is True
        lock.release()


@pytest.mark.parametrize("td", [threado.Lock, threado.RLock], ids=LOCK_IDS)
def test_releasing_an_unheld_lock_raises_runtime_error(td: Any) -> None:
    with pytest.raises(RuntimeError):
        td().release()


def test_rlock_release_by_non_owner_raises_runtime_error() -> None:
    lock = threado.RLock()
    got, done = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            got.set()
            done.wait()

    t = threado.spawn(holder)
    got.wait()
    try:
        with pytest.raises(RuntimeError):
            lock.release()
        assert lock.locked()
    finally:
        done.set()
        t.join()
    assert not lock.locked()


def test_plain_lock_may_be_released_by_another_thread() -> None:
    lock = threado.Lock()
    lock.acquire()
    threado.spawn(lock.release).join()
    assert not lock.locked()


@pytest.mark.parametrize("td", [threado.Lock, threado.RLock], ids=LOCK_IDS)
def test_locked_and_context_manager(td: Any) -> None:
    lock = td()
    assert lock.locked() is False
    with lock as v:
        assert v is True
        assert lock.locked() is True
        assert threado.spawn(lock.locked).join() is True
    assert lock.locked() is False


def test_rlock_recursion_levels() -> None:
    lock = threado.RLock()
    assert lock.acquire()
    assert lock.acquire(False)
    assert lock.acquire(timeout=0)
    lock.release()
    lock.release()
    assert threado.spawn(lambda: lock.acquire(False)).join() is False
    lock.release()
    assert threado.spawn(lambda: (lock.acquire(False), lock.release())[0]).join() is True
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.parametrize("td", [threado.Lock, threado.RLock], ids=LOCK_IDS)
@pytest.mark.parametrize("timeout", [-1, 30])
def test_cancelled_lock_acquire_never_takes_the_lock(td: Any, timeout: float) -> None:
    lock = td()
    lock.acquire()
    t = parked(lock.acquire, True, timeout)
    assert t.cancel(timeout=10) is True
    assert t.cancelled
    lock.release()
    assert not lock.locked()
    assert lock.acquire(False)
    lock.release()


@pytest.mark.parametrize("td", [threado.Lock, threado.RLock], ids=LOCK_IDS)
def test_lock_acquire_wait_ends_with_enclosing_timeout(td: Any) -> None:
    lock = td()
    got, done = threading.Event(), threading.Event()

    def holder() -> None:
        with lock:
            got.set()
            done.wait()

    h = threading.Thread(target=holder)
    h.start()
    got.wait()
    try:
        with pytest.raises(ThreadTimeout), threado.timeout_after(0.05):
            lock.acquire()
    finally:
        done.set()
        h.join()
    assert not lock.locked()


@pytest.mark.parametrize("td", [threado.Lock, threado.RLock], ids=LOCK_IDS)
def test_a_long_waiter_eventually_gets_a_lock_that_is_retaken_at_once(td: Any) -> None:
    # A barging holder releases and re-takes the lock in a tight loop; the
    # waiter must be handed the lock once it has waited "a short bound".
    lock = td()
    got = threading.Event()

    def waiter() -> None:
        with lock:
            got.set()

    lock.acquire()
    t = parked(waiter)
    deadline = time.monotonic() + 10
    rounds = 0
    while not got.is_set() and time.monotonic() < deadline:
        lock.release()
        lock.acquire()
        rounds += 1
    lock.release()
    t.join()
    assert got.is_set(), f"the waiter starved for {rounds} release/acquire rounds"


# =============================================================================
# §4 Condition
# =============================================================================

COND_LOCKS: list[Callable[[], Any] | None] = [None, threado.Lock, threado.RLock]
COND_IDS = ["default", "Lock", "RLock"]


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_condition_without_the_lock_raises_runtime_error(make_lock: Any) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    for call in (c.notify, c.notify_all, lambda: c.wait(0), lambda: c.wait()):
        with pytest.raises(RuntimeError):
            call()


@pytest.mark.parametrize("timeout", [0, -1])
def test_condition_wait_for_without_the_lock_raises_like_threading(timeout: float) -> None:
    with pytest.raises(RuntimeError):
        threading.Condition().wait_for(lambda: False, timeout)
    with pytest.raises(RuntimeError):
        threado.Condition().wait_for(lambda: False, timeout)


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
@pytest.mark.parametrize("timeout", [0, -1, 0.01])
def test_condition_wait_timeout_returns_false_as_threading(make_lock: Any, timeout: float) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    sc = threading.Condition()
    with c, sc:
        assert c.wait(timeout) is sc.wait(timeout) is False
        assert c.wait_for(lambda: 0, timeout) == sc.wait_for(lambda: 0, timeout) == 0
        assert c.wait_for(lambda: "yes", timeout) == "yes"


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_condition_notify_returns_true_from_wait_and_reacquires(make_lock: Any) -> None:
    c = threado.Condition(make_lock() if make_lock else None)
    results: list[Any] = []

    def waiter() -> None:
        with c:
            results.append(c.wait())
            results.append(c._is_owned())

    t = parked(waiter)
    with c:
        c.notify()
    t.join()
    assert results == [True, True]


def test_condition_notify_n_and_notify_all() -> None:
    c = threado.Condition(threado.Lock())
    woke: list[int] = []

    def waiter(i: int) -> None:
        with c:
            if c.wait(timeout=30):
                woke.append(i)

    ts = [parked(waiter, i) for i in range(5)]
    with c:
        c.notify(2)
    ts[0].join()
    ts[1].join()
    assert sorted(woke) == [0, 1]
    with c:
        c.notify(0)
        c.notify(-1)
        c.notify_all()
    for t in ts:
        t.join()
    assert sorted(woke) == [0, 1, 2, 3, 4]


def test_condition_wait_for_returns_the_predicate_value() -> None:
    c = threado.Condition()
    box: list[int] = []

    def waiter() -> Any:
        with c:
            return c.wait_for(lambda: box and box[0] * 10)

    t = parked(waiter)
    with c:
        box.append(4)
        c.notify_all()
    assert t.join() == 40


@pytest.mark.parametrize("make_lock", COND_LOCKS, ids=COND_IDS)
def test_cancelled_condition_wait_reacquires_the_lock_before_propagating(
    make_lock: Any,
) -> None:
    lock = make_lock() if make_lock else threado.RLock()
    c = threado.Condition(lock)
    seen: list[bool] = []

    def waiter() -> None:
        with c:
            try:
                c.wait()
            except ThreadCancelled:
                seen.append(c._is_owned())
                raise

    t = parked(waiter)
    with c:  # hold the lock: the cancelled waiter cannot re-acquire it yet
        t.cancel(blocking=False)
        assert not t.wait(0.05)
    assert t.wait(10)
    assert t.cancelled  # not a RuntimeError from releasing an unheld lock
    assert seen == [True]
    assert not lock.locked()


def test_condition_notify_is_not_lost_when_the_notified_waiter_is_cancelled() -> None:
    c = threado.Condition(threado.Lock())
    returned: list[str] = []

    def waiter(name: str) -> None:
        with c:
            if c.wait():
                returned.append(name)

    a = parked(waiter, "a")
    b = parked(waiter, "b")
    with c:
        c.notify()  # goes to a (first waiter)...
        a.cancel(blocking=False)  # ...which is cancelled at the same instant
    a.wait(10)
    # Either a reports the notify (and dies at its next blocking point), or
    # the notify is passed on to b: it is never lost.
    if "a" not in returned:
        assert b.wait(10)
        assert returned == ["b"]
    else:
        b.cancel()
    assert a.wait(0)


def test_condition_wait_for_is_a_blocking_point_even_when_true() -> None:
    c = threado.Condition()

    def body() -> Any:
        with c:
            return c.wait_for(lambda: True)

    assert in_cancelled_thread(body).cancelled


def test_condition_and_event_keep_threadings_aliases() -> None:
    assert hasattr(threading.Condition(), "notifyAll")
    assert hasattr(threado.Condition(), "notifyAll")
    assert hasattr(threado.Event(), "isSet")


# =============================================================================
# §4 Semaphore / BoundedSemaphore
# =============================================================================

SEMS = [
    (threading.Semaphore, threado.Semaphore),
    (threading.BoundedSemaphore, threado.BoundedSemaphore),
]
SEM_IDS = ["Semaphore", "BoundedSemaphore"]


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
def test_semaphore_negative_initial_value_raises_value_error(std: Any, td: Any) -> None:
    with pytest.raises(ValueError):
        std(-1)
    with pytest.raises(ValueError):
        td(-1)


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
@pytest.mark.parametrize("value", [0, 1])
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((False,), {}),
        ((), {"blocking": False}),
        ((False,), {"timeout": 1}),
        ((False,), {"timeout": -1}),
        ((), {"timeout": -1}),
        ((), {"timeout": 0}),
        ((), {"timeout": 0.01}),
    ],
)
def test_semaphore_acquire_matches_threading(
    std: Any, td: Any, value: int, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    if value == 0 and not kwargs and args != (False,):
        pytest.skip("would block forever")
    assert outcome(lambda: td(value).acquire(*args, **kwargs)) == outcome(
        lambda: std(value).acquire(*args, **kwargs)
    )


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
def test_semaphore_value_and_release_n(std: Any, td: Any) -> None:
    def script(make: Any) -> list[Any]:
        s = make(3)
        out = [s._value]
        out.append(s.acquire())
        out.append(s.acquire())
        out.append(outcome(lambda: s.release(0)))
        out.append(outcome(lambda: s.release(-1)))
        out.append(outcome(lambda: s.release(2)))
        out.append(outcome(lambda: s.release(2)))
        out.append(outcome(s.release))
        return out

    assert script(td) == script(std)
    s = td(2)
    assert s.value == 2
    s.acquire()
    assert s.value == 1


def test_bounded_semaphore_over_release_raises_value_error() -> None:
    s = threado.BoundedSemaphore(2)
    with pytest.raises(ValueError):
        s.release()
    s.acquire()
    with pytest.raises(ValueError):
        s.release(2)
    s.release()
    assert s.value == 2


def test_semaphore_release_n_wakes_n_waiters() -> None:
    s = threado.Semaphore(0)
    ts = [parked(s.acquire) for _ in range(3)]
    s.release(2)
    ts[0].join()
    ts[1].join()
    assert ts[2].is_alive()
    s.release()
    assert ts[2].join() is True
    assert s.value == 0


@pytest.mark.parametrize("td", [threado.Semaphore, threado.BoundedSemaphore], ids=SEM_IDS)
def test_cancelled_semaphore_acquire_takes_no_permit(td: Any) -> None:
    s = td(1)
    s.acquire()
    t = parked(s.acquire)
    assert t.cancel(timeout=10)
    assert t.cancelled
    s.release()
    assert s.value == 1


@pytest.mark.parametrize("td", [threado.Semaphore, threado.BoundedSemaphore], ids=SEM_IDS)
def test_semaphore_permit_handed_at_the_instant_of_cancel_is_not_lost(td: Any) -> None:
    s = td(1)
    s.acquire()
    t = parked(s.acquire)
    s.release()  # handed to t...
    t.cancel(blocking=False)  # ...cancelled at the same instant
    t.wait(10)
    if t.cancelled:
        assert s.value == 1  # the permit was given back
    else:
        assert t.result is True
        assert s.value == 0
        s.release()


def test_semaphore_acquire_is_a_blocking_point_even_with_a_free_permit() -> None:
    s = threado.Semaphore(1)
    assert in_cancelled_thread(s.acquire).cancelled
    assert s.value == 1
    t = in_cancelled_thread(lambda: s.acquire(False))
    assert t.result is True  # non-blocking: no ThreadCancelled
    assert s.value == 0


# =============================================================================
# §4 Event
# =============================================================================


def test_event_api_matches_threading() -> None:
    def script(e: Any) -> list[Any]:
        out = [e.is_set(), e.wait(0), e.wait(-1), e.wait(0.01)]
        e.set()
        out += [e.is_set(), e.wait(), e.wait(0), e.wait(-1)]
        e.clear()
        out += [e.is_set(), e.wait(0)]
        return out

    assert script(threado.Event()) == script(threading.Event())


def test_event_set_wakes_every_waiter_with_true() -> None:
    e = threado.Event()
    ts = [parked(e.wait) for _ in range(3)]
    e.set()
    assert [t.join() for t in ts] == [True, True, True]


def test_event_wait_is_cancellable() -> None:
    e = threado.Event()
    t = parked(e.wait)
    assert t.cancel(timeout=10)
    assert t.cancelled
    assert in_cancelled_thread(lambda: (e.set(), e.wait())).cancelled  # set: still a blocking point


# =============================================================================
# §4 Barrier
# =============================================================================


def test_barrier_properties_and_indexes() -> None:
    b = threado.Barrier(3)
    assert (b.parties, b.n_waiting, b.broken) == (3, 0, False)
    ts = [parked(b.wait) for _ in range(2)]
    assert b.n_waiting == 2
    idx = b.wait()
    assert sorted([idx] + [t.join() for t in ts]) == [0, 1, 2]
    assert b.n_waiting == 0


def test_barrier_action_runs_once_per_generation() -> None:
    calls: list[int] = []
    b = threado.Barrier(2, action=lambda: calls.append(1))
    t = parked(b.wait)
    b.wait()
    t.join()
    assert calls == [1]


def test_barrier_timeout_breaks_it_as_threading() -> None:
    for mod in (threading, threado):
        b = mod.Barrier(2)
        with pytest.raises(BBE):
            b.wait(0.01)
        assert b.broken
        assert b.n_waiting == 0
        with pytest.raises(BBE):
            b.wait(0.01)
        b.reset()
        assert not b.broken
        b2 = mod.Barrier(2, timeout=0.01)
        with pytest.raises(BBE):
            b2.wait()
        with pytest.raises(BBE):
            mod.Barrier(2).wait(0)


def test_barrier_cancelled_waiter_breaks_it_for_the_others() -> None:
    b = threado.Barrier(3)
    a = parked(b.wait)
    c = parked(b.wait)
    assert a.cancel(timeout=10)
    assert a.cancelled
    with pytest.raises(threado.ThreadError) as info:
        c.join(timeout=10)
    assert isinstance(info.value.__cause__, BBE)
    assert b.broken
    with pytest.raises(BBE):
        b.wait()


def test_barrier_abort_and_reset_wake_waiters_with_broken_barrier_error() -> None:
    b = threado.Barrier(2)
    t = parked(b.wait)
    b.abort()
    t.wait(10)
    assert isinstance(t.exception, BBE)
    assert b.broken
    b.reset()
    assert not b.broken
    t = parked(b.wait)
    b.reset()
    assert isinstance(t.wait(10) and t.exception, BBE)
    assert not b.broken
    t = parked(b.wait)
    assert b.wait() in (0, 1)
    assert t.join() in (0, 1)


def test_barrier_failing_action_breaks_it() -> None:
    def action() -> None:
        raise ZeroDivisionError

    b = threado.Barrier(2, action=action)
    t = parked(b.wait)
    with pytest.raises(ZeroDivisionError):
        b.wait()
    t.wait(10)
    assert isinstance(t.exception, BBE)
    assert b.broken


def test_barrier_raises_threadings_broken_barrier_error_class() -> None:
    b = threado.Barrier(2)
    b.abort()
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()


# =============================================================================
# §4 blocking points on entry; *_nowait never raise ThreadCancelled
# =============================================================================


def test_blocking_calls_check_cancellation_on_entry_and_consume_nothing() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put(1)
    t = in_cancelled_thread(q.get)
    assert t.cancelled
    assert q.qsize() == 1
    t = in_cancelled_thread(lambda: q.put(2))
    assert t.cancelled
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
        out: list[Any] = [outcome(lambda: q.put_nowait(9)), outcome(lambda: q.put(9, False))]
        out += [q.get_nowait(), sq.get_nowait(), sq.get(False)]
        out += [outcome(q.get_nowait), outcome(lambda: q.get(False)), outcome(sq.get_nowait)]
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


# =============================================================================
# §4 Queues
# =============================================================================

QUEUES = [
    (queue.Queue, threado.Queue),
    (queue.LifoQueue, threado.LifoQueue),
    (queue.PriorityQueue, threado.PriorityQueue),
]
QUEUE_IDS = ["Queue", "LifoQueue", "PriorityQueue"]


@pytest.mark.parametrize(("std", "td"), QUEUES, ids=QUEUE_IDS)
@pytest.mark.parametrize("maxsize", [0, 2, -1])
def test_queue_script_matches_stdlib(std: Any, td: Any, maxsize: int) -> None:
    def script(make: Any) -> list[Any]:
        q = make(maxsize)
        out: list[Any] = [q.maxsize, q.qsize(), q.empty(), q.full()]
        for i in (3, 1, 2):
            out.append(outcome(lambda i=i: q.put(i, timeout=0.001)))
        out.append(outcome(lambda: q.put_nowait(5)))
        out.append(outcome(lambda: q.put(6, False)))
        out += [q.qsize(), q.empty(), q.full(), q.unfinished_tasks]
        out.append(outcome(lambda: q.get(timeout=-1)))
        out.append(outcome(lambda: q.put(7, timeout=-1)))
        for _ in range(7):
            out.append(outcome(q.get_nowait))
        out.append(outcome(lambda: q.get(timeout=0.001)))
        out.append(outcome(lambda: q.get(False, timeout=-1)))
        for _ in range(8):
            out.append(outcome(q.task_done))
        out.append(outcome(q.join))
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
        res.append(outcome(lambda: make().get(timeout=1e300)))
    assert not scope.expired
    assert res == [("exc", OverflowError)]


@pytest.mark.parametrize("make", [threado.Queue, threado.LifoQueue, threado.PriorityQueue])
def test_cancelled_get_consumes_nothing(make: Any) -> None:
    q = make()
    t = parked(q.get)
    assert t.cancel(timeout=10)
    assert t.cancelled
    q.put(1)
    assert q.get_nowait() == 1


def test_cancelled_simple_queue_get_consumes_nothing() -> None:
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    t = parked(q.get)
    assert t.cancel(timeout=10)
    assert t.cancelled
    q.put(1)
    assert q.get_nowait() == 1
    assert q.empty()


@pytest.mark.parametrize("make", [threado.Queue, threado.LifoQueue, threado.PriorityQueue])
def test_cancelled_put_inserts_nothing(make: Any) -> None:
    q = make(1)
    q.put(1)
    t = parked(q.put, 2)
    assert t.cancel(timeout=10)
    assert t.cancelled
    assert q.get_nowait() == 1
    assert q.empty()
    assert q.unfinished_tasks == 1


def test_item_handed_to_a_getter_at_the_instant_of_cancel_is_not_lost() -> None:
    q: threado.Queue[int] = threado.Queue()
    t = parked(q.get)
    q.put(42)  # handed to t...
    t.cancel(blocking=False)  # ...cancelled at the same instant
    t.wait(10)
    if t.cancelled:
        assert q.get_nowait() == 42
    else:
        assert t.result == 42
        assert q.empty()


def test_queue_join_waits_for_task_done_and_is_cancellable() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put(1)
    j = parked(q.join)
    q.get()
    assert j.is_alive()
    q.task_done()
    assert j.join(10) is None
    q.put(2)
    j = parked(q.join)
    assert j.cancel(timeout=10)
    assert j.cancelled


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
    g = parked(q.get)
    full: threado.Queue[int] = threado.Queue(1)
    full.put(0)
    p = parked(full.put, 1)
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
    j = parked(q.join)
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
    j = parked(q.join)
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


def test_simple_queue_keeps_the_stdlib_smaller_interface() -> None:
    for attr in ("task_done", "join", "maxsize", "full"):
        assert hasattr(threado.SimpleQueue(), attr) == hasattr(queue.SimpleQueue(), attr)

    def script(q: Any) -> list[Any]:
        q.put(1)
        q.put(2, False)
        q.put(3, timeout=-5)
        q.put_nowait(4)
        out = [q.qsize(), q.empty(), q.get(), q.get(False), q.get(timeout=1), q.get_nowait()]
        out += [q.empty(), outcome(q.get_nowait), outcome(lambda: q.get(timeout=0.01))]
        out += [outcome(lambda: q.get(timeout=-1)), outcome(lambda: q.get(False, timeout=-1))]
        return out

    assert script(threado.SimpleQueue()) == script(queue.SimpleQueue())


def test_simple_queue_put_is_reentrant() -> None:
    # Re-enter put from inside put (as a __del__ or signal handler can).
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    blocked = parked(q.get)  # a getter is waiting: put takes its wake-up path
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


# =============================================================================
# §5 ThreadGroup
# =============================================================================


def test_wait_all_is_the_default_and_waits_for_every_thread() -> None:
    gate = threado.Event()
    with threado.ThreadGroup() as g:
        a = g.spawn(lambda: (gate.wait(), "a")[1])
        b = g.spawn(lambda: "b")
        wait_parked(a)
        gate.set()
    assert not a.is_alive()
    assert not b.is_alive()
    assert g.results == ["a", "b"]
    assert g.completed is None
    assert g.exceptions == []


def test_wait_any_first_success_wins_and_the_rest_are_cancelled() -> None:
    with threado.ThreadGroup(wait=any) as g:
        slow = g.spawn(forever)
        wait_parked(slow)
        fast = g.spawn(lambda: None)
    assert g.completed is fast
    assert slow.cancelled
    assert g.exceptions == []


def test_wait_any_failures_do_not_stop_the_race() -> None:
    go = threado.Event()

    def bad() -> None:
        raise ValueError

    def good() -> str:
        go.wait()
        return "ok"

    with threado.ThreadGroup(wait=any) as g:
        w = g.spawn(good)
        f = g.spawn(bad)
        f.wait()
        assert not w.cancelled
        assert w.is_alive()
        go.set()
    assert g.completed is w
    assert w.result == "ok"


def test_wait_any_raises_failures_only_if_nobody_answers() -> None:
    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup(wait=any) as g:
        g.spawn(lambda: 1 / 0)
        g.spawn(lambda: {}[1])
    assert sorted(type(e).__name__ for e in info.value.exceptions) == [
        "KeyError",
        "ZeroDivisionError",
    ]
    assert g.completed is None


def test_wait_object_waits_for_the_first_non_none_result() -> None:
    gate = threado.Event()

    def late() -> int:
        gate.wait()
        return 0

    with threado.ThreadGroup(wait=object) as g:
        none = g.spawn(lambda: None)
        none.wait()
        bad = g.spawn(lambda: 1 / 0)
        bad.wait()
        zero = g.spawn(late)
        other = g.spawn(forever)
        wait_parked(zero)
        assert not other.cancelled
        gate.set()
    assert g.completed is zero
    assert zero.result == 0
    assert other.cancelled


def test_wait_object_with_only_none_results_does_not_raise() -> None:
    with threado.ThreadGroup(wait=object) as g:
        g.spawn(lambda: None)
    assert g.completed is None


def test_wait_none_cancels_all_threads_at_the_end_of_the_block() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with threado.ThreadGroup(wait=None) as g:
        t = g.spawn(worker)
        wait_parked(t)
    assert t.cancelled
    assert cleaned.is_set()
    assert g.exceptions == []


def test_wait_all_failure_cancels_the_others_and_raises_exception_group() -> None:
    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup() as g:
        victim = g.spawn(forever)
        wait_parked(victim)
        bad = g.spawn(lambda: 1 / 0)
    assert victim.cancelled
    assert [type(e) for e in info.value.exceptions] == [ZeroDivisionError]
    assert g.exceptions == [bad.exception]


def test_except_star_catches_group_failures() -> None:
    caught: list[Any] = []
    try:
        with threado.ThreadGroup() as g:
            g.spawn(lambda: 1 / 0)
    except* ZeroDivisionError as eg:
        caught.extend(eg.exceptions)
    assert len(caught) == 1
    assert isinstance(caught[0], ZeroDivisionError)


@pytest.mark.parametrize("policy", [all, any, object, None])
def test_a_thread_cancelled_by_anyone_is_not_a_failure(policy: Any) -> None:
    with threado.ThreadGroup(wait=policy) as g:
        t = g.spawn(forever)
        wait_parked(t)
        t.cancel()
    assert t.cancelled
    assert g.exceptions == []
    assert g.completed is None


def test_ordinary_body_exception_joins_the_failures_after_threads_are_cleaned_up() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup() as g:
        t = g.spawn(worker)
        wait_parked(t)  # before the failure, which cancels it
        failing = g.spawn(lambda: {}[0])
        failing.wait()
        raise ValueError("body")
    assert cleaned.is_set()
    assert t.cancelled
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]


@pytest.mark.parametrize("exc_type", [ThreadCancelled, KeyboardInterrupt, SystemExit])
def test_base_body_exceptions_propagate_as_themselves_after_cleanup(exc_type: Any) -> None:
    cleaned = threado.Event()
    children: list[threado.Thread[Any]] = []

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    def owner() -> None:
        with threado.ThreadGroup() as g:
            children.append(t := g.spawn(worker))
            wait_parked(t)
            if exc_type is ThreadCancelled:
                threado.current_thread().cancel(blocking=False)
                threado.checkpoint()
            raise exc_type()

    o = threado.spawn(owner)
    o.wait()
    assert type(o.exception) is exc_type
    assert cleaned.is_set()
    assert children[0].cancelled


def test_body_cancelled_by_another_thread_cancels_the_children() -> None:
    cleaned = threado.Event()
    entered = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    def owner() -> None:
        with threado.ThreadGroup() as g:
            wait_parked(g.spawn(worker))
            entered.set()
            forever()

    o = threado.spawn(owner)
    entered.wait()
    wait_parked(o)
    assert o.cancel(timeout=10)
    assert o.cancelled
    assert cleaned.is_set()


def test_spawning_into_a_closed_group_raises_runtime_error() -> None:
    with threado.ThreadGroup() as g:
        pass
    with pytest.raises(RuntimeError):
        g.spawn(lambda: None)
    t = threado.spawn(lambda: None)
    t.join()
    with pytest.raises(RuntimeError):
        g.add(t)


def test_children_may_spawn_into_the_group() -> None:
    with threado.ThreadGroup() as g:

        def parent() -> str:
            g.spawn(lambda: "grandchild")
            return "parent"

        g.spawn(parent)
    assert sorted(g.results) == ["grandchild", "parent"]
    assert len(g.threads) == 2


def test_a_child_spawning_while_the_block_exits_is_waited_for() -> None:
    go = threado.Event()
    done: list[str] = []

    def parent() -> None:
        go.wait()
        g.spawn(lambda: done.append("late"))

    with threado.ThreadGroup() as g:
        p = g.spawn(parent)
        wait_parked(p)
        go.set()  # the parent spawns while the block is exiting (or just before)
    assert done == ["late"]


def test_add_rejects_plain_threads_and_adopts_threado_ones() -> None:
    plain = threading.Thread(target=lambda: None)
    plain.start()
    plain.join()
    handle: list[threado.Thread[Any]] = []
    got, done = threading.Event(), threading.Event()

    def body() -> None:
        handle.append(threado.current_thread())
        got.set()
        done.wait()

    pt = threading.Thread(target=body)
    pt.start()
    got.wait()
    try:
        with threado.ThreadGroup() as g:
            with pytest.raises((TypeError, RuntimeError)):
                g.add(plain)  # type: ignore[arg-type]
            with pytest.raises((TypeError, RuntimeError)):
                g.add(handle[0])
            t = threado.spawn(lambda: 7)
            g.add(t)
    finally:
        done.set()
        pt.join()
    assert g.threads == [t]
    assert g.results == [7]


def test_timeout_after_around_a_group_cancels_threads_and_raises_thread_timeout() -> None:
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.05):
        with threado.ThreadGroup() as g:
            t = g.spawn(forever)
    assert t.cancelled
    assert g.exceptions == []


def test_timeout_while_the_body_blocks_also_raises_thread_timeout() -> None:
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.05):
        with threado.ThreadGroup() as g:
            t = g.spawn(forever)
            forever()
    assert t.cancelled


def test_join_waits_without_raising_and_the_group_stays_open() -> None:
    gate = threado.Event()
    with pytest.raises(ExceptionGroup), threado.ThreadGroup() as g:
        a = g.spawn(lambda: gate.wait())
        wait_parked(a)
        b = g.spawn(lambda: 1 / 0)
        g.join()
        assert not a.is_alive()
        assert not b.is_alive()
        c = g.spawn(lambda: 3)
        g.join()
        assert c.result == 3


def test_cancel_remaining_cancels_and_waits() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with threado.ThreadGroup() as g:
        t = g.spawn(worker)
        wait_parked(t)
        g.cancel_remaining()
        assert cleaned.is_set()
        assert not t.is_alive()
        assert t.cancelled
    assert g.exceptions == []


def test_cancel_remaining_from_a_child_does_not_hang() -> None:
    code = textwrap.dedent(
        """
        import threado
        def forever():
            threado.Event().wait()
        with threado.ThreadGroup() as g:
            g.spawn(forever)
            def child():
                g.cancel_remaining()
            c = g.spawn(child)
        print("done", c.cancelled or c.exception is None)
        """
    )
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("cancel_remaining() from a child thread hung")
    assert "done" in r.stdout


def test_next_done_returns_threads_in_completion_order_then_none() -> None:
    gates = [threado.Event() for _ in range(3)]
    with threado.ThreadGroup() as g:
        ts = [g.spawn(lambda i=i: (gates[i].wait(), i)[1]) for i in range(3)]
        for t in ts:
            wait_parked(t)
        order = []
        for i in (2, 0, 1):
            gates[i].set()
            order.append(g.next_done())
        assert order == [ts[2], ts[0], ts[1]]
        assert g.next_done() is None
        assert g.next_done(timeout=0) is None


def test_next_done_timeout() -> None:
    with threado.ThreadGroup() as g:
        t = g.spawn(forever)
        wait_parked(t)
        with pytest.raises(TimeoutError):
            g.next_done(timeout=0.01)
        g.cancel_remaining()
        assert g.next_done() is t


def test_next_result_returns_the_next_result() -> None:
    gate = threado.Event()
    with threado.ThreadGroup() as g:
        a = g.spawn(lambda: (gate.wait(), "a")[1])
        wait_parked(a)
        g.spawn(lambda: "b")
        assert g.next_result() == "b"
        gate.set()
        assert g.next_result() == "a"


def test_iteration_yields_threads_in_completion_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    seen = []
    with threado.ThreadGroup() as g:
        ts = [g.spawn(lambda i=i: (gates[i].wait(), i)[1]) for i in range(3)]
        for t in ts:
            wait_parked(t)
        gates[1].set()
        it = iter(g)
        seen.append(next(it))
        gates[2].set()
        seen.append(next(it))
        gates[0].set()
        seen.extend(it)
    assert seen == [ts[1], ts[2], ts[0]]


def test_threads_results_and_exceptions_are_in_spawn_order() -> None:
    # The later-spawned thread fails first; exceptions stay in spawn order, and
    # the thread that was cancelled is not among them.
    holder: list[threado.Thread[Any]] = []
    b_spawned = threado.Event()
    b_gate = threado.Event()

    def first() -> None:
        with threado.shield():
            b_spawned.wait()
            holder[0].wait()
        raise KeyError("first")

    def second() -> None:
        b_gate.wait()
        raise ValueError("second")

    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup(wait=any) as g:
        a = g.spawn(first)
        holder.append(b := g.spawn(second))
        b_spawned.set()
        wait_parked(b)
        b_gate.set()
        c = g.spawn(forever)
        wait_parked(c)
        c.cancel()
    assert g.threads == [a, b, c]
    assert [type(e) for e in g.exceptions] == [KeyError, ValueError]
    assert [type(e) for e in info.value.exceptions] == [KeyError, ValueError]
    assert c.cancelled


def test_results_in_spawn_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    with threado.ThreadGroup() as g:
        ts = [g.spawn(lambda i=i: (gates[i].wait(), i * 10)[1]) for i in range(3)]
        for t in ts:
            wait_parked(t)
        for i in (2, 1, 0):
            gates[i].set()
            ts[i].wait()
    assert g.threads == ts
    assert g.results == [0, 10, 20]


def test_thread_system_exit_propagates_as_itself_like_asyncio() -> None:
    with pytest.raises(SystemExit), threado.ThreadGroup() as g:
        g.spawn(sys.exit, 3)


def test_barrier_waiter_cancelled_on_entry_breaks_it_for_the_others() -> None:
    b = threado.Barrier(2)
    other = parked(b.wait)
    t = in_cancelled_thread(b.wait)
    assert t.cancelled
    try:
        assert b.broken
        assert other.wait(10)
        assert isinstance(other.exception, BBE)
    finally:
        other.cancel()


def test_primitives_work_from_plain_threads_and_their_waits_are_cancellable() -> None:
    e = threado.Event()
    q: threado.Queue[int] = threado.Queue()
    handles: list[threado.Thread[Any]] = []
    results: list[Any] = []
    ready = threading.Event()
    at_sem = threading.Event()

    def plain() -> None:
        handles.append(threado.current_thread())
        ready.set()
        results.append(e.wait())
        results.append(q.get(timeout=10))
        at_sem.set()
        try:
            threado.Semaphore(0).acquire()
        except ThreadCancelled:
            results.append("cancelled")

    t = threading.Thread(target=plain)
    t.start()
    ready.wait()
    wait_parked(handles[0])
    e.set()
    q.put(5)
    at_sem.wait()
    wait_parked(handles[0])  # now in Semaphore.acquire
    assert handles[0].cancel(timeout=10)
    t.join()
    assert results == [True, 5, "cancelled"]
