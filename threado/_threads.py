"""Threads: ``spawn``, the :class:`Thread` handle, ``current_thread`` and ``run``.

Theory of operation
-------------------

``spawn`` creates the new thread's :class:`~threado._state.ThreadState` in
the spawner, so a cancel reaches a thread that has not started yet, then starts
a plain ``threading.Thread`` that installs that state, runs the function in a
copy of the spawner's ``contextvars`` context, stores the outcome and sets the
handle's ``_done`` latch. The latch is set by the thread's end hook, which
runs when CPython clears the thread's state, after the last line of Python
the thread runs. Joiners and cancellers wait on that latch only (a threado
wait, so it is a blocking point): one wake-up, as ``threading``'s own join
pays, and no OS-level join after it (the ending thread has only C-level
teardown left). ``is_alive()`` reads the latch, so it is ``False`` once
``join``, ``wait`` or a blocking ``cancel`` returns, as with ``threading``.

Launch handshake: ``threading.Thread.start()`` can raise after the OS
thread began (a Ctrl-C in its wait for the thread to start), and the spawner
cannot tell that from a start that failed. So each spawn makes a one-item
launch token; the bootstrap takes it as its first act, and a spawner whose
``start()`` raised tries to take it too (``_claim``: one atomic
``list.pop``). If the spawner wins, the thread never runs its function and
is forgotten (a group gives its slot back); if the bootstrap won, the thread
runs and stays registered, a group member like any other, while the
exception propagates.

Threads that threado did not start (the main thread, plain ``threading``
threads) get a handle on demand from :func:`current_thread`. Their end is
noticed by a sentinel in thread-local storage (see ``_state``), so joining
them is a threado wait as well; they have no result.

Failures are never silent: the handle of a thread that failed (ended by any
exception but :class:`ThreadCancelled`) whose outcome nobody retrieved logs the
failure once, when the handle is garbage-collected or at interpreter exit.

Invariants:

* ``_done`` is set exactly once, after ``_result``/``_exc`` are stored.
* While a spawned thread runs, its state holds its handle (``current_thread``
  needs it); when it ends the link is dropped, so that handle and thread do
  not keep each other alive.
"""

from __future__ import annotations

import _thread
import atexit
import itertools
import os
import sys
import threading
from _contextvars import Context, copy_context

# The WeakSet of weakref, without loading weakref (threading loads _weakrefset).
from _weakrefset import WeakSet

from . import _parking, _sync_mode
from ._errors import Reason, ThreadCancelled, ThreadError
from ._parking import Latch, deadline_from_timeout, wake_watchers
from ._reports import _logger, _report
from ._scopes import shield
from ._state import ThreadState, clock, get_state, install_state, lookup_state
from ._typing import TYPE_CHECKING, Generic, TypeVar, TypeVarTuple, cast

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._sync_cpu import Birth


