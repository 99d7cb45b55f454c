"""Cancellable ``Lock`` and ``RLock``: one algorithm, two ways to take the lock.

Drop-in replacements for ``threading.Lock`` and ``threading.RLock`` with the
running version's signatures, return values and exceptions; acquiring is a
blocking point whenever it has to wait.

Theory of operation
-------------------

Both locks keep ``_inner``, a ``_thread`` lock that is held exactly while the
threado lock is held (or being handed to a waiter), so the uncontended paths
are one C call each and :meth:`locked` is a pure query of ``_inner`` (a query
never takes the lock, so it can never change who gets woken). An
:class:`RLock` adds its owner's ident and recursion count in ``_owner`` and
``_count``, written only by the owner (or, on a hand-off, by the releaser
before the new owner is woken).

Waiters queue in ``_waiters`` (guarded by ``_mutex``). One slow path,
:meth:`_LockCore._acquire_slow`, serves both lock types:

* A waiter appends itself *then* tries ``_inner`` once more, under
  ``_mutex``; a releaser releases ``_inner`` *then* looks at ``_waiters``.
  Whichever of the two goes second sees the other, so no wake-up is lost.
* A plain release wakes the first waiter with ``RETRY``: the lock is free
  and anybody, a newcomer included, may take it (no convoys). A woken waiter
  that loses the race queues again at the *front*, keeping its arrival time.
* Eventual fairness (Rust ``parking_lot``): when the first waiter has waited
  longer than :data:`FAIR_AFTER`, the releaser keeps ``_inner`` held and hands
  the lock to it directly (``HANDED``; an :class:`RLock` records the new
  owner before waking it), so no waiter starves. Since ownership moves with
  ``_inner`` for both types, there is no reservation to keep and nothing a
  newcomer must check.
* A waiter woken with ``RETRY`` whose thread was cancelled meanwhile does not
  try the lock: it passes the wake-up to the next waiter and raises.
* A waiter abandoned by an exception passes on whatever it was handed: a
  ``HANDED`` lock is released to the next waiter, a ``RETRY`` wake-up goes to
  the next waiter, so neither the lock nor the wake-up is lost.

Shared state is written under ``_mutex`` or by single C calls on the fast
paths. The one read without the mutex is the emptiness test of ``_waiters``
on the release fast path (with the GIL); free-threaded builds release under
the mutex instead (see :func:`use_free_threaded_paths` and
``docs/platforms.rst``).
"""

from __future__ import annotations

import _thread
import sys
from collections import deque
from types import TracebackType

from ._parking import (
    HANDED,
    PENDING,
    RETRY,
    TIMED_OUT,
    Waiter,
    WaitQueue,
    check_blocking,
    lock_deadline,
)
from ._scopes import shield
from ._state import FREE_THREADED, ThreadState, clock, get_state, thread_name, unpark
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

__all__ = ["FAIR_AFTER", "Lock", "RLock"]

#: A lock waiter that has waited this long (seconds) gets the lock handed to
#: it by the next release instead of competing for it (eventual fairness).
FAIR_AFTER: Final = 0.001

_get_ident = _thread.get_ident

#: Built without the GIL: see :func:`use_free_threaded_paths`.
_FREE_THREADED: Final = FREE_THREADED

#: Set by ``threado._sync_mode`` while a synchronous run exists: called before
#: a blocking acquisition, where a seeded run may switch threads.
sync_switch: Callable[[], None] | None = None


class _LockWaiter(Waiter):
    __slots__ = ("since",)

    def __init__(self, state: ThreadState) -> None:
        super().__init__(state)
        self.since = clock()


