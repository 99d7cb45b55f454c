"""The condition objects of ``threado.wait``: readable, writable, exited, signalled, after.

A condition names something that is not an object with a state of its own
(a descriptor's readiness, a child's exit, a signal, a point in time); it
only *describes* what to wait for. ``_wait`` turns each condition (and each
directly waitable object) into a watch for the length of one call.

Theory of operation
-------------------

* Conditions are cheap and inert: making one opens nothing and starts
  nothing, except ``signalled``, which must install the signal dispatcher
  at once so that it counts every signal from its creation on.
* Nothing here imports the I/O layer: ``select``, ``subprocess`` and
  ``signal`` are imported by the calls that need them (``import threado``
  stays light).
* The signal dispatcher is one Python-level handler per signal number,
  installed with ``signal.signal`` (main thread only, a Python rule). It
  runs in the main thread between two bytecodes, so it must never block:
  it takes no lock. It increments the signal's count, unparks the threads
  registered for that signal and calls the handler it replaced. The
  registrations are an immutable tuple per signal, replaced whole under
  ``_signal_mutex`` (which the handler never takes): the handler reads the
  old tuple or the new one, both consistent. A waiter registers, *then*
  reads the count; the handler counts, *then* reads the registrations: a
  signal is seen by the waiter's look or wakes it (with the GIL; see the
  docs for free-threaded builds).
"""

from __future__ import annotations

import _thread
import os
import threading
from types import FrameType

from ._parking import check_seconds
from ._queues import Queue
from ._simplequeue import SimpleQueue
from ._state import ThreadState, clock, unpark
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["WaitCondition", "after", "exited", "readable", "signalled", "writable"]


class WaitCondition:
    """Base of the condition objects accepted by :func:`threado.wait`."""

    __slots__ = ()


def _descriptor(x: object, what: str, closed: int | None = None) -> int | None:
    """The descriptor of ``x`` now, or ``None`` for a threado queue.

    Args:
        x: What a condition was made with.
        what: The condition's name, for messages.
        closed: If not ``None``, returned instead of raising ``ValueError``
            when ``x`` no longer has a descriptor: at the wait, an ``x``
            accepted at creation that has been closed since (a socket's
            ``fileno()`` is then -1, a file's raises ``ValueError``).

    Raises:
        TypeError: ``x`` is neither an integer, nor has ``fileno()``, nor is a
            threado queue.
        ValueError: the descriptor is negative (a closed socket).
    """
    if type(x) is int:
        fd = x
    elif isinstance(x, (Queue, SimpleQueue)):  # a tuple: faster than a union
        return None
    elif isinstance(x, int) and not isinstance(x, bool):
        fd = x
    else:
        fileno = getattr(x, "fileno", None)
        if fileno is None or not callable(fileno):
            raise TypeError(
                f"{what}() takes a descriptor, an object with fileno() or a threado "
                f"queue, not {type(x).__name__}"
            )
        try:
            fd = fileno()
        except ValueError:  # a closed file object
            if closed is None:
                raise
            return closed
        if not isinstance(fd, int):
            raise TypeError(f"fileno() of {type(x).__name__} returned {type(fd).__name__}")
    if fd < 0:
        if closed is not None:
            return closed
        raise ValueError(f"{what}(): file descriptor cannot be negative ({fd})")
    return fd


class readable(WaitCondition):
    """Ready when ``x`` can be read without blocking.

    ``x`` is a descriptor, an object with ``fileno()`` (a socket, a pipe, a
    file), or a threado queue (ready when an item is there or it is shut
    down). A descriptor in error, hung up or closed is reported ready too:
    the read that follows reports the condition.

    Raises:
        TypeError: ``x`` cannot be waited on for reading.
        ValueError: ``x``'s descriptor is negative.
    """

    __slots__ = ("target",)

    def __init__(self, x: object) -> None:
        _descriptor(x, type(self).__name__)
        self.target = x

    def __repr__(self) -> str:
        return f"threado.{type(self).__name__}({self.target!r})"