__all__ = ["Thread", "current_thread", "run", "spawn"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


#: A blocking ``cancel()`` without a timeout logs a warning with the target's
#: stack after waiting this long (it may be stuck where threado cannot reach).
CANCEL_WARN_AFTER = 5.0

_counter = itertools.count(1)

# Spawned threads that are still running (for fork handling and, later,
# introspection), and handles whose failure is still unreported.
_registry_lock = _thread.allocate_lock()
_running: set[Thread[Any]] = set()
# Handles of threads threado did not start (ended by the fork handler).
_adopted: WeakSet[Thread[Any]] = WeakSet()
_unretrieved: WeakSet[Thread[Any]] = WeakSet()


class Thread(Generic[T]):
    """A handle on a thread: join it, wait for it, cancel it.

    Made by :func:`spawn` (threads that threado starts) and by
    :func:`current_thread` (any thread, including the main thread and plain
    ``threading`` threads). Do not instantiate it directly.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_done",
        "_exc",
        "_name",
        "_result",
        "_retrieved",
        "_spawned",
        "_state",
        "_thread",
    )

    _state: ThreadState
    _thread: threading.Thread
    _done: Latch
    _callbacks: list[Callable[[Thread[Any]], None]] | None
    _result: T | None
    _exc: BaseException | None
    _spawned: bool
    _retrieved: bool
    _name: str

    def __init__(self) -> None:
        raise TypeError("threado.Thread cannot be instantiated: use threado.spawn()")

    @classmethod
    def _make(cls, state: ThreadState, thread: threading.Thread | None, spawned: bool) -> Thread[T]:
        self: Thread[T] = object.__new__(cls)
        self._state = state
        self._done = Latch()
        # Called once the thread has ended (guarded by the latch's mutex).
        self._callbacks = []
        self._result = None
        self._exc = None
        self._spawned = spawned
        self._retrieved = False
        self._name = ""
        if thread is not None:
            self._thread = thread
            self._name = thread.name
        return self

    # -- outcome -----------------------------------------------------------

    def _record(self, result: Any, exc: BaseException | None) -> None:
        """Store the outcome; called once, by the thread itself, at its end.

        ``_done`` is set later, by the thread's end hook (see ``_bootstrap``).
        """
        self._result = result
        self._exc = exc
        if exc is not None and not isinstance(exc, ThreadCancelled):
            _logger()  # loads the reporting modules now, not in a later __del__
            with _registry_lock:
                _unretrieved.add(self)

    def _end(self) -> None:
        """Mark the thread ended: wake joiners, then run the callbacks."""
        done = self._done
        with done.mutex:
            # Set before leaving the registry: a fork at any point in between
            # finds the handle either registered or ended (see the handler).
            done._set = True
            with _registry_lock:
                _running.discard(self)
            done.handoff_all_locked(True)
            callbacks = self._callbacks
            self._callbacks = None
        for callback in callbacks or ():
            try:
                callback(self)
            except BaseException:  # an end hook must not fail: report it
                _logger().exception("callback for the end of %r failed", self)

    def _add_done_callback(self, callback: Callable[[Thread[Any]], None]) -> None:
        """Call ``callback(self)`` once the thread has ended (now, if it has)."""
        with self._done.mutex:
            if self._callbacks is not None:
                self._callbacks.append(callback)
                return
        callback(self)

    def _mark_retrieved(self) -> None:
        if not self._retrieved:
            self._retrieved = True
            if self._exc is not None:
                with _registry_lock:
                    _unretrieved.discard(self)

    def _check_not_self(self, what: str) -> None:
        if self._state is lookup_state():
            raise RuntimeError(f"a thread cannot {what} itself: {self!r}")

    def join(self, timeout: float | None = None) -> T:
        """Wait for the thread to end and return its result; a blocking point.

        Raises:
            ThreadError: the thread ended by an exception (also
                :class:`ThreadCancelled`), which is its ``__cause__``.
            TimeoutError: ``timeout`` passed while the thread still runs.
            RuntimeError: a thread tried to join itself.
            ThreadCancelled: the *calling* thread was cancelled while waiting.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"{self!r} is still running after {timeout} seconds")
        return self._outcome()

    def _outcome(self) -> T:
        self._mark_retrieved()
        if self._exc is not None:
            raise ThreadError(f"thread {self._name!r} failed") from self._exc
        return self._result  # type: ignore[return-value]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end, whatever its outcome; a blocking point.

        Returns:
            ``True`` once the thread has ended, ``False`` if ``timeout`` passed.

        Raises:
            RuntimeError: a thread tried to wait for itself.
            ThreadCancelled: the *calling* thread was cancelled while waiting.
        """
        self._check_not_self("wait for")
        return self._done.wait_until(deadline_from_timeout(timeout), self)

    def cancel(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Cancel the thread: its next blocking point raises :class:`ThreadCancelled`.

        Cancelling a finished thread does nothing; cancelling twice is fine.
        With ``blocking=False`` it only marks the thread and wakes it: that
        form takes no lock and is safe in a signal handler. Otherwise it is a
        blocking point that waits until the thread has ended, its ``finally``
        blocks and ``with`` exits run, or until ``timeout`` passes. A thread
        cancelling itself is not blocked: the call returns and the thread's
        next blocking point raises. A blocking cancel without a timeout that
        has waited a few seconds logs a warning with the target's stack.

        Returns:
            Whether the thread has ended.

        Raises:
            ThreadCancelled: the *calling* thread was cancelled while waiting.
        """
        if self._done.is_set():
            return True
        deadline = deadline_from_timeout(timeout)  # bad input fails before anything happens
        me = lookup_state()
        source = handle_of(me)
        if source is None and blocking:
            # Never in the non-blocking form: making a handle takes a lock
            # that the code a signal handler interrupted may hold.
            source = current_thread()
            me = source._state
        by = source._name if source is not None else "another thread"
        self._state.request_cancel(Reason.EXPLICIT, source, f"cancelled by {by}")
        if not blocking or me is self._state:
            return self._done.is_set()
        if timeout is None:
            if not self._done.wait_until(clock() + CANCEL_WARN_AFTER, self):
                self._warn_stuck()
                self._done.wait_until(None, self)
        elif not self._done.wait_until(deadline, self):
            return False
        return True

    def _warn_stuck(self) -> None:
        import traceback

        frame = sys._current_frames().get(self._thread.ident or -1)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)\n"
        _logger().warning(
            "cancel() has waited %.0f seconds for %r; it may be running code "
            "threado cannot interrupt, or be inside a shield. Its stack:\n%s",
            CANCEL_WARN_AFTER,
            self,
            stack,
        )

    @property
    def result(self) -> T:
        """The thread's return value; never blocks.

        Raises:
            RuntimeError: the thread is still running.
            ThreadError: the thread ended by an exception (its ``__cause__``).
        """
        if not self._done.is_set():
            raise RuntimeError(f"{self!r} has not finished")
        return self._outcome()

    @property
    def exception(self) -> BaseException | None:
        """The exception that ended the thread, or ``None``; never blocks.

        Raises:
            RuntimeError: the thread is still running.
        """
        if not self._done.is_set():
            raise RuntimeError(f"{self!r} has not finished")
        self._mark_retrieved()
        return self._exc

    @property
    def cancelled(self) -> bool:
        """Whether the thread ended by :class:`ThreadCancelled`."""
        return self._done.is_set() and isinstance(self._exc, ThreadCancelled)

    # -- identity ------------------------------------------------------------

    @property
    def name(self) -> str:
        """The thread's name."""
        return self._name

    @property
    def ident(self) -> int | None:
        """The thread's ``threading.get_ident()``, or ``None`` before it starts."""
        return self._thread.ident

    @property
    def native_id(self) -> int | None:
        """The operating system's id of the thread, or ``None`` before it starts."""
        return self._thread.native_id

    @property
    def daemon(self) -> bool:
        """Whether the thread is a daemon thread."""
        return self._thread.daemon

    def is_alive(self) -> bool:
        """Return whether the thread is still running.

        ``False`` once the thread has stored its outcome (its function has
        returned or raised and its ``finally`` blocks have run), even if its OS
        thread still has a few end hooks to run: so it is ``False`` whenever
        ``join``, ``wait``, a blocking ``cancel`` or a group's exit has
        returned because the thread ended, on every Python version.
        """
        if self._done.is_set():
            return False
        if self._spawned:
            return self._thread.is_alive()
        return True

    def done(self) -> bool:
        """Return whether the thread has finished (its outcome is known)."""
        return self._done.is_set()

    def __repr__(self) -> str:
        if self._done.is_set():
            exc = self._exc
            if exc is None:
                how = "finished"
            elif isinstance(exc, ThreadCancelled):
                how = "cancelled"
            else:
                how = f"failed with {type(exc).__name__}"
            return f"<threado.Thread {self._name} {how}>"
        st = self._state
        what = st.waiting_on
        if what is not None:
            # No times: the same state prints the same. A joined thread is
            # named, not repr'd (two threads joining each other would recurse).
            shown = f"<threado.Thread {what._name}>" if isinstance(what, Thread) else repr(what)
            state = f"waiting on {shown}"
        else:
            state = "running"
        if st.cancel is not None:
            state += ", cancel pending"
        return f"<threado.Thread {self._name} {state}>"

    def __del__(self) -> None:
        try:
            exc = self._exc
            retrieved = self._retrieved
        except AttributeError:
            return  # never fully made
        if exc is not None and not retrieved and not isinstance(exc, ThreadCancelled):
            self._retrieved = True
            _report(self._name, exc)


