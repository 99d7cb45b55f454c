"""A cancellable ``threading.Condition``.

Theory of operation
-------------------

Waiters park on their own thread's token (no lock is allocated per wait,
unlike ``threading.Condition``) in a wait queue guarded by the condition's
own ``_mutex``; a notify hands ``True`` to the first waiters. A waiter
enqueues *before* it releases the lock, so a notify made by the next holder
of the lock always finds it. A notified waiter abandoned by an exception
passes the notification to the next waiter, so none is lost. A cancelled
wait re-acquires the lock inside a shield before the cancellation
propagates; so is any exception raised while it waits (a signal handler's
``KeyboardInterrupt``): ``wait()`` returns or raises with the lock held.

The condition works over threado's locks and over ``threading``'s (any
object with ``acquire``/``release``), using the lock's own
``_release_save``/``_acquire_restore``/``_is_owned`` hooks where it has them.
"""

from __future__ import annotations

import _thread

from ._errors import Deadlock
from ._locks import Lock, RLock
from ._parking import TIMED_OUT, Waiter, WaitQueue, wait_deadline
from ._scopes import shield
from ._state import clock, get_state
from ._state import local as _local
from ._typing import TYPE_CHECKING, TypeVar

_get_ident = _thread.get_ident

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Condition"]

T = TypeVar("T")


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
        # threado's own Lock: its C ownership test, without a Python frame.
        if type(lock) is Lock:
            self._is_owned = lock._inner.locked
        # threado's own RLock: its ownership test inlined in wait and notify.
        self._rlock: RLock | None = lock if type(lock) is RLock else None
        # Re-acquire without blocking if we can (no shield needed then).
        self._try_restore: Callable[[Any], bool]
        if isinstance(lock, Lock | RLock):
            self._try_restore = lock._try_acquire_restore
        elif not hasattr(lock, "_acquire_restore"):
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
        wait is cancelled (the re-acquire is shielded from the cancellation) or
        anything else interrupts it.

        Returns:
            ``True`` if notified, ``False`` if ``timeout`` passed.

        Raises:
            RuntimeError: the caller does not hold the lock.
            ThreadCancelled: the thread was cancelled or a deadline passed
                (the lock is held again when it propagates).
        """
        rlock = self._rlock
        if not (rlock._owner == _get_ident() if rlock is not None else self._is_owned()):
            raise RuntimeError("cannot wait on un-acquired lock")
        deadline = None if timeout is None else wait_deadline(timeout)
        st = _local.state
        if st is None:
            st = get_state()
        if st.cancel is not None or st.deadline is not None:
            st.check()
        w = None
        try:
            with self._mutex:
                w = Waiter(st)  # self._queue.enqueue_locked(st), inlined
                self._queue.waiters.append(w)
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
            if rlock is not None:  # RLock._try_acquire_restore, inlined
                if rlock._inner.acquire(False):
                    rlock._owner = _get_ident()
                    rlock._count = saved[0]
                else:
                    self._restore(saved)
            elif not self._try_restore(saved):
                self._restore(saved)
        return result is not TIMED_OUT

    def _restore(self, saved: Any) -> None:
        """Re-acquire the lock, shielded; raise what interrupted it once held.

        An exception raised while the re-acquire waits (a signal handler's
        ``KeyboardInterrupt``) is raised once the lock is held again, so
        :meth:`wait` never returns or raises without its lock. Deadlock
        detection raises elsewhere (see ``threado._deadlock``); only when
        every thread of a deadlock re-acquires a Condition's lock does
        :class:`Deadlock` come here, and then it propagates: the lock can
        never be had.
        """
        pending: BaseException | None = None
        with shield():  # the re-acquire must not be cancelled
            while True:
                try:
                    self._acquire_restore(saved)
                    break
                except Deadlock:
                    raise
                except BaseException as exc:
                    if pending is None:
                        pending = exc
                    if self._reacquired():
                        break  # it struck after the lock was taken: do not take it twice
        if pending is not None:
            try:
                raise pending
            finally:
                pending = None  # no frame -> traceback -> exception cycle

    def _reacquired(self) -> bool:
        """Whether an interrupted re-acquire of a threado ``Lock`` had taken it.

        ``Lock._release_save`` clears the holder, so the holder reads this
        thread only if the re-acquire took the lock (an ``RLock`` re-acquired
        twice just counts one level more; other locks cannot tell).
        """
        lock = self._lock
        return type(lock) is Lock and lock._holder == _get_ident() and bool(lock._inner.locked())

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
        deadline = wait_deadline(timeout)
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
        rlock = self._rlock
        if not (rlock._owner == _get_ident() if rlock is not None else self._is_owned()):
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
        import warnings  # rarely needed: not a cost of ``import threado``

        warnings.warn(
            "notifyAll() is deprecated, use notify_all() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.notify_all()

    def __repr__(self) -> str:
        return f"<threado.Condition({self._lock!r}, {len(self._queue)} waiting)>"


Condition.__module__ = "threado"
