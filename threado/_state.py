"""Per-thread state: the cancel flag, the scope stack and the wake-up token.

Every OS thread that touches threado gets one :class:`ThreadState`, created on
first use (threads spawned by threado get theirs from the spawner, so that a
cancel can reach a thread that has not started yet).

Theory of operation
-------------------

* ``token`` is a ``_thread`` lock used as a binary semaphore, the parker of
  Java's ``LockSupport`` and Rust's ``thread::park``: *acquired* means "no
  wake-up pending". :func:`unpark` releases it (a second release while a token
  is already pending is ignored), the owner thread blocks by acquiring it.
  A token is never lost, but one may be stale: every waiter re-checks its own
  condition after waking, so a spurious wake-up costs one loop, never
  correctness.
* ``cancel`` is written by other threads (and signal handlers) without any
  lock: it goes from ``None`` to a reason once and never back. Writers then
  call :func:`unpark`; the owner reads ``cancel`` after every wake-up, so the
  write is always seen (the token's release/acquire orders it).
* The scope stack (``scopes``, ``deadline``, ``visible_from``) is touched only
  by the owner thread. ``scopes`` holds timeout scopes and shields, innermost
  last; each scope saves the ``deadline``/``visible_from`` it replaced and
  puts them back when it is popped. Invariants, restored by every push and
  pop:

  - ``visible_from`` is the index just above the innermost shield (0 if
    there is none); thread cancellation is visible iff ``visible_from == 0``.
  - ``deadline`` is the earliest deadline among the timeout scopes at
    ``scopes[visible_from:]``, or ``None`` if they have none; ``-inf`` if
    one of them was cancelled by ``CancelScope.cancel()``.

  The one exception to "owner only": ``CancelScope.cancel()`` from another
  thread writes ``deadline`` (and the saved deadlines of the scopes above
  the cancelled one) under ``scope_lock``, bumping ``scope_gen`` before and
  after; the owner pushes and pops without the lock and redoes the push or
  pop under it if ``scope_gen`` moved meanwhile (see ``_scopes``).

* ``waiting_on``/``wait_since``/``wait_deadline`` say what the thread is
  parked on, since when, and until when by the wait's own timeout (``None``:
  none; the scopes' deadline is ``deadline``), for ``repr`` and
  introspection. They are set once the waiter is registered wherever its
  wake-up will come from.
* :data:`states` maps the ident of every live thread that has a state to
  it, so that introspection (``threado.threads()``) can find the state of
  another thread; entries are added when a state is installed and removed
  by the thread's end hook, under :data:`states_mutex` (a leaf lock).

This module knows nothing about primitives or threads; it sits just above
``_errors``.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import time

from ._errors import Reason, ThreadCancelled
from ._typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FREE_THREADED",
    "TIMEOUT_MAX",
    "ScopeLike",
    "ThreadState",
    "clock",
    "get_state",
    "local",
    "lookup_state",
    "states",
    "states_mutex",
    "thread_name",
    "unpark",
]

_monotonic = time.monotonic

#: Set by ``threado._sync_mode`` while a synchronous run exists: returns the
#: virtual time of the calling thread's run, or ``None`` outside any run.
virtual_now: Callable[[], float | None] | None = None


def clock() -> float:
    """The clock of every threado deadline: ``time.monotonic()``, or the
    virtual time of a synchronous run for its threads (one global test)."""
    now = virtual_now
    if now is not None:
        t = now()
        if t is not None:
            return t
    return _monotonic()


#: The longest single block on a lock (``threading.TIMEOUT_MAX``); longer
#: waits re-block after waking.
TIMEOUT_MAX: float = threading.TIMEOUT_MAX


def _free_threaded_build() -> bool:
    """Whether this interpreter was built without the GIL (``Py_GIL_DISABLED``).

    Such a build counts even when the GIL was turned back on at run time: the
    paths chosen for it are correct either way. ``sys.abiflags`` has a ``t``
    there; without ``abiflags`` (Windows) ask ``sysconfig``, which costs more
    to import.
    """
    flags = getattr(sys, "abiflags", None)
    if flags is not None:
        return "t" in flags
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


#: Built without the GIL (a free-threaded build): see ``_free_threaded_build``.
FREE_THREADED: bool = _free_threaded_build()


class ScopeLike(Protocol):
    """What the scope stack needs to know about an entry.

    ``cancel_called`` is ``True`` once a cancel scope was cancelled by
    ``CancelScope.cancel()`` (shields are never cancelled).
    """

    @property
    def deadline(self) -> float | None: ...

    @property
    def cancel_called(self) -> bool: ...


class Wakeup(Protocol):
    """A second way to wake a thread, for waits on descriptors."""

    def wake(self) -> None: ...


class Interrupter(Protocol):
    """An interruptible region's per-thread guard (``_interrupt``), as seen here."""

    def poke(self) -> None: ...

    def watch(self, deadline: float) -> None: ...