class _LockCore:
    """What both lock types share: the wait queue and the one slow path.

    Subclasses define :meth:`_try` (take ``_inner`` for the calling thread,
    without blocking) and :meth:`_handed` (``_inner`` now belongs to the
    thread of waiter ``w``).
    """

    __slots__ = ("__weakref__", "_inner", "_mutex", "_queue", "_waiters")

    _inner: Any

    def _init_queue(self) -> None:
        self._mutex = _thread.allocate_lock()
        self._queue = WaitQueue(self._mutex)
        # The queue's deque, read without the mutex on the release fast path.
        self._waiters: deque[Waiter] = self._queue.waiters

    def _try(self) -> bool:
        raise NotImplementedError

    def _handed(self, w: Waiter) -> None:
        raise NotImplementedError

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
                    if self._try():  # after enqueueing: see the module docstring
                        # w is still where it was put (we hold the mutex): O(1).
                        if front:
                            waiters.popleft()
                            self._queue.purge_head_locked()
                        else:
                            waiters.pop()
                        return True
                result = self._queue.wait(st, w, deadline, self, self._pass_on)
                if result is HANDED:
                    return True
                if result is TIMED_OUT:
                    return False
                # RETRY: the lock was free a moment ago. A cancel that came
                # with the wake-up wins: pass the wake-up on, then raise.
                w.result = PENDING
                front = True
                if st.cancel is not None or st.deadline is not None:
                    exc = st.pending_cancel()
                    if exc is not None:
                        self._wake_one()
                        try:
                            raise exc
                        finally:
                            exc = None  # no frame -> traceback -> exception cycle
        except BaseException:
            self._queue.abandon(w, self._pass_on)
            raise

    def _pass_on(self, result: object) -> None:
        """A waiter abandoned after a hand-off: pass it to the next one."""
        if result is HANDED:
            self._unlock()
        else:
            self._wake_one()

    def _unlock(self) -> None:
        """Release ``_inner`` (held by the caller), or hand it to a waiter that is due."""
        if not self._waiters:
            self._inner.release()
            if self._waiters:  # somebody queued meanwhile: see the docstring
                self._wake_one()
            return
        self._unlock_locked()

    def _unlock_locked(self) -> None:
        """:meth:`_unlock` under the mutex: no unlocked read of ``_waiters``."""
        with self._mutex:
            if not self._inner.locked():
                raise RuntimeError("release unlocked lock")
            waiters = self._waiters
            if waiters:
                w = waiters.popleft()
                self._queue.purge_head_locked()
                if clock() - w.since >= FAIR_AFTER:  # type: ignore[attr-defined]
                    self._handed(w)  # _inner stays held, now for w
                    w.result = HANDED
                    unpark(w.state)
                    return
                w.result = RETRY
                unpark(w.state)
            self._inner.release()

    def _wake_one(self) -> None:
        """The lock was released: wake the first waiter to try again."""
        with self._mutex:
            # If the lock was taken again, its holder's release wakes somebody.
            if self._waiters and not self._inner.locked():
                w = self._waiters.popleft()
                self._queue.purge_head_locked()
                w.result = RETRY
                unpark(w.state)

    def locked(self) -> bool:
        """Return whether the lock is held (a query: it never takes the lock)."""
        return bool(self._inner.locked())

    def _reinit_queue(self) -> None:
        self._inner._at_fork_reinit()  # in place: Conditions hold its methods
        self._init_queue()


