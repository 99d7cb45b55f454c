"""Parking: the one mechanism every threado wait goes through.

A thread waits by *parking*: it blocks on its own wake-up token (see
``_state``), with a timeout equal to the earliest deadline in force, until
someone unparks it. Wait queues hold :class:`Waiter` records of parked
threads; a waker can *hand off* a value (a lock, a permit, an item) to one
specific waiter. Cancellation and timeouts need no special case: a cancel
sets the thread's flag and unparks it, a deadline ends the timed block, and
the woken waiter *abandons* its wait.

Theory of operation
-------------------

Every :class:`WaitQueue` is guarded by a mutex that belongs to the primitive
owning it (the same mutex guards the primitive's own state). Under that
mutex, for every waiter ``w`` of the queue:

    ``w`` is in the queue  <=>  ``w.result is PENDING``

A waker pops ``w`` and stores the hand-off in ``w.result`` in one critical
section; the waiter abandons by taking the mutex and removing ``w`` if, and
only if, it is still pending. So when a hand-off and a cancel (or timeout, or
``KeyboardInterrupt``) reach a waiter at once, exactly one of them wins:

* the hand-off won: the wait reports success and the cancellation stays
  pending for the next blocking point (it is level-triggered, so nothing is
  lost). If an exception is already unwinding the waiter (an asynchronous
  ``KeyboardInterrupt``), it cannot report success, so it calls the
  primitive's ``on_abandon(value)``, which passes the value on to the next
  waiter or puts it back;
* the abandon won: ``w`` left the queue without a value, and no waker can
  reach it any more.

``result`` is published with a single store, so a waiter that sees a value
sees the whole hand-off. Wake-up tokens can be stale (see ``_state``), so
every wait loops and re-checks ``result``, cancellation and the clock after
each wake-up. Nobody polls: a thread blocks until a waker, a canceller or its
own deadline ends the block.

Deadlock detection hooks in here, and only here: :data:`on_park` is the one
slot this layer owns for it (``threado._deadlock`` sets it when imported;
this module never imports the detector). While it is set, a thread about to
block in :meth:`WaitQueue.wait` with no deadline at all (neither its own
timeout nor an enclosing scope's), having announced what it waits on,
records ``(state, waiter, what)`` in :data:`parked` (O(1), a fresh tuple per
park) and calls the hook, which may return an exception to raise instead of
blocking; the wait then abandons through the same path as a cancellation,
so a hand-off that raced with the decision is returned, never dropped. A
wake-up that brings nothing (no hand-off, no cancel) calls the hook again:
the detector wakes a thread that way to raise in the place of one that
cannot (a ``Condition``'s re-acquire). However the wait ends, the thread
removes its record.
"""

from __future__ import annotations

import _thread
import operator
import os
import sys
from _thread import LockType
from collections import deque

from . import _state
from ._state import TIMEOUT_MAX, ThreadState, clock, get_state, unpark
from ._typing import TYPE_CHECKING

_monotonic = _state._monotonic

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

__all__ = [
    "GONE",
    "HANDED",
    "LEFT",
    "PENDING",
    "RETRY",
    "TIMED_OUT",
    "Latch",
    "ParkRecord",
    "WaitQueue",
    "Waiter",
    "add_watcher",
    "block",
    "check_blocking",
    "check_seconds",
    "deadline_from_timeout",
    "enter_wait",
    "leave_wait",
    "lock_deadline",
    "on_park",
    "park_until",
    "remove_watcher",
    "wait_deadline",
    "wake_watchers",
]


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: ``Waiter.result`` before any hand-off.
PENDING: Final[Any] = _Marker("PENDING")
#: What a wait returns when its own timeout passed.
TIMED_OUT: Final[Any] = _Marker("TIMED_OUT")
#: ``Waiter.result`` once an abandoning waiter has passed its hand-off on.
GONE: Final[Any] = _Marker("GONE")
#: ``Waiter.result`` of a waiter that left its queue without a hand-off; it
#: may still sit in the queue's deque as a tombstone (see :class:`WaitQueue`).
LEFT: Final[Any] = _Marker("LEFT")
#: Lock hand-off: ownership transferred, the lock stays held for the waiter.
HANDED: Final[Any] = _Marker("HANDED")
#: Lock wake-up: the lock was released, try again.
RETRY: Final[Any] = _Marker("RETRY")


