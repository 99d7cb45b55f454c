"""Waiting on descriptors: the parker's second way to block.

Theory of operation
-------------------

A thread that waits on a descriptor cannot block on its token (see
``_state``); it blocks in ``poll`` on the descriptor *and* on its own
wake-up descriptor, an ``eventfd`` (a non-blocking pipe where there is
none), created the first time the thread waits on I/O and closed by the
thread's end hook. A thread that never waits on I/O costs no descriptor.

* ``st.wakeup`` is set before the thread first checks for cancellation in
  an I/O wait, and ``unpark`` (which every canceller calls after setting the
  cancel flag) writes to it while ``waiting`` is set. So either the
  waiter's check sees the flag, or the write wakes its ``poll``: a cancel is
  never missed. Outside I/O waits nothing is written (lock hand-offs cost
  no system call). How "either ... or" is made true, with and without the
  GIL, is the next point.
* The owner *arms* (``waiting = True``) and then reads the cancel flag; a
  waker writes the flag and then reads ``waiting``. Each side writes one
  field and reads the other (Dekker's pattern), which is correct only if
  the two writes cannot both be missed by the two reads. With the GIL that
  holds for plain attribute reads and writes (one thread runs Python code
  at a time, and every switch is a full barrier), and there a waker that
  reads ``waiting`` false returns at once: the common unpark of a thread
  not in an I/O wait costs one attribute read. Without the GIL
  (``Py_GIL_DISABLED`` builds) plain reads and writes give no such order,
  so nothing rests on them: the owner arms *under* ``_lock``, and a waker
  reads ``waiting`` only *under* ``_lock``. Two critical sections of one
  ``_thread`` lock are ordered one way or the other, and the release of
  the first happens-before the acquire of the second: if the owner's comes
  first, the waker sees ``waiting`` and writes; if the waker's comes
  first, its cancel flag (written before it) is visible to the owner's
  check (made after). Disarming (``waiting = False`` after the wait) needs
  no lock: a waker that still sees ``True`` writes once for nothing, and
  the next wait drains it.
* A waker must never block (``wake`` runs in signal handlers, in
  ``__del__``, inside another thread's critical section), so it only
  *tries* ``_lock``, and a failed try orders nothing. It first posts a
  request in ``_requests``, a ``collections.deque`` whose operations are
  single C calls that hold the deque's own lock in free-threaded builds (a
  C-level critical section), and whoever holds ``_lock`` looks for
  requests with a locked deque operation (``pop``, never ``len``) after
  releasing it, and serves them. Either the holder's look comes after the
  waker's post in the deque's lock order (it sees the request: it
  happens-after the waker's cancel flag, and it takes ``_lock`` again to
  write), or before it: then the holder's release happens-before the
  waker's try, which finds ``_lock`` free (or held by a later holder,
  which looks for requests in turn). So a request is never stranded, and
  an owner that arms while a waker tries the lock sees the waker's flag or
  gets its write. ``_lock`` is re-entrant so that a signal handler or a
  finalizer running in a thread that holds it (it may call ``wake``) takes
  it again instead of leaving a request nobody would serve; only the owner
  blocks on it (to arm, and to close), for the few bytecodes a waker holds
  it, and a waker never blocks, so no cycle of threads can wait on each
  other.
* The wake-up descriptor is drained after every wake-up that does not end
  the wait (a cancelled thread leaves at once); a stale write only costs one
  more loop. It is closed first among its thread's end hooks: closing
  releases the interpreter lock, which a joiner woken earlier would take,
  only to wait again for the thread to finish.
* ``poll`` waits until the earliest deadline in force (the call's own
  timeout, enclosing timeout blocks); nobody polls on a timer.
"""

from __future__ import annotations

import _thread
import errno
import os
import select
from collections import deque
from typing import Final

from ._parking import announce, enter_wait, leave_wait, wake_watchers
from ._state import FREE_THREADED, ThreadState, clock, get_state, local

__all__ = ["FDWakeup", "PollSet", "poll_fds", "wait_fd", "wait_readable", "wait_writable"]

_EVENTFD: Final = hasattr(os, "eventfd")
# Without the GIL, plain attribute reads and writes are not sequentially
# consistent between threads (see the module docstring).
_FREE_THREADED: Final = FREE_THREADED
# The standard library's own, bound now: threado.patch() replaces select.poll.
_stdpoll = select.poll


