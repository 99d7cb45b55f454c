"""Interruptible regions: opt-in cancellation of pure-Python code between bytecodes.

``with interruptible():`` lets a cancellation (``Thread.cancel()``, a group, an
expiring timeout) stop the block's Python code anywhere, not only at blocking
points. Everything else in threado is unchanged: outside a region, inside a
``shield()`` within one, and inside threado's own code nothing asynchronous
ever arrives.

Theory of operation
-------------------

A thread in a region has a :class:`_Guard` in ``ThreadState.interrupt`` (it
is ``None`` otherwise, so threads outside regions pay one slot read on the two
hooks below and nothing else; the idle guard waits in ``local.guard`` for the
thread's next region). The guard keeps, innermost last, for each nested
region the frame of the code that entered it, the length of the scope stack
(``base``) and ``visible_from`` at that moment (``regions``): the thread is
*shielded within the region* iff ``visible_from > base``. A delivery is
*safe* iff, at that instant, the region is active, the thread is not
shielded within it, the cancellation is still pending and visible (a
deadline's scope is still in force), it has not been delivered
asynchronously before (``delivered``: at most once per cancellation, so
cleanup code that runs because of it is never hit a second time), and the
thread is executing region code: walking from its innermost
frame towards the region's frame meets no frame of threado's own package
(which includes every primitive, scope exit and the region's own exit) and
no ``__enter__``, ``__exit__`` or ``__del__`` method (so a ``with`` statement
either takes its resource and runs its exit, or does neither), and does meet
the region's frame (a generator that yielded out of its region is
not in it).

Two hooks tell us that a delivery may be due, and nothing else does:

* ``_state.unpark`` calls :meth:`_Guard.poke` when it wakes a thread in a
  region. Every cancellation wakes its thread through ``unpark``
  (``request_cancel``: ``Thread.cancel``, groups; any future scope cancel does
  the same), so this is the one place that hears all of them.
* ``TimeoutScope.__enter__`` calls :meth:`_Guard.watch` when a timeout lowers
  the thread's deadline inside a region; entering a region registers the
  deadline already in force. One process-wide watchdog thread (started on
  first use) sleeps on a plain timed lock wait until the earliest registered
  deadline, or until a new earlier one wakes it; no thread per region, no
  timer object, no polling (3.11 adds a short bounded retry, below).

How the exception gets in depends on the interpreter, because the eval loop
differs (``Python/ceval*.c``, ``bytecodes.c``):

* **3.12 and later: instrumentation** (``sys.monitoring``, PEP 669). The
  requester instruments the code objects of the thread's frames between its
  innermost frame and the region's (never threado's own code) for
  ``INSTRUCTION`` and ``CALL`` events. The callback runs *in the target
  thread*, so every safety condition above is checked by the thread itself,
  with no race, and the cancellation is raised synchronously from the
  callback. It raises only at the instructions where CPython itself checks
  for asynchronous exceptions: ``RESUME`` at a function's start and
  ``JUMP_BACKWARD`` (a loop's back edge). Raising before an arbitrary
  instruction would be unsafe: the instructions between the end of a
  ``with`` body and its ``__exit__`` call are outside the block's exception
  range, so raising there would skip the exit. (Exceptions raised by
  ``JUMP``/``BRANCH`` callbacks skip the frame's handlers altogether, so those
  events are not used; ``LINE`` misses one-line loops.) A ``CALL`` event
  instruments the callee before it starts, so a function entered after the
  requester looked is covered too. When the thread is not at a safe point
  (inside threado, in a shield, handling a cancellation) the callback returns
  and the instrumentation stays: the next safe instruction delivers, so no
  retry or polling is needed. The guard is disarmed (instrumentation removed,
  reference-counted per code object) when it delivers and when the
  outermost region is left; after that the callback cannot raise, so nothing
  arrives after the block.
* **3.11: an asynchronous exception** (``PyThreadState_SetAsyncExc``). It is
  raised in the target at an eval-breaker check: ``RESUME``, ``JUMP_BACKWARD``
  and after calls to C functions. When the GIL holder (the requester) injects,
  the target is stopped either at such a check (dropping the GIL in
  ``eval_frame_handle_pending``, which tests ``async_exc`` *after* taking the
  GIL back) or in a C call that released the GIL (the check after the call
  raises it). Either way it fires exactly where the target stands. So the
  requester reads the target's innermost frame (``sys._current_frames``) and
  injects in one stretch of bytecode with no eval-breaker check in it: no
  ``CALL`` of a C function (calls go through ``map`` iterators consumed by
  ``FOR_ITER``, which does not check), no back edge, no Python call, and the
  cyclic GC off (3.11 may collect, and run finalizers, on allocation). The
  target cannot move in between, so the safety conditions it read still hold
  when the exception fires. When the thread is not at a safe point, the
  watchdog tries again with a short backoff (0.2 ms doubling to 10 ms) while
  the cancellation stays pending and the region active. Leaving the
  outermost region withdraws an injected exception that has not fired yet
  (``SetAsyncExc(ident, NULL)``); by the argument above one cannot be pending
  there, so this is a second line of defence. The exception class carries no
  data: its ``__init__`` (run in the target when the exception is
  instantiated) takes reason, source and message from ``_payloads``, where
  the requester stashed them before injecting, so it is recognised by timeout
  scopes and groups exactly as the blocking point's would be.
  (3.13 checks the eval breaker with a copy taken *before* it drops the GIL,
  so there an injected exception would fire at the *next* check instead,
  possibly inside threado: hence instrumentation from 3.12 on.)

Free-threaded builds have no GIL to make the 3.11 stretch atomic and are not
tested with instrumentation here: regions there deliver at blocking points
only (documented). Code that threado calls back (a ``Condition.wait_for``
predicate, an item's ``__lt__`` in a ``PriorityQueue``) has threado frames
beneath it and is never interrupted; C code (a long ``re`` match) finishes
before anything can arrive.
"""