class writable(readable):
    """Ready when ``x`` can be written without blocking.

    ``x`` is as for :class:`readable`; a threado queue is writable when it
    has room (always, for an unbounded one) or is shut down (a ``put``
    then raises at once instead of blocking).
    """

    __slots__ = ()


class exited(WaitCondition):
    """Ready once the child process ``p`` (a ``subprocess.Popen`` or a pid) has ended.

    Readiness never reaps the child: ``p.wait()``/``p.poll()`` (or
    ``os.waitpid``) still return its status afterwards.

    Raises:
        TypeError: ``p`` is neither a ``Popen`` nor an integer pid.
        ValueError: ``p`` is not a positive pid.
    """

    __slots__ = ("process",)

    def __init__(self, p: object) -> None:
        if isinstance(p, int) and not isinstance(p, bool):
            if p <= 0:
                raise ValueError(f"exited() needs a positive pid, not {p}")
        elif not _is_popen(p):
            raise TypeError(f"exited() takes a subprocess.Popen or a pid, not {type(p).__name__}")
        self.process = p

    @property
    def pid(self) -> int:
        """The process id."""
        p = self.process
        return p if isinstance(p, int) else p.pid  # type: ignore[attr-defined]

    def reaped(self) -> bool:
        """Whether the ``Popen`` has already collected the status (so it has ended)."""
        return not isinstance(self.process, int) and self.process.returncode is not None  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"threado.exited({self.pid})"


def _is_popen(p: object) -> bool:
    import sys

    sp = sys.modules.get("subprocess")  # a Popen exists only if subprocess is loaded
    return sp is not None and isinstance(p, sp.Popen)


class after(WaitCondition):
    """Ready once ``seconds`` have passed since the condition was created.

    It only contributes a deadline to the waits that use it: no timer, no
    thread. The same object can be reused; it stays ready.

    Raises:
        TypeError: ``seconds`` is not a number.
        ValueError: ``seconds`` is negative or NaN.
    """

    __slots__ = ("deadline", "seconds")

    def __init__(self, seconds: float) -> None:
        seconds = check_seconds(seconds, "seconds")
        if seconds < 0:
            raise ValueError(f"after() needs a non-negative number of seconds, not {seconds}")
        self.seconds = seconds
        #: The :func:`threado.clock` value at which it becomes ready.
        self.deadline = clock() + seconds

    def __repr__(self) -> str:
        return f"threado.after({self.seconds!r})"


# -- signals -----------------------------------------------------------------------------

_signal_mutex = _thread.allocate_lock()
# Deliveries seen by the dispatcher, per signal number; written only by the
# dispatcher (in the main thread).
_counts: dict[int, int] = {}
# Threads to unpark on each delivery: immutable tuples, replaced whole under
# _signal_mutex, read by the dispatcher without it.
_registered: dict[int, tuple[ThreadState, ...]] = {}
# The handlers the dispatcher replaced, per signal, oldest first: one per
# installation over a handler that was not the dispatcher (see _dispatch).
_previous: dict[int, list[Any]] = {}
# Per signal, how deep the main thread is in _dispatch (re-entered through a
# handler it chained to, which chains back to it). Main thread only.
_depth: dict[int, int] = {}


