"""Cancellable queues: ``Queue``, ``LifoQueue``, ``PriorityQueue``.

Drop-in replacements for the ``queue`` module's classes (with the Python 3.13
``shutdown`` on every version); ``put``, ``get`` and ``join`` are blocking
points built on ``_parking``.

Theory of operation
-------------------

``Queue`` keeps the stdlib's storage and subclass hooks (``_init``,
``_qsize``, ``_put``, ``_get`` on ``self.queue``) and guards them, and three
wait queues (getters, putters, joiners), with one mutex, ``self.mutex``.
Invariants, true whenever the mutex is free:

* getters wait only while the queue is empty, putters only while it is full
  (:meth:`Queue._serve` restores this after every change: it hands items to
  waiting getters and inserts waiting putters' items while it can);
* every item is in the queue, or handed to exactly one getter: a getter is
  handed ``_get()``'s result in the critical section that pops it from the
  getters' queue, so an item is never in two places, and ``_parking``'s
  hand-off/abandon rule decides, under the same mutex, whether a cancelled
  getter still receives it (then ``get`` returns it, and the cancellation
  waits for the next blocking point) or not (then the item stays queued);
* a putter's item is inserted by whoever frees its slot, in the critical
  section that pops the putter, so a cancelled ``put`` either inserted its
  item (and returns normally) or did not (and raises);
* a getter abandoned by an asynchronous exception (``KeyboardInterrupt``)
  after an item was handed to it gives the item to the next getter, or puts
  it back in its place (front of a FIFO, top of a LIFO);
* the storage never holds more than ``maxsize`` items. The slot an item
  handed to a getter frees may let a putter in before that getter is
  interrupted; its item, given back then, finds the queue full. It is not
  dropped, and it is not squeezed in: one item is *held back* in
  ``_held``, at the head of the line for the next free slot, ahead of the
  waiting putters (their items came later). For a plain FIFO the item
  given back goes to the front and the newest item steps out to be held
  back; for a plain priority queue the highest one steps out; otherwise the
  item given back itself is held back (for a LIFO, whatever was put after
  it is then got first, as it would have been). A held-back item is
  counted in ``unfinished_tasks`` but not in ``qsize()``, and ``_held`` is
  non-empty only while the queue is full (``_serve`` moves it in first).
* ``unfinished_tasks`` counts items put and not yet marked done.

``SimpleQueue`` lives in ``_simplequeue`` (it shares only the exceptions
and the argument checks defined here).
"""

from __future__ import annotations

import _thread
import heapq
import os
import queue as _stdqueue
from collections import deque

from ._condition import Condition
from ._parking import (
    TIMED_OUT,
    Waiter,
    WaitQueue,
    check_seconds,
)
from ._state import TIMEOUT_MAX, ThreadState, clock, get_state, unpark
from ._typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["Empty", "Full", "LifoQueue", "PriorityQueue", "Queue", "ShutDown"]

T = TypeVar("T")

Empty = _stdqueue.Empty
Full = _stdqueue.Full

if hasattr(_stdqueue, "ShutDown"):  # Python 3.13+
    ShutDown: type[Exception] = _stdqueue.ShutDown
else:

    class ShutDown(Exception):  # type: ignore[no-redef]
        """Raised by ``put`` or ``get`` on a queue that has been shut down.

        ``queue.ShutDown`` itself where the standard library has one (3.13+).
        """

    ShutDown.__module__ = "threado"


def _deadline(block: bool, timeout: float | None) -> float | None:
    """Validate ``put``/``get`` arguments as ``queue.Queue`` does.

    Raises:
        ValueError: a negative timeout (with ``block=True``), or NaN.
        TypeError: a timeout that is not a number.
    """
    if not block or timeout is None:
        return None
    timeout = check_seconds(timeout, "timeout")
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")  # as queue's waits
    return clock() + timeout


class _Putter(Waiter):
    __slots__ = ("item",)

    def __init__(self, state: ThreadState, item: object) -> None:
        super().__init__(state)
        self.item = item


