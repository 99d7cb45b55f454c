"""Cancel scopes and time: cancel scopes, timeouts, shields, checkpoints, sleep.

One scope type, as in trio: a :class:`CancelScope` is a block that any
thread can cancel, and a timeout block (:class:`TimeoutScope`, made by
``timeout_after`` and friends) *is* a cancel scope with a deadline and a
way of reporting its expiry. So every timeout block can also be cancelled
early (quietly: no ``ThreadTimeout``), and there is one push/pop protocol,
one nesting rule and one way of claiming a cancellation. There is no
``CancelScope(deadline=...)``: deadlines are spelled ``timeout_*`` and
``ignore_*``, one spelling each.

Theory of operation
-------------------

A timeout costs no thread and no timer. Entering ``timeout_after(5)`` pushes a
:class:`TimeoutScope` on the calling thread's scope stack (``_state``), which
lowers the thread's effective deadline; every blocking point parks until that
deadline at the latest, and on waking computes what to raise.

* When a deadline passes, the blocking point raises :class:`ThreadCancelled`
  whose ``source`` is the *outermost* expired scope. Each scope's ``__exit__``
  claims only a cancellation whose source is itself and turns it into
  :class:`ThreadTimeout` (or swallows it, for ``ignore_*``). So an inner block
  never reports an outer block's expiry: the outer's cancellation passes
  through it untouched. Expiry is level-triggered: until the expired scope
  is left, every blocking point inside raises again.
* A :func:`shield` pushes a barrier: thread cancellation and the deadlines of
  scopes outside it are invisible until it is popped; scopes opened inside
  it work as usual. What was held back is delivered at the first blocking
  point after the shield, because nothing is ever consumed by being hidden.
* Scopes belong to the thread that entered them. They are per-thread state,
  not context variables, so a spawned thread does not inherit them.

Cancelling a scope from another thread
--------------------------------------

A cancel is a deadline moved to ``-inf``: the blocking points need no new
test (they already look at ``ThreadState.deadline``), and
``ThreadState.pending_cancel`` names the outermost visible scope whose
``cancel_called`` is set or whose deadline passed, so a cancel scope claims
only its own cancellation, exactly as a timeout does. The owner's cached
``deadline`` and each entry's saved ``_prev_deadline`` are normally the
owner's alone; :meth:`CancelScope.cancel` from another thread writes them
too, holding the state's ``scope_lock`` and bumping ``scope_gen`` before
and after its writes (odd while it writes):

* if the scope is no longer active (popped), nothing is written: a cancel
  never leaks out of its block, however it races the exit;
* every entry above the scope, up to and including the first shield, gets
  ``_prev_deadline = -inf``: once that entry is popped the scope is visible
  again and still cancelled (level-triggered until the scope itself pops);
* the thread's ``deadline`` becomes ``-inf`` if the scope is visible now
  (no shield above it), and the thread is unparked.

The owner pushes and pops without the lock (timeout blocks are hot): it
reads ``scope_gen`` first, writes, and reads it again. If it was odd, a
canceller is writing, and the owner takes the lock instead; if it moved, a
canceller ran between the owner's lines, and the owner, under the lock,
recomputes what it wrote from the stack itself (``_visible_deadline``: the
earliest deadline of the visible scopes, ``-inf`` if one is cancelled).
That relies on the GIL's sequential consistency between the owner's
writes and its re-read; free-threaded builds always take the lock.

A scope cancelled before it is entered is cancelled from its start: the
push reads ``cancel_called`` after publishing ``_state``, and ``cancel()``
reads ``_state`` after setting ``cancel_called`` (with a full fence between,
so that one of the two always sees the other). The lock is reentrant, so
``cancel()`` from a signal handler never deadlocks; it never waits for
anything but another canceller or a locked push or pop, which never block.
(A signal handler that cancels a scope of its *own* thread while that
thread holds the lock to redo a push or pop may see the redo restore a
stale deadline; the cancel is then delivered when the next scope above the
cancelled one is popped. Handlers normally cancel a scope that is already
open around the wait they interrupt.)
"""

from __future__ import annotations

import _thread
import time
from threading import get_ident
from types import TracebackType

from . import _state as _state_module
from ._errors import Reason, ThreadCancelled, ThreadTimeout
from ._parking import check_seconds, park_until
from ._state import FREE_THREADED, ThreadState, get_state, local, unpark
from ._state import clock as _monotonic
from ._sync_mode import yield_turn
from ._typing import TYPE_CHECKING, TypeVar, TypeVarTuple, overload

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import Literal