from __future__ import annotations

import _thread
import gc
import heapq
import os
import sys
from functools import partial
from itertools import count, takewhile
from operator import attrgetter, call, is_not
from types import CodeType, FrameType, TracebackType

from ._errors import Reason, ThreadCancelled
from ._state import FREE_THREADED, ThreadState, clock, get_state, local
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Final, Literal

__all__ = ["interruptible"]

#: Threado's own source files: their code objects' ``co_filename`` (as this
#: module's is spelled, since the package is loaded from one place) and the
#: absolute paths, for a code object compiled under another spelling.
_HERE: Final = os.path.dirname(__file__)
_INTERNAL: Final = frozenset(
    path
    for entry in os.listdir(_HERE or ".")
    if entry.endswith(".py")
    for path in (os.path.join(_HERE, entry), os.path.join(os.path.abspath(_HERE), entry))
)

#: Built without the GIL: no asynchronous delivery (see the module docstring).
_FREE_THREADED: Final = FREE_THREADED
#: How deliveries are made: "monitor" (3.12+), "async" (3.11) or None.
MODE: str | None = (
    None if _FREE_THREADED else ("monitor" if sys.version_info >= (3, 12) else "async")
)

#: The 3.11 retry backoff (seconds): first delay and cap.
_RETRY_FIRST: Final = 0.0002
_RETRY_MAX: Final = 0.01


#: The methods of a ``with`` statement and finalizers: nothing is delivered
#: inside them (or what they call). An exception inside ``__enter__`` after
#: it took its resource skips ``__exit__``; one at the start of ``__exit__``
#: skips it too, since the exit call sits outside the block's exception range.
_CLEANUP: Final = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__", "__del__"})


def _is_internal(code: CodeType) -> bool:
    return code.co_filename in _INTERNAL


class _Guard:
    """A thread's interruptible-region state (see the module docstring)."""

    __slots__ = (
        "codes",
        "delivered",
        "depth",
        "ident",
        "inflight",
        "regions",
        "retry",
        "state",
    )

    def __init__(self, st: ThreadState) -> None:
        self.state = st
        self.ident: int = st.ident or 0
        # Innermost last, for each open region: the frame that entered it,
        # the length of the scope stack and visible_from at that moment.
        self.regions: list[tuple[FrameType, int, int]] = []
        self.depth = 0
        # (reason, source) of every cancellation delivered asynchronously.
        self.delivered: list[tuple[str, object]] = []
        # 3.12+: code objects instrumented for this thread (under _mutex).
        self.codes: set[CodeType] = set()
        # 3.11: an injected exception has not been instantiated yet.
        self.inflight = False
        self.retry = _RETRY_FIRST

    def poke(self) -> None:
        """The thread was woken (maybe cancelled): deliver if due. Never blocks."""
        st = self.state
        if self.depth and (st.cancel is not None or st.deadline is not None):
            _request(self, blocking=False)

    def watch(self, deadline: float) -> None:
        """A deadline now applies inside the region: have the watchdog wake for it."""
        if self.depth:
            _schedule(self, deadline)


