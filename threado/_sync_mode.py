"""Synchronous runs, the public side: ``run(..., synchronous=True)``, ``blocking()``, hooks.

``threado.run(main, synchronous=True, seed=None)`` makes ``main`` and every
threado thread spawned inside it (transitively) the members of a run whose
threads take turns, switching only where they block. How the turn passes,
virtual time and exact deadlock are the scheduler core's, ``_sync_run``
(read its docstring first). This module starts and ends runs
(:func:`execute`), installs the hooks the rest of threado calls while a run
exists (the virtual clock for ``_state.clock``, the switch before a lock
acquisition for ``_locks``), and holds what other layers call:
:func:`yield_turn` (``checkpoint()``, ``sleep(0)``), :func:`join_spawned`,
:func:`start_spawned`, :func:`first_turn` and :func:`leave` (``_threads``), and :func:`blocking`,
also used by members' descriptor waits (their poller gives the turn away
while it blocks).

The hooks are installed while at least one run is active, or while a thread
that outlived its run still keeps the run's clock (``_sync_run.offsets``),
and removed after; outside runs they cost one global test each.
"""

from __future__ import annotations

import time
from types import TracebackType

from . import _state
from ._errors import Reason
from ._state import ThreadState, local
from ._sync_cpu import Birth, born_mask, pin_id, unpin
from ._sync_run import (
    GONE,
    RUNNING,
    Member,
    Run,
    offsets,
    runs_mutex,
    yield_turn,
)
from ._typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._schedule import Strategy

__all__ = [
    "blocking",
    "execute",
    "first_turn",
    "join_spawned",
    "leave",
    "run_main",
    "start_spawned",
    "yield_turn",
]

_active_runs = 0


def _virtual_now() -> float | None:
    """The calling thread's virtual time, or ``None`` outside any run.

    A thread that outlived its run keeps the run's clock, now running at
    the real rate: the deadlines it set in virtual time stay as far away.
    """
    st = local.state
    if st is None:
        return None
    m: Member | None = st.sync  # type: ignore[assignment]
    if m is not None:
        return m.run.now
    off = offsets.get(st)
    return None if off is None else time.monotonic() + off


def _switch_before_acquire() -> None:
    st = local.state
    if st is not None and st.sync is not None:
        yield_turn(st, False)


# -- hooks called by the rest of threado --------------------------------------------


def _member(st: ThreadState | None) -> Member | None:
    return None if st is None else cast("Member | None", st.sync)


def join_spawned(spawner: ThreadState, st: ThreadState) -> None:
    """``spawner``, a member, spawns the thread of ``st``: it joins the order now."""
    m = _member(spawner)
    if m is None:
        return
    run = m.run
    with run.mutex:
        if m.status == GONE:
            return
        new = run._join_locked(st)
        run.ready.append(new)
        if run.current is None:  # spawned from inside blocking(): the run was idle
            run._dispatch_locked(None)


def start_spawned(
    spawner: ThreadState | None, start: Callable[[], None], birth: list[Birth]
) -> None:
    """``spawner``, a member, starts the thread it spawned (``start``): on
    the run's CPU, so that the thread's first wait for its turn does not
    move it there (see ``Run.start_pinned``)."""
    m = _member(spawner)
    if m is None:
        start()
    else:
        m.run.start_pinned(m, start, birth)


def first_turn(st: ThreadState, birth: Birth | None = None) -> None:
    """In a spawned member's thread, first thing: wait for its first turn.

    ``birth``: the thread was born pinned to its run's CPU (its own mask,
    and the pin).
    """
    mask = None if birth is None else born_mask(birth)
    m = _member(st)
    if m is None:
        if mask is not None:
            unpin(mask)  # the run ended before the thread began
        return
    if st.end_hooks is not None:
        st.end_hooks.append(lambda: leave(st, m))
    with m.run.mutex:
        m.hooked = st.end_hooks is not None
        if mask is not None:
            m.unpin_to = mask  # born pinned: its first turn gives it back
        m.tid = pin_id()  # from now on its turns come pinned
    _wrap_poller(m)
    m.run._await_turn(m)


def leave(st: ThreadState, m: Member | None = None) -> None:
    """``st``'s thread leaves its run (its end, or a failed start)."""
    if m is None:
        m = _member(st)
    if m is not None:
        m.run.leave(m)
    if st in offsets:
        with runs_mutex:
            offsets.pop(st, None)
            _uninstall_locked()


