"""Descriptor waits: ``wait_readable``/``wait_writable`` and the per-thread
wake-up descriptor that ``cancel()`` writes to (``threado/_fdwait.py``, SPEC §6).
"""

from __future__ import annotations

import os
import select as stdselect
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from helpers import CountingPoller, in_thread, needs_proc, open_fds
from signals import Once, resend_until

import threado
from threado import _fdwait
from threado._fdwait import FDWakeup
from threado._state import get_state
from threado.testing import wait_parked

# -- wait_readable and wait_writable ---------------------------------------------------


def test_wait_readable_and_writable(pair: Any) -> None:
    a, b = pair
    assert threado.wait_writable(a, timeout=1)
    assert threado.wait_readable(a.fileno(), timeout=0.01) is False
    t = threado.spawn(threado.wait_readable, a)
    wait_parked(t)
    b.send(b"!")
    assert t.join() is True
    t2 = threado.spawn(threado.wait_readable, b)
    wait_parked(t2)
    assert t2.cancel(timeout=5)
    with pytest.raises(TypeError):
        threado.wait_readable("nope")
    with pytest.raises(ValueError, match="negative"):
        threado.wait_readable(-1)


@pytest.mark.parametrize("timeout", [3e6, 1e9])
def test_a_wait_longer_than_poll_can_take_in_one_call_works(pair: Any, timeout: float) -> None:
    """poll() takes a C int of milliseconds (~24.8 days): longer waits re-poll."""
    a, b = pair
    t = threado.spawn(threado.wait_readable, a, timeout)
    wait_parked(t)
    b.send(b"x")
    assert t.join() is True


def test_wait_readable_on_a_pipe() -> None:
    r, w = os.pipe()
    try:
        t = threado.spawn(threado.wait_readable, r)
        wait_parked(t)
        os.write(w, b"x")
        assert t.join() is True
    finally:
        os.close(r)
        os.close(w)


def test_wait_readable_on_a_closed_descriptor_raises() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError, match="Bad file descriptor"):
        threado.wait_readable(r, timeout=1)


def test_cancel_from_a_signal_handler_wakes_an_io_wait(pair: Any) -> None:
    import signal

    a, _ = pair
    t = threado.spawn(a.recv, 1)
    wait_parked(t)
    handler = Once(lambda *_: t.cancel(blocking=False))
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        main = threading.main_thread().ident or 0
        resend_until(lambda: signal.pthread_kill(main, signal.SIGUSR1), handler)
        assert t.wait(timeout=10)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert t.cancelled


# -- the wake-up descriptor ------------------------------------------------------------


@needs_proc
def test_descriptors_are_not_leaked(pair: Any) -> None:
    a, _ = pair
    before = open_fds()
    for _ in range(20):
        t = threado.spawn(a.recv, 1)
        wait_parked(t)
        t.cancel()
    assert open_fds() == before  # each thread's wake-up descriptor was closed
    no_io = threado.spawn(threado.sleep, 60)
    wait_parked(no_io)
    assert open_fds() == before  # a thread that does no I/O costs none
    no_io.cancel()


@needs_proc
def test_wakeup_descriptors_cost_nothing_until_io_and_are_released(pair: Any) -> None:
    a, _ = pair
    before = open_fds()
    counts: list[int] = []

    def worker() -> None:
        threado.sleep(0)
        with threado.Lock():
            pass
        counts.append(open_fds())  # no I/O yet: no descriptor
        for _ in range(30):
            threado.wait_readable(a, timeout=0.001)
            counts.append(open_fds())

    in_thread(worker)
    assert counts[0] == before
    assert set(counts[1:]) == {before + 1}  # a constant few
    assert open_fds() == before  # released at the thread's end

    def plain() -> None:
        with threado.timeout_after(5):
            threado.wait_readable(a, timeout=0.001)

    th = threading.Thread(target=plain)
    th.start()
    th.join()
    assert open_fds() == before  # plain threads release theirs too