class Waiter:
    """One parked thread in one wait queue."""

    __slots__ = ("result", "state")

    def __init__(self, state: ThreadState) -> None:
        self.state = state
        # PENDING while in the queue; the hand-off once popped (one store).
        self.result: Any = PENDING


#: One park without a deadline: ``(state, waiter, what)``.
ParkRecord = tuple[ThreadState, Waiter, object]

#: ident -> record of every thread parked in :meth:`WaitQueue.wait` with no
#: deadline while :data:`on_park` is set. Each key is written only by its own
#: thread (or by the detector running in that thread); other threads only
#: read it with single dict operations (a copy, a lookup, a length), which
#: are atomic with the GIL and under free-threading alike.
parked: dict[int, ParkRecord] = {}

#: The deadlock detector's hook, ``on_park(record)``, called once the record
#: is in :data:`parked`: it returns an exception to raise instead of blocking
#: (and then has removed the record), or ``None``. ``None`` while detection
#: is off. Set by ``threado._deadlock`` (never imported here).
on_park: Callable[[ParkRecord], BaseException | None] | None = None

#: Loads the detector if ``import threado`` left it for later (see
#: ``threado._load_deadlock_detector``), else ``None``. Spawning a thread
#: calls it, so that two threads never race to load it in their first parks.
load_detector: Callable[[], None] | None = None


def announce(st: ThreadState, what: object, deadline: float | None = None) -> None:
    """Record what ``st`` is parked on (until its own ``deadline``), and wake anybody watching."""
    st.wait_since = clock()
    st.waiting_on = what
    st.wait_deadline = deadline
    if st.watchers:
        wake_watchers(st)


def enter_wait(st: ThreadState) -> tuple[object, float, float | None]:
    """Start a wait; return what :func:`leave_wait` needs to restore."""
    st.depth += 1
    return st.waiting_on, st.wait_since, st.wait_deadline


def leave_wait(st: ThreadState, saved: tuple[object, float, float | None]) -> None:
    """End a wait started by :func:`enter_wait`.

    A wait inside another one happens only in a signal handler that runs
    while its thread is parked. The inner wait may have consumed the wake-up
    token meant for the outer one, so leaving it re-arms the token (a
    spurious wake-up costs the outer wait one loop) and restores what the
    outer wait is parked on.
    """
    st.depth -= 1
    st.waiting_on, st.wait_since, st.wait_deadline = saved
    if st.depth:
        unpark(st)


_watch_mutex = _thread.allocate_lock()


def wake_watchers(st: ThreadState) -> None:
    """Wake every thread waiting in ``testing.wait_parked`` for ``st``."""
    with _watch_mutex:
        watchers = st.watchers or []
        st.watchers = None
    for w in watchers:
        unpark(w)


def add_watcher(target: ThreadState, watcher: ThreadState) -> None:
    """Ask to be unparked the next time ``target`` parks (testing helper)."""
    with _watch_mutex:
        if target.watchers is None:
            target.watchers = []
        target.watchers.append(watcher)


def remove_watcher(target: ThreadState, watcher: ThreadState) -> None:
    """Undo :func:`add_watcher` (no-op if already woken)."""
    with _watch_mutex:
        if target.watchers and watcher in target.watchers:
            target.watchers.remove(watcher)


def block(st: ThreadState, deadline: float | None) -> bool:
    """Block on ``st``'s token once, until woken or ``deadline``.

    Returns:
        ``False`` without blocking if ``deadline`` has already passed.
    """
    if deadline is None:
        st.token.acquire()
        return True
    remaining = deadline - clock()
    if remaining <= 0:
        return False
    st.token.acquire(True, remaining if remaining < TIMEOUT_MAX else TIMEOUT_MAX)
    return True


def _after_fork_in_child() -> None:
    _watch_mutex._at_fork_reinit()  # type: ignore[attr-defined]
    parked.clear()  # only the forking thread exists, and it is not parked


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _wake_io(st: ThreadState) -> None:
    """The descriptor half of unpark(), for wakers that released the token."""
    w = st.wakeup
    if w is not None:
        w.wake()


