"""Deadlock detection: raise at the wait that would never end, never elsewhere.

Importing this module sets ``_parking.on_park`` (the one hook slot the
parking layer owns), which turns detection on; :func:`deadlock_detection`
turns it off and on again. ``import threado`` does not import it: it puts a
stand-in in the slot that imports this module at the first park with no
deadline and calls the real hook from there (so detection is on from the
start, and a program that never parks without a deadline never loads it).

The rules
---------

A thread is *stuck* when all of the following hold, each read without a lock:

1. it is registered in ``_parking.parked`` as parked in
   :meth:`WaitQueue.wait` with no deadline at all: neither the wait's own
   timeout nor an enclosing scope's (``ThreadState.deadline``), and not in a
   nested wait (a signal handler's);
2. its waiter has not been handed anything (``Waiter.result is PENDING``), no
   wake-up token is pending (``token.locked()``), and no cancellation is
   pending (``cancel is None``, shielded or not);
3. it is blocked in that very wait: its innermost frames, as
   ``sys._current_frames()`` shows them, are parking code (``block``, this
   module's hook) up to the registered ``WaitQueue.wait`` frame, so a thread
   running a signal handler or a finalizer in the middle of its wait is not
   stuck;
4. the wait is one we *recognise*: its caller is the waiting method of a
   threado ``Lock``/``RLock``, ``Condition``, ``Semaphore``, ``Event``,
   ``Barrier``, ``Queue``, thread join or ``ThreadGroup`` wait, and the object
   announced is of that type. Anything else (descriptor, socket, process,
   signal and timer waits, ``threado.wait()``, waits added later) counts as
   able to make progress.

**Global rule.** The set of threads Python knows is the union of
``threading.enumerate()``, ``sys._current_frames()`` and
``sys._current_exceptions()`` (the last one also lists thread states that
have no frame yet, on 3.12 and later). If every one of them is stuck, every
join waits for a thread of the set, every group waits only for threads of
the set, and no Python signal handler is installed that could run and wake
a wait (``SIGINT``'s default handler and pytest-timeout's only raise, so
they do not count), then no thread can ever end any of these waits: the
thread whose park completed the picture raises :class:`~threado.Deadlock`.

**Cycle rule.** The parking thread waits for an ``RLock`` owned by B, B is
stuck waiting for an ``RLock`` owned by C, ..., and one is owned by the
parking thread: only an owner releases an ``RLock``, and every owner in the
cycle is stuck, so none ever will. The parking thread raises, whatever
other threads do. (A ``Lock`` or a semaphore can be released by any thread,
so they count only in the global rule.)

Who raises
----------

The thread whose park completed the picture raises, unless it is a
``Condition.wait`` re-acquiring its lock: that wait must return or raise
with the lock held (SPEC §2, as for a cancellation), and the lock is the
one it can never get. It stays parked, still stuck, and wakes another
thread of the deadlock (the owner of the lock it wants first), whose wait
runs the analysis again on that wake-up (``_parking`` calls the hook again
on a wake-up that brings nothing) and raises; unwinding, that thread
usually releases what the re-acquire waits for. Only when every thread
involved is re-acquiring does the re-acquire raise itself, without its lock:
nobody else could.

Cost and races closed
---------------------

Parking without a deadline costs an O(1) registration in
``_parking.parked`` (a tuple and a dict store, made by the parking thread
itself, so no lock: each key has one writer, and readers use single dict
operations, atomic with or without the GIL), the hook's two tests, and a
dict removal to leave. The global analysis runs only when more threads are
registered than ``_thread._count()`` (the threads started by ``_thread``,
plus the main thread) and none of them has been handed anything or
cancelled; the cycle analysis only when the owner of the awaited ``RLock``
is itself registered. Waits with a deadline and uncontended operations do
nothing at all. Analyses are serialised by ``_analysis_mutex``, taken with
no other lock held, and no other lock is taken while holding it (reading
a thread's state takes none: the analysis can never block a thread it
inspects, nor deadlock with one). So two threads closing the same deadlock
at once cannot both raise: the first to decide removes its own record
before releasing the mutex, and the second then sees it running.

The races that had to be closed:

* **Hand-off not yet seen.** A waker hands a value (a lock, a permit, an
  item, a notify) to a waiter and releases its token; the waiter has not
  run yet. Its ``result`` is no longer ``PENDING`` (or its token is
  released): it is not stuck.
* **A moving picture.** Threads are read one after the other, so the whole
  analysis runs twice, with a short pause between (which also lets a thread
  that was just started get its first frame), and a deadlock is declared
  only if the second pass finds exactly the same park records (the same
  registration objects, so no thread left and re-parked) all still stuck.
  A thread that handed something over before parking did so before its
  registration, so the second pass sees the value in the other's waiter.
* **The decision racing a hand-off to ourselves.** The raising thread
  leaves its wait queue through the abandon path (as a cancellation does):
  if a value was handed to it after all, the wait returns it instead of
  raising, so nothing is lost.

What is not seen: native threads without a Python thread state, or that
call back into Python to wake a threado wait (turn detection off), and on
3.11 a thread started with ``_thread.start_new_thread`` whose OS thread has
not begun running within the pause (50 ms there; ``threading.Thread`` and
``threado.spawn`` wait for their thread to start, so they are always seen;
on 3.12 and later ``sys._current_exceptions()`` lists it at once).
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
from types import CodeType, FrameType

from . import _parking
from ._condition import Condition
from ._errors import Deadlock
from ._events import Barrier, Event
from ._group import ThreadGroup
from ._introspect import ThreadSnapshot, format_snapshots, owner_of, safe_repr, snapshot
from ._locks import Lock, RLock, _LockCore
from ._parking import PENDING, Latch, ParkRecord, WaitQueue, block
from ._parking import parked as _parked
from ._queues import Queue
from ._semaphores import Semaphore
from ._state import ThreadState, clock, unpark
from ._threads import Thread
from ._typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

__all__ = ["Deadlock", "deadlock_detection", "detection_enabled"]

#: The pause before retrying an analysis that saw a transient obstacle (s).
_PAUSE: Final = 0.002
#: The pause between the two passes of an analysis (seconds). On 3.12 and
#: later a thread that was just started is visible at once (its thread state
#: is listed by ``sys._current_exceptions()``), so the pause only lets moving
#: threads move. On 3.11 a thread started by ``_thread.start_new_thread``
#: (not ``threading.Thread.start``, which waits for its thread to run) is
#: invisible until its OS thread first runs: the pause gives it time to, on
#: a loaded machine too. Short enough that a deadlock still fails "at once".
_SETTLE: Final = 0.002 if sys.version_info >= (3, 12) else 0.05
#: How many times an analysis that saw a transient obstacle (a stale wake-up
#: token being consumed, a thread between two parking steps) is retried.
_RETRIES: Final = 10


_Park = ParkRecord  # (state, waiter, what), written by _parking (see parked)
_analysis_mutex = _thread.allocate_lock()  # serialises analyses (see the docstring)
_get_ident = _thread.get_ident
_count: Callable[[], int] = _thread._count
_nap_lock = _thread.allocate_lock()
_nap_lock.acquire()

#: Signal handlers that only raise (they end a wait by failing, never by
#: waking it for progress), by module: SIGINT's default one and pytest-timeout's;
#: the runner's (SIGTERM raises and cancels, the dump signal only writes).
_ABORT_ONLY_MODULES: Final = frozenset({"pytest_timeout", "threado._runner"})

_RETRY: Final[Any] = object()

#: Whether parks filter out the global analysis cheaply (tests turn it off
#: to run the full analysis at nearly every park).
_PREFILTER = True


def _nap(seconds: float = _PAUSE) -> None:
    _nap_lock.acquire(True, seconds)


def _on_park(rec: _Park) -> BaseException | None:
    """The parking hook: ``rec`` is registered; return a Deadlock if it closes one."""
    what = rec[2]
    if rec[0].sync is not None:
        return None  # a synchronous run detects its deadlocks exactly (sync_report)
    if type(what) is RLock:
        owner = what._owner
        if owner is not None and owner in _parked and owner != _get_ident():
            dead = _check(rec, _cycle)
            if dead is not None:
                return dead
    # The main thread and the running threads started by _thread (which
    # threading and threado use) must all be parked for a global deadlock;
    # foreign threads are the analysis's business. One C call, no lock.
    if len(_parked) > _count():
        # Cheap filter, inlined (every park of a busy program gets here): no
        # registered thread has a hand-off or cancel waiting.
        if _PREFILTER:
            try:
                for st, w, _what in _parked.values():
                    if w.result is not PENDING or st.cancel is not None:
                        return None
            except RuntimeError:  # changed while we read it: somebody is not
                return None  # parked (it parks later and analyses then, or ends)
        return _check(rec, _global)
    return None


def _check(me: _Park, rule: Any) -> Deadlock | None:
    """Run ``rule`` twice, a pause apart; return the Deadlock if both passes agree."""
    with _analysis_mutex:
        for _ in range(_RETRIES):
            first = rule(me)
            if first is not _RETRY:
                break
            _nap()
        if first is None or first is _RETRY:
            return None
        _nap(_SETTLE if rule is _global else _PAUSE)
        second = rule(me)
        if second is None or second is _RETRY or second.keys() != first.keys():
            return None
        if any(second[i] is not first[i] for i in first):
            return None
        if me[1].result is not PENDING:
            return None  # handed something meanwhile: not stuck after all
        frame = _wait_frame(sys._getframe())
        victim = _victim(me, frame, second) if _reacquiring(frame) else None
        if victim is None:
            # Leave before releasing the mutex: later analyses see us running.
            ident = _get_ident()
            if _parked.get(ident) is me:
                del _parked[ident]
    if victim is not None:
        # A Condition's re-acquire cannot raise with its lock held: we stay
        # parked (stuck) and wake another thread of the deadlock, whose wait
        # runs the analysis again and raises (see "Who raises").
        unpark(victim[0])
        return None
    return _make_report(me, frame, second, "cycle" if rule is _cycle else "global")


def _reacquiring(wait: FrameType | None) -> bool:
    """Whether the ``WaitQueue.wait`` frame ``wait`` is a ``Condition.wait``'s re-acquire."""
    f = wait.f_back if wait is not None else None
    if f is None or f.f_code is not _ACQUIRE_CODE:
        return False
    for _ in range(3):  # _acquire_slow <- acquire <- _acquire_restore <- Condition._restore
        f = f.f_back
        if f is None:
            return False
        if f.f_code is _COND_RESTORE_CODE:
            return True
    return False