def _wanted(g: _Guard) -> ThreadCancelled | None:
    """The cancellation ``g``'s innermost region owes its thread, or ``None``.

    What a blocking point would raise if no shield had been entered inside
    the region (``vis`` is the thread's visibility when the region was
    entered), unless it was delivered asynchronously already. Deliverable
    *now* only while ``visible_from <= base``; then it is exactly what
    ``pending_cancel()`` returns.
    """
    st = g.state
    c = st.cancel
    if c is None and st.deadline is None:
        return None
    try:  # the owner may leave its last region while another thread looks
        vis = g.regions[-1][2]
    except IndexError:
        return None
    exc = None
    if c is not None and vis == 0:
        exc = ThreadCancelled(c[2], c[0], c[1])
    else:
        now = clock()
        for scope in st.scopes[vis:]:
            if scope.cancel_called:  # a CancelScope's cancel(), as pending_cancel() sees it
                exc = ThreadCancelled(f"{scope!r} was cancelled", Reason.EXPLICIT, scope)
                break
            sd = scope.deadline
            if sd is not None and sd <= now:
                exc = ThreadCancelled(f"deadline of {scope!r} passed", Reason.DEADLINE, scope)
                break
    if exc is None or (exc._reason, exc.source) in g.delivered:
        return None
    return exc


# -- requests, and the watchdog -------------------------------------------------------

#: Guards the instrumentation refcounts, the watchdog's heap and each
#: guard's ``codes``/``inflight``/``delivered`` as requesters see them.
_mutex = _thread.RLock()
_heap: list[tuple[float, int, _Guard]] = []
_seq = count()
# Released to wake the watchdog (a binary semaphore, like a parker's token).
_wake = _thread.allocate_lock()
_wake.acquire()
_watchdog: list[int] = []  # the watchdog's ident, once started


def _request(g: _Guard, blocking: bool) -> None:
    """Deliver to ``g``'s thread if due; hand over to the watchdog if busy."""
    if MODE is None:
        return
    if not _mutex.acquire(blocking):
        _schedule(g, 0.0)  # a signal handler, or a concurrent requester
        return
    try:
        if _wanted(g) is None:
            return
        if MODE == "monitor":
            try:
                _arm(g)
            except Exception:  # every sys.monitoring tool id is taken
                # Called from unpark(), which must not fail: the cancellation
                # stays pending for the next blocking point.
                _disarm(g)
        elif not _inject(g):
            _schedule(g, clock() + g.retry)
            g.retry = min(g.retry * 2, _RETRY_MAX)
    finally:
        _mutex.release()


def _schedule(g: _Guard, when: float) -> None:
    """Have the watchdog call :func:`_request` for ``g`` at ``when``."""
    if MODE is None:
        return
    heapq.heappush(_heap, (when, next(_seq), g))  # one C call: atomic with the GIL
    if not _watchdog:
        _start_watchdog()
    if _heap[0][2] is g:  # new earliest entry: let the watchdog re-plan
        try:
            _wake.release()
        except RuntimeError:
            pass  # already woken


def _start_watchdog() -> None:
    with _mutex:
        if not _watchdog:
            # A plain _thread thread: not in threading.enumerate(), not a
            # threado thread (never parked, cancelled or counted as blocked).
            _watchdog.append(_thread.start_new_thread(_watch, ()))


def _watch() -> None:
    while True:
        with _mutex:
            now = clock()
            due: list[_Guard] = []
            while _heap and _heap[0][0] <= now:
                due.append(heapq.heappop(_heap)[2])
            wait = _heap[0][0] - now if _heap else -1.0
        for g in due:
            _request(g, blocking=True)
        if not due:
            # Sleep until the earliest entry, or until _schedule wakes us.
            _wake.acquire(True, min(wait, 3600.0) if wait >= 0 else -1)


def _after_fork_in_child() -> None:
    global _mutex
    _mutex = _thread.RLock()
    _heap.clear()
    _watchdog.clear()
    _codes.clear()
    st = local.state
    if st is not None and st.interrupt is not None:
        st.interrupt.codes.clear()  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- 3.12+: instrumentation ------------------------------------------------------------

#: Instrumented code object -> number of guards that armed it (under _mutex).
_codes: dict[CodeType, int] = {}
#: Code object -> offsets of its safe instructions (RESUME at start, back edges).
_safe: dict[CodeType, frozenset[int]] = {}
_tool: list[int] = []  # the sys.monitoring tool id, once registered


