"""Cancellable ``threading.Semaphore`` and ``BoundedSemaphore``.

Theory of operation
-------------------

``_value`` counts free permits and the wait queue holds threads waiting for
one, both guarded by ``_mutex``. A permit released while threads wait is
handed to the first waiter directly, so under the mutex::

    _value > 0  =>  nobody waits

and a newcomer can never take a permit ahead of a waiter. A waiter abandoned
by an exception after receiving a permit releases it again (to the next
waiter, or back to ``_value``), so no permit is lost.
"""

from __future__ import annotations

import _thread
from types import TracebackType

from ._parking import TIMED_OUT, WaitQueue, wait_deadline
from ._state import clock, get_state

__all__ = ["BoundedSemaphore", "Semaphore"]


class Semaphore:
    """A cancellable ``threading.Semaphore``.

    Permits are handed to waiters in arrival order. :meth:`acquire` is a
    blocking point (when ``blocking`` is true).
    """

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        # Free permits. Invariant (under _mutex): _value > 0 => nobody waits.
        self._value = value

    @property
    def value(self) -> int:
        """The number of free permits."""
        return self._value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a permit, waiting for one if needed; a blocking point.

        Returns:
            ``True`` once a permit is taken; ``False`` if none was free and
            ``blocking`` is false, or ``timeout`` passed.

        Raises:
            ValueError: ``timeout`` given with ``blocking=False``.
            ThreadCancelled: the thread was cancelled; no permit is taken.
        """
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        deadline = wait_deadline(timeout)
        st = get_state()
        if blocking:
            st.check()
        w = None
        try:
            with self._mutex:
                if self._value > 0:
                    self._value -= 1
                    return True
                if not blocking or (deadline is not None and deadline <= clock()):
                    return False
                w = self._queue.enqueue_locked(st)
            return self._queue.wait(st, w, deadline, self, self._give_back) is not TIMED_OUT
        except BaseException:
            if w is not None:
                self._queue.abandon(w, self._give_back)
            raise

    __enter__ = acquire

    def _give_back(self, _permit: object) -> None:
        self._release(1)

    def _release(self, n: int) -> None:
        with self._mutex:
            queue = self._queue
            for _ in range(n):
                if not queue.handoff_locked(True):
                    self._value += 1

    def release(self, n: int = 1) -> None:
        """Release ``n`` permits, waking up to ``n`` waiters.

        Raises:
            ValueError: ``n`` is less than one.
        """
        if n < 1:
            raise ValueError("n must be one or more")
        self._release(n)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return (
            f"<threado.Semaphore at {id(self):#x} ({len(self._queue)} waiting): "
            f"value={self._value}>"
        )


class BoundedSemaphore(Semaphore):
    """A :class:`Semaphore` that refuses to be released above its initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._initial_value = value

    def release(self, n: int = 1) -> None:
        """Release ``n`` permits, waking up to ``n`` waiters.

        Raises:
            ValueError: ``n`` is less than one, or the release would exceed
                the initial value.
        """
        if n < 1:
            raise ValueError("n must be one or more")
        with self._mutex:
            if self._value + n > self._initial_value:
                raise ValueError("Semaphore released too many times")
            queue = self._queue
            for _ in range(n):
                if not queue.handoff_locked(True):
                    self._value += 1

    def __repr__(self) -> str:
        return (
            f"<threado.BoundedSemaphore at {id(self):#x} ({len(self._queue)} waiting): "
            f"value={self._value}/{self._initial_value}>"
        )


for _cls in (Semaphore, BoundedSemaphore):
    _cls.__module__ = "threado"
