"""The scheduler core of synchronous runs: members, their tokens, the turn.

The public side (``threado.run(..., synchronous=True)``, ``blocking()``, the
hooks the rest of threado calls) is ``_sync_mode``, which sits on this module.

``threado.run(main, synchronous=True, seed=None)`` makes ``main`` and every
threado thread spawned inside it (transitively) the *members* of a
:class:`Run`. Exactly one member holds the run's *turn* at a time; the
others wait for it. A member gives the turn away only at a blocking point,
so the code between two blocking points runs without any other member
interleaving. Members stay real OS threads.

Theory of operation
-------------------

*Where a thread blocks.* Every threado wait ends in ``_parking.block``,
which acquires the thread's wake-up token (``ThreadState.token``), and every
wake-up releases it. A member's token is a :class:`SyncToken`, so no hook on
the wait path is needed: acquiring it *parks* the member in the run (it
gives the turn to the next member and waits for its turn to come back), and
releasing it makes a parked member *ready*. Outside runs tokens are plain
``_thread`` locks, untouched: the cost outside a run is nil on the wait
path, one global test in lock acquisition and one thread-state test in
``checkpoint()``; :func:`~threado._state.clock` tests a global too, but it
is a Python function now rather than ``time.monotonic`` itself (about
20 ns more per call, on 3.13).

*The turn.* Each member has a ``baton``, a ``_thread`` lock held while it is
not its turn; whoever passes the turn releases the baton of the chosen
member, which then acquires it (it may already be released: a semaphore of
one, so order does not matter). All scheduling state is guarded by the run's
``mutex``. Under it:

* ``current`` is the member holding the turn, or ``None`` when no member can
  run (the run is *idle*: it waits for a member blocked *outside*, or for a
  wake-up from a thread outside the run, to make one ready);
* every live member is in exactly one status: ``RUNNING`` (``current``),
  ``READY`` (in ``ready``, waiting for the turn), ``PARKED`` (in a threado
  wait, with a virtual ``deadline`` or none), ``OUTSIDE`` (in
  :func:`blocking` or a descriptor wait: counted in ``outside``);
* a ``PARKED`` member whose token is released becomes ``READY`` at once,
  appended to ``ready``: wake-ups made by the turn holder therefore enter the
  order in the order they were made (a cancel from inside the run wakes its
  target in turn order).

*Choosing.* When the holder parks, yields or leaves, the :class:`Strategy`
chooses among ``ready`` (plus the holder itself at a yield). FIFO takes the
first (inlined, and without recording a schedule: a run without a seed
replays by itself); :class:`RandomStrategy` draws from ``random.Random(seed)``;
:class:`PCTStrategy` runs the highest priority; :class:`PrefixStrategy`
follows a recorded list of choices, then takes the first (DFS and replay).
Every decision with more than one option is recorded as ``(choice,
options, yield)``: the *schedule*. Choices index an ordered list (``ready``
in arrival order, the yielding thread first), so a schedule replays exactly
whenever the program itself is deterministic given its interleaving.

*One CPU.* The thread given the turn is pinned to the run's CPU by the
thread giving it, just before its baton is released, and gives itself its
own mask back as it wakes (``unpin_to``); a spawned member is born on that
CPU. Why and how: ``_sync_cpu``.

*Yields.* With a strategy that preempts (every seeded one), ``checkpoint()``
and the acquisition of a threado ``Lock``/``RLock`` are possible switches;
``sleep(0)`` always is. ``spawn()`` is not: the new member joins ``ready``.

*Virtual time.* Inside a run, :func:`threado.clock` returns the run's
virtual ``now`` (it starts at the real monotonic time). Time passes only
when nothing is ready: ``now`` jumps to the earliest deadline of a parked
member, as trio's autojump clock does, and the members due wake in deadline
order. A run with ``sleep(3600)`` ends at once, and timeouts fire
deterministically. A wait of ``threading.TIMEOUT_MAX`` or more counts as
having no deadline.

*Exact deadlock.* When nothing is ready, no member has a deadline, none
is outside (other than in a threado wait with no timeout: it counts as
parked) and none waits in ``threado.wait()`` for a signal or a
``concurrent.futures`` future not done yet, no member can ever run again
(threads outside the run cannot be seen: see the docs). The member that
parked last is made ready with its ``deadlocked`` flag (or, waiting inside
``blocking()``, has its baton released); its wait raises
:class:`~threado.Deadlock` with the §8 report. A member parking so inside
``blocking()`` while the run is idle triggers that test itself.

*Leaving.* A spawned member leaves the run at its very end (an end hook,
after the hooks that wake its joiners), passing the turn on. When ``main``
returns the run *dissolves*: remaining members get their own tokens back
and run freely, in real time: their clock keeps the run's virtual time but
runs at the real rate from then on (an offset, until they end), so the
deadlines they set stay as far away as they were. An asynchronous
exception (``KeyboardInterrupt``) while a thread waits for its turn
dissolves the run too, and so does a signal handler that makes a threado
wait then: the order cannot be kept.
"""