def test_nested_descriptor_wait_in_lean_path_restores_state() -> None:
    """A wait on the token inside the lean descriptor wait (what a signal
    handler does) leaves depth, waiting flag and poller as they were."""
    a, b = socket.socketpair()
    try:
        get_state()
        threado.wait_writable(b)  # creates the wake-up descriptor
        st = get_state()
        assert st.depth == 0
        assert isinstance(st.wakeup, FDWakeup)
        threado.wait_writable(b)  # lean path
        assert st.depth == 0
        assert not st.wakeup.waiting
        b.send(b"x")
        assert threado.wait_readable(a)
        assert st.depth == 0
        assert not st.wakeup.waiting
    finally:
        a.close()
        b.close()


def test_a_cancel_racing_another_wakers_write_is_not_lost() -> None:
    a, b = socket.socketpair()
    ready = threading.Event()
    go = threading.Event()

    def waiter() -> bool:
        threado.wait_writable(b)  # makes the thread's wake-up descriptor
        ready.set()
        go.wait()
        return threado.wait_readable(a)  # the lean path: no deadline, not nested

    t = threado.spawn(waiter)
    try:
        assert ready.wait(10)
        wk = t._state.wakeup
        assert isinstance(wk, FDWakeup)
        poller = CountingPoller(wk.poller)
        wk.poller = poller  # type: ignore[assignment]
        go.set()
        wait_parked(t)
        poller.wait_calls(1)
        # Another waker (any unpark: a lock hand-off, a group, a stale token)
        # is inside wake(): it holds the lock and has written...
        written = threading.Event()
        resume = threading.Event()
        real_write = _fdwait.os.eventfd_write  # type: ignore[attr-defined]

        def write_then_pause(fd: int, value: int) -> None:
            real_write(fd, value)
            if threading.current_thread() is other:
                written.set()
                resume.wait()

        _fdwait.os.eventfd_write = write_then_pause  # type: ignore[attr-defined]
        try:
            other = threading.Thread(target=wk.wake)
            other.start()
            assert written.wait(10)
            # ...the owner wakes, sees no cancel, drains, polls again...
            poller.wait_calls(2)
            # ...and now a cancel comes while that waker still holds the lock.
            t.cancel(blocking=False)
            resume.set()
            other.join(10)
        finally:
            _fdwait.os.eventfd_write = real_write  # type: ignore[attr-defined]
        assert t.wait(timeout=2), "cancelled thread still blocked in poll"
        assert t.cancelled
    finally:
        if not t.done():
            b.send(b"x")  # let it out
        t.wait(timeout=10)
        a.close()
        b.close()


class _PausingLock:
    """Wraps an ``FDWakeup``'s lock: ``pauser``'s first release waits for
    ``resume``, so that the thread stays inside its critical section."""

    def __init__(self, real: Any, pauser: Callable[[], bool]) -> None:
        self.real = real
        self.pauser = pauser
        self.held = threading.Event()
        self.resume = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self.real.acquire(blocking, timeout))

    def release(self) -> None:
        if self.pauser() and not self.held.is_set():
            self.held.set()
            assert self.resume.wait(10)
        self.real.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@pytest.mark.parametrize("holder", ["the owner arming", "another waker"])
def test_a_wake_that_finds_the_lock_taken_is_served_by_the_holder(
    holder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The protocol that free-threaded builds rely on, forced on this build:
    a waker never blocks, and a failed try of the lock orders nothing, so it
    leaves a request that whoever holds the lock serves after releasing it."""
    monkeypatch.setattr(_fdwait, "_FREE_THREADED", True)
    w = _fdwait.FDWakeup()

    def signalled() -> bool:
        ready = bool(stdselect.select([w.read_fd], [], [], 0)[0])
        w.drain()
        return ready

    other: list[threading.Thread] = []
    lock = _PausingLock(w._lock, lambda: threading.current_thread() in other)
    w._lock = lock  # type: ignore[assignment]
    try:
        if holder == "the owner arming":
            other.append(threading.Thread(target=w.arm))
        else:
            w.waiting = True  # the owner is in an I/O wait
            other.append(threading.Thread(target=w.wake))
        other[0].start()
        assert lock.held.wait(10)
        # The holder is inside its critical section: armed, or has written.
        assert signalled() is (holder == "another waker")
        w.wake()  # finds the lock taken: must not block, nor write
        assert not signalled()
        lock.resume.set()
        other[0].join(10)
        assert signalled(), "the wake-up asked for while the lock was held was lost"
        assert w.waiting
        assert len(w._requests) == 0
    finally:
        lock.resume.set()
        w._lock = lock.real
        w.close()