def _victim(me: _Park, frame: FrameType | None, recs: dict[int, _Park]) -> _Park | None:
    """The thread of ``recs`` to raise instead of ``me``: one not re-acquiring.

    The owner of the lock ``me`` waits for comes first (its raise unwinds the
    ``with`` that holds it); ``None`` if every thread is re-acquiring.
    """
    frames = _other_frames()
    owner = owner_of(me[2])
    order = sorted(recs, key=lambda i: i != owner)
    for ident in order:
        rec = recs[ident]
        if rec is not me and not _reacquiring(_wait_frame(frames.get(ident))):
            return rec
    return None


# -- what a stuck thread looks like ------------------------------------------


def _codes(*funcs: Any) -> frozenset[CodeType]:
    return frozenset(f.__code__ for f in funcs)


#: Code a parked thread may be in between its WaitQueue.wait frame and the top.
_PARK_CODES: frozenset[CodeType] = frozenset()
#: Caller of WaitQueue.wait -> the types of ``what`` that caller announces.
_CALLERS: dict[CodeType, tuple[type, ...]] = {}
_WAIT_CODE: Final = WaitQueue.wait.__code__
_ACQUIRE_CODE: Final = _LockCore._acquire_slow.__code__
_COND_RESTORE_CODE: Final = Condition._restore.__code__