class WaitQueue:
    """A FIFO of :class:`Waiter` records, guarded by its owner's mutex.

    Methods whose names end in ``_locked`` must be called with ``mutex`` held;
    :meth:`wait` must be called without it.

    A waiter that leaves without a hand-off (cancel, timeout) is taken out in
    O(1): at either end of the deque it is popped; in the middle it stays as
    a *tombstone* (``result is LEFT``), counted in ``dead``, which wakers
    skip. Invariants, under the mutex:

    * the first entry of ``waiters`` is never a tombstone, so ``waiters[0]``
      is the first live waiter and ``bool(waiters)`` says whether any live
      waiter exists (the lock-free emptiness tests rely on it);
    * ``dead`` counts the tombstones, and the deque is compacted in place
      when they outnumber the live waiters, so memory stays bounded.

    So cancelling N waiters of one queue costs O(N), not O(N²) (a thread
    group cancelling thousands of threads parked on one event).
    """

    __slots__ = ("dead", "mutex", "waiters")

    def __init__(self, mutex: LockType) -> None:
        self.mutex = mutex
        self.waiters: deque[Waiter] = deque()
        self.dead = 0

    def __len__(self) -> int:
        """The number of live waiters (a moment's value without the mutex)."""
        return len(self.waiters) - self.dead

    def purge_head_locked(self) -> None:
        """Drop tombstones from the front, restoring the first invariant."""
        waiters = self.waiters
        while waiters and waiters[0].result is LEFT:
            waiters.popleft()
            self.dead -= 1

    def leave_locked(self, w: Waiter) -> None:
        """Take the pending waiter ``w``, which is in the queue, out: O(1)."""
        w.result = LEFT
        waiters = self.waiters
        if waiters[0] is w:
            waiters.popleft()
            self.purge_head_locked()
        elif waiters[-1] is w:
            waiters.pop()
        else:
            self.dead += 1
            # Amortized O(1): a compaction removes at least half the entries.
            if self.dead > 16 and self.dead * 2 > len(waiters):
                live = [x for x in waiters if x.result is not LEFT]
                waiters.clear()
                waiters.extend(live)
                self.dead = 0

    def take_all_locked(self) -> list[Waiter]:
        """Remove every live waiter from the queue and return them, in order."""
        live = [w for w in self.waiters if w.result is not LEFT]
        self.waiters.clear()
        self.dead = 0
        return live

    def enqueue_locked(self, st: ThreadState) -> Waiter:
        """Register the calling thread as the last waiter."""
        w = Waiter(st)
        self.waiters.append(w)
        return w

    def handoff_locked(self, value: Any = True) -> bool:
        """Hand ``value`` to the first waiter and wake it.

        Returns:
            ``False`` if there was no waiter (the caller keeps the value).
        """
        waiters = self.waiters
        if not waiters:
            return False
        w = waiters[0]
        w.result = value  # before popping: never popped without its value
        try:
            waiters.popleft()
            if waiters and waiters[0].result is LEFT:
                self.purge_head_locked()
        finally:
            # The wake-up is one C call made in a finally, so that an
            # interrupt arriving here cannot skip it.
            st = w.state
            try:
                st.token.release()
            except RuntimeError:
                pass
            if st.wakeup is not None:  # _wake_io(st), inlined
                st.wakeup.wake()
        return True

    def handoff_all_locked(self, value: Any = True) -> int:
        """Hand ``value`` to every waiter; return how many there were."""
        n = 0
        waiters = self.waiters
        while waiters:
            w = waiters[0]
            if w.result is LEFT:  # a tombstone
                waiters.popleft()
                self.dead -= 1
                continue
            w.result = value
            try:
                waiters.popleft()
            finally:
                try:
                    w.state.token.release()
                except RuntimeError:
                    pass
                _wake_io(w.state)
            n += 1
        return n

    def wait(
        self,
        st: ThreadState,
        w: Waiter,
        deadline: float | None,
        what: object,
        on_abandon: Callable[[Any], None] | None = None,
        on_leave: Callable[[], None] | None = None,
    ) -> Any:
        """Park until ``w`` is handed a value, ``deadline`` passes, or a cancel.

        ``w`` must have been enqueued (under the mutex, now released) by the
        calling thread, whose state is ``st``. ``on_abandon(value)`` is called
        (without the mutex) when an asynchronous exception abandons the wait
        after ``value`` was handed off; ``on_leave()`` is called *with the
        mutex held*, in the critical section that removes ``w``, whenever the
        wait ends without a hand-off (cancel, timeout, exception), so that
        the owner can update its state atomically with the departure.

        Returns:
            The value handed off, or :data:`TIMED_OUT` if ``deadline`` (this
            operation's own timeout, a :func:`clock` value or ``None``) passed
            first.

        Raises:
            ThreadCancelled: the thread was cancelled or an enclosing deadline
                passed, and no value had been handed off. If one had, it is
                returned and the cancellation waits for the next blocking
                point.
        """
        saved = enter_wait(st)
        rec = dead = None
        try:
            # announce(st, what, deadline), inlined with its clock() read (every park).
            now = _state.virtual_now
            st.wait_since = _monotonic() if now is None else clock()
            st.waiting_on = what
            st.wait_deadline = deadline
            if st.watchers:
                wake_watchers(st)
            hook = on_park
            if hook is not None and deadline is None and st.deadline is None and st.depth == 1:
                rec = (st, w, what)
                parked[st.ident or 0] = rec
                dead = hook(rec)  # may decide that this park completes a deadlock
            while True:
                result = w.result
                if result is not PENDING:
                    return result
                exc: BaseException | None = None
                if st.cancel is not None or st.deadline is not None:
                    exc = st.pending_cancel()
                if exc is None and dead is not None:
                    exc, dead = dead, None  # abandon as a cancellation would
                if exc is None:
                    d = deadline if st.deadline is None else st.effective_deadline(deadline)
                    if block(st, d):
                        if rec is not None and hook is not None and w.result is PENDING:
                            # Woken with nothing: the detector may have woken us
                            # to raise in the place of a thread that cannot.
                            dead = hook(rec)
                        continue
                    if deadline is None or clock() < deadline:
                        continue  # a scope deadline: pending_cancel() sees it
                # Abandon: we were cancelled, or our own deadline passed.
                with self.mutex:
                    result = w.result
                    if result is PENDING:
                        self.leave_locked(w)
                        if on_leave is not None:
                            on_leave()
                if result is not PENDING:
                    return result  # the hand-off won
                if exc is not None:
                    try:
                        raise exc
                    finally:
                        exc = None  # no frame -> traceback -> exception cycle
                return TIMED_OUT
        except BaseException:
            # Whatever abandons the wait (our own cancellation, or an
            # exception from a signal handler: KeyboardInterrupt, or a
            # ThreadCancelled raised by threado code the handler ran) leaves
            # the queue and passes on anything handed to us meanwhile.
            self.abandon(w, on_abandon, on_leave)
            raise
        finally:
            if rec is not None:
                parked.pop(st.ident or 0, None)
            # leave_wait(st, saved), inlined.
            st.depth -= 1
            st.waiting_on, st.wait_since, st.wait_deadline = saved
            if st.depth:
                unpark(st)

    def abandon(
        self,
        w: Waiter,
        on_abandon: Callable[[Any], None] | None = None,
        on_leave: Callable[[], None] | None = None,
    ) -> None:
        """Take ``w`` out after an exception; idempotent.

        Callers that enqueue ``w`` and then call :meth:`wait` must call this
        when an exception escapes anywhere in between (an asynchronous one
        can), so that no waiter is left behind and no hand-off is dropped.
        A pending ``w`` leaves the queue (``on_leave()`` runs under the
        mutex); a value already handed to ``w`` goes to ``on_abandon``, once.
        """
        with self.mutex:
            result = w.result
            if result is PENDING:
                # O(n), but only after an exception between enqueueing and
                # waiting; a wait that ended normally left the queue already.
                if w in self.waiters:
                    self.leave_locked(w)
                    if on_leave is not None:
                        on_leave()
                return
            if result is GONE or result is LEFT:
                return
            w.result = GONE
        if on_abandon is not None:
            on_abandon(result)


