"""Thread groups: structured concurrency for real threads.

Theory of operation
-------------------

A :class:`ThreadGroup` is a ``with`` block that no thread spawned into it
outlives. Its state lives under one mutex, ``_mutex``:

* ``_threads`` (every thread, in spawn order), ``_running`` (those that have
  not ended), ``_finished`` (ended and not yet taken by :meth:`next_done`,
  in completion order);
* ``_closed``: set once the block has been left and every thread has ended;
  spawning then raises ``RuntimeError``;
* ``_cancelling``: set once the group decided to stop (a failure with
  ``wait=all``, the first answer with ``any``/``object``, the end of the
  body with ``wait=None``, an exception from the body, ``cancel_remaining``).
  From then on every thread that joins the group is cancelled at once.

Each thread's end is reported by the callback its handle runs when the
thread has ended (``Thread._add_done_callback``); the callback applies the
exit policy and wakes whoever waits in :meth:`next_done`, :meth:`join` or
at the end of the block. Cancellation is only ever *requested* (it is
lock-free): the group never blocks while holding its mutex.

Leaving the block waits until ``_running`` is empty. That wait is a
blocking point until the group is cancelling; from then on it is shielded,
so that the children's cleanup always runs before the block is left, also
when the waiting thread is itself cancelled or interrupted.
"""

from __future__ import annotations

import _thread
from collections import deque
from types import TracebackType