def _init_codes() -> None:
    global _PARK_CODES
    # `import threado` fills the hook slot with a stand-in that imports this
    # module at the first park it must see and calls our hook from that park:
    # its frame sits between the wait and ours, so it counts as parking code.
    stand_in = _parking.on_park
    _PARK_CODES = _codes(
        *(() if stand_in is None else (stand_in,)),
        block,
        ThreadState.effective_deadline,
        ThreadState.pending_cancel,
        _on_park,
        _check,
        _nap,
        _reacquiring,
        _victim,
        _other_frames,
        unpark,
        _global,
        _cycle,
        _stuck,
    )
    for func, types in (
        (_LockCore._acquire_slow, (Lock, RLock)),
        (Condition.wait, (Condition,)),
        (Semaphore.acquire, (Semaphore,)),
        (Event.wait, (Event,)),
        (Barrier.wait, (Barrier,)),
        (Latch.wait_until, (Thread, Barrier)),
        (Queue.put, (Queue,)),
        (Queue.get, (Queue,)),
        (Queue.join, (Queue,)),
        (ThreadGroup._wait_all_ended, (ThreadGroup,)),
        (ThreadGroup.next_done, (ThreadGroup,)),
    ):
        _CALLERS[func.__code__] = types


def _wait_frame(frame: FrameType | None) -> FrameType | None:
    """The ``WaitQueue.wait`` frame under ``frame``, if only parking code is above it."""
    f = frame
    for _ in range(12):
        if f is None:
            return None
        if f.f_code is _WAIT_CODE:
            return f
        if f.f_code not in _PARK_CODES:
            return None  # running something else (a signal handler, a finalizer)
        f = f.f_back
    return None