def park_until(st: ThreadState, deadline: float | None, what: object) -> None:
    """Park until ``deadline`` passes (``None``: until cancelled).

    Raises:
        ThreadCancelled: the thread was cancelled or an enclosing deadline
            passed.
    """
    saved = enter_wait(st)
    try:
        announce(st, what, deadline)
        while True:
            if st.cancel is not None or st.deadline is not None:
                exc = st.pending_cancel()
                if exc is not None:
                    try:
                        raise exc
                    finally:
                        exc = None  # no frame -> traceback -> exception cycle
            if (
                not block(st, st.effective_deadline(deadline))
                and deadline is not None
                and clock() >= deadline
            ):
                return
    finally:
        leave_wait(st, saved)


class Latch(WaitQueue):
    """A one-shot event: once set, stays set; waiting is a blocking point.

    It is its own wait queue, guarded by its own mutex.
    """

    __slots__ = ("_set",)

    def __init__(self) -> None:
        super().__init__(_thread.allocate_lock())
        self._set = False

    def is_set(self) -> bool:
        """Return whether :meth:`set` has been called."""
        return self._set

    def set(self) -> None:
        """Set the latch and wake every waiter."""
        with self.mutex:
            self._set = True
            self.handoff_all_locked(True)

    def wait_until(self, deadline: float | None = None, what: object = None) -> bool:
        """Wait until set, or until ``deadline``; a blocking point.

        ``what`` is shown as what the thread waits on (default: the latch).

        Returns:
            ``True`` once set, ``False`` if ``deadline`` passed first.

        Raises:
            ThreadCancelled: if the calling thread is cancelled.
        """
        st = get_state()
        st.check()
        if self._set:  # set once, never reset: no lock needed to see it
            return True
        w = None
        try:
            with self.mutex:
                if self._set:
                    return True
                w = self.enqueue_locked(st)
            return self.wait(st, w, deadline, what or self) is not TIMED_OUT
        except BaseException:
            if w is not None:
                self.abandon(w)
            raise