def _safe_offsets(code: CodeType) -> frozenset[int]:
    offsets = _safe.get(code)
    if offsets is None:
        import dis

        offsets = frozenset(
            i.offset
            for i in dis.get_instructions(code)
            if i.opname == "JUMP_BACKWARD" or (i.opname == "RESUME" and (i.arg or 0) < 2)
        )
        _safe[code] = offsets
    return offsets


def _monitoring() -> Any:
    return sys.monitoring  # type: ignore[attr-defined, unused-ignore]  # 3.12+


def _tool_id() -> int:
    if not _tool:
        mon = _monitoring()
        for tid in (4, 3, 2, 1, 0):  # the unreserved ones first
            if mon.get_tool(tid) is None:
                mon.use_tool_id(tid, "threado.interruptible")
                mon.register_callback(tid, mon.events.INSTRUCTION, _on_instruction)
                mon.register_callback(tid, mon.events.CALL, _on_call)
                _tool.append(tid)
                break
        else:
            raise RuntimeError("threado.interruptible: every sys.monitoring tool id is taken")
    return _tool[0]


def _instrument(g: _Guard, code: CodeType) -> None:
    """Arm ``code`` for ``g`` (under _mutex)."""
    if code in g.codes or _is_internal(code):
        return
    g.codes.add(code)
    n = _codes.get(code, 0)
    _codes[code] = n + 1
    if not n:
        mon = _monitoring()
        mon.set_local_events(_tool_id(), code, mon.events.INSTRUCTION | mon.events.CALL)


def _region_codes(g: _Guard) -> list[CodeType] | None:
    """The code objects from ``g``'s thread's innermost frame to its region's."""
    f = sys._current_frames().get(g.ident)
    try:
        stop = g.regions[-1][0]
    except IndexError:
        return None
    codes = []
    while f is not None:
        codes.append(f.f_code)
        if f is stop:
            return codes
        f = f.f_back
    return None


def _arm(g: _Guard) -> None:
    """Instrument the frames of ``g``'s region (under _mutex); see the docstring."""
    # Look again after instrumenting: a function entered meanwhile is then
    # armed too; later calls from armed code are caught by CALL events.
    for _ in range(4):
        codes = _region_codes(g)
        if codes is None:
            break
        new = [c for c in codes if c not in g.codes and not _is_internal(c)]
        if not new:
            break
        for c in new:
            _instrument(g, c)
    # The owner may have left its last region meanwhile, after its exit found
    # nothing to disarm (it clears depth before it looks): disarm for it.
    if not g.depth:
        _disarm(g)


def _disarm(g: _Guard) -> None:
    with _mutex:
        if not g.codes:
            return
        mon = _monitoring()
        for code in g.codes:
            n = _codes.pop(code, 1) - 1
            if n:
                _codes[code] = n
            else:
                mon.set_local_events(_tool[0], code, 0)
        g.codes.clear()


def _in_region(g: _Guard, f: FrameType | None) -> bool:
    """Whether ``f`` is region code: no threado frame before the region's frame."""
    stop = g.regions[-1][0]
    while f is not None:
        if f is stop:
            return True
        code = f.f_code
        if _is_internal(code) or code.co_name in _CLEANUP:
            return False
        f = f.f_back
    return False


def _on_instruction(code: CodeType, offset: int) -> object:
    st = local.state
    if st is None:
        return None
    g: _Guard | None = st.interrupt  # type: ignore[assignment]
    if g is None or not g.codes or offset not in _safe_offsets(code):
        return None
    if _wanted(g) is None:
        _disarm(g)  # nothing left to deliver (a deadline's scope was left)
        return None
    if st.visible_from > g.regions[-1][1]:
        return None  # in a shield within the region: stay armed until it ends
    exc = st.pending_cancel()
    if exc is None:  # pragma: no cover - equal to _wanted() outside shields
        return None
    handled = sys.exc_info()[1]
    if isinstance(handled, ThreadCancelled) or not _in_region(g, sys._getframe(1)):
        return None  # cleanup of a cancellation, or not region code: stay armed
    g.delivered.append((exc._reason, exc.source))
    _disarm(g)
    try:
        raise exc
    finally:
        exc = None


def _on_call(code: CodeType, offset: int, callee: object, arg0: object) -> object:
    st = local.state
    if st is None:
        return None
    g: _Guard | None = st.interrupt  # type: ignore[assignment]
    if g is None or not g.codes:
        return None
    func = getattr(callee, "__func__", callee)
    target = getattr(func, "__code__", None)
    if isinstance(target, CodeType) and target not in g.codes:
        with _mutex:
            if g.codes:
                _instrument(g, target)
    return None


