"""Cancel scopes and time: timeouts, shields, checkpoints and sleeping.

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
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from threading import get_ident
from types import TracebackType
from typing import Literal, TypeVar, TypeVarTuple, overload

from ._errors import ThreadCancelled, ThreadTimeout
from ._parking import check_seconds, park_until
from ._state import ScopeLike, ThreadState, get_state, local
from ._state import clock as _monotonic

#: time.sleep itself, bound before threado.patch() can replace it (which
#: would make sleep(0) call itself).
_yield = time.sleep

__all__ = [
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


def _misnested(
    scope: ScopeLike, st: ThreadState | None, prev: tuple[float | None, int]
) -> RuntimeError:
    """Recover from a scope left out of order, and say what went wrong.

    In its own thread, the scope and everything entered after it are popped
    and the thread's deadline and visibility restored to what they were
    before it, so that a stale timeout or shield cannot poison the thread.
    """
    if st is not None and get_ident() == st.ident:
        for i, entry in enumerate(st.scopes):
            if entry is scope:
                del st.scopes[i:]
                st.deadline, st.visible_from = prev
                break
    return RuntimeError(
        "threado scopes must be exited in the reverse order they were entered, "
        f"in the thread that entered them: {scope!r} is not the innermost scope here"
    )


class TimeoutScope:
    """A block with a deadline; made by :func:`timeout_after` and friends.

    Use it as a context manager, once, in one thread.

    Attributes:
        expired: ``True`` once the block was cut short by its own deadline.
    """

    __slots__ = (
        "_deadline",
        "_prev_deadline",
        "_prev_visible",
        "_raise",
        "_seconds",
        "_state",
        "expired",
    )

    def __init__(
        self, deadline: float | None, raise_on_expiry: bool, seconds: float | None
    ) -> None:
        self._deadline = deadline
        self._raise = raise_on_expiry
        self._seconds = seconds
        self._state: ThreadState | None = None
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
        if self._state is not None:
            raise RuntimeError(f"{self!r} cannot be entered twice")
        st = local.state
        if st is None:
            st = get_state()
        self._state = st
        # Push: lower the thread's deadline, remembering what it was.
        prev = self._prev_deadline = st.deadline
        self._prev_visible = st.visible_from
        st.scopes.append(self)
        seconds = self._seconds
        d: float | None
        if seconds is not None:  # relative: counts from here
            d = self._deadline = _monotonic() + seconds
        else:
            d = self._deadline
        if d is not None and (prev is None or d < prev):
            st.deadline = d
            if st.interrupt is not None:  # an interruptible region watches deadlines
                st.interrupt.watch(d)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        st = self._state
        scopes = st.scopes  # type: ignore[union-attr]
        if not scopes or scopes[-1] is not self or get_ident() != st.ident:  # type: ignore[union-attr]
            raise _misnested(self, st, (self._prev_deadline, self._prev_visible))
        scopes.pop()
        st.deadline = self._prev_deadline  # type: ignore[union-attr]
        if exc is not None and isinstance(exc, ThreadCancelled) and exc.source is self:
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


class _Shield:
    __slots__ = ("_prev", "_state")

    deadline = None

    def __init__(self) -> None:
        self._state: ThreadState | None = None
        self._prev: tuple[float | None, int] = (None, 0)

    def __repr__(self) -> str:
        return "<threado.shield>"

    def __enter__(self) -> None:
        if self._state is not None:
            raise RuntimeError("a shield cannot be entered twice")
        st = get_state()
        self._state = st
        # Push: hide everything outside; remember what was visible.
        self._prev = (st.deadline, st.visible_from)
        st.scopes.append(self)
        st.deadline = None
        st.visible_from = len(st.scopes)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        st = self._state
        scopes = st.scopes  # type: ignore[union-attr]
        if not scopes or scopes[-1] is not self or get_ident() != st.ident:  # type: ignore[union-attr]
            raise _misnested(self, st, self._prev)
        scopes.pop()
        st.deadline, st.visible_from = self._prev  # type: ignore[union-attr]
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
    not yield the processor; ``sleep(0)`` does.

    Raises:
        ThreadCancelled: the thread was cancelled, or a deadline passed.
    """
    st = local.state
    if st is None:
        return  # a thread that never used threado has nothing to raise
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
    seconds = check_seconds(seconds, "sleep length")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    st = get_state()
    st.check()
    if seconds == 0:
        _yield(0)
        return
    park_until(st, _monotonic() + seconds, "sleep")


def clock() -> float:
    """Return the clock of every threado deadline: :func:`time.monotonic`.

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
    return math.inf if d is None else d


def cancel_requested() -> bool:
    """Return whether the next blocking point would raise :class:`ThreadCancelled`."""
    st = get_state()
    if st.cancel is None and st.deadline is None:
        return False
    return st.pending_cancel() is not None


TimeoutScope.__module__ = "threado"
