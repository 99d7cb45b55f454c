"""Cancellable locks, conditions, semaphores, events and barriers.

Drop-in replacements for the ``threading`` primitives with the same
signatures, return values, exceptions and ``repr`` formats; every method that
can wait is a blocking point built on ``_parking``.

Theory of operation
-------------------

**Lock.** ``_inner`` is a ``_thread`` lock that is held exactly while the
threado lock is held (or being handed to a waiter). The uncontended paths are
one C call each. Waiters queue in ``_waiters`` (guarded by ``_mutex``).

* A waiter appends itself *then* tries ``_inner`` once more, under
  ``_mutex``; a releaser releases ``_inner`` *then* looks at ``_waiters``.
  Whichever of the two goes second sees the other, so no wake-up is lost.
* A plain release wakes the first waiter with ``RETRY``: the lock is free
  and anybody, a newcomer included, may take it (no convoys). A woken waiter
  that loses the race queues again at the *front*, keeping its arrival time.
* Eventual fairness (Rust ``parking_lot``): when the first waiter has waited
  longer than :data:`FAIR_AFTER`, the releaser keeps ``_inner`` held and hands
  the lock to it directly (``HANDED``), so no waiter starves.
* A waiter abandoned by an exception passes on whatever it was handed: a
  ``HANDED`` lock is released to the next waiter, a ``RETRY`` wake-up goes to
  the next waiter, so neither the lock nor the wake-up is lost.

**Condition** waiters park on their own thread's token (no lock is allocated
per wait, unlike ``threading.Condition``); a notify hands ``True`` to the
first waiters. A cancelled wait re-acquires the lock inside a shield before
the cancellation propagates.

**Semaphore** permits released while threads wait are handed to the first
waiter directly, so ``_value > 0`` implies that nobody waits; a waiter
abandoned by an exception after receiving a permit releases it again.

**Event** and **Barrier** use the same wait queues. The last arrival at a
barrier hands the generation to every waiter in the critical section that
counts it, so a generation is passed by all its parties or by none, and late
arrivals belong to the next one. A waiter cancelled before that breaks the
barrier (as a timed-out one does in ``threading``); after it, the waiter
returns its index and the cancellation fires at its next blocking point.

Shared state is written under a mutex (or by single C calls on the fast
paths); the only reads without one are the emptiness checks described above,
which are ordered by the lock operations around them, and the plain
attribute reads of ``value``/``is_set``/``n_waiting``, which report a moment's
state as the standard library's do. Nothing relies on the GIL.
"""

from __future__ import annotations

import _thread
import operator
import threading
import warnings
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from ._errors import ThreadCancelled
from ._parking import (
    PENDING,
    TIMED_OUT,
    Latch,
    Waiter,
    WaitQueue,
    check_seconds,
)
from ._scopes import shield
from ._state import TIMEOUT_MAX, ThreadState, clock, get_state, unpark
from ._state import local as _local

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "RLock",
    "Semaphore",
]

T = TypeVar("T")

#: A lock waiter that has waited this long (seconds) gets the lock handed to
#: it by the next release instead of competing for it (eventual fairness).
FAIR_AFTER: Final = 0.001


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: Hand-off values for lock waiters.
HANDED: Final[Any] = _Marker("HANDED")  # ownership transferred; _inner stays held
RETRY: Final[Any] = _Marker("RETRY")  # the lock was released: try again


def _check_blocking(blocking: object) -> bool:
    """``blocking`` as ``threading``'s locks take it: an integer.

    Raises:
        TypeError: ``blocking`` is not an integer.
    """
    return bool(operator.index(blocking))  # type: ignore[arg-type]