class FDWakeup:
    """A thread's wake-up descriptor (see the module docstring)."""

    __slots__ = ("_closed", "_lock", "_requests", "poller", "read_fd", "waiting", "write_fd")

    def __init__(self) -> None:
        if _EVENTFD:
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self.read_fd = self.write_fd = fd
        else:  # pragma: no cover - platforms without eventfd
            self.read_fd, self.write_fd = os.pipe()
            os.set_blocking(self.read_fd, False)
            os.set_blocking(self.write_fd, False)
        # True while the owner is in an I/O wait: set by arm() under _lock,
        # cleared by the owner; read by wakers under _lock (without it only
        # where the GIL orders plain reads and writes).
        self.waiting = False
        # The owner's poller, with read_fd registered for good; a wait adds
        # its descriptors and takes them out again (owner thread only).
        self.poller = _stdpoll()
        self.poller.register(self.read_fd, select.POLLIN)
        self._closed = False
        # Guards `waiting` (arming), `_closed` and the descriptors against a
        # concurrent wake(); re-entrant (see the module docstring).
        self._lock = _thread.RLock()
        # Wake-up requests left by wakers that found _lock taken; served by
        # whoever holds it, after releasing it. Touched only by single deque
        # calls (locked ones in free-threaded builds).
        self._requests: deque[None] = deque()

    def arm(self) -> None:
        """Mark the owner as in an I/O wait; it checks for cancellation next."""
        with self._lock:
            self.waiting = True
        if self._requested_meanwhile():
            self._serve()

    def wake(self) -> None:
        """Wake the owner if it is in an I/O wait. Never blocks.

        Safe in a signal handler and in ``__del__``: the lock is only tried;
        whoever holds it serves the request after releasing it.
        """
        if not _FREE_THREADED and not self.waiting:
            return  # with the GIL this read is ordered (see the module docstring)
        self._requests.append(None)
        self._serve()

    def _serve(self) -> None:
        """Serve the pending requests with one write, if the owner waits."""
        requests = self._requests
        while self._lock.acquire(False):
            try:
                requests.clear()
                if self.waiting and not self._closed:
                    if _EVENTFD:
                        os.eventfd_write(self.write_fd, 1)
                    else:  # pragma: no cover
                        os.write(self.write_fd, b"\0")
            except OSError:
                pass  # already signalled (or full): one wake-up is enough
            finally:
                self._lock.release()
            if not self._requested_meanwhile():
                return

    def _requested_meanwhile(self) -> bool:
        """After releasing ``_lock``: did a waker leave a request meanwhile?"""
        requests = self._requests
        if not _FREE_THREADED:
            return bool(requests)  # with the GIL, len() is ordered too
        try:
            requests.pop()  # a locked operation, unlike len()
        except IndexError:
            return False
        requests.append(None)
        return True

    def drain(self) -> None:
        """Consume pending wake-ups."""
        try:
            if _EVENTFD:
                os.eventfd_read(self.read_fd)
            else:  # pragma: no cover
                while os.read(self.read_fd, 512):
                    pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        """Release the descriptors (at the owner's end)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self.read_fd)
            if self.write_fd != self.read_fd:  # pragma: no cover
                os.close(self.write_fd)


def _wakeup_for(st: ThreadState) -> FDWakeup:
    w = st.wakeup
    if w is None:
        w = FDWakeup()
        st.wakeup = w
        hooks = st.end_hooks
        if hooks is not None:
            # First: close() releases the interpreter lock, and a joiner woken
            # by the later hooks would take it, then only wait for this
            # thread to finish (a wake-up more for both).
            hooks.insert(0, w.close)
    return w  # type: ignore[return-value]


def poll_fds(
    fds: dict[int, int], deadline: float | None, what: object = None
) -> list[tuple[int, int]]:
    """Poll descriptors ``{fd: events}`` until one is ready, cancellably.

    A blocking point when it may wait (a ``deadline`` not already passed):
    it checks for cancellation on entry and reacts to a cancel or an
    enclosing deadline at once.

    Returns:
        The ``(fd, revents)`` pairs that are ready, as ``poll`` reports them;
        empty if ``deadline`` (a :func:`threado.clock` value) passed first.

    Raises:
        ThreadCancelled: the thread was cancelled or an enclosing deadline
            passed.
    """
    st = get_state()
    wakeup = _wakeup_for(st)
    if st.depth:
        # A wait inside another (a signal handler's): its own poller, so as
        # not to disturb the outer wait's registrations.
        poller = _stdpoll()
        poller.register(wakeup.read_fd, select.POLLIN)
    else:
        poller = wakeup.poller
    registered: list[int] = []
    try:
        for fd, events in fds.items():
            poller.register(fd, events)
            registered.append(fd)
    except BaseException:
        for fd in registered:  # leave the thread's poller as it was
            poller.unregister(fd)
        raise
    saved = enter_wait(st)
    was_waiting = wakeup.waiting  # an outer I/O wait, if we run in a signal handler
    try:
        wakeup.arm()  # before the check below: see the module docstring
        announce(st, what if what is not None else f"descriptors {sorted(fds)}", deadline)
        while True:
            st.check()
            d = st.effective_deadline(deadline)
            if d is None:
                ms = -1
            else:
                remaining = d - clock()
                if remaining <= 0:
                    if deadline is not None and clock() >= deadline:
                        ready = poller.poll(0)
                        return [(fd, ev) for fd, ev in ready if fd != wakeup.read_fd]
                    continue  # a scope's deadline: check() raises
                ms = max(1, int(min(remaining, _POLL_MAX) * 1000 + 0.999))
            ready = [(fd, ev) for fd, ev in poller.poll(ms) if fd != wakeup.read_fd]
            if ready:
                return ready
            wakeup.drain()
    finally:
        wakeup.waiting = was_waiting
        for fd in fds:
            try:
                poller.unregister(fd)
            except KeyError:  # pragma: no cover - registered above
                pass
        leave_wait(st, saved)


class PollSet:
    """Several descriptors polled together with the thread's wake-up descriptor.

    For ``threado.wait``, which must also return when anything else it
    watches wakes the thread: :meth:`poll` returns on a wake-up too (a
    wake-up is an ``unpark``, which writes the wake-up descriptor while the
    set is open). Owner thread only; make it *before* ``enter_wait`` so that
    a wait inside another one (a signal handler's) gets its own poller.
    """

    __slots__ = ("_registered", "_was_waiting", "fds", "poller", "wakeup")

    def __init__(self, st: ThreadState, fds: dict[int, int]) -> None:
        self.wakeup = wakeup = _wakeup_for(st)
        if st.depth:
            self.poller = _stdpoll()
            self.poller.register(wakeup.read_fd, select.POLLIN)
        else:
            self.poller = wakeup.poller
        self.fds = fds
        self._registered: list[int] = []
        self._was_waiting = wakeup.waiting

    def open(self) -> None:
        """Register the descriptors and arm the wake-up descriptor.

        Call before the caller's last look at what it waits for (see the
        module docstring: arm, then check), and :meth:`close` in a
        ``finally`` even if this raised.
        """
        for fd, events in self.fds.items():
            self.poller.register(fd, events)
            self._registered.append(fd)
        self.wakeup.arm()

    def poll(self, deadline: float | None) -> dict[int, int]:
        """Block until a descriptor is ready, the thread is woken, or ``deadline``.

        Returns:
            ``{fd: revents}`` of the ready descriptors (empty after a
            wake-up or at the deadline); the wake-up is consumed.
        """
        if deadline is None:
            ms = -1
        else:
            remaining = deadline - clock()
            ms = 0 if remaining <= 0 else int(min(remaining, _POLL_MAX) * 1000 + 0.999)
        read_fd = self.wakeup.read_fd
        ready: dict[int, int] = {}
        woken = False
        for fd, revents in self.poller.poll(ms):
            if fd == read_fd:
                woken = True
            else:
                ready[fd] = revents
        if woken:
            self.wakeup.drain()
        return ready

    def set_events(self, fd: int, events: int) -> None:
        """Poll ``fd`` for ``events`` from now on; 0 takes it out of the poll."""
        if events:
            self.poller.modify(fd, events)
            self.fds[fd] = events
        else:
            self.poller.unregister(fd)
            self._registered.remove(fd)
            del self.fds[fd]

    def close(self) -> None:
        """Disarm and unregister the descriptors (idempotent)."""
        self.wakeup.waiting = self._was_waiting
        while self._registered:
            try:
                self.poller.unregister(self._registered.pop())
            except KeyError:  # pragma: no cover - registered in open()
                pass


# The longest single poll, in seconds: poll() takes an int of milliseconds.
_POLL_MAX: Final = (2**31 - 1) / 1000


def wait_fd(fd: int, events: int, deadline: float | None, what: object = None) -> bool:
    """Wait until ``fd`` is ready for ``events`` (``select.POLLIN``/``POLLOUT``).

    A blocking point (see :func:`poll_fds`).

    Returns:
        ``True`` once ready (or in error/hang-up: the next I/O call reports
        it), ``False`` if ``deadline`` (a :func:`threado.clock` value) passed.
    """
    st = local.state
    if (
        deadline is None
        and st is not None
        and st.deadline is None
        and not st.depth
        and st.wakeup is not None
    ):
        revents = _wait_one(st, st.wakeup, fd, events, what)  # type: ignore[arg-type]
    else:
        ready = poll_fds({fd: events}, deadline, what if what is not None else f"descriptor {fd}")
        if not ready:
            return False
        revents = ready[0][1]
    if revents & select.POLLNVAL:
        raise OSError(errno.EBADF, "Bad file descriptor")
    return True


def _wait_one(st: ThreadState, wakeup: FDWakeup, fd: int, events: int, what: object) -> int:
    """:func:`poll_fds`' common case, lean: one descriptor, no deadline in
    force, not inside another wait, the wake-up descriptor already made.
    Returns ``fd``'s ``revents``."""
    poller = wakeup.poller
    saved_what, saved_since = st.waiting_on, st.wait_since
    registered = False
    try:
        poller.register(fd, events)
        registered = True
        st.depth = 1
        wakeup.arm()  # before the check below: see the module docstring
        st.wait_since = clock()
        st.waiting_on = what if what is not None else f"descriptor {fd}"
        if st.watchers:
            wake_watchers(st)
        read_fd = wakeup.read_fd
        while True:
            # (No deadline can appear: only this thread opens its scopes,
            # and a signal handler's are closed again when it returns.)
            if st.cancel is not None:
                st.check()
            for ready_fd, revents in poller.poll():
                if ready_fd != read_fd:
                    return revents
            if st.cancel is not None:
                st.check()  # leave before draining: a stale wake-up costs one loop
            wakeup.drain()
    finally:
        wakeup.waiting = False
        if registered:
            poller.unregister(fd)
        st.depth = 0
        st.waiting_on, st.wait_since = saved_what, saved_since