def _stuck(rec: _Park, frame: FrameType | None, me: _Park) -> Any:
    """Whether ``rec``'s thread is stuck (rules 1-4); ``_RETRY`` if maybe soon.

    ``frame`` is the thread's innermost frame (ignored for ``me``, the
    calling thread, whose own frames are read here).
    """
    st, w, what = rec
    if w.result is not PENDING or st.cancel is not None or st.deadline is not None:
        return False
    if st.depth != 1 or st.waiting_on is not what:
        return False
    if rec is me:
        frame = sys._getframe()
    elif not st.token.locked():
        return _RETRY  # a wake-up is pending: a real one, or a stale one being consumed
    wait = _wait_frame(frame)
    if wait is None:
        return _RETRY  # not (or not yet) blocked in its wait: not stuck now
    caller = wait.f_back
    types = _CALLERS.get(caller.f_code) if caller is not None else None
    return types is not None and isinstance(what, types)


def _other_frames() -> dict[int, FrameType]:
    """``sys._current_frames()`` without the caller's own frame.

    Keeping our own frame in a local would make a frame -> locals -> frame
    cycle that pins everything the analysis read until the collector runs.
    """
    frames = sys._current_frames()
    frames.pop(_thread.get_ident(), None)
    return frames


def _signal_may_wake() -> bool:
    """Whether a Python signal handler is installed that might wake a wait."""
    import signal  # lazily: only analyses need it

    for sig in signal.valid_signals():
        try:
            handler = signal.getsignal(sig)
        except (OSError, ValueError):
            continue
        if _may_wake(sig, handler):
            return True
    return False


def _may_wake(sig: int, handler: Any) -> bool:
    import signal

    if not callable(handler) or handler is signal.default_int_handler:
        return False
    module = getattr(handler, "__module__", None)
    if module in _ABORT_ONLY_MODULES:
        return False
    if module == "threado._conditions" and getattr(handler, "__name__", "") == "_dispatch":
        # threado.signalled()'s dispatcher wakes only threads in signalled()
        # waits (never stuck: not a recognised wait), then the handler it
        # replaced: that one decides.
        previous = getattr(sys.modules.get(module), "_previous", None)
        if isinstance(previous, dict):
            return _may_wake(sig, previous.get(sig))
    return True


def _global(me: _Park) -> Any:
    """The global rule: every known thread stuck, on waits only they could end."""
    if _parking.block is not block:
        return None  # instrumented (tests replace it): we cannot know what blocking does
    frames = _other_frames()
    idents = set(frames)
    tstates = set(sys._current_exceptions())  # also thread states with no frame yet
    idents.update(tstates)
    for t in threading.enumerate():
        if t.ident is None:
            return None  # starting: it will run
        if isinstance(t, threading._DummyThread) and t.ident not in tstates:
            continue  # a foreign thread with no Python thread state now: not counted
        idents.add(t.ident)
    parked = dict(_parked)
    stuck: dict[int, _Park] = {}
    retry = False
    for ident in idents:
        rec = parked.get(ident)
        if rec is None:
            return None
        verdict = _stuck(rec, frames.get(ident), me)
        if verdict is _RETRY:
            retry = True
        elif not verdict:
            return None
        stuck[ident] = rec
    if retry:
        return _RETRY
    for _st, _w, what in stuck.values():
        if isinstance(what, Thread) and what._state.ident not in stuck:
            return None  # joining a thread that is ending (or unknown): it ends
        if isinstance(what, ThreadGroup):
            try:
                running = list(what._running)
            except RuntimeError:  # changed while we read it
                return None
            if any(h._state.ident not in stuck for h in running):
                return None
    if _signal_may_wake():
        return None
    return stuck