class Handle(Protocol):
    """A thread's ``threado.Thread`` handle, as the layers below threads see it.

    They only store it and test it against ``None``, so they need nothing of
    it; ``_threads``, which defines the class and alone sets the field, reads
    it back as a ``Thread`` through ``_threads.handle_of``.
    """


class ThreadState:
    """Everything threado keeps about one OS thread."""

    __slots__ = (
        "__weakref__",
        "cancel",
        "deadline",
        "depth",
        "end_hooks",
        "handle",
        "ident",
        "interrupt",
        "scope_gen",
        "scope_lock",
        "scopes",
        "sync",
        "token",
        "visible_from",
        "wait_deadline",
        "wait_since",
        "waiting_on",
        "wakeup",
        "watchers",
    )

    def __init__(self) -> None:
        # Acquired: no wake-up pending. See the module docstring.
        self.token = _thread.allocate_lock()
        self.token.acquire()
        # None, or (reason, source, message) of the first cancel; never reset.
        self.cancel: tuple[str, object, str] | None = None
        self.scopes: list[ScopeLike] = []
        self.deadline: float | None = None
        self.visible_from = 0
        # Guards the scope stack against CancelScope.cancel() from other
        # threads (see _scopes); created by the first scope push.
        self.scope_lock: _thread.RLock | None = None
        # Bumped by CancelScope.cancel() (under scope_lock) before and after
        # it writes: odd while a canceller writes (see _scopes).
        self.scope_gen = 0
        self.waiting_on: object = None
        self.wait_since = 0.0
        # The parked wait's own deadline (its timeout), for introspection.
        self.wait_deadline: float | None = None
        # Waits in progress: more than one only when a signal handler waits
        # while the thread is parked (see _parking.enter_wait).
        self.depth = 0
        # States of threads blocked in testing.wait_parked() on this one.
        self.watchers: list[ThreadState] | None = None
        self.wakeup: Wakeup | None = None
        # The threado.Thread handle, once there is one (set by _threads).
        self.handle: Handle | None = None
        self.ident: int | None = None
        # Called once when a thread that threado did not start ends.
        self.end_hooks: list[Callable[[], object]] | None = None
        # Its membership of a synchronous run (threado._sync_mode), or None.
        self.sync: object = None
        # The guard of the interruptible region the thread is in, else None
        # (set and cleared by its owner in _interrupt; read by unpark).
        self.interrupt: Interrupter | None = None

    # -- cancellation ------------------------------------------------------

    def pending_cancel(self) -> ThreadCancelled | None:
        """Return the cancellation this thread must raise now, or ``None``.

        Thread cancellation wins over deadlines; among expired deadlines the
        outermost visible scope wins, so that each block reports only its own
        expiry (an inner block does not claim an outer block's timeout).
        """
        c = self.cancel
        if c is not None and self.visible_from == 0:
            return ThreadCancelled(c[2], c[0], c[1])
        d = self.deadline
        if d is not None:
            now = clock()
            if now >= d:
                for scope in self.scopes[self.visible_from :]:
                    if scope.cancel_called:  # its cancel() made ``deadline`` -inf
                        return ThreadCancelled(f"{scope!r} was cancelled", Reason.EXPLICIT, scope)
                    sd = scope.deadline
                    if sd is not None and sd <= now:
                        return ThreadCancelled(
                            f"deadline of {scope!r} passed", Reason.DEADLINE, scope
                        )
        return None

    def check(self) -> None:
        """Raise the pending cancellation, if any (a blocking point's entry check)."""
        if self.cancel is not None or self.deadline is not None:
            exc = self.pending_cancel()
            if exc is not None:
                try:
                    raise exc
                finally:
                    exc = None  # no frame -> traceback -> exception cycle

    def effective_deadline(self, deadline: float | None) -> float | None:
        """Return the earlier of ``deadline`` and the scopes' deadline."""
        d = self.deadline
        if d is None:
            return deadline
        if deadline is None or d < deadline:
            return d
        return deadline

    def request_cancel(self, reason: str, source: object, message: str) -> None:
        """Mark the thread cancelled (once; the first reason stays) and wake it.

        Takes no lock, so it is safe from a signal handler.
        """
        if self.cancel is None:
            self.cancel = (reason, source, message)
        unpark(self)

    def __repr__(self) -> str:
        return f"<ThreadState ident={self.ident} waiting_on={self.waiting_on!r}>"


