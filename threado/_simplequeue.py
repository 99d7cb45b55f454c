"""Cancellable ``queue.SimpleQueue``.

Theory of operation
-------------------

``SimpleQueue.put`` takes no Python-level lock, so that it stays safe to call
from ``__del__`` and signal handlers (which ``concurrent.futures`` relies
on): items live in a ``collections.deque`` whose ``append``/``popleft`` are
single C calls, and a getter registers itself *before* its last look at the
items, while ``put`` appends *before* looking for a getter; a getter that
leaves after being picked passes the wake-up on.

That is Dekker's pattern (each side writes one place, then reads the
other), and it is correct only if the two writes cannot both be missed by
the two reads:

* With the GIL every deque call is atomic and the calls of all threads are
  sequentially consistent, so ``put`` may look at the getters with
  ``len()`` and skip the ``popleft`` when there are none.
* Without the GIL (``Py_GIL_DISABLED`` builds) ``len()`` of a deque is an
  unlocked read and proves nothing, but ``append``, ``popleft`` and
  ``remove`` each hold the deque's own lock (CPython's per-object critical
  section). So ``put`` always makes the locked ``popleft`` on the getters.
  Then, if a getter's look at the items comes before the ``put``'s
  append in the items' lock order, the getter's registration (before its
  look) happens-before the ``put``'s ``popleft`` on the getters (after its
  append), which finds it. The record is marked (``result``) before the
  getter's token is released, and the token's release/acquire orders the
  mark before the getter's next look. No plain attribute read or write
  carries the hand-off.
"""

from __future__ import annotations

from collections import deque

from ._parking import PENDING, Waiter, announce, block, enter_wait, leave_wait
from ._queues import Empty, _deadline
from ._state import FREE_THREADED, ThreadState, clock, get_state, unpark
from ._typing import Generic, TypeVar

__all__ = ["SimpleQueue"]

T = TypeVar("T")


class _Getter(Waiter):
    __slots__ = ()


class SimpleQueue(Generic[T]):
    """A cancellable ``queue.SimpleQueue``: unbounded FIFO, no task tracking.

    ``put`` never blocks and takes no lock, so it is safe to call from
    ``__del__`` methods and signal handlers. ``get`` is a blocking point
    when ``block`` is true.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        # Parked getters. A getter appends itself before its last look at
        # _items; put pops one after appending (see the module docstring).
        self._waiting: deque[Waiter] = deque()
        # Threads in threado.wait() on this queue, unparked by every put.
        self._watchers: deque[ThreadState] = deque()

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item``; never blocks (``block`` and ``timeout`` are ignored)."""
        self._items.append(item)
        if _FREE_THREADED or self._waiting or self._watchers:
            self._wake_one()

    def put_nowait(self, item: T) -> None:
        """Put ``item``; never blocks."""
        self._items.append(item)
        if _FREE_THREADED or self._waiting or self._watchers:
            self._wake_one()

    def _wake_one(self) -> None:
        if _FREE_THREADED or self._watchers:  # without the GIL, len() proves nothing
            for st in tuple(self._watchers):
                unpark(st)
        try:
            rec = self._waiting.popleft()
        except IndexError:
            return
        rec.result = True
        unpark(rec.state)

    def _leave(self, rec: Waiter) -> None:
        """Deregister ``rec``; if a put already took it, wake another getter."""
        try:
            self._waiting.remove(rec)
        except ValueError:
            self._wake_one()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """Remove and return an item, waiting for one if needed.

        A blocking point when ``block`` is true.

        Raises:
            queue.Empty: no item came (``block`` false, or ``timeout``).
            ThreadCancelled: the thread was cancelled; nothing was consumed.
            ValueError: ``timeout`` is negative.
        """
        deadline = _deadline(block, timeout)
        st = get_state()
        if block:
            st.check()
        items = self._items
        try:
            return items.popleft()
        except IndexError:
            if not block:
                raise Empty from None
        # Each registration is a fresh record, which a put takes (popleft)
        # and then marks. The getter registers anew only once its record is
        # marked, so it is never registered twice; a record that was taken
        # but not yet marked means a wake-up is on its way, and a late mark
        # lands on a record nobody looks at any more.
        waiting = self._waiting
        rec = _Getter(st)
        saved = None
        announced = False
        try:
            # In the try: an exception from a signal handler from here on
            # still leaves (a record that never made it in is harmless to
            # _leave: at worst another getter wakes for nothing).
            waiting.append(rec)
            saved = enter_wait(st)
            while True:
                try:
                    return items.popleft()
                except IndexError:
                    pass
                exc = None
                if st.cancel is not None or st.deadline is not None:  # 0.0 is a deadline
                    exc = st.pending_cancel()
                if exc is not None:
                    try:
                        raise exc
                    finally:
                        exc = None
                if not announced:
                    announce(st, self, deadline)
                    announced = True
                if (
                    not block_until(st, st.effective_deadline(deadline))
                    and deadline is not None
                    and clock() >= deadline
                ):
                    raise Empty
                if rec.result is not PENDING:  # taken and marked by a put
                    rec = _Getter(st)
                    waiting.append(rec)
        finally:
            # However the wait ends (an item, a cancel, a timeout, an
            # exception from a signal handler), leave; a wake-up already
            # meant for us is passed on to another getter.
            self._leave(rec)
            if saved is not None:
                leave_wait(st, saved)

    def get_nowait(self) -> T:
        """Remove and return an item if one is ready; never blocks.

        Raises:
            queue.Empty: the queue is empty.
        """
        try:
            return self._items.popleft()
        except IndexError:
            raise Empty from None

    def qsize(self) -> int:
        """Return the approximate number of items."""
        return len(self._items)

    def empty(self) -> bool:
        """Return whether the queue is empty (approximately)."""
        return not self._items

    def __repr__(self) -> str:
        return (
            f"<threado.SimpleQueue at {id(self):#x}: {len(self._items)} items, "
            f"{len(self._waiting)} getters waiting>"
        )


block_until = block  # the parker's single block, named for what it does here

# Without the GIL, put's unlocked look (len) at the waiting getters could miss
# one that registered just before: there put always makes the locked popleft
# (see the module docstring). A free-threaded build counts even when the GIL
# was turned back on at run time: the locked path is correct either way.
_FREE_THREADED = FREE_THREADED


SimpleQueue.__module__ = "threado"