def _lock_deadline(blocking: bool, timeout: float) -> float | None:
    """Validate ``threading.Lock.acquire`` arguments; return the deadline.

    Raises:
        ValueError: a timeout with ``blocking=False``, a negative timeout
            other than -1, or NaN.
        OverflowError: a timeout above ``threading.TIMEOUT_MAX``.
        TypeError: a timeout that is not a number.
    """
    timeout = check_seconds(timeout, "timeout")
    if timeout == -1:
        return None
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0:
        raise ValueError("timeout value must be positive")  # threading's words
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return clock() + timeout


def _wait_deadline(timeout: float | None) -> float | None:
    """Deadline for ``wait(timeout)``: ``None`` waits forever, <= 0 not at all."""
    if timeout is None:
        return None
    timeout = check_seconds(timeout, "timeout")
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")  # as threading's waits
    return clock() + timeout


class _LockWaiter(Waiter):
    __slots__ = ("since",)

    def __init__(self, state: ThreadState) -> None:
        super().__init__(state)
        self.since = clock()


class Lock:
    """A cancellable ``threading.Lock``.

    Any thread may release it. Acquiring it is a blocking point when it has to
    wait (an uncontended acquire skips the cancellation check, for speed).
    """

    __slots__ = ("__weakref__", "_inner", "_mutex", "_queue", "_waiters")

    def __init__(self) -> None:
        # Held exactly while the lock is held or being handed to a waiter.
        self._inner = _thread.allocate_lock()
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        # The queue's deque, read without the mutex on the release fast path.
        self._waiters: deque[Waiter] = self._queue.waiters

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock; a blocking point if it has to wait.

        Returns:
            ``True`` once acquired; ``False`` if ``blocking`` is false and the
            lock is held, or if ``timeout`` passed first.

        Raises:
            ThreadCancelled: the thread was cancelled (or a deadline passed)
                before the lock could be acquired; the lock is not held.
            ValueError: ``timeout`` with ``blocking=False``, or negative.
            TypeError: ``blocking`` is not an integer (``bool`` is one).
        """
        if blocking is not True and blocking is not False:
            blocking = _check_blocking(blocking)
        if timeout == -1:
            if self._inner.acquire(False):
                return True
            if not blocking:
                return False
            return self._acquire_slow(None)
        deadline = _lock_deadline(blocking, timeout)
        if self._inner.acquire(False):
            return True
        if not blocking or timeout == 0:
            return False
        return self._acquire_slow(deadline)

    __enter__ = acquire

    def _acquire_slow(self, deadline: float | None) -> bool:
        st = get_state()
        st.check()
        w = _LockWaiter(st)
        waiters = self._waiters
        front = False
        try:  # whatever escapes between enqueueing and returning, abandon
            while True:
                with self._mutex:
                    if front:
                        waiters.appendleft(w)
                    else:
                        waiters.append(w)
                    if self._inner.acquire(False):  # after enqueueing: see the docstring
                        waiters.remove(w)
                        return True
                result = self._queue.wait(st, w, deadline, self, self._pass_on)
                if result is HANDED:
                    return True
                if result is TIMED_OUT:
                    return False
                w.result = PENDING  # RETRY: the lock was free a moment ago
                front = True
        except BaseException:
            self._queue.abandon(w, self._pass_on)
            raise

    def _pass_on(self, result: object) -> None:
        """A waiter abandoned after a hand-off: pass it to the next one."""
        if result is HANDED:
            self.release()
        else:
            self._wake_one()

    def release(self) -> None:
        """Release the lock; any thread may release it.

        Raises:
            RuntimeError: the lock is not held.
        """
        if not self._waiters:
            self._inner.release()
            if self._waiters:  # somebody queued meanwhile: see the docstring
                self._wake_one()
            return
        with self._mutex:
            if not self._inner.locked():
                raise RuntimeError("release unlocked lock")
            waiters = self._waiters
            if waiters:
                w = waiters.popleft()
                if clock() - w.since >= FAIR_AFTER:  # type: ignore[attr-defined]
                    w.result = HANDED  # _inner stays held, now for w
                    unpark(w.state)
                    return
                w.result = RETRY
                unpark(w.state)
            self._inner.release()

    def _wake_one(self) -> None:
        with self._mutex:
            # If the lock was taken again, its holder's release wakes somebody.
            if self._waiters and not self._inner.locked():
                w = self._waiters.popleft()
                w.result = RETRY
                unpark(w.state)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._waiters:
            self.release()
        else:  # release()'s fast path, inlined: this is the hot path of `with`
            self._inner.release()
            if self._waiters:
                self._wake_one()

    def locked(self) -> bool:
        """Return whether the lock is held."""
        return self._inner.locked()

    # What threading.Condition calls on its lock. A Lock has no owner: "held
    # by somebody" counts as owned, as in threading.Condition's own fallback.
    def _is_owned(self) -> bool:
        return self._inner.locked()

    def _release_save(self) -> None:
        self.release()

    def _acquire_restore(self, _state: None) -> None:
        if not self._inner.acquire(False):
            with shield():  # a Condition's re-acquire must not be cancelled
                self.acquire()

    def _at_fork_reinit(self) -> None:
        self._inner._at_fork_reinit()  # type: ignore[attr-defined]  # in place: Conditions hold its methods
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        self._waiters = self._queue.waiters

    def __repr__(self) -> str:
        state = "locked" if self._inner.locked() else "unlocked"
        return f"<{state} threado.Lock object waiting={len(self._waiters)} at {id(self):#x}>"


class RLock:
    """A cancellable ``threading.RLock``: the owner may acquire it again.

    Only the owner may release it; it is free once released as many times as
    it was acquired.

    Ownership and recursion are kept by a C ``_thread.RLock`` (``_inner``), so
    the uncontended paths are one C call. Waiters queue as for :class:`Lock`.
    A C RLock cannot be handed to another thread, so eventual fairness works
    by *reservation*: a release whose first waiter has waited longer than
    :data:`FAIR_AFTER` reserves the lock for it, and while ``_reserved`` is
    set nobody else takes the free lock (newcomers check it before their
    fast path; a newcomer racing that check can win once, and its release
    wakes the reserved waiter again).
    """

    __slots__ = ("__weakref__", "_inner", "_mutex", "_queue", "_reserved", "_waiters")

    def __init__(self) -> None:
        # Any: typeshed's _thread.RLock lacks the private methods used here.
        self._inner: Any = _thread.RLock()
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        self._waiters: deque[Waiter] = self._queue.waiters
        # The waiter the free lock is kept for, or None (set under _mutex).
        self._reserved: Waiter | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, or add a level if the caller owns it.

        A blocking point if it has to wait; see :meth:`Lock.acquire`.
        """
        if blocking is not True and blocking is not False:
            blocking = _check_blocking(blocking)
        if timeout == -1:
            if self._reserved is None and self._inner.acquire(False):
                return True
            if not blocking:
                return bool(self._inner._is_owned() and self._inner.acquire(False))
            return self._acquire_slow(None)
        deadline = _lock_deadline(blocking, timeout)
        if self._reserved is None and self._inner.acquire(False):
            return True
        if not blocking or timeout == 0:
            return bool(self._inner._is_owned() and self._inner.acquire(False))
        return self._acquire_slow(deadline)

    __enter__ = acquire

    def _acquire_slow(self, deadline: float | None) -> bool:
        inner = self._inner
        if inner._is_owned():  # re-entry while a reservation is pending
            return bool(inner.acquire(False))
        st = get_state()
        st.check()
        w = _LockWaiter(st)
        waiters = self._waiters
        front = False
        try:  # whatever escapes between enqueueing and returning, abandon
            while True:
                with self._mutex:
                    if front:
                        waiters.appendleft(w)
                    else:
                        waiters.append(w)
                    reserved = self._reserved
                    if (reserved is None or reserved is w) and inner.acquire(False):
                        waiters.remove(w)
                        if reserved is w:
                            self._reserved = None
                        return True
                result = self._queue.wait(st, w, deadline, self, self._pass_on)
                if result is TIMED_OUT:
                    self._drop_reservation(w)
                    return False
                w.result = PENDING  # RETRY: the lock was free a moment ago
                front = True
        except BaseException:
            self._queue.abandon(w, self._pass_on)
            self._drop_reservation(w)
            raise

    def _drop_reservation(self, w: Waiter) -> None:
        """``w`` leaves: if the lock was kept for it, offer it to the next."""
        if self._reserved is w:
            with self._mutex:
                if self._reserved is w:
                    self._reserved = None
            self._wake_one()

    def _pass_on(self, _result: object) -> None:
        """A woken waiter was abandoned by an exception: wake the next one."""
        self._wake_one()

    def _wake_one(self) -> None:
        """The lock was released: wake the first waiter to try again."""
        if self._inner._is_owned():
            return  # a recursion level is still held: not free yet
        with self._mutex:
            waiters = self._waiters
            if not waiters:
                return
            reserved = self._reserved
            if reserved is not None:
                # Kept for a waiter that lost a race and queued again: it is
                # first in line; wake it for another try.
                if waiters[0] is reserved:
                    waiters.popleft()
                    reserved.result = RETRY
                    unpark(reserved.state)
                return
            w = waiters.popleft()
            w.result = RETRY
            if clock() - w.since >= FAIR_AFTER:  # type: ignore[attr-defined]
                self._reserved = w
            unpark(w.state)

    def release(self) -> None:
        """Release one level; the lock is free when the last level goes.

        Raises:
            RuntimeError: the caller does not own the lock.
        """
        self._inner.release()
        if self._waiters:
            self._wake_one()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.release()
        if self._waiters:
            self._wake_one()

    def locked(self) -> bool:
        """Return whether any thread holds the lock."""
        inner = self._inner
        if inner._is_owned():
            return True
        if inner.acquire(False):
            inner.release()
            return False
        return True

    # What threading.Condition calls on its lock.
    def _is_owned(self) -> bool:
        return bool(self._inner._is_owned())

    def _release_save(self) -> tuple[int, int]:
        state: tuple[int, int] = self._inner._release_save()
        if self._waiters:
            self._wake_one()
        return state

    def _acquire_restore(self, state: tuple[int, int]) -> None:
        if not self._try_acquire_restore(state):
            with shield():  # a Condition's re-acquire must not be cancelled
                self.acquire()
            for _ in range(state[0] - 1):
                self._inner.acquire()

    def _try_acquire_restore(self, state: tuple[int, int]) -> bool:
        if self._reserved is None and self._inner.acquire(False):
            for _ in range(state[0] - 1):
                self._inner.acquire()
            return True
        return False

    def _recursion_count(self) -> int:
        return int(self._inner._recursion_count())

    def _at_fork_reinit(self) -> None:
        self._inner._at_fork_reinit()
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        self._waiters = self._queue.waiters
        self._reserved = None

    def __repr__(self) -> str:
        # The C lock's repr says "locked/unlocked ... owner=N count=N".
        inner = repr(self._inner)
        state, _, rest = inner[1:].partition(" _thread.RLock object ")
        owner_count = rest.rpartition(" at ")[0]
        return (
            f"<{state} threado.RLock object {owner_count} "
            f"waiting={len(self._waiters)} at {id(self):#x}>"
        )


