"""Helpers shared by the test modules; the shared fixtures are in ``conftest.py``.

Tests import this module by name (``from helpers import SLACK``), as they do
``chaos`` and ``signals``: pytest puts ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import math
import os
import socket as stdsocket
import ssl
import subprocess
import sys
import sysconfig
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

import pytest
from signals import CHILD_PREAMBLE

import threado
import threado.ssl as tssl
from threado._parking import TIMED_OUT, WaitQueue
from threado._state import clock, get_state
from threado.testing import wait_parked

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: Upper bound, in seconds, of real-time assertions. A lower bound proves that
#: a wait happened; this one only catches a wait that went on far too long
#: (every wait it bounds would otherwise last 10 s or more), so it is generous:
#: CI machines are shared and can stall a thread for a while.
SLACK = 5.0

# -- fresh interpreters ---------------------------------------------------------------


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) in a fresh interpreter; capture its text output."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sigusr1_script(body: str) -> str:
    """A child script whose main thread can be poked with SIGUSR1 once parked.

    It defines ``Boom`` (a ``KeyboardInterrupt``), ``main`` (the main thread's
    handle) and ``poke(handler)``, which waits until the main thread is parked,
    then sends SIGUSR1 to it until ``handler`` (a ``signals.Once``) has run;
    ``body`` (dedented) follows.
    """
    return (
        CHILD_PREAMBLE
        + textwrap.dedent(
            """
            import os, signal, sys, threading, threado
            from threado.testing import wait_parked
            from signals import Once, resend_until
            class Boom(KeyboardInterrupt):
                pass
            main = threado.current_thread()
            def poke(handler):
                wait_parked(main)
                ident = threading.main_thread().ident
                resend_until(lambda: signal.pthread_kill(ident, signal.SIGUSR1), handler)
            """
        )
        + textwrap.dedent(body)
    )


# -- threads ----------------------------------------------------------------------------


def forever() -> None:
    """Park in a threado wait until cancelled."""
    threado.sleep(math.inf)


#: The kinds of :func:`timed_wait`.
TIMED_WAITS = ["event", "lock", "rlock", "condition", "semaphore", "queue", "simple queue"]
TIMED_WAITS += ["join", "wait", "sleep"]


def timed_wait(
    kind: str, seconds: float, held: threado.Lock, rheld: threado.RLock
) -> Callable[[], object]:
    """A wait of ``seconds`` by its own timeout (no scope), on something nobody gives.

    ``held`` and ``rheld`` must be held by another thread; the ``join`` kind
    joins a thread that ends once ``held`` is let go of.
    """
    ev = threado.Event()
    if kind == "event":
        return lambda: ev.wait(seconds)
    if kind == "lock":
        return lambda: held.acquire(timeout=seconds)
    if kind == "rlock":
        return lambda: rheld.acquire(timeout=seconds)
    if kind == "condition":
        cond = threado.Condition()

        def on_condition() -> bool:
            with cond:
                return cond.wait(seconds)

        return on_condition
    if kind == "semaphore":
        return lambda: threado.Semaphore(0).acquire(timeout=seconds)
    if kind == "queue":
        return lambda: threado.Queue[int]().get(timeout=seconds)
    if kind == "simple queue":
        return lambda: threado.SimpleQueue[int]().get(timeout=seconds)
    if kind == "join":
        return lambda: threado.spawn(held.acquire).join(seconds)
    if kind == "wait":
        return lambda: threado.wait([ev], timeout=seconds)
    assert kind == "sleep", kind
    return lambda: threado.sleep(seconds)


def spawn_parked(func: Callable[[*Ts], T], *args: *Ts) -> threado.Thread[T]:
    """Spawn ``func(*args)`` and return once it is parked in a threado wait."""
    t = threado.spawn(func, *args)
    wait_parked(t)
    return t


def in_cancelled_thread(func: Callable[[], T]) -> threado.Thread[T]:
    """Run ``func`` in a thread that has cancelled itself first; return the ended thread."""

    def body() -> T:
        threado.current_thread().cancel(blocking=False)
        return func()

    t = threado.spawn(body)
    t.wait()
    return t


def self_cancelled(func: Callable[[], object]) -> object:
    """Run ``func`` in a thread that has cancelled itself first; return its
    exception if it raised one, else its result."""
    t = in_cancelled_thread(func)
    return t.exception if t.exception is not None else t.result


def in_thread(func: Callable[[*Ts], T], *args: *Ts, timeout: float = 30) -> T:
    """Run ``func(*args)`` in a threado thread (so that threado's paths are
    taken); return its result or raise its exception."""
    t = threado.spawn(func, *args)
    try:
        return t.join(timeout=timeout)
    except threado.ThreadError as exc:
        cause = exc.__cause__
        if cause is None:  # pragma: no cover - join always chains the thread's exception
            raise
        raise cause from None


def plain_thread(func: Callable[[], object]) -> tuple[threading.Thread, list[Any]]:
    """Start ``func`` in a plain ``threading`` thread; its :func:`outcome` lands in the list."""
    box: list[Any] = []
    th = threading.Thread(target=lambda: box.append(outcome(func)))
    th.start()
    return th, box


def settle(t: threado.Thread[Any]) -> None:
    """Wait for ``t`` to end and retrieve its outcome (no "never retrieved" report)."""
    assert t.wait(10)
    _ = t.exception


def park_or_finish(t: threado.Thread[Any], timeout: float = 2.0) -> None:
    """Wait until ``t`` parks in a threado wait, ends, or blocks elsewhere."""
    try:
        wait_parked(t, timeout=timeout)
    except (RuntimeError, TimeoutError):
        pass


# -- outcomes, to compare threado with the standard library -----------------------------


def outcome(func: Callable[[], object]) -> tuple[Any, ...]:
    """A comparable summary of what ``func()`` did: its result, or its
    exception's type, errno (for an ``OSError``) and message."""
    try:
        return ("ok", func())
    except OSError as exc:
        return ("err", type(exc), exc.errno, str(exc))
    except Exception as exc:
        return ("err", type(exc), str(exc))


