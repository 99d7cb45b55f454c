"""Helpers shared by several families of cases.

Both sides of a row call the same helper wherever they can (a loop taking
the lock class, a thread starter), so that the two sides' code is identical
but for the primitive being compared.

The cancel round trips compare threado's blocking ``cancel()`` of a thread
parked in a wait against the standard library waking the same wait (release,
set, notify, put, send) and joining the thread: both end when the parked
thread has left its wait and ended. Both sides first make sure the thread is
blocked: threado with ``threado.testing.wait_parked``, the stdlib side by
watching the thread's innermost Python frame; both then pause ``SETTLE_S``
and start the clock.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable
from time import perf_counter_ns
from types import CodeType, TracebackType
from typing import Protocol

import threado
import threado.testing

#: Pause before starting the clock in a cancel round trip, on both sides, so
#: that the parked thread is really blocked in the OS, not on its way there.
SETTLE_S = 0.001

#: Where a stdlib thread blocked in ``Event.wait``, ``Condition.wait``,
#: ``Semaphore.acquire`` or ``Queue.get`` has its innermost Python frame.
CONDITION_WAIT = threading.Condition.wait.__code__
#: Where a stdlib thread whose target is a C function (``Lock.acquire``) has it.
THREAD_RUN = threading.Thread.run.__code__


def noop() -> None:
    pass


class ConditionLike(Protocol):
    """What the helpers need from ``threading.Condition`` and ``threado.Condition``."""

    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def wait(self, timeout: float | None = ...) -> bool: ...
    def notify(self, n: int = ...) -> None: ...


class LockLike(Protocol):
    """What the helpers need from either side's locks."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...
    def __enter__(self) -> bool: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def with_loop(make_lock: Callable[[], LockLike], n: int) -> int:
    """``with lock: pass``, ``n`` times, the lock made once."""
    lock = make_lock()
    t0 = perf_counter_ns()
    for _ in range(n):
        with lock:
            pass
    return perf_counter_ns() - t0


Join = Callable[[], object]
Start = Callable[[Callable[[], object]], Join]
"""Start a function in a new thread; return what joins it."""


def start_stdlib(fn: Callable[[], object]) -> Join:
    th = threading.Thread(target=fn)
    th.start()
    return th.join


def start_threado(fn: Callable[[], object]) -> Join:
    return threado.spawn(fn).join


# -- cancel round trips -------------------------------------------------------------


def wait_all_innermost(threads: Iterable[threading.Thread], code: CodeType) -> None:
    """Spin until each thread's innermost Python frame runs ``code``.

    A thread blocked in a C call (``Lock.acquire``) shows the Python frame
    that made the call; once that frame is innermost, the thread is at most
    a few bytecodes from blocking, and ``SETTLE_S`` covers those. One
    snapshot of every thread's frames per poll, however many threads wait.
    """
    left: set[int] = set()
    for th in threads:
        if th.ident is None:
            raise RuntimeError(f"{th!r} was not started")
        left.add(th.ident)
    while left:
        frames = sys._current_frames()
        left = {i for i in left if (f := frames.get(i)) is None or f.f_code is not code}
        del frames  # do not keep the threads' frames alive while sleeping
        if left:
            time.sleep(0)


def stdlib_wake_join(
    target: Callable[[], object], code: CodeType, wake: Callable[[], object]
) -> int:
    """Run ``target`` in a thread; once it blocks in ``code``, time ``wake()`` + ``join()``."""
    th = threading.Thread(target=target)
    th.start()
    try:
        wait_all_innermost([th], code)
        time.sleep(SETTLE_S)
        t0 = perf_counter_ns()
        wake()
        th.join()
        return perf_counter_ns() - t0
    finally:
        # Something failed before the wake-up: wake it until it ends, never leak it.
        while th.is_alive():
            with contextlib.suppress(RuntimeError):
                wake()
            th.join(0.1)


def threado_cancel(target: Callable[[], object]) -> int:
    """Spawn ``target``; once it is parked, time the blocking ``cancel()``."""
    t = threado.spawn(target)
    try:
        threado.testing.wait_parked(t)
        time.sleep(SETTLE_S)
        t0 = perf_counter_ns()
        t.cancel()
        elapsed = perf_counter_ns() - t0
    finally:
        t.cancel()  # a no-op once it has ended; otherwise do not leak it
    if not t.cancelled:
        raise RuntimeError(f"{t!r} was not cancelled")
    return elapsed