from __future__ import annotations

import _thread
import sys
import time

from . import _sync_cpu
from ._errors import Deadlock
from ._state import TIMEOUT_MAX, ThreadState
from ._typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from _thread import LockType
    from collections.abc import Callable
    from typing import Any, Final

    from ._schedule import Strategy

__all__ = [
    "GONE",
    "OUTSIDE",
    "PARKED",
    "READY",
    "RUNNING",
    "Member",
    "Run",
    "SyncToken",
    "offsets",
    "runs_mutex",
    "yield_turn",
]

RUNNING: Final = 0
READY: Final = 1
PARKED: Final = 2
OUTSIDE: Final = 3
GONE: Final = 4


class Member:
    """One thread of a run."""

    __slots__ = (
        "baton",
        "deadline",
        "deadlocked",
        "hooked",
        "outside_forever",
        "outside_parked",
        "parked_at",
        "pending",
        "prio",
        "real",
        "run",
        "seq",
        "starting",
        "state",
        "status",
        "tid",
        "unpin_to",
    )

    def __init__(self, run: Run, state: ThreadState, seq: int) -> None:
        self.run = run
        self.state = state
        self.seq = seq
        # Held while it is not this member's turn (see the module docstring).
        self.baton = _thread.allocate_lock()
        self.baton.acquire()
        self.status = READY
        # A wake-up token is pending (the SyncToken's "released").
        self.pending = False
        self.deadline: float | None = None
        self.deadlocked = False
        # Its thread's end hook will call leave() (see first_turn).
        self.hooked = False
        # Parked in a wait while OUTSIDE: its baton is its token then.
        self.outside_parked = False
        # ... with no timeout: only a wake-up can end it.
        self.outside_forever = False
        self.parked_at = 0
        self.prio = 0.0
        # The thread's own token, given back when it leaves the run.
        self.real: LockType = state.token
        # Its own mask while it starts a thread pinned (see Run.start_pinned).
        self.starting: set[int] | None = None
        # Its thread's native id, once known (see "One CPU").
        self.tid: int | None = None
        # Pinned by whoever gave it the turn: the mask to give back then.
        self.unpin_to: set[int] | None = None

    # -- the token's side (any thread for wake; the member's own for park) ----

    def wake(self) -> None:
        """Release the member's token (any thread, also outside the run): its
        ``SyncToken.release``."""
        m = self
        run = m.run
        with run.mutex:
            if m.status == GONE:
                try:
                    m.real.release()  # it left: its own token again
                except RuntimeError:
                    pass
                return
            if m.pending:
                return
            m.pending = True
            if m.status == PARKED:
                m.status = READY
                m.deadline = None
                run.ready.append(m)
                if run.current is None:
                    run._dispatch_locked(None)
            elif m.outside_parked:
                m.outside_parked = False
                m.baton.release()

    def park(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the member's token (its ``SyncToken.acquire``): its thread
        blocks in a threado wait."""
        m = self
        run = m.run
        nxt: Member | None = None
        with run.mutex:
            status = m.status
            if status == GONE:
                real = m.real
            elif m.pending:
                m.pending = False
                return True
            elif not blocking:
                return False
            elif status == OUTSIDE:
                got = run._park_outside(m, timeout)
                if not m.deadlocked:
                    return got
                m.deadlocked = False
            elif status != RUNNING or run.current is not m:
                # A signal handler waits while its thread waits for the turn:
                # the order cannot be kept; the run's threads go on freely.
                status = GONE
                real = m.real
            else:
                ready = run.ready
                if ready:  # the hot path: pass the turn
                    if run.fifo:
                        run.steps += 1
                        picked = ready.pop(0)
                    else:
                        picked = ready.pop(run._choose(ready, False, m))
                    picked.status = RUNNING
                    run.current = nxt = picked
                    run._pin_locked(picked)
                    # Its baton first, our bookkeeping after: unpinned,
                    # the next thread's OS wake-up (tens of microseconds
                    # on a VM) starts now and overlaps the rest of our
                    # turn; pinned, it runs once we block. Under the
                    # mutex, so free-threaded it waits for us there.
                    picked.baton.release()
                m.status = PARKED
                if timeout < 0 or timeout >= TIMEOUT_MAX:
                    m.deadline = None
                else:
                    d = run.now + timeout
                    if d <= run.now:  # a timeout too small to move the clock
                        import math  # (not at import: it is a shared library)

                        d = math.nextafter(run.now, math.inf)
                    m.deadline = d
                run._parks += 1
                m.parked_at = run._parks
                if nxt is None:
                    run._next_locked(m)
        if status == GONE:
            if m.status != GONE:
                run.dissolve()
            return real.acquire(blocking, timeout)
        if status == OUTSIDE:
            dead = True  # deadlocked in a wait inside blocking()
        else:
            try:
                _wait_turn(m)  # our turn again (inlined _await_turn)
            except BaseException:
                run._turn_lost(m)
                raise
            with run.mutex:
                if m.status == GONE:
                    return True  # dissolved meanwhile: a spurious wake-up
                if m.deadlocked:
                    m.deadlocked = False
                    dead = True
                else:
                    dead = False
                    got = m.pending
                    m.pending = False
        if dead:
            exc = run._report(m)
            try:
                raise exc
            finally:
                exc = None  # type: ignore[assignment]  # no frame cycle
        return got


class SyncToken:
    """A member's wake-up token: acquiring parks in the run, releasing readies.

    ``acquire`` and ``release`` are the member's bound ``park`` and ``wake``
    (one Python call each on the wait path, not two).
    """

    __slots__ = ("acquire", "member", "release")

    def __init__(self, member: Member) -> None:
        self.member = member
        self.acquire: Callable[..., bool] = member.park
        self.release: Callable[[], None] = member.wake

    def locked(self) -> bool:
        return not self.member.pending


# -- the run ----------------------------------------------------------------

#: Guards ``offsets`` (and, in ``_sync_mode``, the count of active runs).
runs_mutex = _thread.allocate_lock()
#: Threads that outlived their run: virtual minus real time when it dissolved.
offsets: dict[ThreadState, float] = {}


def _wait_turn(m: Member) -> None:
    """Wait for ``m``'s baton (its turn), in ``m``'s thread; then give the
    thread its own mask back if whoever gave it the turn pinned it."""
    m.baton.acquire()
    if m.unpin_to is not None:
        _unpin_member(m)


def _unpin_member(m: Member) -> None:
    """In ``m``'s thread: give it the mask it had when it was pinned, if it was.

    Also after a wait for the turn that raised, once the run has dissolved
    (no one can pin it after that): the turn may have been given, and the
    thread pinned, as the wait was raising.
    """
    mask = m.unpin_to
    if mask is not None:
        _sync_cpu.unpin(mask)
        # Cleared after: an exception raised at the call (KeyboardInterrupt)
        # leaves it for the caller's handler to give back.
        m.unpin_to = None


def _woken_from_outside(what: object) -> bool:
    """Whether a ``threado.wait()`` waits for what only the outside can bring:
    a signal, or a ``concurrent.futures`` future not done yet (its executor's
    threads are not in the run)."""
    items = getattr(what, "items", None)
    if type(what).__name__ != "_Waiting" or not isinstance(items, list):
        return False
    from ._conditions import signalled

    return any(
        isinstance(x, signalled)
        or (type(x).__module__.startswith("concurrent.futures") and _future_may_wake(x))
        for x in items
    )


def _future_may_wake(f: Any) -> bool:
    """Whether future ``f`` may still wake its waiters (called under a run's mutex).

    A future notifies its waiters under its ``_condition``, right after it
    becomes done; their wake-up takes the run's mutex. So the condition is
    only tried: busy, the future may be completing, its wake-up on the way;
    free, a done future has woken its waiters already (a waiter still parked
    has consumed that wake-up and waits for something else: an
    ``ALL_COMPLETED`` wait).
    """
    cond = getattr(f, "_condition", None)
    if cond is None or not cond.acquire(False):
        return True
    try:
        return getattr(f, "_state", None) not in ("FINISHED", "CANCELLED_AND_NOTIFIED")
    finally:
        cond.release()


class Run:
    """The scheduling state of one synchronous run (see the module docstring)."""

    def __init__(self, strategy: Strategy) -> None:
        # Re-entrant: a signal handler's cancel (an unpark) can reach wake()
        # in a thread that is inside the run's critical section.
        self.mutex = _thread.RLock()
        self.strategy = strategy
        #: First come, first served (no seed): no choices, no schedule kept.
        self.fifo = strategy.fifo
        self.members: list[Member] = []  # live members, in join order
        self.ready: list[Member] = []  # in the order they became ready
        self.current: Member | None = None
        self.outside = 0
        self.now = time.monotonic()
        self.dissolved = False
        #: The schedule: (choice, options, at a yield) of each decision with options.
        self.decisions: list[tuple[int, int, bool]] = []
        self.steps = 0
        #: The first Deadlock raised in the run.
        self.deadlock: Deadlock | None = None
        #: The threads parked with no deadline when the run ended.
        self.stranded: list[ThreadState] = []
        self._seq = 0
        self._parks = 0
        #: The run's CPU (a mask) that a thread given the turn is pinned to,
        #: or ``None``: no pinning (see ``_sync_cpu``).
        self.cpu = _sync_cpu.run_cpu()

    # -- membership (under mutex) ---------------------------------------------

    def _join_locked(self, st: ThreadState) -> Member:
        m = Member(self, st, self._seq)
        self._seq += 1
        self.members.append(m)
        self.strategy.on_join(m)
        st.sync = m
        st.token = cast("LockType", SyncToken(m))
        return m

    def _remove_locked(self, m: Member) -> None:
        if m.status == OUTSIDE:
            self.outside -= 1
        if m in self.ready:
            self.ready.remove(m)
        m.status = GONE
        self.members.remove(m)
        st = m.state
        st.sync = None
        st.token = m.real
        if m.pending:
            m.pending = False
            try:
                m.real.release()
            except RuntimeError:
                pass

    # -- passing the turn (under mutex) ------------------------------------

    def _choose(self, options: list[Member], yielding: bool, decider: Member | None) -> int:
        self.steps += 1
        if self.fifo:  # no choice to make, and no schedule to replay
            return 1 if yielding and len(options) > 1 else 0
        idx = self.strategy.pick(options, yielding, self.steps, decider)
        if len(options) > 1:
            self.decisions.append((idx, len(options), yielding))
        return idx

    def _give_locked(self, m: Member) -> None:
        m.status = RUNNING
        self.current = m
        self._pin_locked(m)
        m.baton.release()

    def _pin_locked(self, m: Member) -> None:
        """Pin the thread of ``m``, about to be given the turn, to the run's
        CPU, keeping its mask to give back in ``m.unpin_to`` (see "One CPU")."""
        cpu = self.cpu
        tid = m.tid
        if cpu is None or tid is None:
            return
        try:
            mask = _sync_cpu.pin(tid, cpu)
        except OSError:  # the CPU was taken away (a cpuset changed)
            self.cpu = None  # no pinning from now on
        else:
            if mask is not None:  # (else pinned already: born so, or its own mask)
                m.unpin_to = mask

    def _dispatch_locked(self, decider: Member | None) -> None:
        idx = self._choose(self.ready, False, decider)
        self._give_locked(self.ready.pop(idx))

    def _advance_locked(self) -> bool:
        """Jump the clock to the earliest deadline; ready those due."""
        timed = [x for x in self.members if x.status == PARKED and x.deadline is not None]
        if not timed:
            return False
        t = min(cast(float, x.deadline) for x in timed)
        if t > self.now:
            self.now = t
        for x in sorted(timed, key=lambda x: (x.deadline, x.seq)):
            if cast(float, x.deadline) <= self.now:
                x.status = READY
                x.deadline = None
                self.ready.append(x)
        return True

    def _next_locked(self, decider: Member | None) -> None:
        """The turn holder gave the turn up: pass it on, or go idle."""
        self.current = None
        if not self.ready and not self._advance_locked():
            parked = self._stuck_locked()
            if parked is None:
                return  # idle until something outside readies a member
            if not parked or any(_woken_from_outside(x.state.waiting_on) for x in parked):
                return
            victim = max(parked, key=lambda x: x.parked_at)
            victim.deadlocked = True
            if victim.status == OUTSIDE:
                victim.outside_parked = False  # raises in its wait, still outside
                victim.baton.release()
                return
            victim.status = READY
            self.ready.append(victim)
        self._dispatch_locked(decider)

    def _stuck_locked(self) -> list[Member] | None:
        """The members that only a wake-up can move on: parked with no
        deadline, or waiting with no timeout inside ``blocking()``. ``None``
        if a member is outside and not in such a wait: it may come back."""
        stuck = []
        for x in self.members:
            if x.status == PARKED:
                stuck.append(x)
            elif x.status == OUTSIDE:
                if not (x.outside_parked and x.outside_forever):
                    return None
                stuck.append(x)
        return stuck

    def _await_turn(self, m: Member) -> None:
        try:
            _wait_turn(m)
        except BaseException:
            self._turn_lost(m)
            raise

    def _turn_lost(self, m: Member) -> None:
        """An asynchronous exception (KeyboardInterrupt) in ``m``'s wait for
        the turn: the run cannot go on in order; its threads run free. Then
        ``m``'s thread gets its mask back if it was pinned as the wait raised
        (after dissolving: no one can pin it then)."""
        self.dissolve()
        _unpin_member(m)

    def start_pinned(
        self, spawner: Member, start: Callable[[], None], birth: list[_sync_cpu.Birth]
    ) -> None:
        """``spawner`` starts the thread of a new member (``start``) pinned to
        the run's CPU, where the thread is then born; its first turn gives it
        ``spawner``'s own mask, appended to ``birth`` with the pin (see
        :func:`_sync_cpu.born_mask`).

        Only while ``spawner`` holds the turn: it is on the run's CPU then.
        """
        cpu = self.cpu
        if cpu is None or spawner.status != RUNNING:
            start()
            return
        outer = spawner.starting
        if outer is not None:  # a spawn inside a start (a signal handler's)
            birth.append((outer, cpu))
            start()
            return
        try:
            mask = _sync_cpu.pin_self(cpu)
        except OSError:  # the CPU was taken away (a cpuset changed)
            self.cpu = None  # no pinning from now on
            start()
            return
        birth.append((mask, cpu))
        spawner.starting = mask
        try:
            start()
        finally:
            spawner.starting = None
            if _sync_cpu.pinned_to(cpu):  # (not a mask a signal handler set meanwhile)
                _sync_cpu.unpin(mask)

    # -- the token's side ----------------------------------------------------

    def _park_outside(self, m: Member, timeout: float) -> bool:
        """A wait of a member inside ``blocking()``: not in turn, real time.

        Called with the mutex held (re-entrant, so released around the block).
        """
        m.outside_parked = True
        m.outside_forever = not 0 <= timeout < TIMEOUT_MAX
        self._parks += 1
        m.parked_at = self._parks
        if m.outside_forever and self.current is None:
            self._next_locked(None)  # the run is idle: can anyone still run?
        self.mutex.release()
        # The baton is held (its turn's), so acquiring it waits for a waker
        # (or dissolve()) to release it; acquired, it is held again after.
        woken = False
        try:
            woken = m.baton.acquire(True, timeout if 0 <= timeout < TIMEOUT_MAX else -1)
        finally:
            self.mutex.acquire()
            if m.outside_parked:
                m.outside_parked = False  # nobody released the baton
            elif not woken:
                m.baton.acquire()  # released after the wait gave up: take it back
            got = m.pending
            m.pending = False
        return got

    def _report(self, m: Member) -> Deadlock:
        from ._deadlock import sync_report

        with self.mutex:
            others = [x.state for x in self._stuck_locked() or [] if x is not m]
        exc = sync_report(m.state, others, sys._getframe(2))
        if self.deadlock is None:
            self.deadlock = exc
        return exc

    # -- yields, outside, leaving ------------------------------------------

    def go_outside(self, m: Member) -> bool:
        with self.mutex:
            if m.status != RUNNING or self.current is not m:
                return False
            m.status = OUTSIDE
            self.outside += 1
            self._next_locked(m)
            return True

    def come_back(self, m: Member) -> None:
        with self.mutex:
            if m.status != OUTSIDE:
                return  # dissolved meanwhile
            self.outside -= 1
            m.status = READY
            self.ready.append(m)
            if self.current is None:
                self._dispatch_locked(None)
        self._await_turn(m)

    def leave(self, m: Member) -> None:
        with self.mutex:
            if m.status == GONE:
                return
            was_current = self.current is m
            self._remove_locked(m)
            if was_current:
                self._next_locked(None)

    def dissolve(self) -> None:
        """End the run: every member gets its own token back and runs freely."""
        with self.mutex:
            if self.dissolved:
                return
            self.dissolved = True
            self.stranded = [
                m.state for m in self.members if m.status == PARKED and m.deadline is None
            ]
            # The threads that go on keep the clock they set deadlines by.
            off = self.now - time.monotonic()
            with runs_mutex:
                for m in self.members:
                    if m.hooked:
                        offsets[m.state] = off
            for m in list(self.members):
                waiting = m.status in (READY, PARKED) or m.outside_parked
                m.outside_parked = False
                self._remove_locked(m)
                if waiting:
                    try:
                        m.baton.release()
                    except RuntimeError:
                        pass
            self.ready.clear()
            self.current = None

    @property
    def schedule(self) -> list[int]:
        """The choices made, one per decision that had several options."""
        return [d[0] for d in self.decisions]


def yield_turn(st: ThreadState, always: bool) -> None:
    """A possible switch of ``st``'s thread (``checkpoint()``, a lock
    acquisition; ``always``: ``sleep(0)``), if it is in a run.

    A module function, not a method: it is the whole hot path of a hand-off
    by ``sleep(0)``, one Python call.
    """
    m: Member | None = st.sync  # type: ignore[assignment]
    if m is None:
        return
    run = m.run
    strategy = run.strategy
    if not (always or strategy.preempts):
        return  # FIFO: only sleep(0) yields (the strategy never changes)
    with run.mutex:
        ready = run.ready
        if m.status != RUNNING or not ready or run.current is not m:
            return
        run.steps += 1
        if run.fifo:  # sleep(0): the first ready thread runs
            nxt = ready.pop(0)
        else:
            options = [m, *ready]
            idx = strategy.pick(options, True, run.steps, m)
            run.decisions.append((idx, len(options), True))  # always 2+ options
            if idx == 0:
                return
            nxt = options[idx]
            ready.remove(nxt)
        nxt.status = RUNNING
        run.current = nxt
        run._pin_locked(nxt)
        # Its baton first, the bookkeeping after (see Member.park).
        nxt.baton.release()
        m.status = READY
        ready.append(m)
    try:
        _wait_turn(m)
    except BaseException:
        run._turn_lost(m)
        raise