def wait_readable(fd: int | object, timeout: float | None = None) -> bool:
    """Wait until ``fd`` (a descriptor or an object with ``fileno()``) is readable.

    A blocking point, for code that does its own I/O.

    Returns:
        ``True`` once readable, ``False`` if ``timeout`` passed.

    Raises:
        ThreadCancelled: the thread was cancelled or a deadline passed.
    """
    n = _fileno(fd)
    deadline = None if timeout is None else clock() + timeout
    return wait_fd(n, select.POLLIN, deadline)


def wait_writable(fd: int | object, timeout: float | None = None) -> bool:
    """Wait until ``fd`` (a descriptor or an object with ``fileno()``) is writable.

    A blocking point, for code that does its own I/O.

    Returns:
        ``True`` once writable, ``False`` if ``timeout`` passed.

    Raises:
        ThreadCancelled: the thread was cancelled or a deadline passed.
    """
    n = _fileno(fd)
    deadline = None if timeout is None else clock() + timeout
    return wait_fd(n, select.POLLOUT, deadline)


def _fileno(fd: int | object) -> int:
    if isinstance(fd, int):
        if fd < 0:
            raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
        return fd
    fileno = getattr(fd, "fileno", None)
    if fileno is None:
        raise TypeError(f"expected a file descriptor or an object with fileno(), not {fd!r}")
    n = fileno()
    if not isinstance(n, int):
        raise TypeError(f"fileno() returned a non-integer: {n!r}")  # as select's
    if n < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({n})")
    return n