class _Failed:
    """Handed to a waiter when a subclass hook raised while serving it."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Shutdown:
    """Handed to waiters when the queue shuts down."""

    __slots__ = ()


_SHUTDOWN = _Shutdown()


_conditions_mutex = _thread.allocate_lock()  # makes a queue's Conditions once
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_conditions_mutex._at_fork_reinit)  # type: ignore[attr-defined]


class _QueueCondition(Condition):
    """A Condition over a queue's mutex whose notifications also serve the
    threads blocked in the queue's own methods."""

    def __init__(self, q: Queue[Any]) -> None:
        super().__init__(q.mutex)
        self._owner = q

    def notify(self, n: int = 1) -> None:
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._owner._poke()
        super().notify(n)

    def notify_all(self) -> None:
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._owner._poke()
        super().notify_all()


class Queue(Generic[T]):
    """A cancellable FIFO ``queue.Queue`` of at most ``maxsize`` items (0: unbounded).

    ``put``, ``get`` and ``join`` are blocking points: they check for
    cancellation on entry, even when they need not wait, and react at once
    while waiting. ``put_nowait``/``get_nowait`` never raise
    :class:`~threado.ThreadCancelled`.
    """

    def __init__(self, maxsize: int = 0) -> None:
        """Make an empty queue.

        Args:
            maxsize: The most items the queue holds; 0 or less: unbounded.
                As with ``queue.Queue``, any number that compares with an
                int works (``True`` is 1, ``2.5`` holds 3 items).

        Raises:
            TypeError: ``maxsize`` is not a number (``queue.Queue`` would
                fail only at the first ``put``).
        """
        if not isinstance(maxsize, int | float):
            try:
                maxsize > 0  # noqa: B015 -- what put() and full() will do
            except TypeError:
                raise TypeError(f"maxsize must be an integer, not {maxsize!r}") from None
        self.maxsize = maxsize
        self._init(maxsize)
        # Guards the storage and every field below (see the module docstring).
        self.mutex = _thread.allocate_lock()
        self._getters = WaitQueue(self.mutex)
        self._putters = WaitQueue(self.mutex)
        self._joiners = WaitQueue(self.mutex)
        self.unfinished_tasks = 0
        self.is_shutdown = False
        # Items given back to a full queue, first in line for a free slot;
        # non-empty only while the queue is full (see the module docstring).
        self._held: deque[Any] = deque()
        # The stdlib's Conditions, made on first use for code that uses them.
        self._conditions: tuple[Condition, Condition, Condition] | None = None
        # Threads in threado.wait() on this queue (readable or writable),
        # unparked, nothing handed out, at every change that may make it
        # readable or writable (see _serve); registered under the mutex.
        self._watchers: list[ThreadState] = []

    # -- the stdlib's subclass hooks (called with the mutex held) -------------

    def _init(self, maxsize: int) -> None:
        self.queue: Any = deque()

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: T) -> None:
        self.queue.append(item)

    def _get(self) -> T:
        return self.queue.popleft()  # type: ignore[no-any-return]

    def _put_back(self, item: T) -> None:
        """Return an item that was taken by ``_get`` to where it was.

        The front of a plain FIFO; otherwise ``_put`` (the top of a LIFO, its
        place in a heap, or wherever a subclass's own storage puts it).
        """
        cls = type(self)
        if cls._put is Queue._put and cls._init is Queue._init:
            self.queue.appendleft(item)
        else:
            self._put(item)

    def _hold_back(self, item: T) -> None:
        """Give back ``item`` to a full queue: hold one item back, outside the
        storage, so that the storage keeps at most ``maxsize`` items.

        The held-back item is the one that would come out last, where the
        storage is known: the newest of a plain FIFO (``item`` goes to the
        front); otherwise ``item`` itself.
        """
        cls = type(self)
        if cls._put is Queue._put and cls._init is Queue._init:
            self.queue.appendleft(item)
            # Older than anything held back already (it was put before the
            # items that stepped out of the back earlier): ahead of them.
            self._held.appendleft(self.queue.pop())
        else:
            self._held.append(item)

    # -- the core ------------------------------------------------------------------

    def _full(self) -> bool:
        return 0 < self.maxsize <= self._qsize()

    def _serve(self) -> None:
        """Hand items to waiting getters and take in waiting putters' items
        while the queue allows; call with the mutex held.

        A subclass hook that raises does so on behalf of the waiter it was
        serving, as in the standard library (where the waiter runs it): the
        exception is handed to that waiter and raised in its thread.
        """
        self._serve_waiters()
        if self._watchers:
            self._wake_watchers()
        if self._conditions is not None:
            self._notify_conditions()

    def _wake_watchers(self) -> None:
        # With the mutex held: a watcher re-checks the state itself.
        for st in self._watchers:
            unpark(st)

    def _serve_waiters(self) -> None:
        getters = self._getters.waiters
        putters = self._putters.waiters
        held = self._held
        while True:
            if held and not self._full():
                # Counted in unfinished_tasks already. A subclass's _put that
                # raises leaves it held (nobody waits to be told), to be
                # tried again at the next change.
                item = held.popleft()
                try:
                    self._put(item)
                except BaseException:
                    held.appendleft(item)
                    break
            elif getters and self._qsize():
                w = getters[0]
                try:
                    result: Any = self._get()
                except BaseException as exc:
                    result = _Failed(exc)
                self._getters.handoff_locked(result)
                del w
            elif putters and not held and not self._full():
                p = putters[0]
                try:
                    self._put(p.item)  # type: ignore[attr-defined]
                    self.unfinished_tasks += 1
                    done: Any = True
                except BaseException as exc:
                    done = _Failed(exc)
                self._putters.handoff_locked(done)
                del p
            else:
                break

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` into the queue, waiting for a free slot if it is full.

        A blocking point when ``block`` is true.

        Raises:
            queue.Full: no slot became free (``block`` false, or ``timeout``).
            ShutDown: the queue is shut down.
            ThreadCancelled: the thread was cancelled; the item was not put.
            ValueError: ``timeout`` is negative (checked, as in ``queue``, only
                when the queue is bounded: an unbounded ``put`` never waits).
        """
        # As queue.Queue: an unbounded put never waits, so takes any timeout.
        try:
            deadline = _deadline(block, timeout) if self.maxsize > 0 else None
        except ValueError:
            if self.is_shutdown:  # 3.13 checks for shutdown first
                raise ShutDown from None
            raise
        st = get_state()
        if block:
            st.check()
        w = None
        try:
            with self.mutex:
                if self.is_shutdown:
                    raise ShutDown
                if not self._full():
                    self._put(item)
                    self.unfinished_tasks += 1
                    if self._getters.waiters or self._watchers or self._conditions is not None:
                        self._serve()
                    return
                if not block or (deadline is not None and deadline <= clock()):
                    raise Full
                w = _Putter(st, item)
                self._putters.waiters.append(w)
            result = self._putters.wait(st, w, deadline, self)
        except BaseException:
            if w is not None:
                self._putters.abandon(w)  # an inserted item stays inserted
            raise
        if result is TIMED_OUT:
            raise Full
        if result is _SHUTDOWN:
            raise ShutDown
        if isinstance(result, _Failed):
            raise result.exc

    def put_nowait(self, item: T) -> None:
        """Put ``item`` if a slot is free; never blocks, never raises ThreadCancelled.

        Raises:
            queue.Full: the queue is full.
            ShutDown: the queue is shut down.
        """
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Remove and return an item, waiting for one if the queue is empty.

        A blocking point when ``block`` is true: a cancelled thread raises
        even if an item is ready, and consumes nothing.

        Raises:
            queue.Empty: no item came (``block`` false, or ``timeout``).
            ShutDown: the queue is shut down and empty.
            ThreadCancelled: the thread was cancelled; nothing was consumed.
            ValueError: ``timeout`` is negative.
        """
        try:
            deadline = _deadline(block, timeout)
        except ValueError:
            if self.is_shutdown and not self.qsize():  # 3.13 checks for shutdown first
                raise ShutDown from None
            raise
        st = get_state()
        if block:
            st.check()
        w = None
        try:
            with self.mutex:
                if self._qsize():
                    item = self._get()
                    if (
                        self._putters.waiters
                        or self._held
                        or self._watchers
                        or self._conditions is not None
                    ):
                        self._serve()
                    return item
                if self.is_shutdown:
                    raise ShutDown
                if not block or (deadline is not None and deadline <= clock()):
                    raise Empty
                w = self._getters.enqueue_locked(st)
            result = self._getters.wait(st, w, deadline, self, self._give_back)
        except BaseException:
            if w is not None:
                self._getters.abandon(w, self._give_back)
            raise
        if result is TIMED_OUT:
            raise Empty
        if result is _SHUTDOWN:
            raise ShutDown
        if isinstance(result, _Failed):
            raise result.exc
        return result  # type: ignore[no-any-return]

    def get_nowait(self) -> T:
        """Remove and return an item if one is ready; never blocks or raises
        ThreadCancelled.

        Raises:
            queue.Empty: the queue is empty.
            ShutDown: the queue is shut down and empty.
        """
        return self.get(block=False)

    def _give_back(self, item: Any) -> None:
        """A getter abandoned after an item was handed to it: pass it on.

        To the next waiting getter if there is one (then the queue is
        empty); else back in its place, if a slot is free; else held back
        (the queue is full: see :meth:`_hold_back`). Never more than
        ``maxsize`` items in the storage, and nothing lost.
        """
        if item is _SHUTDOWN or isinstance(item, _Failed):
            return
        with self.mutex:
            if self._getters.handoff_locked(item):
                return
            if self._full():
                self._hold_back(item)
            else:
                self._put_back(item)
            if self._watchers:
                self._wake_watchers()
            if self._conditions is not None:
                self._notify_conditions()

    # -- tasks --------------------------------------------------------------------

    def task_done(self) -> None:
        """Mark one item taken from the queue as processed.

        Raises:
            ValueError: called more times than items were put.
        """
        with self.mutex:
            unfinished = self.unfinished_tasks - 1
            if unfinished < 0:
                raise ValueError("task_done() called too many times")
            self.unfinished_tasks = unfinished
            if unfinished == 0:
                self._joiners.handoff_all_locked(True)
                if self._conditions is not None:
                    self._notify_conditions()

    def join(self) -> None:
        """Wait until every item put has been marked done; a blocking point.

        Raises:
            ThreadCancelled: the thread was cancelled.
        """
        st = get_state()
        st.check()
        w = None
        try:
            with self.mutex:
                if not self.unfinished_tasks:
                    return
                w = self._joiners.enqueue_locked(st)
            self._joiners.wait(st, w, None, self)
        except BaseException:
            if w is not None:
                self._joiners.abandon(w)
            raise

    # -- shutdown --------------------------------------------------------------

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down, as ``queue.Queue.shutdown`` does in Python 3.13.

        ``put`` raises :class:`ShutDown` from now on, and so does ``get`` once
        the queue is empty; blocked callers are woken. With ``immediate``
        the queue is emptied first (each removed item counts as done), so
        ``get`` raises at once and ``join`` returns.
        """
        with self.mutex:
            self.is_shutdown = True
            if immediate:
                while self._qsize():
                    self._get()
                    if self.unfinished_tasks > 0:
                        self.unfinished_tasks -= 1
                while self._held:
                    self._held.popleft()
                    if self.unfinished_tasks > 0:
                        self.unfinished_tasks -= 1
                # As in 3.13: join() returns once no task is unfinished (an
                # item already taken still has to be marked done).
                if self.unfinished_tasks == 0:
                    self._joiners.handoff_all_locked(True)
            self._putters.handoff_all_locked(_SHUTDOWN)
            if not self._qsize():
                self._getters.handoff_all_locked(_SHUTDOWN)
            if self._watchers:
                self._wake_watchers()
            if self._conditions is not None:
                self._notify_conditions()

    def __iter__(self) -> Iterator[T]:
        """Yield items as they come until the queue is shut down and empty.

        Each item is fetched with :meth:`get`, a blocking point.
        """
        while True:
            try:
                yield self.get()
            except ShutDown:
                return

    # -- size ------------------------------------------------------------------

    def qsize(self) -> int:
        """Return the approximate number of items (another thread may change it)."""
        with self.mutex:
            return self._qsize()

    def empty(self) -> bool:
        """Return whether the queue is empty (approximately, as in ``queue``)."""
        with self.mutex:
            return not self._qsize()

    def full(self) -> bool:
        """Return whether the queue is full (approximately, as in ``queue``)."""
        with self.mutex:
            return self._full()

    # -- the stdlib's Conditions, for code that reaches for them -----------------

    def _make_conditions(self) -> tuple[Condition, Condition, Condition]:
        # Not under self.mutex: the stdlib idiom `with q.not_empty: ...
        # q.not_empty.wait()` reads the property while holding it. A thread
        # that holds the mutex and has not seen the Conditions yet skips
        # notifying them, which is harmless: whoever made them takes the
        # mutex, and sees the queue's state, before it can wait on one.
        conditions = self._conditions
        if conditions is None:
            with _conditions_mutex:
                conditions = self._conditions
                if conditions is None:
                    conditions = self._conditions = (
                        _QueueCondition(self),
                        _QueueCondition(self),
                        _QueueCondition(self),
                    )
        return conditions

    def _notify_conditions(self) -> None:
        # With the mutex held: wake anybody waiting on the stdlib-style
        # Conditions so that they re-check the state themselves.
        for cond in self._conditions or ():
            with cond._mutex:
                cond._queue.handoff_all_locked(True)

    def _poke(self) -> None:
        """Serve waiters after code outside this class changed the state
        (a subclass in the stdlib's style, which changes it under one of the
        Conditions and notifies); call with the mutex held."""
        self._serve_waiters()
        if self._watchers:
            self._wake_watchers()
        if self.unfinished_tasks <= 0:
            self._joiners.handoff_all_locked(True)

    @property
    def not_empty(self) -> Condition:
        """A Condition over ``mutex``, notified when items may have arrived.

        For subclasses written in the stdlib's style: notifying it (or either
        of the others) also serves threads blocked in ``get``/``put``/``join``.
        """
        return self._make_conditions()[0]

    @property
    def not_full(self) -> Condition:
        """A Condition over ``mutex``, notified when slots may have freed."""
        return self._make_conditions()[1]

    @property
    def all_tasks_done(self) -> Condition:
        """A Condition over ``mutex``, notified when all tasks may be done."""
        return self._make_conditions()[2]

    def __class_getitem__(cls, item: Any) -> Any:
        return super().__class_getitem__(item)  # type: ignore[misc]

    def __repr__(self) -> str:
        with self.mutex:
            size = self._qsize()
            held = f" (+{len(self._held)} held back)" if self._held else ""
            getters = len(self._getters)
            putters = len(self._putters)
            shut = ", shut down" if self.is_shutdown else ""
        bound = f"/{self.maxsize}" if self.maxsize > 0 else ""
        return (
            f"<threado.{type(self).__name__} at {id(self):#x}: {size}{bound} items{held}, "
            f"{getters} getters, {putters} putters waiting{shut}>"
        )


