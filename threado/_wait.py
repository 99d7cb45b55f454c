"""``threado.wait`` and ``threado.as_completed``: wait for the first of many things.

Theory of operation
-------------------

One call turns each distinct waitable into a *watch*, registers it with
whatever will signal it, in the order given, and removes every registration
in a ``finally`` (return, cancel, timeout, ``KeyboardInterrupt``), as
``concurrent.futures.wait`` installs one waiter on many futures:

* threads, events and thread groups: a :class:`Waiter` in a wait queue of
  theirs that is woken with ``True`` for everybody (a thread's end latch,
  an event's waiters, a group's idle waiters). Nothing is handed out that
  a consumer needs, so a watch consumes nothing; the primitives pay
  nothing for it, since they wake those queues anyway;
* threado ``Queue``s: the calling thread's state in the queue's own
  ``_watchers``, under its mutex; every change that may make the queue
  readable or writable (an item in or out, one given back, a shutdown, a
  stdlib-style ``notify``) unparks them all, and hands nothing out. Not
  the queue's ``not_empty`` Condition: a watcher there would take the
  single ``notify()`` meant for a stdlib-style consumer. ``put``/``get``
  pay one attribute read when nobody watches;
* ``SimpleQueue``: the calling thread's state in its ``_watchers``, woken by
  ``put`` (one attribute read on ``put`` when nobody watches). As for its
  getters (see ``_queues``), a watcher appends itself before it looks at the
  items and ``put`` appends its item before it looks at the watchers; without
  the GIL ``put`` always looks (``tuple()`` of the deque, a locked copy) and
  the watcher's look is a locked ``items[0]``;
* futures: a waiter in ``Future._waiters``, as ``concurrent.futures.wait``
  uses them;
* signals: a registration with the dispatcher (see ``_conditions``);
* descriptors and child processes (``pidfd``): one ``poll`` on all of them
  and the thread's wake-up descriptor (:class:`threado._fdwait.PollSet`);
* ``after``: only a deadline.

Every wake-up is an ``unpark`` of the waiting thread, which then re-checks
the readiness of everything (level-triggered: a stale or spurious wake-up
costs one loop). Registration comes before the first look at readiness, and
a firing changes the state before it wakes the registered waiters, so a
firing is either seen by the look or wakes the thread. The thread blocks on
its token, or, when descriptors are involved, in the one ``poll``, armed
before the first look (see ``_fdwait``). It blocks until the earliest of
its own timeout, the ``after`` deadlines not yet passed and the enclosing
deadlines: nothing polls on a timer.

With ``ALL_COMPLETED`` a waitable counts as completed once it has been seen
ready during the call (a descriptor seen ready leaves the poll set), so that
a level-triggered condition that is ready does not make the ``poll`` return
at once again and again while the others are awaited.
"""

from __future__ import annotations

import os
import sys

from ._conditions import (
    WaitCondition,
    _descriptor,
    after,
    exited,
    readable,
    register_signal,
    signalled,
    unregister_signal,
    writable,
)
from ._events import Event
from ._group import ThreadGroup
from ._parking import PENDING, Waiter, WaitQueue, block, check_seconds, enter_wait, leave_wait
from ._parking import announce as _announce
from ._queues import Queue
from ._simplequeue import SimpleQueue
from ._state import TIMEOUT_MAX, ThreadState, clock, get_state, unpark
from ._threads import Thread
from ._typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Final

    from ._fdwait import PollSet


__all__ = ["ALL_COMPLETED", "FIRST_COMPLETED", "as_completed", "wait"]

W = TypeVar("W")

#: Return as soon as one waitable is ready (``concurrent.futures``' constant).
FIRST_COMPLETED: Final = "FIRST_COMPLETED"
#: Return once every waitable is ready (``concurrent.futures``' constant).
ALL_COMPLETED: Final = "ALL_COMPLETED"

# poll() event bits (Linux and the BSDs agree; checked against select's
# own values when a descriptor is first watched).
_POLLIN, _POLLOUT, _POLLERR, _POLLHUP, _POLLNVAL = 0x001, 0x004, 0x008, 0x010, 0x020
_EBADF: Final = 9  # errno.EBADF everywhere that has poll()