from ._errors import Reason, ThreadCancelled
from ._parking import TIMED_OUT, WaitQueue, deadline_from_timeout
from ._scopes import shield
from ._semaphores import Semaphore
from ._state import ThreadState, get_state, lookup_state
from ._threads import Thread, _spawn, handle_of
from ._typing import TYPE_CHECKING, TypeVar, TypeVarTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Final, TypeAlias

    #: The type of a ``wait=`` policy. A type cannot name one function, so this
    #: names the types of the four (``all``/``any``: a predicate on an iterable;
    #: ``object``: a class; ``None``); ``ThreadGroup`` checks which one it is.
    WaitPolicy: TypeAlias = Callable[[Iterable[object]], bool] | type[object] | None

    __all__ = ["ThreadGroup"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# The exit policies are the builtins all, any and object, and None.
_POLICIES: Final = (all, any, object, None)


def _is_failure(t: Thread[Any]) -> bool:
    exc = t._exc
    return exc is not None and not isinstance(exc, ThreadCancelled)


class ThreadGroup:
    """A block that no thread spawned into it outlives.

    ``with ThreadGroup(wait=all) as g:`` spawns threads with :meth:`spawn`;
    leaving the block waits for them, according to ``wait``:

    * ``all`` (default): wait for every thread. When one fails, the others
      are cancelled, and the block raises an :class:`ExceptionGroup` of the
      failures.
    * ``any``: wait for the first thread to finish *successfully*, then
      cancel the others. Failures do not stop the race; only if no thread
      succeeds does the block raise them.
    * ``object``: like ``any``, but the winner is the first thread to
      return something other than ``None``.
    * ``None``: cancel every thread as the block ends (daemon-style workers);
      failures are still raised.

    A thread that ended by cancellation, by the group or by anyone, is not a
    failure. A failure cancels the group's other threads, not the body: the
    body learns of it when it reaches the end of the block (or sees it in
    :attr:`exceptions`). If the body raises, every thread is cancelled and
    waited for (their cleanup runs) before the exception propagates: an
    ordinary exception joins the failures in the ``ExceptionGroup``;
    :class:`ThreadCancelled` (an enclosing timeout too), ``KeyboardInterrupt``
    and ``SystemExit`` propagate as themselves. (A second Ctrl-C during that
    wait interrupts it: the threads are cancelled, but may still be running
    their cleanup when the ``KeyboardInterrupt`` propagates.) A thread of the
    group that dies of ``KeyboardInterrupt`` or ``SystemExit`` ends the group
    under any policy: the others are cancelled and waited for, and the block
    re-raises that exception itself, as ``asyncio.TaskGroup`` does.

    Args:
        wait: The exit policy: ``all``, ``any``, ``object`` or ``None``.
        limit: At most this many of the group's threads run at once; a
            :meth:`spawn` beyond it waits (a blocking point) for one to end.

    Attributes:
        completed: The thread that decided an ``any``/``object`` race, or
            ``None``.
    """

    def __init__(self, wait: WaitPolicy = all, *, limit: int | None = None) -> None:
        if not any(wait is p for p in _POLICIES):
            raise ValueError(f"wait must be all, any, object or None, not {wait!r}")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise ValueError(f"limit must be a positive integer or None, not {limit!r}")
        self._wait = wait
        self._limit = limit
        self._slots = Semaphore(limit) if limit is not None else None
        self._mutex = _thread.allocate_lock()
        # Threads waiting in next_done: woken (handed True) whenever a
        # thread of the group ends.
        self._watchers = WaitQueue(self._mutex)
        # Threads waiting in join()/the block's end: woken only when no
        # thread of the group runs any more (not at every end).
        self._idle = WaitQueue(self._mutex)
        self._threads: list[Thread[Any]] = []
        # A dict used as an ordered set: cancelling goes in spawn order, so a
        # synchronous run's wake-ups do not depend on hashes (addresses).
        self._running: dict[Thread[Any], None] = {}
        # Members waiting in join()/cancel_remaining() (a subset of _running).
        self._joining: set[Thread[Any]] = set()
        self._finished: deque[Thread[Any]] = deque()
        self._entered = False
        # The state of the thread running the block (it cannot join the group).
        self._owner: ThreadState | None = None
        self._closed = False
        self._cancelling = False
        self.completed: Thread[Any] | None = None

    # -- adding threads ----------------------------------------------------------

    def spawn(
        self,
        func: Callable[[*Ts], T],
        *args: *Ts,
        name: str | None = None,
        daemon: bool = False,
    ) -> Thread[T]:
        """Start ``func(*args)`` in a new thread of the group; see :func:`threado.spawn`.

        Any thread may spawn into an open group. With a ``limit``, this is a
        blocking point that waits for a free slot.

        Raises:
            RuntimeError: the group is closed.
            TypeError: ``func`` is not callable.
            ThreadCancelled: the caller was cancelled while waiting for a slot.
        """
        if not callable(func):
            raise TypeError(f"spawn() needs a callable, not {type(func).__name__}")
        self._check_open()
        if self._slots is not None:
            self._slots.acquire()
        try:
            self._check_open()
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        # Adopted before it starts: a member from its first line (its own
        # join() or cancel_remaining() knows it), and a group that closed
        # meanwhile refuses it before it runs at all.
        adopted: list[Thread[Any]] = []

        def adopt(t: Thread[Any]) -> None:
            self._adopt(t)
            adopted.append(t)

        try:
            # _forget runs if it was adopted but will never run; a thread
            # that did begin (Ctrl-C in start()) stays a member.
            return _spawn(func, args, name, daemon, adopt, self._forget)
        except BaseException:
            if not adopted and self._slots is not None:
                self._slots.release()
            raise

    def _forget(self, t: Thread[Any]) -> None:
        """Undo :meth:`_adopt` for a thread that could not start."""
        with self._mutex:
            self._threads.remove(t)
            self._running.pop(t, None)
            self._wake_idle_locked()
        if self._slots is not None:
            self._slots.release()

    def add(self, thread: Thread[Any]) -> None:
        """Adopt ``thread``, a thread started by :func:`threado.spawn`.

        Adding a thread that is already in the group does nothing. A thread
        that has already ended joins the group as ended. With a ``limit``,
        this is a blocking point that waits for a free slot.

        Raises:
            TypeError: ``thread`` is not a threado thread.
            RuntimeError: the group is closed; ``thread`` is not one that
                threado started (only those tell the group when they end);
                or it is the thread running the group's block (which would
                wait for itself).
            ThreadCancelled: the caller was cancelled while waiting for a slot.
        """
        if not isinstance(thread, Thread):
            raise TypeError(f"add() needs a threado.Thread, not {type(thread).__name__}")
        if not thread._spawned:
            raise RuntimeError(f"only threads started by threado can join a group: {thread!r}")
        if self._owner is not None and thread._state is self._owner:
            raise RuntimeError("the thread running a ThreadGroup's block cannot join it")
        self._check_open()
        with self._mutex:
            if thread in self._running or thread in self._threads:
                return
        if self._slots is not None:
            self._slots.acquire()
        try:
            self._adopt(thread)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("spawning into a closed ThreadGroup")

    def _adopt(self, t: Thread[Any]) -> None:
        with self._mutex:
            if self._closed:
                closed = True
            else:
                closed = False
                self._threads.append(t)
                self._running[t] = None
                cancelling = self._cancelling
        if closed:
            # Closed between the check and now: the thread may not join.
            t._state.request_cancel(Reason.GROUP, self, "spawned into a closed ThreadGroup")
            raise RuntimeError("spawning into a closed ThreadGroup")
        if cancelling:
            self._cancel_thread(t)
        t._add_done_callback(self._thread_ended)

    # -- ends, and the exit policy --------------------------------------------------

    def _thread_ended(self, t: Thread[Any]) -> None:
        """Called (in the ending thread, or at once) when ``t`` has ended."""
        decided = False
        with self._mutex:
            self._running.pop(t, None)
            self._finished.append(t)
            if not self._cancelling and self.completed is None:
                wait = self._wait
                if wait is all:
                    decided = _is_failure(t)
                elif wait is any:
                    decided = t._exc is None
                elif wait is object:
                    decided = t._exc is None and t._result is not None
                if decided:
                    if wait is not all:
                        self.completed = t
                    self._cancelling = True
                    victims = list(self._running)
                elif isinstance(t._exc, KeyboardInterrupt | SystemExit):
                    # As asyncio.TaskGroup: these end the race whatever the
                    # policy (the block re-raises them).
                    decided = True
                    self._cancelling = True
                    victims = list(self._running)
            if self._watchers.waiters:
                self._watchers.handoff_all_locked(True)
            self._wake_idle_locked()
        if decided:
            for v in victims:
                self._cancel_thread(v)
        if self._slots is not None:
            self._slots.release()

    def _cancel_thread(self, t: Thread[Any]) -> None:
        t._state.request_cancel(Reason.GROUP, self, f"cancelled by {self!r}")

    def _start_cancelling(self, spare: Thread[Any] | None = None) -> None:
        with self._mutex:
            self._cancelling = True
            victims = [t for t in self._running if t is not spare]
        for t in victims:
            self._cancel_thread(t)

    def _me_if_member(self) -> Thread[Any] | None:
        """The calling thread's handle if it is one of the group's threads."""
        h = handle_of(lookup_state())
        if h is None:
            return None
        with self._mutex:
            return h if h in self._running else None

    # -- waiting -----------------------------------------------------------------

    def _wait_all_ended(self, close: bool = False) -> None:
        """Wait until no thread of the group runs (a blocking point).

        With ``close``, the group is closed in the critical section that
        finds it empty, so no thread can join it in between.
        """
        st = get_state()
        st.check()
        # A member waits for the others only, and not for members that wait
        # the same way (two members joining would wait for each other).
        me = None if close else self._me_if_member()
        try:
            if me is not None:
                with self._mutex:
                    self._joining.add(me)
                    self._wake_idle_locked()  # others may wait for me only
            while True:
                w = None
                try:
                    with self._mutex:
                        # _joining is a subset of _running: equal sizes mean
                        # every running thread is a member waiting here.
                        running = len(self._running)
                        if running == 0 or (me is not None and running <= len(self._joining)):
                            if close:
                                self._closed = True
                            return
                        w = self._idle.enqueue_locked(st)
                    self._idle.wait(st, w, None, self)
                except BaseException:
                    if w is not None:
                        self._idle.abandon(w)
                    raise
        finally:
            if me is not None:
                with self._mutex:
                    self._joining.discard(me)

    def _wake_idle_locked(self) -> None:
        """Wake the threads waiting for the group to be idle, if it is: no
        thread runs but members waiting for the others. Mutex held."""
        if self._idle.waiters and len(self._running) <= len(self._joining):
            self._idle.handoff_all_locked(True)

    def join(self) -> None:
        """Wait until every thread of the group has ended; a blocking point.

        It does not raise for the threads' outcomes (see :attr:`exceptions`).
        """
        self._wait_all_ended()

    def cancel_remaining(self) -> None:
        """Cancel every running thread of the group and wait for them to end.

        A blocking point; the wait for the cancelled threads' cleanup is
        shielded. The group stays cancelling: threads spawned into it later
        are cancelled at once (they run up to their first blocking point).
        """
        get_state().check()
        # Called by one of the group's threads: it cancels and waits for the
        # others, not for itself (it would wait forever, shielded).
        self._start_cancelling(self._me_if_member())
        with shield():
            self._wait_all_ended()

    def next_done(self, timeout: float | None = None) -> Thread[Any] | None:
        """Return the next thread of the group to end; a blocking point.

        Threads come in the order they ended, each once.

        Returns:
            The thread, or ``None`` when none is left (every thread has ended
            and been returned).

        Raises:
            TimeoutError: ``timeout`` passed while threads still run.
        """
        deadline = deadline_from_timeout(timeout)
        st = get_state()
        st.check()
        while True:
            w = None
            try:
                with self._mutex:
                    if self._finished:
                        return self._finished.popleft()
                    if not self._running:
                        return None
                    w = self._watchers.enqueue_locked(st)
                result = self._watchers.wait(st, w, deadline, self)
            except BaseException:
                if w is not None:
                    self._watchers.abandon(w)
                raise
            if result is TIMED_OUT:
                raise TimeoutError(f"no thread of {self!r} ended within {timeout} seconds")

    def next_result(self, timeout: float | None = None) -> Any:
        """Return the result of the next thread to end; a blocking point.

        Raises:
            ThreadError: that thread failed or was cancelled.
            RuntimeError: no thread is left.
            TimeoutError: ``timeout`` passed while threads still run.
        """
        t = self.next_done(timeout)
        if t is None:
            raise RuntimeError(f"no thread left in {self!r}")
        return t.result

    def __iter__(self) -> Iterator[Thread[Any]]:
        """Yield the group's threads in the order they end (each a blocking point)."""
        while (t := self.next_done()) is not None:
            yield t

    # -- views -------------------------------------------------------------------

    @property
    def threads(self) -> list[Thread[Any]]:
        """Every thread of the group, in spawn order."""
        with self._mutex:
            return list(self._threads)

    @property
    def results(self) -> list[Any]:
        """The results of the group's threads, in spawn order.

        Raises:
            RuntimeError: a thread is still running.
            ThreadError: a thread failed or was cancelled.
        """
        return [t.result for t in self.threads]

    @property
    def exceptions(self) -> list[BaseException]:
        """The failures of the group's ended threads, in spawn order.

        Threads that ended by cancellation are not failures.
        """
        return [t.exception for t in self.threads if t.done() and _is_failure(t)]  # type: ignore[misc]

    # -- the block -----------------------------------------------------------------

    def __enter__(self) -> ThreadGroup:
        if self._entered:
            raise RuntimeError("a ThreadGroup can be entered only once")
        self._entered = True
        self._owner = get_state()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None or self._wait is None:
            self._start_cancelling()
        try:
            if not self._cancelling:
                # A blocking point: a cancel, a deadline or Ctrl-C here ends
                # the wait, and the group cancels its threads.
                self._wait_all_ended()
        except BaseException as interrupted:
            self._start_cancelling()
            if exc is None:
                exc = interrupted
        with shield():  # the children's cleanup always runs first
            self._wait_all_ended(close=True)
        self._outcome(exc)

    def _outcome(self, exc: BaseException | None) -> None:
        """Raise what leaving the block must raise (see the class docstring)."""
        failures = [t for t in self.threads if _is_failure(t)]
        if exc is not None and not isinstance(exc, Exception):
            # ThreadCancelled, KeyboardInterrupt, SystemExit: as themselves.
            # The failures stay unretrieved, so they are logged, not lost.
            raise exc
        for t in failures:
            if isinstance(t._exc, KeyboardInterrupt | SystemExit):
                # As asyncio.TaskGroup: a thread that died of one of these
                # re-raises it as itself (the others were cancelled and
                # waited for); the remaining failures stay unretrieved.
                t._mark_retrieved()
                raise t._exc
        if self._wait in (any, object) and self.completed is not None and exc is None:
            return
        errors: list[BaseException] = []
        if exc is not None:
            errors.append(exc)
        for t in failures:
            t._mark_retrieved()
            errors.append(t._exc)  # type: ignore[arg-type]
        if errors:
            # An ExceptionGroup when every error is an Exception (the usual
            # case), else a BaseExceptionGroup. from None: the body's
            # exception is inside the group already.
            raise BaseExceptionGroup("unhandled errors in a ThreadGroup", errors) from None

    def __repr__(self) -> str:
        policy = {all: "all", any: "any", object: "object", None: "None"}[self._wait]
        with self._mutex:
            n, running = len(self._threads), len(self._running)
            state = "closed" if self._closed else "cancelling" if self._cancelling else "open"
        return f"<threado.ThreadGroup wait={policy} {state}: {running}/{n} running>"


ThreadGroup.__module__ = "threado"