class LifoQueue(Queue[T]):
    """A cancellable ``queue.LifoQueue``: the last item put is got first."""

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: T) -> None:
        self.queue.append(item)

    def _get(self) -> T:
        return self.queue.pop()  # type: ignore[no-any-return]


class PriorityQueue(Queue[T]):
    """A cancellable ``queue.PriorityQueue``: the lowest item is got first."""

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: T) -> None:
        heapq.heappush(self.queue, item)

    def _get(self) -> T:
        return heapq.heappop(self.queue)  # type: ignore[no-any-return]

    def _hold_back(self, item: T) -> None:
        cls = type(self)
        if cls._put is not PriorityQueue._put or cls._init is not PriorityQueue._init:
            super()._hold_back(item)  # a subclass's own storage
            return
        # The highest item steps out (it would come out last), so that the
        # lowest one still comes out first; ``item`` takes its place.
        heap = self.queue
        try:
            top = max(range(len(heap)), key=heap.__getitem__)
            step_out = item < heap[top]
        except Exception:  # items that do not all compare: keep it simple
            step_out = False
        if step_out:
            self._held.append(heap[top])
            heap[top] = item
            heapq.heapify(heap)
        else:
            self._held.append(item)


for _cls in (Queue, LifoQueue, PriorityQueue):
    _cls.__module__ = "threado"