# -- watches -------------------------------------------------------------------------------


class _Watch:
    """One waitable's registration for one call (base: ready from the start)."""

    __slots__ = ()
    fd = -1  # a descriptor to poll, once registered, or -1
    events = 0
    deadline: float | None = None

    def register(self, st: ThreadState) -> None:
        """Ask to be unparked when the waitable may have become ready."""

    def ready(self, revents: dict[int, int]) -> bool:
        """Whether the waitable is ready now (``revents``: the last poll)."""
        return True

    def unregister(self) -> None:
        """Undo :meth:`register`; idempotent."""


class _Queued(_Watch):
    """A waiter in a wait queue that wakes everybody with a harmless value."""

    __slots__ = ("_check", "_queue", "_st", "_sticky", "_w")

    def __init__(self, queue: WaitQueue, check: Callable[[], bool], sticky: bool) -> None:
        self._queue = queue
        self._check = check
        # True when being handed a value means "ready" (an event that was
        # set, even if cleared since, as Event.wait reports it).
        self._sticky = sticky
        self._w: Waiter | None = None
        self._st: ThreadState | None = None

    def register(self, st: ThreadState) -> None:
        self._st = st
        with self._queue.mutex:
            self._w = self._queue.enqueue_locked(st)

    def ready(self, revents: dict[int, int]) -> bool:
        w = self._w
        if w is not None and w.result is not PENDING:
            if self._sticky:
                return True
            assert self._st is not None
            with self._queue.mutex:  # woken and popped: register again
                self._w = self._queue.enqueue_locked(self._st)
        return self._check()

    def unregister(self) -> None:
        w = self._w
        if w is not None:
            with self._queue.mutex:
                if w.result is PENDING:
                    self._queue.leave_locked(w)
                self._w = None


class _SimpleQueueReadable(_Watch):
    __slots__ = ("_q", "_st")

    def __init__(self, q: SimpleQueue[Any]) -> None:
        self._q = q
        self._st: ThreadState | None = None

    def register(self, st: ThreadState) -> None:
        self._q._watchers.append(st)
        self._st = st

    def ready(self, revents: dict[int, int]) -> bool:
        # Indexing, not len(): a locked deque operation in free-threaded
        # builds, ordered after put's append as the getters' popleft is.
        try:
            self._q._items[0]
        except IndexError:
            return False
        return True

    def unregister(self) -> None:
        if self._st is not None:
            try:
                self._q._watchers.remove(self._st)
            except ValueError:  # pragma: no cover - registered once
                pass
            self._st = None


class _FutureWaiter:
    """What ``concurrent.futures`` calls on the waiters in ``Future._waiters``."""

    __slots__ = ("st",)

    def __init__(self, st: ThreadState) -> None:
        self.st = st

    def add_result(self, future: object) -> None:
        unpark(self.st)

    add_exception = add_result
    add_cancelled = add_result