# -- 3.11: asynchronous exceptions ---------------------------------------------------


#: ident -> the cancellation injected into that thread (3.11), until its
#: exception is instantiated there.
_payloads: dict[int, ThreadCancelled] = {}


class _AsyncCancelled(ThreadCancelled):
    """The class injected on 3.11; instantiated in the target thread."""

    def __init__(self, *args: Any) -> None:
        if args:  # a copy (pickling, copy.copy)
            super().__init__(*args)
            return
        with _mutex:
            p = _payloads.pop(_thread.get_ident(), None)
            st = local.state
            g: _Guard | None = None if st is None else st.interrupt  # type: ignore[assignment]
            if g is not None:
                g.inflight = False
        if p is None:  # pragma: no cover - the payload is stashed before injecting
            super().__init__("thread cancelled")
        else:
            super().__init__(str(p), p._reason, p.source)

    def __reduce__(self) -> tuple[object, ...]:
        # Under the public class's name; a copy is a plain ThreadCancelled.
        return (ThreadCancelled, (str(self), self._reason, None))


_AsyncCancelled.__name__ = _AsyncCancelled.__qualname__ = "ThreadCancelled"
_AsyncCancelled.__module__ = "threado"

_F_BACK = attrgetter("f_back")
_F_FILE = attrgetter("f_code.co_filename")
_F_NAME = attrgetter("f_code.co_name")
_api: list[Any] = []  # (set_async_exc, clear_async_exc, c_ulong), once loaded


def _capi() -> list[Any]:
    if _api:
        return _api
    with _mutex:
        if _api:  # loaded by another thread meanwhile
            return _api
        import ctypes

        set_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
        set_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
        set_exc.restype = ctypes.c_int
        # The same function, typed to pass NULL: it withdraws a pending one.
        proto = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
        clear_exc = proto(("PyThreadState_SetAsyncExc", ctypes.pythonapi))
        _api.extend((set_exc, clear_exc, ctypes.c_ulong))
        return _api


_CURRENT_FRAMES = (sys._current_frames,)
_CURRENT_EXCEPTIONS = (sys._current_exceptions,)
#: The exact classes of a cancellation being handled (``__class__ in``: a
#: tuple test by identity, with no call).
_CANCEL_CLASSES = (ThreadCancelled, _AsyncCancelled)


def _inject(g: _Guard) -> bool:
    """Inject ``g``'s due cancellation if its thread is at a safe point (under _mutex).

    Returns:
        Whether the thread needs no retry (injected, or nothing is due).
    """
    if _wanted(g) is None or g.inflight:
        return True
    st = g.state
    try:
        region, base, _ = g.regions[-1]
    except IndexError:  # the owner left its last region meanwhile
        return True
    if st.visible_from > base:
        return False  # in a shield within the region: try again later
    exc = st.pending_cancel()
    if exc is None:  # pragma: no cover - equal to _wanted() outside shields
        return True
    set_exc, _, c_ulong = _capi()
    tid = c_ulong(g.ident)
    source = exc.source
    # A scope's own cancellation (a deadline, a CancelScope's cancel()) is
    # due while its scope is visible; the thread's, while nothing is shielded.
    thread_level = not any(s is source for s in st.scopes)
    # Everything the atomic stretch calls is built here, before it: calling a
    # C function is a CALL, which checks the eval breaker afterwards.
    chain: list[FrameType | None] = []
    now_frames: Iterator[dict[int, FrameType]] = map(call, _CURRENT_FRAMES)
    now_handling: Iterator[dict[int, Any]] = map(call, _CURRENT_EXCEPTIONS)
    walk = map(chain.extend, (map(_F_BACK, chain),))
    prefix_files = map(_F_FILE, takewhile(partial(is_not, region), chain))
    disjoint = map(_INTERNAL.isdisjoint, (prefix_files,))
    prefix_names = map(_F_NAME, takewhile(partial(is_not, region), chain))
    no_cleanup = map(_CLEANUP.isdisjoint, (prefix_names,))
    key = (exc._reason, source)
    gc_was_on = gc.isenabled()
    if gc_was_on:
        gc.disable()
    injected = ok = False
    frames: dict[int, FrameType] = {}
    try:
        # ---- atomic: no eval-breaker check from here to the injection ----
        for frames in now_frames:  # noqa: B007 - FOR_ITER calls without a check
            break
        try:
            top = frames[g.ident]
        except KeyError:  # the thread has ended
            return True
        for handling in now_handling:  # noqa: B007
            break
        try:  # (type, value, traceback) on 3.11: the exception being handled
            busy = handling[g.ident][1].__class__ in _CANCEL_CLASSES
        except (KeyError, IndexError, TypeError):
            busy = False
        if (
            g.depth
            and not busy
            and g.regions[-1][0] is region
            and st.visible_from <= base
            and (st.visible_from == 0 if thread_level else source in st.scopes[st.visible_from :])
        ):
            chain[:] = (top,)
            try:
                for _ in walk:
                    break
            except AttributeError:
                pass  # the walk ends on the outermost frame's f_back (None)
            if region in chain:
                for ok in disjoint:  # noqa: B007
                    break
                if ok:
                    for ok in no_cleanup:  # noqa: B007
                        break
                if ok:
                    _payloads[g.ident] = exc
                    g.inflight = True
                    g.delivered.append(key)
                    injected = True
                    set_exc(tid, _AsyncCancelled)
        # ---- end of the atomic stretch ----
    finally:
        if gc_was_on:
            gc.enable()
    if injected:
        g.retry = _RETRY_FIRST
    return injected