Thread.__module__ = "threado"


def _report_unretrieved_at_exit() -> None:
    with _registry_lock:
        pending = list(_unretrieved)
        _unretrieved.clear()
    for h in pending:
        if not h._retrieved and h._exc is not None:
            h._retrieved = True
            _report(h._name, h._exc)


#: At interpreter exit, threado daemon threads that are still running are
#: cancelled and given this many seconds (in all) to run their cleanup.
EXIT_GRACE = 5.0


def _cancel_daemons_at_exit() -> None:
    """Cancel the daemon threads threado started and let them clean up.

    Plain daemon threads are frozen mid-flight when the interpreter exits;
    threado's get a cancellation at their blocking point instead, and their
    ``finally`` blocks run, within :data:`EXIT_GRACE` seconds in all.
    """
    with _registry_lock:
        daemons = [h for h in _running if h._thread.daemon]
    if not daemons:
        return
    for h in daemons:
        h._state.request_cancel(Reason.EXPLICIT, None, "cancelled at interpreter exit")
    deadline = clock() + EXIT_GRACE
    with shield():  # the main thread may itself be cancelled by now
        for h in daemons:
            if not h._done.wait_until(deadline, h):
                _logger().warning(
                    "%r did not finish its cleanup within %.1f s of interpreter exit",
                    h,
                    EXIT_GRACE,
                )