class _FutureWatch(_Watch):
    # As concurrent.futures.wait: finished, or cancelled and the executor
    # has noticed (set_running_or_notify_cancel wakes the waiters then).
    __slots__ = ("_done", "_future", "_waiter")

    def __init__(self, future: Any, base: Any) -> None:
        self._future = future
        self._done = (base.FINISHED, base.CANCELLED_AND_NOTIFIED)
        self._waiter: _FutureWaiter | None = None

    def register(self, st: ThreadState) -> None:
        waiter = _FutureWaiter(st)
        with self._future._condition:
            self._future._waiters.append(waiter)
            self._waiter = waiter

    def ready(self, revents: dict[int, int]) -> bool:
        return self._future._state in self._done

    def unregister(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            with self._future._condition:
                try:
                    self._future._waiters.remove(waiter)
                except ValueError:  # pragma: no cover - appended once
                    pass
                self._waiter = None


class _FDWatch(_Watch):
    __slots__ = ("events", "fd")

    def __init__(self, fd: int, events: int) -> None:
        self.fd = fd
        self.events = events

    def ready(self, revents: dict[int, int]) -> bool:
        return bool(revents.get(self.fd, 0) & (self.events | _POLLERR | _POLLHUP | _POLLNVAL))


class _PidfdWatch(_FDWatch):
    """A child's exit through a ``pidfd``, opened for the call."""

    __slots__ = ("_exited", "_pid")

    def __init__(self, pid: int) -> None:
        super().__init__(-1, _POLLIN)
        self._pid = pid
        self._exited = False

    def register(self, st: ThreadState) -> None:
        try:
            self.fd = os.pidfd_open(self._pid)
        except ProcessLookupError:  # already reaped: it has ended all the same
            self._exited = True

    def ready(self, revents: dict[int, int]) -> bool:
        return self._exited or super().ready(revents)

    def unregister(self) -> None:
        fd = self.fd
        if fd >= 0:
            # Cleared however close() ends (an interrupt is raised right
            # after the call): never leaked, never closed twice (its number
            # may belong to somebody else by then).
            try:
                os.close(fd)
            finally:
                self.fd = -1


class _SignalWatch(_Watch):
    __slots__ = ("_cond", "_st")

    def __init__(self, cond: signalled) -> None:
        self._cond = cond
        self._st: ThreadState | None = None

    def register(self, st: ThreadState) -> None:
        register_signal(self._cond.signum, st)
        self._st = st

    def ready(self, revents: dict[int, int]) -> bool:
        return self._cond.count > 0

    def unregister(self) -> None:
        if self._st is not None:
            unregister_signal(self._cond.signum, self._st)
            self._st = None


class _AfterWatch(_Watch):
    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def ready(self, revents: dict[int, int]) -> bool:
        assert self.deadline is not None
        return clock() >= self.deadline


class _QueueWatch(_Watch):
    """A thread in a threado ``Queue``'s ``_watchers`` (see the module docstring)."""

    __slots__ = ("_q", "_st", "_write")

    def __init__(self, q: Queue[Any], write: bool) -> None:
        self._q = q
        self._write = write
        self._st: ThreadState | None = None

    def register(self, st: ThreadState) -> None:
        with self._q.mutex:
            self._q._watchers.append(st)
            self._st = st

    def ready(self, revents: dict[int, int]) -> bool:
        q = self._q
        with q.mutex:
            if self._write:
                return q.is_shutdown or not q._full()
            return q.is_shutdown or q._qsize() > 0

    def unregister(self) -> None:
        with self._q.mutex:
            if self._st is not None:
                try:
                    self._q._watchers.remove(self._st)
                except ValueError:  # pragma: no cover - registered once
                    pass
                self._st = None


def _future_base(x: object) -> Any:
    """``concurrent.futures._base`` if ``x`` is one of its futures, else ``None``."""
    base = sys.modules.get("concurrent.futures._base")  # a Future exists only if loaded
    if base is not None and isinstance(x, base.Future):
        return base
    return None


_DIRECT: Final = (Thread, Event, ThreadGroup, Queue, SimpleQueue, WaitCondition)


def _check(x: object) -> None:
    """Raise TypeError if ``x`` cannot be waited on."""
    if isinstance(x, _DIRECT):
        return
    if _future_base(x) is not None:
        return
    raise TypeError(
        f"cannot wait on a {type(x).__name__} object: threado.wait() takes threado threads, "
        "events, queues and thread groups, concurrent.futures futures and the conditions "
        "readable(), writable(), exited(), signalled() and after()"
    )


def _watch_for(x: Any) -> _Watch:
    """A fresh watch for the checked waitable ``x`` (see :func:`_check`)."""
    if isinstance(x, Event):
        return _Queued(x._queue, x.is_set, sticky=True)
    if isinstance(x, Thread):
        done = x._done
        return _Queued(done, done.is_set, sticky=True)
    if isinstance(x, ThreadGroup):

        def idle() -> bool:
            with x._mutex:
                return not x._running

        return _Queued(x._idle, idle, sticky=False)
    if isinstance(x, Queue):
        return _QueueWatch(x, write=False)
    if isinstance(x, SimpleQueue):
        return _SimpleQueueReadable(x)
    if isinstance(x, readable):
        target = x.target
        write = isinstance(x, writable)
        if isinstance(target, Queue):
            return _QueueWatch(target, write)
        if isinstance(target, SimpleQueue):
            return _Watch() if write else _SimpleQueueReadable(target)
        fd = _descriptor(target, type(x).__name__, closed=-1)
        assert fd is not None
        if fd < 0:
            return _Watch()  # closed since the condition was made: ready (EBADF)
        return _FDWatch(fd, _POLLOUT if write else _POLLIN)
    if isinstance(x, after):
        return _AfterWatch(x.deadline)
    if isinstance(x, signalled):
        return _SignalWatch(x)
    if isinstance(x, exited):
        return _exit_watch(x)
    base = _future_base(x)
    if base is not None:
        return _FutureWatch(x, base)
    raise TypeError(f"cannot wait on a {type(x).__name__} object")  # pragma: no cover


def _exit_watch(x: exited) -> _Watch:
    import os

    if x.reaped():
        return _Watch()  # (one per waitable: ALL_COMPLETED counts them by id)
    if hasattr(os, "pidfd_open"):
        return _PidfdWatch(x.pid)
    from .subprocess import _HAS_WAITID, _exit_watcher

    if not _HAS_WAITID:  # pragma: no cover - neither pidfd nor waitid(WNOWAIT)
        raise OSError("waiting for a child's exit needs pidfd_open or waitid(WNOWAIT)")
    latch = _exit_watcher(x.pid)
    return _Queued(latch, latch.is_set, sticky=True)


# -- the wait ------------------------------------------------------------------------------


class _Waiting:
    """What a thread in :func:`wait` is parked on (its repr names the waitables)."""

    __slots__ = ("items", "mode")

    def __init__(self, items: list[Any], mode: str) -> None:
        self.items = items
        self.mode = mode

    def __repr__(self) -> str:
        return f"threado.wait({self.items!r}, return_when={self.mode})"


def _unregister_all(watches: list[_Watch]) -> None:
    try:
        for w in watches:
            w.unregister()
    except BaseException:
        # An interrupt (KeyboardInterrupt) in the middle: finish first.
        for w in watches:
            w.unregister()
        raise


def _wait(items: list[Any], deadline: float | None, wait_all: bool) -> list[Any]:
    """The wait itself, on checked ``items``, until ``deadline`` (a clock value)."""
    st = get_state()
    st.check()
    if not items:
        return []
    if len(items) == 1:
        alone = _wait_alone(items[0], deadline)
        if alone is not None:
            return alone
    by_id: dict[int, _Watch] = {}
    for x in items:
        if id(x) not in by_id:
            by_id[id(x)] = _watch_for(x)
    _report_closed_fds(st, by_id)
    order = [by_id[id(x)] for x in items]
    watches = list(by_id.values())
    registered: list[_Watch] = []
    pollset: PollSet | None = None
    saved = None
    try:
        for w in watches:
            registered.append(w)  # first: an interrupt in register() still unregisters
            w.register(st)
        fds: dict[int, int] = {}
        for w in watches:
            if w.fd >= 0:
                fds[w.fd] = fds.get(w.fd, 0) | w.events
        revents: dict[int, int] = {}
        if fds:
            pollset = _pollset(st, fds)
            pollset.open()  # armed before the first look (see _fdwait)
            revents = pollset.poll(0.0)
        saved = enter_wait(st)
        timers = [w.deadline for w in watches if w.deadline is not None]
        seen: set[int] = set()  # ALL_COMPLETED: watches seen ready (by id)
        announced = False
        while True:
            ready = {id(w) for w in watches if id(w) in seen or w.ready(revents)}
            if wait_all:
                if len(ready) != len(seen) and pollset is not None:
                    _drop_ready_fds(pollset, watches, ready)
                seen = ready
                done = len(ready) == len(watches)
            else:
                done = bool(ready)
            if done or (deadline is not None and clock() >= deadline):
                return [x for x, w in zip(items, order, strict=True) if id(w) in ready]
            st.check()
            now = clock()
            until = deadline
            for t in timers:
                if now < t and (until is None or t < until):
                    until = t
            until = st.effective_deadline(until)
            if not announced:
                _announce(
                    st,
                    _Waiting(items, "ALL_COMPLETED" if wait_all else "FIRST_COMPLETED"),
                    deadline,
                )
                announced = True
            if pollset is not None:
                revents = pollset.poll(until)
            else:
                block(st, until)
    finally:
        try:
            try:
                if pollset is not None:
                    pollset.close()
            finally:
                _unregister_all(registered)
        finally:
            if saved is not None:  # even if an interrupt hit the unregistering
                leave_wait(st, saved)


def _report_closed_fds(st: ThreadState, by_id: dict[int, _Watch]) -> None:
    """Make the watches of closed descriptors ready (``POLLNVAL``), before
    anything is registered.

    Registering may open descriptors (a ``pidfd``, the thread's first
    wake-up descriptor), which take the lowest free numbers: a closed
    descriptor's number among them. Polled under that number, its watch
    would see the other descriptor's readiness and never its own. Only then
    is the check needed (one ``poll`` of the caller's descriptors).
    """
    fds = {w.fd for w in by_id.values() if type(w) is _FDWatch}
    if not fds or (
        st.wakeup is not None and not any(type(w) is _PidfdWatch for w in by_id.values())
    ):
        return
    closed = _closed_fds(fds)
    if closed:
        for key, w in by_id.items():
            if type(w) is _FDWatch and w.fd in closed:
                by_id[key] = _Watch()


def _closed_fds(fds: Iterable[int]) -> set[int]:
    """Which of ``fds`` are not open descriptors (one non-blocking ``poll``)."""
    poller = _fdwait()._stdpoll()
    for fd in fds:
        poller.register(fd, 0)
    return {fd for fd, revents in poller.poll(0) if revents & _POLLNVAL}


def _wait_alone(x: Any, deadline: float | None) -> list[Any] | None:
    """The common single-waitable cases, through the object's own lean wait.

    Returns:
        The result, or ``None`` if ``x`` is not one of them.
    """
    cls = type(x)
    if cls is readable or cls is writable:
        fd = _descriptor(x.target, cls.__name__, closed=-1)
        if fd is None:
            return None  # a queue
        if fd < 0 or (get_state().wakeup is None and _closed_fds((fd,))):
            # Closed (its number could go to this thread's first wake-up
            # descriptor): ready, the I/O call says EBADF.
            return [x]
        fdwait = _fdwait()
        try:
            ready = fdwait.wait_fd(fd, _POLLOUT if cls is writable else _POLLIN, deadline, x)
        except OSError as exc:
            if exc.errno != _EBADF:
                raise
            ready = True  # a closed descriptor is reported ready (the I/O call says EBADF)
        return [x] if ready else []
    if cls is Event:
        timeout = None if deadline is None else min(max(0.0, deadline - clock()), TIMEOUT_MAX)
        return [x] if x.wait(timeout) else []
    if cls is Thread:
        return [x] if x._done.wait_until(deadline, x) else []
    return None


_fdwait_module: Any = None


def _fdwait() -> Any:
    """``threado._fdwait``, imported on first use (it loads ``select``)."""
    global _fdwait_module
    if _fdwait_module is None:
        import select

        from . import _fdwait

        if (select.POLLIN, select.POLLOUT, select.POLLERR, select.POLLHUP, select.POLLNVAL) != (
            _POLLIN,
            _POLLOUT,
            _POLLERR,
            _POLLHUP,
            _POLLNVAL,
        ):  # pragma: no cover - a platform with other poll() bits
            raise OSError("unexpected poll() event bits on this platform")
        _fdwait_module = _fdwait
    return _fdwait_module


def _pollset(st: ThreadState, fds: dict[int, int]) -> PollSet:
    return _fdwait().PollSet(st, fds)  # type: ignore[no-any-return]


def _drop_ready_fds(pollset: PollSet, watches: list[_Watch], ready: set[int]) -> None:
    """Take the descriptors every watch of which was seen ready out of the poll."""
    events: dict[int, int] = {}
    for w in watches:
        if w.fd >= 0 and id(w) not in ready:
            events[w.fd] = events.get(w.fd, 0) | w.events
    for fd in list(pollset.fds):
        if events.get(fd, 0) != pollset.fds[fd]:
            pollset.set_events(fd, events.get(fd, 0))


def _items(waitables: Iterable[Any]) -> list[Any]:
    try:
        items = list(waitables)
    except TypeError:
        raise TypeError(
            f"expected an iterable of waitables, not {type(waitables).__name__}"
        ) from None
    for x in items:
        _check(x)
    return items


def _deadline(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    seconds = check_seconds(timeout, "timeout")
    if seconds < 0:
        raise ValueError(f"timeout must be a non-negative number of seconds, not {seconds}")
    return clock() + seconds


def wait(
    waitables: Iterable[W], timeout: float | None = None, *, return_when: str = FIRST_COMPLETED
) -> list[W]:
    """Wait until one of ``waitables`` is ready (all, with ``ALL_COMPLETED``).

    A blocking point: it checks for cancellation on entry, and an enclosing
    timeout bounds it. Readiness is level-triggered: nothing is consumed, a
    waitable ready on entry is reported at once, and the caller then does
    the operation itself (which may find that another thread got there
    first).

    Args:
        waitables: threado threads (ready once ended), events (set),
            thread groups (no thread running), queues (an item can be taken
            now, or shut down), ``concurrent.futures`` futures (done), and
            the conditions :class:`readable`, :class:`writable`,
            :class:`exited`, :class:`signalled` and :class:`after`.
        timeout: Seconds to wait at most; ``None``: no limit.
        return_when: :data:`FIRST_COMPLETED` or :data:`ALL_COMPLETED`.

    Returns:
        The ready waitables, in the order given (conditions as given);
        ``[]`` for no waitables, or when ``timeout`` passed with none ready.
        It never raises for its own timeout.

    Raises:
        TypeError: something in ``waitables`` cannot be waited on (the
            message names its type), or ``timeout`` is not a number.
        ValueError: ``timeout`` is negative or NaN, or ``return_when`` is
            not one of the two constants.
        ThreadCancelled: the thread was cancelled or an enclosing deadline
            passed, and nothing was ready.
    """
    if return_when != FIRST_COMPLETED and return_when != ALL_COMPLETED:
        raise ValueError(
            f"return_when must be FIRST_COMPLETED or ALL_COMPLETED, not {return_when!r}"
        )
    if type(waitables) is list and len(waitables) == 1 and isinstance(waitables[0], _DIRECT):
        items: list[Any] = waitables  # the common one-item list: no copy needed
    else:
        items = _items(waitables)
    return _wait(items, _deadline(timeout), return_when == ALL_COMPLETED)


def as_completed(waitables: Iterable[W], timeout: float | None = None) -> Iterator[W]:
    """Yield each of ``waitables`` once, as it becomes ready.

    Those ready already come first, in the order given. Each step waits as
    :func:`wait` does (a blocking point). The arguments are checked at the
    call, before anything waits.

    Raises:
        TypeError: something cannot be waited on (see :func:`wait`).
        ValueError: ``timeout`` is negative or NaN.
        TimeoutError: (the builtin, from the iterator) ``timeout`` seconds
            after the call, some waitables are still not ready.
        ThreadCancelled: the thread was cancelled or a deadline passed.
    """
    items = _items(waitables)
    return _completions(items, _deadline(timeout))


def _completions(items: list[W], deadline: float | None) -> Iterator[W]:
    pending: list[W] = list({id(x): x for x in items}.values())
    total = len(pending)
    while pending:
        ready = _wait(pending, deadline, False)
        if not ready:
            raise TimeoutError(f"{len(pending)} (of {total}) waitables are not ready")
        done = {id(x) for x in ready}
        pending = [x for x in pending if id(x) not in done]
        yield from ready