class Condition:
    """A cancellable ``threading.Condition`` over a lock (default: :class:`RLock`).

    Works over threado locks and ``threading`` locks alike. Waiting releases
    every level of the lock and parks on the thread's own token.
    """

    def __init__(self, lock: Any = None) -> None:
        if lock is None:
            lock = RLock()
        self._lock = lock
        self.acquire = lock.acquire
        self.release = lock.release
        # Use the lock's own save/restore/ownership hooks where it has them.
        self._release_save: Callable[[], Any] = getattr(lock, "_release_save", self._plain_save)
        self._acquire_restore: Callable[[Any], Any] = getattr(
            lock, "_acquire_restore", self._plain_restore
        )
        self._is_owned: Callable[[], bool] = getattr(lock, "_is_owned", self._plain_is_owned)
        # threado's own locks: their C ownership tests, without a Python frame.
        if type(lock) is Lock:
            self._is_owned = lock._inner.locked
        elif type(lock) is RLock:
            self._is_owned = lock._inner._is_owned
        # Re-acquire without blocking if we can (no shield needed then).
        self._try_restore: Callable[[Any], bool]
        if isinstance(lock, RLock):
            self._try_restore = lock._try_acquire_restore
        elif isinstance(lock, Lock) or not hasattr(lock, "_acquire_restore"):
            self._try_restore = self._plain_try_restore
        else:
            self._try_restore = self._never
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)

    def __enter__(self) -> bool:
        return bool(self._lock.__enter__())

    def __exit__(self, *args: object) -> None:
        self._lock.__exit__(*args)

    def _plain_save(self) -> None:
        self._lock.release()

    def _plain_restore(self, _state: object) -> None:
        self._lock.acquire()

    def _plain_try_restore(self, _state: object) -> bool:
        return bool(self._lock.acquire(False))

    @staticmethod
    def _never(_state: object) -> bool:
        return False

    def _plain_is_owned(self) -> bool:
        # A lock without ownership: held by somebody counts (as in threading).
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for a notify, re-acquire; a blocking point.

        The lock is re-acquired before this returns or raises, also when the
        wait is cancelled (the re-acquire is shielded from the cancellation).

        Returns:
            ``True`` if notified, ``False`` if ``timeout`` passed.

        Raises:
            RuntimeError: the caller does not hold the lock.
            ThreadCancelled: the thread was cancelled or a deadline passed
                (the lock is held again when it propagates).
        """
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        deadline = None if timeout is None else _wait_deadline(timeout)
        st = _local.state
        if st is None:
            st = get_state()
        if st.cancel is not None or st.deadline is not None:
            st.check()
        w = None
        try:
            with self._mutex:
                w = self._queue.enqueue_locked(st)
            saved = self._release_save()
        except BaseException:
            if w is not None:  # interrupted before releasing the lock
                self._queue.abandon(w, self._pass_on)
            raise
        try:
            result = self._queue.wait(st, w, deadline, self, self._pass_on)
        except BaseException:
            self._queue.abandon(w, self._pass_on)
            raise
        finally:
            if not self._try_restore(saved):
                with shield():  # the re-acquire must not be cancelled
                    self._acquire_restore(saved)
        return result is not TIMED_OUT

    def _pass_on(self, _result: object) -> None:
        """A notified waiter was abandoned by an exception: notify another."""
        with self._mutex:
            self._queue.handoff_locked(True)

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Wait until ``predicate()`` is true; a blocking point.

        Returns:
            The last value of ``predicate()`` (false if ``timeout`` passed).
        """
        get_state().check()  # a blocking point, even if it need not wait
        deadline = _wait_deadline(timeout)
        result = predicate()
        first = True
        while not result:
            if deadline is not None:
                remaining = deadline - clock()
                # As threading's: the first round always waits (and so checks
                # that the caller holds the lock), however short the timeout.
                if remaining <= 0 and not first:
                    break
                self.wait(max(remaining, 0.0))
            else:
                self.wait()
            first = False
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters.

        Raises:
            RuntimeError: the caller does not hold the lock.
        """
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        with self._mutex:
            queue = self._queue
            while n > 0 and queue.handoff_locked(True):
                n -= 1

    def notify_all(self) -> None:
        """Wake every waiter.

        Raises:
            RuntimeError: the caller does not hold the lock.
        """
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        with self._mutex:
            self._queue.handoff_all_locked(True)

    def notifyAll(self) -> None:
        """Deprecated alias of :meth:`notify_all`, as in ``threading``."""
        warnings.warn(
            "notifyAll() is deprecated, use notify_all() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.notify_all()

    def __repr__(self) -> str:
        return f"<threado.Condition({self._lock!r}, {len(self._queue)} waiting)>"


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
        deadline = _wait_deadline(timeout)
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


class Event:
    """A cancellable ``threading.Event``."""

    def __init__(self) -> None:
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        self._flag = False

    def is_set(self) -> bool:
        """Return whether the flag is set."""
        return self._flag

    def isSet(self) -> bool:
        """Deprecated alias of :meth:`is_set`, as in ``threading``."""
        warnings.warn(
            "isSet() is deprecated, use is_set() instead", DeprecationWarning, stacklevel=2
        )
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        with self._mutex:
            self._flag = True
            self._queue.handoff_all_locked(True)

    def clear(self) -> None:
        """Reset the flag."""
        with self._mutex:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set; a blocking point.

        Returns:
            ``True`` once the flag is set, ``False`` if ``timeout`` passed.

        Raises:
            ThreadCancelled: the thread was cancelled or a deadline passed.
        """
        deadline = _wait_deadline(timeout)
        st = get_state()
        st.check()
        w = None
        try:
            with self._mutex:
                if self._flag:
                    return True
                w = self._queue.enqueue_locked(st)
            return self._queue.wait(st, w, deadline, self) is not TIMED_OUT
        except BaseException:
            if w is not None:
                self._queue.abandon(w)
            raise

    def _at_fork_reinit(self) -> None:
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)

    @property
    def _cond(self) -> Any:
        # threading.Event keeps a Condition here; what code (and CPython's own
        # tests) may rely on is that it is a plain lock guarding the flag.
        return self._mutex

    def __repr__(self) -> str:
        state = "set" if self._flag else "unset"
        return f"<threado.Event at {id(self):#x} ({len(self._queue)} waiting): {state}>"