# atexit runs its callbacks last-registered first: cancel the daemon threads,
# then report the failures nobody retrieved (theirs included).
atexit.register(_report_unretrieved_at_exit)
atexit.register(_cancel_daemons_at_exit)


def _bootstrap(
    handle: Thread[Any],
    state: ThreadState,
    ctx: Context,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    launch: list[None],
    birth: list[Birth],
) -> None:
    if not _claim(launch):
        return  # the spawner's start() failed first: this thread must not run (see _spawn)
    # The end hook runs when CPython clears this thread's state, after the
    # last line of Python the thread runs (ours and threading's): joiners
    # woken by it find the thread gone, instead of waking only to wait for
    # the interpreter lock while it finishes.
    install_state(state, [handle._end, lambda: wake_watchers(state)])
    if state.sync is not None or birth:  # a synchronous run's thread: wait for the first turn
        _sync_mode.first_turn(state, birth[0] if birth else None)
    result: Any = None
    error: BaseException | None = None
    try:
        result = ctx.run(func, *args)
    except BaseException as exc:
        # Drop this frame from the traceback: it is only noise.
        if exc.__traceback__ is not None:
            exc.__traceback__ = exc.__traceback__.tb_next
        error = exc
    state.handle = None
    state.waiting_on = None
    # thread <-> handle would be a cycle; a join() of the ended thread's
    # threading object needs no handle (it returns at once).
    handle._thread.__dict__.pop("_threado_handle", None)
    handle._record(result, error)
    # The exception's traceback keeps this frame alive through f_back: it
    # must not hold the handle, or handle -> exception -> frame -> handle
    # would be a cycle that only the garbage collector can free.
    del handle, result, error


def spawn(
    func: Callable[[*Ts], T],
    *args: *Ts,
    name: str | None = None,
    daemon: bool = False,
) -> Thread[T]:
    """Start ``func(*args)`` in a new OS thread and return its handle.

    The thread runs in a copy of the caller's ``contextvars`` context. It does
    not inherit the caller's timeouts or shields. Pass keyword arguments with
    ``functools.partial``.

    Raises:
        TypeError: ``func`` is not callable.
    """
    return _spawn(func, args, name, daemon)