def _withdraw(g: _Guard) -> None:
    """Withdraw an injected exception that has not fired yet (3.11)."""
    with _mutex:
        if g.inflight:
            g.inflight = False
            _payloads.pop(g.ident, None)
            _capi()[1](_capi()[2](g.ident), None)


# -- the region ---------------------------------------------------------------------


_ready: list[bool] = []


def _prepare() -> None:
    """Load what delivery needs at the first region, not at the first cancel."""
    if MODE == "monitor":
        import dis  # noqa: F401 - used by _safe_offsets

        with _mutex:
            _tool_id()
    elif MODE == "async":
        _capi()
    _ready.append(True)


class _Region:
    __slots__ = ("_guard", "_index")

    def __init__(self) -> None:
        self._guard: _Guard | None = None
        self._index = -1

    def __repr__(self) -> str:
        return "<threado.interruptible>"

    def __enter__(self) -> None:
        if self._guard is not None:
            raise RuntimeError("an interruptible region cannot be entered twice")
        st = local.state
        if st is None:
            st = get_state()
        # A cancellation already pending and visible is delivered at once,
        # as a blocking point would (before anything is registered).
        if st.cancel is not None or st.deadline is not None:
            st.check()
        g: _Guard | None = st.interrupt  # type: ignore[assignment]
        if g is None:
            g = local.guard  # type: ignore[assignment]
            if g is None or g.state is not st:
                g = local.guard = _Guard(st)
                if not _ready:
                    _prepare()
        g.regions.append((sys._getframe(1), len(st.scopes), st.visible_from))
        self._index = g.depth
        g.depth += 1
        self._guard = g
        st.interrupt = g  # published last: the hooks see a complete guard
        if st.deadline is not None:
            _schedule(g, st.deadline)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        g = self._guard
        if g is None or g.depth != self._index + 1 or _thread.get_ident() != g.ident:
            raise RuntimeError(
                "interruptible regions must be exited in the reverse order they were "
                "entered, in the thread that entered them"
            )
        g.depth -= 1  # first: no delivery is safe from here on
        g.regions.pop()
        if not g.depth:
            g.state.interrupt = None
            if g.codes:
                _disarm(g)
            if g.inflight:
                _withdraw(g)
            if g.delivered:
                g.delivered.clear()
            g.retry = _RETRY_FIRST
        return False


def interruptible() -> _Region:
    """Let a cancellation interrupt the block's Python code anywhere.

    Inside ``with threado.interruptible():`` a cancellation of the thread
    (``Thread.cancel()``, a group cancelling it, an enclosing timeout whose
    deadline passes) raises :class:`ThreadCancelled` between two bytecodes
    of the block's own Python code, within about a millisecond, without
    waiting for a blocking point. It never arrives outside the block, inside
    a :func:`shield` within it, inside threado's own code (so its locks and
    queues are never left half-updated, and ``with lock:`` releases the lock),
    or after the block has been left; each cancellation arrives this way at
    most once (level-triggered, it is raised again at the next blocking
    point). C code that does not return to the interpreter finishes first.
    Entering the block is a blocking point: a cancellation already pending
    is raised at once. Regions nest. See ``docs/interruptible.rst``.

    Raises:
        ThreadCancelled: on entry, if the thread is already cancelled.
    """
    return _Region()


_Region.__module__ = "threado"