BrokenBarrierError = threading.BrokenBarrierError


class _Generation:
    """One filling of a barrier: who arrived, where they wait, how it ended."""

    __slots__ = ("count", "done", "members", "outcome", "queue")

    def __init__(self, mutex: Any) -> None:
        self.queue = WaitQueue(mutex)
        self.count = 0
        # The waiters the generation was handed to, woken after the action.
        self.members: list[Waiter] = []
        # Set once the action has run (or failed): True passed, False broken.
        self.outcome = False
        self.done = Latch()


# The standard library's, bound now: threado.patch() replaces threading.Barrier.
_StdBarrier = threading.Barrier


class Barrier:
    """A cancellable ``threading.Barrier`` for ``parties`` threads.

    A waiter that is cancelled, times out or is interrupted before every
    party has arrived breaks the barrier: the others raise
    ``threading.BrokenBarrierError``. Once the last party has arrived the
    generation has passed for all of them: they wait (shielded) for the
    action, then return their index; a cancellation that arrived meanwhile
    fires at the next blocking point.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a subclass in the standard library's style the standard code.

        ``multiprocessing``'s Barrier subclasses ``threading.Barrier`` (this
        class, after :func:`threado.patch`), keeps the standard fields
        (``_cond``, ``_state``, ``_count``) in shared memory and never calls
        this ``__init__``: it needs the standard methods, which wait on its
        Condition (cancellable where that Condition is threado's).
        """
        super().__init_subclass__(**kwargs)
        if not any(name in cls.__dict__ for name in ("__setstate__", "_state", "_count")):
            return
        for name, value in vars(_StdBarrier).items():
            if name.startswith("__") and name not in ("__init__", "__repr__"):
                continue
            if name not in cls.__dict__:
                setattr(cls, name, value)

    def __init__(
        self, parties: int, action: Callable[[], object] | None = None, timeout: float | None = None
    ) -> None:
        if parties < 1:
            raise ValueError("parties must be >= 1")
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._mutex = _thread.allocate_lock()
        # The generation now filling (under _mutex). The last arrival hands
        # it to every waiter and opens the next one in one critical section,
        # so a thread arriving while the action runs belongs to the next one.
        self._gen = _Generation(self._mutex)
        self._broken = False

    @property
    def parties(self) -> int:
        """The number of threads needed to pass the barrier."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """The number of threads waiting in the current generation."""
        return 0 if self._broken else self._gen.count

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken."""
        return self._broken

    def wait(self, timeout: float | None = None) -> int:
        """Wait until ``parties`` threads have called it; a blocking point.

        Returns:
            An index from 0 to ``parties - 1``, different for each thread.

        Raises:
            threading.BrokenBarrierError: the barrier is or becomes broken
                (reset, aborted, the action failed, or another waiter left
                early).
            ThreadCancelled: the thread was cancelled before every party
                arrived (or before it called ``wait``): the barrier breaks,
                since this party will not arrive.
        """
        if timeout is None:
            timeout = self._timeout
        deadline = _wait_deadline(timeout)
        st = get_state()
        try:
            st.check()
        except ThreadCancelled:
            self.abort()  # a party that will never arrive: the others must not wait
            raise
        w: Waiter | None = None
        gen = self._gen
        try:
            with self._mutex:
                if self._broken:
                    raise BrokenBarrierError
                gen = self._gen
                index = gen.count
                gen.count += 1
                if gen.count == self._parties:
                    # Passed: hand the generation to every waiter (so that
                    # none can abandon it any more) and open the next one.
                    gen.members = list(gen.queue.waiters)
                    for other in gen.members:
                        other.result = gen
                    gen.queue.waiters.clear()
                    self._gen = _Generation(self._mutex)
                else:
                    w = gen.queue.enqueue_locked(st)
            if w is None:
                return self._run_action(gen, index)
            # Leaving before everybody arrived breaks the barrier, in the
            # same critical section that takes us out of the generation.
            result = gen.queue.wait(st, w, deadline, self, None, self._break_locked)
        except BaseException:
            if w is not None:
                gen.queue.abandon(w, None, self._break_locked)
            raise
        if result is TIMED_OUT or result is not gen:  # timed out, reset or broken
            raise BrokenBarrierError
        # Every party arrived: the barrier has passed for us. Wait for the
        # action's outcome as threading does, shielded (the action's own
        # thread can still be cancelled, which breaks the barrier).
        with shield():
            gen.done.wait_until(None, self)
        if not gen.outcome:
            raise BrokenBarrierError
        return index

    def _run_action(self, gen: _Generation, index: int) -> int:
        """The last party arrived: run the action, then release the others."""
        try:
            if self._action is not None:
                self._action()
            gen.outcome = True
        except BaseException:
            self._break()
            raise
        finally:
            gen.done.set()
            for w in gen.members:
                unpark(w.state)
        return index

    def _break(self) -> None:
        with self._mutex:
            self._break_locked()

    def _break_locked(self) -> None:
        self._broken = True
        self._gen.queue.handoff_all_locked(None)
        self._gen = _Generation(self._mutex)

    def abort(self) -> None:
        """Break the barrier: current and future waiters raise BrokenBarrierError."""
        self._break()

    def reset(self) -> None:
        """Return the barrier to its initial state; current waiters raise
        BrokenBarrierError."""
        with self._mutex:
            self._gen.queue.handoff_all_locked(None)
            self._gen = _Generation(self._mutex)
            self._broken = False

    def __repr__(self) -> str:
        if self._broken:
            return f"<threado.Barrier at {id(self):#x}: broken>"
        return f"<threado.Barrier at {id(self):#x}: waiters={self.n_waiting}/{self._parties}>"


for _cls in (Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier):
    _cls.__module__ = "threado"