def _spawn(
    func: Callable[..., T],
    args: tuple[Any, ...],
    name: str | None,
    daemon: bool,
    before_start: Callable[[Thread[Any]], None] | None = None,
    not_started: Callable[[Thread[Any]], None] | None = None,
) -> Thread[T]:
    """:func:`spawn`; ``before_start(handle)`` runs before the thread starts
    (a group adopts it there, so that it is a member from its first line).
    If it raises, no thread starts. If starting raises, ``not_started(handle)``
    runs when the thread will never run; when it did begin (a Ctrl-C in
    ``start()``'s wait for it), it runs and stays registered, and the
    exception still propagates."""
    if not callable(func):
        raise TypeError(f"spawn() needs a callable, not {type(func).__name__}")
    if name is None:
        fname = getattr(func, "__name__", None) or type(func).__name__
        name = f"Thread-{next(_counter)} ({fname})"
    elif not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    load = _parking.load_detector
    if load is not None:
        load()
    state = ThreadState()
    handle: Thread[T] = Thread._make(state, None, spawned=True)
    handle._name = name
    state.handle = handle
    ctx = copy_context()
    launch: list[None] = [None]  # the launch token (see _claim)
    # A synchronous run's thread born pinned: the mask it is to have, and the
    # pin (see _sync_run.Run.start_pinned).
    birth: list[Birth] = []
    thread = threading.Thread(
        target=_bootstrap,
        args=(handle, state, ctx, func, args, launch, birth),
        name=name,
        daemon=bool(daemon),
    )
    handle._thread = thread
    # Under patch(), threading.Thread.join() on this thread's object waits on
    # this handle (cancellably), and the patched bootstrap adopts no second one.
    thread._threado_handle = handle  # type: ignore[attr-defined]
    if before_start is not None:
        before_start(handle)
    with _registry_lock:
        _running.add(handle)
    spawner = lookup_state()
    if spawner is not None and spawner.sync is None:
        spawner = None  # not in a synchronous run
    if spawner is not None:
        _sync_mode.join_spawned(spawner, state)  # joins the run's turn order now
    try:
        if spawner is None:
            thread.start()
        else:
            _sync_mode.start_spawned(spawner, thread.start, birth)
    except BaseException:
        if _claim(launch):  # it never began, and now never will
            with _registry_lock:
                _running.discard(handle)
            state.handle = None
            thread.__dict__.pop("_threado_handle", None)  # a join() returns at once
            _sync_mode.leave(state)
            if not_started is not None:
                not_started(handle)
        raise
    return handle


def _claim(launch: list[None]) -> bool:
    """Take the launch token; ``True`` for the first taker only.

    The bootstrap takes it as its first act, and a spawner whose
    ``start()`` raised tries to: so either the thread runs and the spawner
    keeps it, or the spawner forgets it and the thread, if its OS thread
    did begin, returns at once. ``list.pop`` is one atomic operation, with
    the GIL or without (the list's own lock).
    """
    try:
        launch.pop()
    except IndexError:
        return False
    return True


def current_thread() -> Thread[Any]:
    """Return the handle of the calling thread, whoever started it.

    The main thread and plain ``threading`` threads get a handle too; it can
    be cancelled and joined like any other (it has no result).
    """
    st = get_state()
    h = handle_of(st)
    if h is None:
        h = adopt_current(threading.current_thread())
    return h


def handle_of(st: ThreadState | None) -> Thread[Any] | None:
    """Return ``st``'s handle, if the thread has one (``st`` may be ``None``)."""
    # Only this module sets ThreadState.handle, and always to a Thread.
    return None if st is None else cast("Thread[Any] | None", st.handle)


def adopt_current(thread: threading.Thread) -> Thread[Any]:
    """Give the calling thread, a thread threado did not start, its handle.

    ``thread`` is the calling thread's ``threading.Thread`` object (passed
    in, because in a thread's bootstrap ``threading.current_thread()`` would
    not know it yet).
    """
    st = get_state()
    h: Thread[Any] = Thread._make(st, thread, spawned=False)
    st.handle = h
    hooks = st.end_hooks
    if hooks is not None:
        hooks.append(h._end)
        hooks.append(lambda: wake_watchers(st))
    if thread is threading.main_thread():
        # The main thread's storage outlives the wait for non-daemon threads
        # at exit; its end is when that wait starts, or a non-daemon thread
        # joining (or cancelling) it would never return.
        try:
            threading._register_atexit(h._end)  # type: ignore[attr-defined]
        except RuntimeError:
            h._end()  # called during interpreter exit: threading is done with it
    else:
        _record_outcome(thread, h)
        if hooks is not None:
            hooks.append(_unlink(st, thread))
    with _registry_lock:
        _adopted.add(h)
    return h