def _cycle(me: _Park) -> Any:
    """The cycle rule: a chain of stuck RLock waits leading back to ``me``."""
    if _parking.block is not block:
        return None  # instrumented, as in _global
    frames = _other_frames()
    parked = dict(_parked)
    if _stuck(me, None, me) is not True:
        return None
    my_ident = me[0].ident or 0
    chain = {my_ident: me}
    lock = me[2]
    while True:
        if type(lock) is not RLock:
            return None
        owner = lock._owner
        if owner == my_ident:
            break
        if owner is None or owner in chain:
            return None
        rec = parked.get(owner)
        if rec is None:
            return None
        verdict = _stuck(rec, frames.get(owner), me)
        if verdict is _RETRY:
            return _RETRY
        if not verdict:
            return None
        chain[owner] = rec
        lock = rec[2]
    if threading.main_thread().ident in chain and _signal_may_wake():
        return None
    return chain


# -- the report -------------------------------------------------------------


def _make_report(me: _Park, frame: FrameType | None, recs: dict[int, _Park], rule: str) -> Deadlock:
    my_ident = me[0].ident or 0
    frames = _other_frames()
    if frame is not None:
        frames[my_ident] = frame  # our stack from the wait down, not the detector's
    held: dict[int, list[object]] = {}
    for _st, _w, what in recs.values():
        owner = owner_of(what)
        if owner is not None:
            lock = what._lock if isinstance(what, Condition) else what
            held.setdefault(owner, []).append(lock)
    order = [my_ident] + [i for i in recs if i != my_ident]
    snaps: list[ThreadSnapshot] = [
        snapshot(i, frames.get(i), recs[i][0], held.get(i)) for i in order
    ]
    me_name = snaps[0].name
    if rule == "sync":
        head = (
            f"deadlock: {me_name!r} would wait forever for {safe_repr(me[2])}: no thread of "
            f"the synchronous run can run ({len(snaps)} parked with no deadline, none "
            "blocked outside)"
        )
    elif rule == "cycle":
        head = (
            f"deadlock: {me_name!r} would wait forever for {safe_repr(me[2])}: "
            f"{len(snaps)} threads wait, with no deadline, for RLocks owned by each other "
            "in a cycle (only an owner can release an RLock)"
        )
    else:
        head = (
            f"deadlock: {me_name!r} would wait forever for {safe_repr(me[2])}: every thread "
            f"of the process ({len(snaps)}) is parked in a threado wait with no deadline "
            "that only these threads could end"
        )
    body = format_snapshots(snaps, clock())
    return Deadlock(f"{head}\n{body}", snaps)


def sync_report(me: ThreadState, others: list[ThreadState], frame: FrameType | None) -> Deadlock:
    """The report of a synchronous run's exact deadlock (``threado._sync_run``):
    ``me`` parked last, ``others`` are the run's other parked threads."""
    recs: dict[int, _Park] = {
        st.ident or 0: cast(_Park, (st, None, st.waiting_on)) for st in [me, *others]
    }
    return _make_report(recs[me.ident or 0], frame, recs, "sync")


# -- switching it on and off -------------------------------------------------------


def deadlock_detection(enabled: bool) -> None:
    """Turn deadlock detection on or off, process-wide (it is on by default).

    Waits that began while it was off are not analysed; they count as able
    to make progress. Turn it off in a program whose native threads (with no
    Python thread state while they wait) call back into Python to wake
    threado waits: threado cannot see them coming.

    Raises:
        TypeError: ``enabled`` is not a ``bool``.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
    _parking.on_park = _on_park if enabled else None


def detection_enabled() -> bool:
    """Return whether deadlock detection is on."""
    return _parking.on_park is not None


def _after_fork_in_child() -> None:
    _parked.clear()
    _analysis_mutex._at_fork_reinit()  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_init_codes()
_parking.on_park = _on_park