#: time.sleep itself, bound before threado.patch() can replace it (which
#: would make sleep(0) call itself).
_yield = time.sleep
_time_monotonic = time.monotonic

__all__ = [
    "CancelScope",
    "TimeoutScope",
    "cancel_requested",
    "checkpoint",
    "clock",
    "current_deadline",
    "ignore_after",
    "ignore_at",
    "shield",
    "sleep",
    "timeout_after",
    "timeout_at",
]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def _lock_of(st: ThreadState) -> _thread.RLock:
    lock = st.scope_lock
    if lock is None:  # only the owner creates it, before its first push
        lock = st.scope_lock = _thread.RLock()
    return lock


def _visible_deadline(st: ThreadState, start: int, end: int) -> float | None:
    """The deadline the scopes at ``scopes[start:end]`` put in force (owner, locked)."""
    d: float | None = None
    for entry in st.scopes[start:end]:
        if entry.cancel_called:
            return _CANCELLED
        sd = entry.deadline
        if sd is not None and (d is None or sd < d):
            d = sd
    return d


def _push(st: ThreadState, entry: _Pushed, d: float | None, shield: bool) -> None:
    """Push ``entry`` (deadline ``d``, or a shield) on the owner's stack.

    Without the lock when no canceller wrote meanwhile (``scope_gen`` did
    not move, and was even: see the module docstring); else redone under it.
    """
    gen = st.scope_gen
    if gen & 1 or _FREE_THREADED:
        lock = st.scope_lock
        if lock is None:
            lock = _lock_of(st)
        lock.acquire()
        try:
            _push_writes(st, entry, d, shield)
        finally:
            lock.release()
        return
    # _push_writes, inlined (this is every shield's and cancel scope's entry;
    # TimeoutScope.__enter__ inlines its own copy, without the shield case):
    scopes = st.scopes
    prev = entry._prev_deadline = st.deadline
    entry._prev_visible = st.visible_from
    entry._index = len(scopes)
    scopes.append(entry)
    entry._active = True
    if shield:
        st.deadline = None
        st.visible_from = len(scopes)
    else:
        if entry.cancel_called:
            d = _CANCELLED
        if d is not None and (prev is None or d < prev):
            st.deadline = d
    if st.scope_gen != gen:  # a canceller ran meanwhile: recompute what we wrote
        _redo_push(st, entry)


def _redo_push(st: ThreadState, entry: _Pushed) -> None:
    """A canceller ran during a lock-free push: recompute what it wrote, locked."""
    lock = _lock_of(st)
    lock.acquire()
    try:
        entry._prev_deadline = _visible_deadline(st, entry._prev_visible, entry._index)
        st.deadline = _visible_deadline(st, st.visible_from, len(st.scopes))
    finally:
        lock.release()


def _push_writes(st: ThreadState, entry: _Pushed, d: float | None, shield: bool) -> None:
    scopes = st.scopes
    prev = entry._prev_deadline = st.deadline
    entry._prev_visible = st.visible_from
    entry._index = len(scopes)
    scopes.append(entry)
    entry._active = True
    if shield:  # hide everything outside
        st.deadline = None
        st.visible_from = len(scopes)
        return
    if entry.cancel_called:  # cancelled before it was entered
        d = _CANCELLED
    if d is not None and (prev is None or d < prev):
        st.deadline = d


def _pop(st: ThreadState, entry: _Pushed) -> None:
    """Pop ``entry``, the innermost scope, restoring what its push replaced."""
    gen = st.scope_gen
    if gen & 1 or _FREE_THREADED:
        lock = st.scope_lock
        assert lock is not None  # created by a canceller's writes or a locked push
        lock.acquire()
        try:
            _pop_writes(st, entry)
        finally:
            lock.release()
        return
    st.scopes.pop()  # _pop_writes, inlined
    entry._active = False
    st.deadline = entry._prev_deadline
    st.visible_from = entry._prev_visible
    if st.scope_gen != gen:  # a canceller ran meanwhile: recompute
        _redo_pop(st)


def _redo_pop(st: ThreadState) -> None:
    """A canceller ran during a lock-free pop: recompute the deadline, locked."""
    lock = _lock_of(st)
    lock.acquire()
    try:
        st.deadline = _visible_deadline(st, st.visible_from, len(st.scopes))
    finally:
        lock.release()