def unpark(state: ThreadState) -> None:
    """Give ``state``'s thread a wake-up token (idempotent, never blocks)."""
    try:
        state.token.release()
    except RuntimeError:
        pass  # a token is already pending: one is enough
    w = state.wakeup
    if w is not None:
        w.wake()
    # Every cancellation wakes its thread here: a thread inside an
    # interruptible region may have to receive it asynchronously.
    g = state.interrupt
    if g is not None:
        g.poke()


#: ident -> state of every live thread that has one (see the module docstring).
states: dict[int, ThreadState] = {}
# Reentrant: a signal handler that creates the state of a thread which holds
# it (copying ``states``) must not deadlock with its own thread.
states_mutex = _thread.RLock()


def _register(st: ThreadState, ident: int) -> None:
    with states_mutex:
        states[ident] = st


def thread_name(ident: int | None) -> str:
    """Return the name ``threading`` knows thread ``ident`` by (never blocks).

    Used by reprs, which must not take locks: one lock-free dictionary read.
    """
    if ident is None:
        return "nobody"
    t = getattr(threading, "_active", {}).get(ident)
    if t is not None:
        return str(t.name)
    return f"thread {ident}"


class _EndSentinel:
    """Stored in a foreign thread's thread-local storage.

    CPython drops a thread's thread-local values when the thread ends, so
    ``__del__`` runs then, in the ending thread: it is the end hook of a thread
    that threado did not start.
    """

    __slots__ = ("state",)

    def __init__(self, state: ThreadState) -> None:
        self.state = state

    def __del__(
        self,
        _get_ident: Callable[[], int] = _thread.get_ident,
        _finalizing: Callable[[], bool] = sys.is_finalizing,
    ) -> None:
        # Bound as defaults: the main thread's values are dropped during
        # interpreter finalization, when module globals may be gone; nobody
        # can wait for that thread's end any more, so there is nothing to do.
        if _finalizing():
            return
        # Only in the ending thread itself: in a forked child, CPython clears
        # the states of the threads that did not survive from the forking
        # thread, where their hooks could block on mutexes held at fork
        # time (the fork handler in _threads ends their handles instead).
        if _get_ident() != self.state.ident:
            return
        with states_mutex:
            if states.get(self.state.ident or 0) is self.state:
                del states[self.state.ident or 0]
        hooks = self.state.end_hooks
        self.state.end_hooks = None
        for hook in hooks or ():
            hook()


class Local(threading.local):
    # Class-level defaults: a thread that has no state reads None, without
    # the cost of an AttributeError (patched sockets ask on every call).
    state: ThreadState | None = None
    sentinel: _EndSentinel | None = None
    # The thread's interruptible-region guard, kept between regions (_interrupt).
    guard: object = None


#: The per-thread slot. Hot paths read ``local.state`` directly and fall back
#: to :func:`get_state` when it is ``None``.
local = Local()


def get_state() -> ThreadState:
    """Return the calling thread's state, creating it on first use."""
    st = local.state
    if st is None:
        return _new_state()
    return st


def _new_state() -> ThreadState:
    st = ThreadState()
    st.ident = threading.get_ident()
    st.end_hooks = []
    local.state = st
    local.sentinel = _EndSentinel(st)
    _register(st, st.ident)
    return st


def install_state(st: ThreadState, end_hooks: list[Callable[[], object]]) -> None:
    """Make ``st`` the calling thread's state (threads spawned by threado).

    ``end_hooks`` are called once, in this thread, when CPython clears its
    thread-local storage at the very end of the thread.
    """
    st.ident = threading.get_ident()
    st.end_hooks = end_hooks
    local.state = st
    local.sentinel = _EndSentinel(st)
    _register(st, st.ident)


def lookup_state() -> ThreadState | None:
    """Return the calling thread's state if it has one, without creating it."""
    return local.state


def _after_fork_in_child() -> None:
    states_mutex._at_fork_reinit()  # type: ignore[attr-defined]
    states.clear()
    st = lookup_state()
    if st is None:
        return
    # The forking thread is the only one left: nothing can be parked, and no
    # token or watcher from the parent is meaningful.
    st.token = _thread.allocate_lock()
    st.token.acquire()
    if st.scope_lock is not None:
        st.scope_lock = _thread.RLock()  # a canceller may have held it
    st.waiting_on = st.wait_deadline = None
    st.watchers = None
    st.wakeup = None
    st.ident = threading.get_ident()
    states[st.ident] = st


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