def _unlink(st: ThreadState, thread: threading.Thread) -> Callable[[], None]:
    """An end hook that drops the links between an adopted thread and its handle.

    While the thread runs, its state, its ``threading.Thread`` and its handle
    refer to each other; once it has ended nothing needs the way back, and
    keeping it would leave a finished thread (and all it holds) to the
    cyclic garbage collector instead of reference counting.
    """

    def unlink() -> None:
        st.handle = None
        links = thread.__dict__
        links.pop("_invoke_excepthook", None)  # the wrapper holds the handle
        links.pop("_threado_handle", None)  # set by patch(); join() then needs no handle

    return unlink


def _record_outcome(thread: threading.Thread, h: Thread[Any]) -> None:
    """Make ``h`` learn how the plain thread ``thread`` ends.

    ``threading`` hands an exception that escapes ``run()`` to the thread
    object's own ``_invoke_excepthook``; this wraps that one object's (no
    global patching) to record the exception on the handle first. An escaping
    ``ThreadCancelled`` is the thread's cancellation, not a failure: it is
    recorded and not printed, as for threado's own threads. Anything else
    still goes to ``threading.excepthook``.
    """
    invoke = getattr(thread, "_invoke_excepthook", None)
    if invoke is None or isinstance(thread, threading._DummyThread):
        return  # not started by threading: no hook, and nothing escapes to us

    def record_then_invoke(t: threading.Thread) -> None:
        exc = sys.exc_info()[1]
        if exc is None:
            invoke(t)
            return
        h._exc = exc
        h._retrieved = True  # reported by threading.excepthook, or not a failure
        try:
            if not isinstance(exc, ThreadCancelled):
                invoke(t)
        finally:
            import traceback

            # The handle outlives the thread: its exception must not keep the
            # finished frames' locals (the thread's target and arguments)
            # alive, as threading itself takes care not to.
            traceback.clear_frames(exc.__traceback__)

    thread._invoke_excepthook = record_then_invoke  # type: ignore[attr-defined]


def run(
    func: Callable[[*Ts], T], *args: *Ts, synchronous: bool = False, seed: int | None = None
) -> T:
    """Run ``func(*args)`` in the calling thread as the program's root.

    Exceptions propagate unwrapped. Optional: everything in threado works
    without it.

    With ``synchronous=True``, ``func`` and every threado thread it spawns
    (transitively) run one at a time, switching only at blocking points, in
    virtual time (see ``docs/synchronous.rst``): in FIFO order, or with an
    integer ``seed`` in a pseudo-random order that the same seed reproduces.

    Raises:
        TypeError: ``func`` is not callable, or ``seed`` is not an integer.
        ValueError: a ``seed`` without ``synchronous=True``.
        RuntimeError: ``synchronous=True`` inside a synchronous run.
    """
    if not callable(func):
        raise TypeError(f"run() needs a callable, not {type(func).__name__}")
    current_thread()
    if not synchronous:
        if seed is not None:
            raise ValueError("run(): a seed needs synchronous=True")
        return func(*args)
    return cast(T, _sync_mode.run_main(func, args, seed))


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = _thread.allocate_lock()
    me = lookup_state()
    # Failures of threads that ended before the fork are the parent's to
    # report: reported once, not once per process.
    for h in _unretrieved:
        h._retrieved = True
    _unretrieved.clear()
    for h in [*_running, *_adopted]:
        if h._state is me:
            # The forking thread goes on, but its latch's mutex may have
            # been held by a thread that is gone (one joining it): renew it.
            if not h._done._set:
                h._done = Latch()
            continue
        if h._done._set:
            continue
        # That thread does not exist in the child: it is over. A spawned one
        # has no outcome (join() raises ThreadError, as for a failure). Its
        # latch and callbacks are replaced, not run: their locks and the
        # groups they would notify may be held by threads that are gone.
        if h._spawned and h._exc is None and h._result is None:
            h._exc = RuntimeError(f"thread {h._name!r} does not exist in this forked child")
            h._retrieved = True  # nothing to report in the child
        h._done = Latch()
        h._done._set = True
        h._callbacks = None
    _running.clear()
    _adopted.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