def _pop_writes(st: ThreadState, entry: _Pushed) -> None:
    st.scopes.pop()
    entry._active = False
    st.deadline = entry._prev_deadline
    st.visible_from = entry._prev_visible


#: Without the GIL the owner's lock-free push and pop could miss a
#: canceller's write (no ordering between its stores and its re-read of
#: ``scope_gen``): free-threaded builds always take the lock.
_FREE_THREADED = FREE_THREADED


def _misnested(scope: _Pushed, st: ThreadState | None) -> RuntimeError:
    """Recover from a scope left out of order, and say what went wrong.

    In its own thread, the scope and everything entered after it are popped
    and the thread's deadline and visibility restored to what they were
    before it, so that a stale timeout or shield cannot poison the thread.
    """
    if st is not None and get_ident() == st.ident:
        with _lock_of(st):
            for i, entry in enumerate(st.scopes):
                if entry is scope:
                    for gone in st.scopes[i:]:
                        if isinstance(gone, _Pushed):
                            gone._active = False
                    del st.scopes[i:]
                    st.deadline, st.visible_from = scope._prev_deadline, scope._prev_visible
                    break
    return RuntimeError(
        "threado scopes must be exited in the reverse order they were entered, "
        f"in the thread that entered them: {scope!r} is not the innermost scope here"
    )


class _Pushed:
    """An entry of the scope stack: what it replaced, where it sits."""

    __slots__ = ("_active", "_index", "_prev_deadline", "_prev_visible", "_state")

    #: Shields are never cancelled (see ``_state.ScopeLike``).
    cancel_called = False

    @property
    def deadline(self) -> float | None:
        """The entry's own deadline: none (timeout scopes override it)."""
        return None

    def __init__(self) -> None:
        self._state: ThreadState | None = None
        # True from push to pop; written under the state's scope_lock.
        self._active = False
        # Our position in ``scopes`` while active.
        self._index = 0
        # What push replaced; pop restores it. A canceller lowers
        # ``_prev_deadline`` to -inf (under scope_lock) when the scope it
        # cancels becomes visible again once this entry is popped.
        self._prev_deadline: float | None = None
        self._prev_visible = 0


def _fence() -> None:
    # A full memory barrier (an uncontended lock round trip): orders a
    # canceller's store of ``cancel_called`` before its load of ``_state``,
    # against the owner's store of ``_state`` before its (locked) load of
    # ``cancel_called``. With the GIL it is merely cheap.
    _fence_lock.acquire()
    _fence_lock.release()


# Reentrant: a signal handler that cancels a scope while its thread is
# inside _fence() must not deadlock.
_fence_lock = _thread.RLock()