class _OutsidePoller:
    """A member's descriptor poller: a blocking poll gives the turn away."""

    __slots__ = ("inner", "member")

    def __init__(self, inner: Any, member: Member) -> None:
        self.inner = inner
        self.member = member

    def register(self, fd: int, events: int = 7) -> None:
        self.inner.register(fd, events)

    def modify(self, fd: int, events: int) -> None:
        self.inner.modify(fd, events)

    def unregister(self, fd: int) -> None:
        self.inner.unregister(fd)

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        m = self.member
        if timeout == 0 or m.status == GONE:
            return cast("list[tuple[int, int]]", self.inner.poll(timeout))
        with _Blocking():
            return cast("list[tuple[int, int]]", self.inner.poll(timeout))


def _wrap_poller(m: Member) -> None:
    """Make the member's descriptor waits give the turn away while they block."""
    from ._fdwait import _wakeup_for

    try:
        w = _wakeup_for(m.state)
    except OSError:  # no descriptor left: its descriptor waits keep the turn
        return
    if not isinstance(w.poller, _OutsidePoller):
        w.poller = _OutsidePoller(w.poller, m)  # type: ignore[assignment]


def _unwrap_poller(st: ThreadState) -> None:
    w = st.wakeup
    poller = getattr(w, "poller", None)
    if isinstance(poller, _OutsidePoller):
        w.poller = poller.inner  # type: ignore[union-attr]


class _Blocking:
    __slots__ = ("member",)

    def __init__(self) -> None:
        self.member: Member | None = None

    def __enter__(self) -> None:
        m = _member(local.state)
        if m is not None and m.run.go_outside(m):
            self.member = m

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        m = self.member
        if m is not None:
            self.member = None
            m.run.come_back(m)


def blocking() -> _Blocking:
    """Give the turn of a synchronous run away while the block runs.

    For code that blocks outside threado (an unpatched C call, a plain
    ``threading`` wait): the other threads of the run go on meanwhile, and
    the thread waits for its turn again at the end of the block. Outside a
    synchronous run (or nested in another ``blocking()``) it does nothing.
    Not a blocking point itself; leaving the block waits for the turn.
    """
    return _Blocking()


def _activate() -> None:
    global _active_runs
    from . import _locks  # imports _scopes, which imports this module

    with runs_mutex:
        _active_runs += 1
        _state.virtual_now = _virtual_now
        _locks.sync_switch = _switch_before_acquire


def _deactivate() -> None:
    global _active_runs

    with runs_mutex:
        _active_runs -= 1
        _uninstall_locked()


def _uninstall_locked() -> None:
    from . import _locks

    if not _active_runs:
        _locks.sync_switch = None
        if not offsets:
            _state.virtual_now = None


def run_main(func: Callable[..., Any], args: tuple[Any, ...], seed: int | None) -> Any:
    """``threado.run(func, *args, synchronous=True, seed=seed)``."""
    from ._schedule import (  # here: not a cost of ``import threado``
        FIFOStrategy,
        RandomStrategy,
        check_seed,
    )

    strategy = FIFOStrategy() if seed is None else RandomStrategy(check_seed(seed))
    run, result, exc = execute(func, args, strategy)
    for st in run.stranded if run.deadlock is not None else ():
        # Parked for good by the deadlock: only the run could wake them, and it is
        # over. Cancelled, they run their cleanup and end (no hang at exit).
        st.request_cancel(Reason.EXPLICIT, None, "stranded by its run's deadlock")
    if exc is not None:
        try:
            raise exc
        finally:
            exc = None
    return result


def execute(
    func: Callable[..., Any], args: tuple[Any, ...], strategy: Strategy
) -> tuple[Run, Any, BaseException | None]:
    """Run ``func(*args)`` as the main thread of a new synchronous run.

    Returns:
        ``(run, result, None)`` or ``(run, None, exception)``.

    Raises:
        RuntimeError: the calling thread is already in a synchronous run.
    """
    st = _state.get_state()
    if st.sync is not None:
        raise RuntimeError("threado.run(synchronous=True) inside a synchronous run")
    run = Run(strategy)
    _activate()
    try:
        with run.mutex:
            m = run._join_locked(st)
            m.tid = pin_id()
            m.pending = m.real.acquire(False)  # carry a pending wake-up over
            m.status = RUNNING
            run.current = m
        try:
            _wrap_poller(m)
            try:
                return run, func(*args), None
            except BaseException as exc:
                return run, None, exc
        finally:
            run.dissolve()
            _unwrap_poller(st)
    finally:
        _deactivate()