class Lock(_LockCore):
    """A cancellable ``threading.Lock``.

    Any thread may release it. Acquiring it is a blocking point when it has to
    wait (an uncontended acquire skips the cancellation check, for speed).
    """

    __slots__ = ("_holder",)

    def __init__(self) -> None:
        self._inner = _thread.allocate_lock()
        self._init_queue()
        # The ident of the thread that last acquired it: who holds it while
        # it is locked (SPEC: a repr says "locked by worker-3"), stale once
        # released (readers test locked() first). Written by the acquirer
        # just after taking ``_inner``, or by a releaser handing it over.
        self._holder: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock; a blocking point if it has to wait.

        Returns:
            ``True`` once acquired; ``False`` if ``blocking`` is false and the
            lock is held, or if ``timeout`` passed first.

        Raises:
            ThreadCancelled: the thread was cancelled (or a deadline passed)
                before the lock could be acquired; the lock is not held.
            ValueError: ``timeout`` with ``blocking=False``, or negative.
            TypeError: ``blocking`` is not an integer on Python 3.11 (3.12
                and later take any truth value, as ``threading`` does there).
        """
        if blocking is not True and blocking is not False:
            blocking = check_blocking(blocking)
        if sync_switch is not None and blocking:
            sync_switch()  # a possible switch in a synchronous run
        if timeout == -1:
            if self._inner.acquire(False):
                self._holder = _get_ident()
                return True
            if not blocking:
                return False
            return self._acquire_slow(None)
        deadline = lock_deadline(blocking, timeout)
        if self._inner.acquire(False):
            self._holder = _get_ident()
            return True
        if not blocking or timeout == 0:
            return False
        return self._acquire_slow(deadline)

    __enter__ = acquire

    def _try(self) -> bool:
        if self._inner.acquire(False):
            self._holder = _get_ident()
            return True
        return False

    def _handed(self, w: Waiter) -> None:
        self._holder = w.state.ident

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
        self._unlock()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._waiters:
            self._unlock()
        else:  # release()'s fast path, inlined: this is the hot path of `with`
            self._inner.release()
            if self._waiters:
                self._wake_one()

    # What threading.Condition calls on its lock. A Lock has no owner: "held
    # by somebody" counts as owned, as in threading.Condition's own fallback.
    def _is_owned(self) -> bool:
        return bool(self._inner.locked())

    def _release_save(self) -> None:
        self._holder = None  # so a Condition's re-acquire can tell that it got it
        self.release()

    def _acquire_restore(self, _state: None) -> None:
        if self._inner.acquire(False):
            self._holder = _get_ident()
        else:
            with shield():  # a Condition's re-acquire must not be cancelled
                self.acquire()

    def _try_acquire_restore(self, _state: None) -> bool:
        return self._try()

    def _at_fork_reinit(self) -> None:
        self._reinit_queue()

    def __repr__(self) -> str:
        # The standard library's shape, plus the waiters. Lock-free reads: a
        # repr never blocks (deadlock reports use it), and holds no times.
        # A Lock has no owner (any thread may release it); its holder is the
        # thread that acquired it, named as SPEC's "locked by worker-3".
        holder = self._holder
        waiting = len(self._queue)
        if not self._inner.locked():
            return f"<unlocked threado.Lock object waiting={waiting} at {id(self):#x}>"
        by = "" if holder is None else f"locked by {thread_name(holder)} (ident {holder}) "
        return f"<locked threado.Lock object {by}waiting={waiting} at {id(self):#x}>"


class RLock(_LockCore):
    """A cancellable ``threading.RLock``: the owner may acquire it again.

    Only the owner may release it; it is free once released as many times as
    it was acquired. Acquiring is a blocking point when it has to wait.
    """

    __slots__ = ("_count", "_owner")

    def __init__(self, *args: object, **kwargs: object) -> None:
        if (args or kwargs) and sys.version_info >= (3, 13):
            # threading.RLock ignores arguments, and deprecates them in 3.13.
            import warnings  # rarely needed: not a cost of ``import threado``

            warnings.warn(
                "Passing arguments to RLock is deprecated and will be removed in 3.15",
                DeprecationWarning,
                stacklevel=2,
            )
        self._inner = _thread.allocate_lock()
        self._init_queue()
        # The owner's ident while held, else None; the recursion level. Both
        # written only by the owner, or by a releaser handing the lock over
        # before it wakes the new owner.
        self._owner: int | None = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, or add a level if the caller owns it.

        A blocking point if it has to wait; see :meth:`Lock.acquire`.
        """
        if blocking is not True and blocking is not False:
            blocking = check_blocking(blocking)
        if sync_switch is not None and blocking:
            sync_switch()  # a possible switch in a synchronous run
        me = _get_ident()
        if timeout == -1:
            if self._owner == me:
                self._count += 1
                return True
            if self._inner.acquire(False):
                self._owner = me
                self._count = 1
                return True
            if not blocking:
                return False
            return self._acquire_slow(None)
        deadline = lock_deadline(blocking, timeout)
        if self._owner == me:
            self._count += 1
            return True
        if self._inner.acquire(False):
            self._owner = me
            self._count = 1
            return True
        if not blocking or timeout == 0:
            return False
        return self._acquire_slow(deadline)

    __enter__ = acquire

    def _try(self) -> bool:
        if self._inner.acquire(False):
            self._owner = _get_ident()
            self._count = 1
            return True
        return False

    def _handed(self, w: Waiter) -> None:
        self._owner = w.state.ident
        self._count = 1

    def release(self) -> None:
        """Release one level; the lock is free when the last level goes.

        Raises:
            RuntimeError: the caller does not own the lock.
        """
        if self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        count = self._count - 1
        if count:
            self._count = count
            return
        self._count = 0
        self._owner = None  # before _inner is free: the next owner writes it
        if self._waiters:
            self._unlock()
        else:  # _unlock()'s fast path, inlined: this is the hot path
            self._inner.release()
            if self._waiters:  # somebody queued meanwhile: see the docstring
                self._wake_one()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # release(), inlined: this is the hot path of `with`.
        if self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        count = self._count - 1
        if count:
            self._count = count
            return
        self._count = 0
        self._owner = None
        if self._waiters:
            self._unlock()
        else:
            self._inner.release()
            if self._waiters:
                self._wake_one()

    # What threading.Condition calls on its lock.
    def _is_owned(self) -> bool:
        return self._owner == _get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        if self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        if self._waiters:
            self._unlock()
        else:  # _unlock()'s fast path, inlined: every Condition.wait comes here
            self._inner.release()
            if self._waiters:  # somebody queued meanwhile: see the docstring
                self._wake_one()
        return state

    def _acquire_restore(self, state: tuple[int, int | None]) -> None:
        if not self._try_acquire_restore(state):
            with shield():  # a Condition's re-acquire must not be cancelled
                self.acquire()
            self._count = state[0]

    def _try_acquire_restore(self, state: tuple[int, int | None]) -> bool:
        if self._inner.acquire(False):
            self._owner = _get_ident()
            self._count = state[0]
            return True
        return False

    def _recursion_count(self) -> int:
        return self._count if self._owner == _get_ident() else 0

    def _at_fork_reinit(self) -> None:
        self._reinit_queue()
        self._owner = None
        self._count = 0

    def __repr__(self) -> str:
        # The standard library's shape, with the owner named. Lock-free reads:
        # a repr never blocks (deadlock reports use it), and holds no times.
        owner, count = self._owner, self._count
        state = "locked" if self._inner.locked() else "unlocked"
        who = "nobody" if owner is None else f"{thread_name(owner)} (ident {owner})"
        return (
            f"<{state} threado.RLock object owner={who} count={count} "
            f"waiting={len(self._queue)} at {id(self):#x}>"
        )