class CancelScope(_Pushed):
    """A block that any thread can cancel; the base of every timeout block.

    ``with threado.CancelScope() as scope:`` -- :meth:`cancel`, from any
    thread (or a signal handler), makes the next blocking point inside the
    block raise :class:`ThreadCancelled`; the block's exit catches it and
    the thread carries on after the block. A scope can be entered once, in
    one thread. :func:`timeout_after` and friends return a
    :class:`TimeoutScope`, which is a ``CancelScope`` with a deadline.

    Attributes:
        cancel_called: ``True`` once :meth:`cancel` was called (before,
            during or after the block).
        cancelled_caught: ``True`` once the block's exit caught the
            block's own cancellation (a :meth:`cancel` or, for a
            :class:`TimeoutScope`, its expiry).
    """

    __slots__ = ("cancel_called", "cancelled_caught")

    def __init__(self) -> None:
        # _Pushed's fields, set here (no super() call: timeouts are hot).
        self._state = None
        self._active = False
        self._index = 0
        self._prev_deadline = None
        self._prev_visible = 0
        self.cancel_called = False
        self.cancelled_caught = False

    @property
    def deadline(self) -> float | None:
        """The scope's deadline: ``None`` (a plain cancel scope has none)."""
        return None

    def __repr__(self) -> str:
        return f"<threado.CancelScope at {id(self):#x}>"

    def cancel(self) -> None:
        """Cancel the block; idempotent, never blocks, never raises.

        The next blocking point inside the block (in the thread that entered
        it) raises :class:`ThreadCancelled`, at once if the thread is parked
        there; the block's exit catches it. Called before the block is
        entered, the block is cancelled from its start; after it was left,
        it does nothing. Safe to call from a signal handler.
        """
        self.cancel_called = True
        _fence()
        st = self._state
        if st is None:
            return  # not entered yet: the push reads cancel_called under the lock
        lock = st.scope_lock
        assert lock is not None  # created before _state was set
        lock.acquire()  # reentrant: a signal handler in the owner thread cannot deadlock
        st.scope_gen += 1  # odd: the owner's lock-free push/pop waits, or redoes
        try:
            if not self._active:
                return  # already left: a cancel must not leak out of the block
            for entry in st.scopes[self._index + 1 :]:
                # Once ``entry`` is popped we are visible again (unless a
                # shield below it still hides us): its pop restores -inf.
                entry._prev_deadline = _CANCELLED  # type: ignore[attr-defined]
                if type(entry) is _Shield:
                    break
            if st.visible_from <= self._index:
                st.deadline = _CANCELLED
        finally:
            st.scope_gen += 1
            lock.release()
        unpark(st)

    def _enter(self, d: float | None) -> None:
        st = local.state
        if st is None:
            st = get_state()
        if self._state is not None:
            raise RuntimeError(f"{self!r} cannot be entered twice")
        if st.scope_lock is None:
            _lock_of(st)  # before _state is published: cancel() relies on it
        self._state = st
        _push(st, self, d, False)

    def _exit(self) -> None:
        st = self._state
        if st is None:
            raise RuntimeError(f"{self!r} was not entered")
        scopes = st.scopes
        if not scopes or scopes[-1] is not self or get_ident() != st.ident:
            raise _misnested(self, st)
        _pop(st, self)

    def __enter__(self) -> CancelScope:
        self._enter(None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._exit()
        if exc is not None and isinstance(exc, ThreadCancelled) and exc.source is self:
            self.cancelled_caught = True
            return True
        return False


#: math.inf, without loading math (a shared library) at ``import threado``.
_INF = float("inf")
_CANCELLED = -_INF


class TimeoutScope(CancelScope):
    """A cancel scope with a deadline; made by :func:`timeout_after` and friends.

    Use it as a context manager, once, in one thread. It is a
    :class:`CancelScope`: :meth:`~CancelScope.cancel` ends the block early
    and quietly (no :class:`ThreadTimeout`, ``expired`` stays ``False``).

    Attributes:
        expired: ``True`` once the block was cut short by its own deadline.
    """

    __slots__ = ("_deadline", "_raise", "_seconds", "expired")

    def __init__(
        self, deadline: float | None, raise_on_expiry: bool, seconds: float | None
    ) -> None:
        # CancelScope's and _Pushed's fields, set here (no super() calls).
        # ``_index``, ``_prev_deadline`` and ``_prev_visible`` are written by
        # the push, before ``_active`` becomes true, and read only after.
        self._state = None
        self._active = False
        self.cancel_called = False
        self.cancelled_caught = False
        self._deadline = deadline
        self._raise = raise_on_expiry
        self._seconds = seconds
        self.expired = False

    @property
    def deadline(self) -> float | None:
        """The absolute deadline (a :func:`clock` value), or ``None``.

        A relative scope (``timeout_after``, ``ignore_after``) counts from
        the moment it is entered, as trio's and curio's do; before that,
        this is where its deadline would be if it were entered now.
        """
        if self._seconds is not None and self._state is None:
            return _monotonic() + self._seconds
        return self._deadline

    def __repr__(self) -> str:
        kind = "timeout" if self._raise else "ignore"
        if self._seconds is not None:
            return f"<threado.{kind}_after({self._seconds:g})>"
        if self._deadline is None:
            return f"<threado.{kind}_after(None)>"
        return f"<threado.{kind}_at({self._deadline:.6f})>"

    def __enter__(self) -> TimeoutScope:
        # CancelScope._enter, inlined: timeout blocks are hot.
        st = local.state
        if st is None:
            st = get_state()
        if self._state is not None:
            raise RuntimeError(f"{self!r} cannot be entered twice")
        if st.scope_lock is None:
            _lock_of(st)  # before _state is published: cancel() relies on it
        self._state = st
        seconds = self._seconds
        if seconds is not None:  # relative: counts from here
            # _monotonic() (``_state.clock``), inlined: no virtual time outside runs.
            if _state_module.virtual_now is None:
                d: float | None = _time_monotonic() + seconds
            else:
                d = _monotonic() + seconds
            self._deadline = d
        else:
            d = self._deadline
        gen = st.scope_gen
        if gen & 1 or _FREE_THREADED:
            _push(st, self, d, False)
        else:
            # _push's lock-free path, inlined (every timeout block's entry).
            scopes = st.scopes
            prev = self._prev_deadline = st.deadline
            self._prev_visible = st.visible_from
            self._index = len(scopes)
            scopes.append(self)
            self._active = True
            if self.cancel_called:
                d = _CANCELLED
            if d is not None and (prev is None or d < prev):
                st.deadline = d
            if st.scope_gen != gen:  # a canceller ran meanwhile
                _redo_push(st, self)
        if st.interrupt is not None and st.deadline is not None:
            st.interrupt.watch(st.deadline)  # an interruptible region watches deadlines
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        st = self._state  # CancelScope._exit, inlined
        if st is None:
            raise RuntimeError(f"{self!r} was not entered")
        scopes = st.scopes
        if not scopes or scopes[-1] is not self or get_ident() != st.ident:
            raise _misnested(self, st)
        gen = st.scope_gen
        if gen & 1 or _FREE_THREADED:
            _pop(st, self)
        else:  # _pop's lock-free path, inlined
            scopes.pop()
            self._active = False
            st.deadline = self._prev_deadline
            st.visible_from = self._prev_visible
            if st.scope_gen != gen:  # a canceller ran meanwhile
                _redo_pop(st)
        if exc is None:
            return False
        if isinstance(exc, ThreadCancelled) and exc.source is self:
            self.cancelled_caught = True
            if exc._reason != Reason.DEADLINE:
                return True  # cancel(): quietly
            self.expired = True
            if self._raise:
                raise ThreadTimeout(f"{self!r} expired") from exc
            return True
        return False


def _check_after(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    if type(seconds) is not float or seconds != seconds:
        seconds = check_seconds(seconds, "seconds")
    return seconds


def _check_deadline(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return check_seconds(deadline, "deadline")


def _run_in(
    scope: TimeoutScope, func: Callable[..., T] | None, args: tuple[object, ...]
) -> T | None:
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    with scope:
        return func(*args)
    return None  # only reached when an ignore_* scope swallowed its expiry


@overload
def timeout_after(seconds: float | None) -> TimeoutScope: ...
@overload
def timeout_after(seconds: float | None, func: Callable[[*Ts], T], *args: *Ts) -> T: ...
def timeout_after(
    seconds: float | None, func: Callable[..., T] | None = None, *args: object
) -> TimeoutScope | T:
    """Limit a block, or a call of ``func(*args)``, to ``seconds``.

    When the deadline passes, the blocking point inside raises
    :class:`ThreadCancelled` and the block raises :class:`ThreadTimeout`.
    ``seconds=None`` means no limit; zero or less expires at the first
    blocking point.

    Returns:
        A :class:`TimeoutScope` to use in a ``with`` statement, or, in the
        call form, what ``func`` returned.

    Raises:
        ThreadTimeout: the deadline passed (call form).
        TypeError: ``seconds`` is not a number, or ``func`` is not callable.
        ValueError: ``seconds`` is NaN.
    """
    kind = type(seconds)
    if (kind is float and seconds == seconds) or kind is int:  # common cases, inlined
        scope = TimeoutScope(None, True, seconds)
    else:
        scope = TimeoutScope(None, True, _check_after(seconds))
    if func is None:
        return scope
    return _run_in(scope, func, args)  # type: ignore[return-value]


@overload
def timeout_at(deadline: float | None) -> TimeoutScope: ...
@overload
def timeout_at(deadline: float | None, func: Callable[[*Ts], T], *args: *Ts) -> T: ...
def timeout_at(
    deadline: float | None, func: Callable[..., T] | None = None, *args: object
) -> TimeoutScope | T:
    """Like :func:`timeout_after`, with an absolute :func:`clock` deadline."""
    scope = TimeoutScope(_check_deadline(deadline), True, None)
    if func is None:
        return scope
    return _run_in(scope, func, args)  # type: ignore[return-value]


@overload
def ignore_after(seconds: float | None) -> TimeoutScope: ...
@overload
def ignore_after(seconds: float | None, func: Callable[[*Ts], T], *args: *Ts) -> T | None: ...
def ignore_after(
    seconds: float | None, func: Callable[..., T] | None = None, *args: object
) -> TimeoutScope | T | None:
    """Like :func:`timeout_after`, but an expired block ends quietly.

    The scope's ``expired`` attribute tells whether the deadline cut the
    block short; the call form then returns ``None``.
    """
    scope = TimeoutScope(None, False, _check_after(seconds))
    if func is None:
        return scope
    return _run_in(scope, func, args)


@overload
def ignore_at(deadline: float | None) -> TimeoutScope: ...
@overload
def ignore_at(deadline: float | None, func: Callable[[*Ts], T], *args: *Ts) -> T | None: ...
def ignore_at(
    deadline: float | None, func: Callable[..., T] | None = None, *args: object
) -> TimeoutScope | T | None:
    """Like :func:`ignore_after`, with an absolute :func:`clock` deadline."""
    scope = TimeoutScope(_check_deadline(deadline), False, None)
    if func is None:
        return scope
    return _run_in(scope, func, args)


class _Shield(_Pushed):
    __slots__ = ()

    def __repr__(self) -> str:
        return "<threado.shield>"

    def __enter__(self) -> None:
        if self._state is not None:
            raise RuntimeError("a shield cannot be entered twice")
        st = local.state
        if st is None:
            st = get_state()
        self._state = st
        _push(st, self, None, True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        st = self._state
        scopes = st.scopes  # type: ignore[union-attr]
        if not scopes or scopes[-1] is not self or get_ident() != st.ident:  # type: ignore[union-attr]
            raise _misnested(self, st)
        _pop(st, self)  # type: ignore[arg-type]
        return False


def shield() -> AbstractContextManager[None]:
    """Protect a block from outer cancellation.

    Inside ``with shield():`` the thread's cancellation and the deadlines of
    enclosing timeout blocks are held back; they are delivered at the first
    blocking point after the block. Timeout blocks opened inside the shield
    still work. Use it for cleanup that must block.
    """
    return _Shield()


def checkpoint() -> None:
    """Raise :class:`ThreadCancelled` if the calling thread must stop.

    An explicit blocking point for loops that otherwise never block. It does
    not yield the processor; ``sleep(0)`` does. In a seeded synchronous run
    it is a possible switch to another thread of the run.

    Raises:
        ThreadCancelled: the thread was cancelled, or a deadline passed.
    """
    st = local.state
    if st is None:
        return  # a thread that never used threado has nothing to raise
    if st.sync is not None:  # in a synchronous run: a possible switch
        yield_turn(st, False)
    if st.cancel is not None or st.deadline is not None:
        st.check()


def sleep(seconds: float) -> None:
    """Sleep for ``seconds``; a blocking point.

    ``sleep(0)`` checks for cancellation and yields the processor.
    ``sleep(math.inf)`` sleeps until cancelled.

    Raises:
        ThreadCancelled: the thread was cancelled, or a deadline passed.
        TypeError: ``seconds`` is not a number.
        ValueError: ``seconds`` is negative or NaN.
    """
    if seconds != 0 or type(seconds) is not int:  # sleep(0) is a hot path (a yield)
        seconds = check_seconds(seconds, "sleep length")
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
    st = local.state
    if st is None:
        st = get_state()
    if st.cancel is not None or st.deadline is not None:
        st.check()
    if seconds == 0:
        if st.sync is not None:  # in a synchronous run: the turn goes round
            yield_turn(st, True)
            if st.cancel is not None or st.deadline is not None:
                st.check()
        else:
            _yield(0)
        return
    park_until(st, _monotonic() + seconds, "sleep")


def clock() -> float:
    """Return the clock of every threado deadline: :func:`time.monotonic`.

    Inside a synchronous run (``threado.run(..., synchronous=True)``) it is
    the run's virtual clock, which jumps to the next deadline when every
    thread of the run waits.

    :func:`timeout_at`, :func:`ignore_at` and :func:`current_deadline` use
    its values.
    """
    return _monotonic()


def current_deadline() -> float:
    """Return the earliest deadline in force for the calling thread.

    A :func:`clock` value, or ``math.inf`` if no timeout applies (deadlines
    outside a :func:`shield` do not apply inside it).
    """
    d = get_state().deadline
    return _INF if d is None else d


def cancel_requested() -> bool:
    """Return whether the next blocking point would raise :class:`ThreadCancelled`."""
    st = get_state()
    if st.cancel is None and st.deadline is None:
        return False
    return st.pending_cancel() is not None


CancelScope.__module__ = "threado"
TimeoutScope.__module__ = "threado"
