"""Jobs for the process-pool, ``run_in`` and cluster tests, importable by worker processes.

A job tells the test it started, and that its cleanup ran, over a Unix
socket the test listens on (:class:`Listener`): the tests order themselves
by those messages, never by sleeping.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import threado


def _connect(address: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(address)
    return s


def add(a: int, b: int) -> int:
    return a + b


def getpid() -> int:
    return os.getpid()


def where() -> tuple[int, int]:
    """The worker's pid and the job's thread (its native id: never reused soon)."""
    return os.getpid(), threading.get_native_id()


def kind_of(*args: Any, **kwargs: Any) -> list[str]:
    """The type names of the arguments (to see what a worker was given)."""
    return [type(a).__name__ for a in (*args, *kwargs.values())]


def fail(message: str) -> None:
    raise ValueError(message)


def block(address: str, how: str = "sleep") -> None:
    """Say "started <pid>", block at a threado blocking point, say "cleanup" on the way out."""
    s = _connect(address)
    try:
        s.sendall(b"started %d\n" % os.getpid())
        if how == "sleep":
            threado.sleep(600)
        else:
            threado.Queue[int]().get()
    finally:
        s.sendall(b"cleanup\n")
        s.close()


def block_then_slow_cleanup(address: str) -> None:
    """As ``block``, but its cleanup says "finally", then waits for a byte from the test."""
    s = _connect(address)
    try:
        s.sendall(b"started %d\n" % os.getpid())
        threado.sleep(600)
    finally:
        s.sendall(b"finally\n")
        s.recv(1)  # not a threado blocking point: a second cancel cannot cut it short
        s.sendall(b"cleanup\n")
        s.close()


def spin(address: str) -> None:
    """Say "started", then loop with no blocking point (only a kill stops it)."""
    s = _connect(address)
    s.sendall(b"started %d\n" % os.getpid())
    while True:
        pass


def die(how: str) -> None:
    if how == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGKILL)


def cancel_self() -> None:
    """Cancel the thread the job runs in, then reach a blocking point."""
    threado.current_thread().cancel(blocking=False)
    threado.sleep(0)


def unpicklable_result() -> Any:
    return threading.Lock()


class _RaisesOnPickle:
    def __reduce__(self) -> Any:
        raise SystemExit("no pickling here")


def result_whose_pickling_exits() -> Any:
    return _RaisesOnPickle()


class _Unprintable(Exception):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()  # unpicklable

    def __str__(self) -> str:
        raise RuntimeError("no str either")


def raise_unpicklable_unprintable() -> None:
    raise _Unprintable


class _TwoArguments(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(a)  # pickles, but cannot be unpickled: E(a) misses b


def raise_unloadable() -> None:
    raise _TwoArguments(1, 2)


def fail_if_exists(path: str) -> None:
    """Initializer: succeed in the first worker (which creates ``path``), fail in the others."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL))


def raise_base(kind: str) -> None:
    raise {"exit": SystemExit(5), "interrupt": KeyboardInterrupt("ki")}[kind]


_sigterm = threading.Event()


def slow_to_die_of_sigterm() -> None:
    """Initializer: a SIGTERM releases ``wait_for_sigterm``, and the process
    dies of it only at its next ``die_if_terminated`` (a slow death, made late)."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _sigterm.set()

    signal.signal(signal.SIGTERM, handler)


def wait_for_sigterm(address: str) -> None:
    """Say "started", then wait where threado cannot interrupt, until a SIGTERM."""
    s = _connect(address)
    s.sendall(b"started %d\n" % os.getpid())
    s.close()
    _sigterm.wait()


def die_if_terminated() -> int:
    if _sigterm.is_set():
        os.kill(os.getpid(), signal.SIGTERM)
    return os.getpid()


def stuck(seconds: float) -> float:
    """Block where threado cannot interrupt (an unpatched ``time.sleep``)."""
    time.sleep(seconds)
    return seconds


def nap(seconds: float) -> float:
    threado.sleep(seconds)
    return seconds


def hold(address: str, then: str = "return") -> int:
    """Say "started <pid>", wait for a byte from the test, then return the
    pid or (``then="die"``) exit with code 3."""
    s = _connect(address)
    try:
        s.sendall(b"started %d\n" % os.getpid())
        s.recv(1)
    finally:
        s.close()
    if then == "die":
        os._exit(3)
    return os.getpid()


def say(address: str) -> int:
    """Say "started <pid>" and return the pid."""
    with _connect(address) as s:
        s.sendall(b"started %d\n" % os.getpid())
    return os.getpid()


def mark(path: str, seconds: float) -> float:
    """Create ``path`` (fails if it exists: the job ran twice), then nap."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    threado.sleep(seconds)
    return seconds


def _add_ten(f: Callable[..., int]) -> Callable[..., int]:
    """A decorator that supplies ``f``'s first argument (its ``__wrapped__`` says otherwise)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        return f(10, *args, **kwargs)

    return wrapper


@_add_ten
def add_ten(ten: int, b: int) -> int:
    """Called as ``add_ten(b)``: its decorator gives it ``ten``."""
    return ten + b


_LOCK = threading.Lock()


def add_under_lock(a: int, b: int = 1, lock: Any = _LOCK) -> int:
    """A function whose default cannot be pickled (the function can: by name)."""
    with lock:
        return a + b


def hold_the_gil(address: str, seconds: float) -> None:
    """Say "started <pid>", then sleep ``seconds`` holding the GIL (C code that
    does not release it): nothing else in this process runs meanwhile."""
    with _connect(address) as s:
        s.sendall(b"started %d\n" % os.getpid())
    ctypes.PyDLL(None).usleep(int(seconds * 1_000_000))


def answer_after(seconds: float, value: Any) -> Any:
    threado.sleep(seconds)
    return value


class Listener:
    """A Unix socket the jobs connect to; ``expect`` reads one of their lines."""

    def __init__(self, path: str) -> None:
        self.address = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.sock.settimeout(60)
        self.conns: list[socket.socket] = []
        self.files: list[Any] = []

    def accept(self) -> int:
        """Wait for the next job to start; return the index of its connection."""
        conn, _ = self.sock.accept()
        conn.settimeout(60)
        self.conns.append(conn)
        self.files.append(conn.makefile("rb"))
        return len(self.conns) - 1

    def started(self) -> tuple[int, int]:
        """Wait for the next job's "started <pid>": (its index, its worker's pid)."""
        i = self.accept()
        words = self.files[i].readline().split()
        assert words[0] == b"started", words
        return i, int(words[1])

    def line(self, i: int) -> bytes:
        return bytes(self.files[i].readline().strip())

    def close(self) -> None:
        for f in self.files:
            f.close()
        for c in self.conns:
            c.close()
        self.sock.close()