def _release_without_peeking(self: Lock) -> None:
    if not self._inner.locked():
        raise RuntimeError("release unlocked lock")
    self._unlock_locked()


def _exit_without_peeking(self: Lock, *_exc: object) -> None:
    self._unlock_locked()


def _rlock_exit(self: RLock, *_exc: object) -> None:
    self.release()


def use_free_threaded_paths(lock_type: type[_LockCore]) -> None:
    """Make ``lock_type`` release under its mutex only (free-threaded builds).

    The release fast paths read ``_waiters`` without the mutex just after
    releasing ``_inner``, while a waiter appends itself and then tries
    ``_inner``: a store-then-load on each side (Dekker), correct only if
    neither load is ordered before the other side's store. The GIL orders
    them; without it, a plain read after the C lock's release is not
    guaranteed to see the append (weakly ordered CPUs may reorder it), and a
    wake-up could be lost. So without the GIL, every release takes the mutex,
    which waiters also hold while they enqueue and try: no unlocked read is
    left. Called at import on free-threaded builds; tests call it on
    subclasses to run the same suite through these paths.
    """
    lock_type._unlock = lock_type._unlock_locked  # type: ignore[method-assign]
    if issubclass(lock_type, Lock):
        lock_type.release = _release_without_peeking  # type: ignore[method-assign]
        lock_type.__exit__ = _exit_without_peeking  # type: ignore[method-assign]
    elif issubclass(lock_type, RLock):
        lock_type.__exit__ = _rlock_exit  # type: ignore[method-assign]
        # RLock.release ends in _unlock() unless no waiter was seen: route the
        # last level through the mutex as well.
        lock_type.release = _rlock_release_without_peeking  # type: ignore[method-assign]
        lock_type._release_save = _rlock_release_save_without_peeking  # type: ignore[method-assign]


def _rlock_release_without_peeking(self: RLock) -> None:
    if self._owner != _get_ident():
        raise RuntimeError("cannot release un-acquired lock")
    count = self._count - 1
    if count:
        self._count = count
        return
    self._count = 0
    self._owner = None
    self._unlock_locked()


def _rlock_release_save_without_peeking(self: RLock) -> tuple[int, int | None]:
    if self._owner != _get_ident():
        raise RuntimeError("cannot release un-acquired lock")
    state = (self._count, self._owner)
    self._count = 0
    self._owner = None
    self._unlock_locked()
    return state


if _FREE_THREADED:
    use_free_threaded_paths(Lock)
    use_free_threaded_paths(RLock)

for _cls in (Lock, RLock):
    _cls.__module__ = "threado"