def _dispatch(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler of every signal a ``signalled`` watches.

    Counts the delivery, wakes the registered waiters, then calls the handler
    it replaced (unless that was ``SIG_DFL``, ``SIG_IGN`` or not Python's).
    Takes no lock: it interrupts the main thread anywhere.

    A handler installed over the dispatcher that calls the one it replaced
    (the dispatcher) and is then replaced by the dispatcher again (a later
    ``signalled()``) calls back into it: that call is not a delivery. It
    does not count again; it goes on down the chain, to the handler the
    dispatcher replaced before that one (as the handler expects: what it
    replaced chained there), so each delivery counts once and every handler
    runs once.
    """
    depth = _depth.get(signum, 0)
    if not depth:
        _counts[signum] = _counts.get(signum, 0) + 1
        for st in _registered.get(signum, ()):
            unpark(st)
    chain = _previous.get(signum, ())
    if depth >= len(chain):
        return
    previous = chain[len(chain) - 1 - depth]
    if not callable(previous):
        return
    _depth[signum] = depth + 1
    try:
        previous(signum, frame)
    finally:
        _depth[signum] = depth


def _is_dispatch(handler: object) -> bool:
    """Whether ``handler`` is the dispatcher or a plain wrapper of it
    (``functools.partial``, ``functools.wraps``)."""
    for _ in range(100):  # a wrapper chain that loops: give up
        if handler is _dispatch:
            return True
        inner = getattr(handler, "__wrapped__", None)
        if inner is None:
            inner = getattr(handler, "func", None)  # functools.partial
        if inner is None:
            return False
        handler = inner
    return False


def _install(signum: int) -> None:
    """Make sure the dispatcher handles ``signum`` (again, if replaced since).

    Raises:
        RuntimeError: it must be installed and the caller is not the main thread.
        ValueError: ``signum`` is not a signal that can be caught.
    """
    import signal

    if signal.getsignal(signum) is _dispatch:
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"signalled({signum}) must first be used in the main thread: Python lets only "
            "the main thread install the signal handler that catches it"
        )
    with _signal_mutex:
        try:
            previous = signal.signal(signum, _dispatch)
        except OSError as exc:  # SIGKILL, SIGSTOP
            raise ValueError(f"signal {signum} cannot be caught") from exc
        if not _is_dispatch(previous):
            _previous.setdefault(signum, []).append(previous)
        _counts.setdefault(signum, 0)


def register_signal(signum: int, st: ThreadState) -> None:
    """Unpark ``st`` at every delivery of ``signum`` until :func:`unregister_signal`."""
    with _signal_mutex:
        _registered[signum] = (*_registered.get(signum, ()), st)


def unregister_signal(signum: int, st: ThreadState) -> None:
    """Undo one :func:`register_signal` (no-op if there is none)."""
    with _signal_mutex:
        states = list(_registered.get(signum, ()))
        if st in states:
            states.remove(st)
        if states:
            _registered[signum] = tuple(states)
        else:
            _registered.pop(signum, None)


def signal_waiters() -> int:
    """How many registrations exist, over all signals (for tests)."""
    return sum(len(v) for v in _registered.values())


class signalled(WaitCondition):
    """Ready once the process has received signal ``signum`` after this was created.

    ``count`` says how many deliveries it has seen. Creating the first one
    for a signal installs threado's dispatcher for it with ``signal.signal``
    (so, a Python rule, in the main thread); later ones may be created in
    any thread. The dispatcher calls the handler that was installed before
    it, unless that was ``SIG_DFL`` or ``SIG_IGN``: while it is installed,
    the signal's default action (ending the process for ``SIGTERM``) does
    not happen; the program decides.

    Raises:
        RuntimeError: the dispatcher is not installed for ``signum`` yet and
            the caller is not the main thread.
        ValueError: ``signum`` is not a signal that can be caught.
        TypeError: ``signum`` is not an integer.
    """

    __slots__ = ("_base", "signum")

    def __init__(self, signum: int) -> None:
        import signal

        if not isinstance(signum, int) or isinstance(signum, bool):
            raise TypeError(f"signalled() takes a signal number, not {type(signum).__name__}")
        if signum not in signal.valid_signals():
            raise ValueError(f"{signum} is not a valid signal number")
        _install(signum)
        self.signum = int(signum)
        self._base = _counts.get(self.signum, 0)

    @property
    def count(self) -> int:
        """How many times the signal arrived since this condition was created."""
        return _counts.get(self.signum, 0) - self._base

    def __repr__(self) -> str:
        return f"threado.signalled({self.signum}, count={self.count})"


def _after_fork_in_child() -> None:
    global _signal_mutex
    _signal_mutex = _thread.allocate_lock()
    _registered.clear()  # the parent's waiters are not in this process
    _depth.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


for _cls in (WaitCondition, readable, writable, exited, after, signalled):
    _cls.__module__ = "threado"