def outcome_type(func: Callable[[], object]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("exc", exception type)``: messages may differ."""
    try:
        return ("ok", func())
    except Exception as e:
        return ("exc", type(e))


# -- descriptors and sockets --------------------------------------------------------------

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


def open_fds() -> int:
    """How many descriptors this process has open (Linux: needs ``/proc``)."""
    return len(os.listdir("/proc/self/fd"))


def refused_address() -> tuple[str, int]:
    """A local TCP address where nobody listens: connects are refused."""
    s = stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    host, port = s.getsockname()
    s.close()
    return host, port


def fill_send_buffer(sock: stdsocket.socket) -> None:
    """Write to ``sock`` until a write would block; keep its timeout."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(timeout)


class CountingPoller:
    """Wraps a thread's descriptor poller to tell the test when it (re-)enters poll."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0
        self.cond = threading.Condition()

    def register(self, *args: Any) -> Any:
        return self.real.register(*args)

    def unregister(self, *args: Any) -> Any:
        return self.real.unregister(*args)

    def modify(self, *args: Any) -> Any:
        return self.real.modify(*args)

    def poll(self, *args: Any) -> Any:
        with self.cond:
            self.calls += 1
            self.cond.notify_all()
        return self.real.poll(*args)

    def wait_calls(self, n: int) -> None:
        """Return once poll has been entered ``n`` times in all."""
        with self.cond:
            assert self.cond.wait_for(lambda: self.calls >= n, timeout=10)


# -- TLS -----------------------------------------------------------------------------------

#: CPython's own test certificate and key, if the interpreter has its test package.
CERT = Path(sysconfig.get_paths()["stdlib"]) / "test" / "certdata" / "keycert.pem"


def server_context(certfiles: tuple[str, str]) -> ssl.SSLContext:
    """A server-side context with the ``certfiles`` fixture's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certfiles)
    return ctx


def client_context() -> ssl.SSLContext:
    """A threado client context that trusts any certificate (tests only)."""
    ctx = tssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# -- parking -------------------------------------------------------------------------------


class Pool:
    """A counted resource built directly on WaitQueue, as the primitives are.

    ``take`` gets one unit, waiting for a hand-off if there is none;
    ``give`` hands a unit to the first waiter, or keeps it.
    """

    def __init__(self, units: int = 0) -> None:
        self.mutex = threading.Lock()
        self.queue = WaitQueue(self.mutex)
        self.units = units

    def take(self, timeout: float | None = None) -> bool:
        st = get_state()
        st.check()
        with self.mutex:
            if self.units:
                self.units -= 1
                return True
            w = self.queue.enqueue_locked(st)
        deadline = None if timeout is None else clock() + timeout
        return self.queue.wait(st, w, deadline, self, self.give) is not TIMED_OUT

    def give(self, _unit: object = True) -> None:
        with self.mutex:
            if not self.queue.handoff_locked(True):
                self.units += 1

    def waiting(self) -> int:
        with self.mutex:
            return len(self.queue)


# -- threado.wait() registrations ---------------------------------------------------------


def wait_registrations(*objects: object) -> int:
    """How many ``threado.wait`` registrations ``objects`` hold (threado
    threads, events, queues, groups, futures), plus every signal one."""
    from concurrent.futures import Future

    from threado._conditions import signal_waiters

    n = signal_waiters()
    for x in objects:
        if isinstance(x, threado.Event):
            n += len(x._queue)
        elif isinstance(x, threado.Thread):
            n += len(x._done)
        elif isinstance(x, threado.ThreadGroup):
            n += len(x._idle)
        elif isinstance(x, (threado.SimpleQueue, threado.Queue)):
            n += len(x._watchers)
        elif isinstance(x, Future):
            n += len(x._waiters)
        else:
            raise TypeError(f"no registrations to count on {x!r}")
    return n
