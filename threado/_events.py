"""Cancellable ``threading.Event`` and ``threading.Barrier``.

Theory of operation
-------------------

**Event**: the flag and the wait queue are guarded by ``_mutex``; ``set``
hands ``True`` to every waiter in the critical section that sets the flag,
so a waiter either sees the flag on entry or is in the queue when it is set.

**Barrier**: each filling of the barrier is a :class:`_Generation` with its
own wait queue. The last arrival hands the generation to every waiter in
the critical section that counts it, so a generation is passed by all its
parties or by none, and late arrivals belong to the next one. A waiter
cancelled before that breaks the barrier (as a timed-out one does in
``threading``); after it, the waiter returns its index and the cancellation
fires at its next blocking point.

The plain attribute reads of ``is_set``/``n_waiting``/``broken`` report a
moment's state, as the standard library's do; they never take a lock.
"""

from __future__ import annotations

import _thread
import threading
from _thread import LockType

from ._errors import ThreadCancelled
from ._parking import TIMED_OUT, Latch, Waiter, WaitQueue, wait_deadline
from ._scopes import shield
from ._state import get_state, unpark
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Barrier", "BrokenBarrierError", "Event"]


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
        import warnings  # rarely needed: not a cost of ``import threado``

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
        deadline = wait_deadline(timeout)
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
    def _cond(self) -> LockType:
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

    def __init__(self, mutex: LockType) -> None:
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
        deadline = wait_deadline(timeout)
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
                    gen.members = gen.queue.take_all_locked()
                    for other in gen.members:
                        other.result = gen
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


for _cls in (Event, Barrier):
    _cls.__module__ = "threado"