def deadline_from_timeout(timeout: float | None) -> float | None:
    """Turn a relative ``timeout`` (seconds or ``None``) into a deadline.

    Raises:
        TypeError: if ``timeout`` is not a real number or ``None``.
        ValueError: if ``timeout`` is NaN.
    """
    if timeout is None:
        return None
    return clock() + check_seconds(timeout, "timeout")


def check_seconds(value: object, what: str) -> float:
    """Validate a duration as ``time.sleep`` does: a float, or an integer.

    Raises:
        TypeError: if ``value`` is neither a ``float`` nor an integer (an
            object with ``__index__``); ``bool`` counts as an integer, as in
            the standard library.
        ValueError: if ``value`` is NaN.
    """
    if isinstance(value, float):
        if value != value:
            raise ValueError(f"{what} must be a number of seconds, not NaN")
        return value
    try:
        return float(operator.index(value))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{what} must be a number of seconds (int or float), not {type(value).__name__}"
        ) from None


def check_blocking(blocking: object) -> bool:
    """``blocking`` as the running ``threading``'s locks take it.

    Python 3.11 wants an integer; 3.12 and later take any object's truth
    value (``acquire(None)`` is a non-blocking try there).

    Raises:
        TypeError: on 3.11, ``blocking`` is not an integer.
    """
    if sys.version_info < (3, 12):
        return bool(operator.index(blocking))  # type: ignore[arg-type]
    return bool(blocking)


def lock_deadline(blocking: bool, timeout: float) -> float | None:
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


def wait_deadline(timeout: float | None) -> float | None:
    """Deadline for ``wait(timeout)``: ``None`` waits forever, <= 0 not at all.

    Raises:
        TypeError: ``timeout`` is not a number.
        ValueError: ``timeout`` is NaN.
        OverflowError: ``timeout`` is above ``threading.TIMEOUT_MAX``.
    """
    if timeout is None:
        return None
    timeout = check_seconds(timeout, "timeout")
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")  # as threading's waits
    return clock() + timeout
