"""Cancellable I/O: threado.socket and wait_readable/wait_writable (SPEC §6)."""

from __future__ import annotations

import os
import socket as stdsocket
import threading
import time
from typing import Any

import pytest
from signals import Once, resend_until

import threado
import threado.socket as tsocket
from threado import ThreadCancelled
from threado.testing import wait_parked

SLACK = 2.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@pytest.fixture
def pair() -> tuple[tsocket.socket, tsocket.socket]:
    a, b = tsocket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.recv(10),
        lambda s: s.recv_into(bytearray(10)),
        lambda s: s.recvfrom(10),
        lambda s: s.recvfrom_into(bytearray(10)),
        lambda s: s.makefile("rb").read(1),
    ],
)
def test_receiving_is_cancellable_and_consumes_nothing(pair: Any, call: Any) -> None:
    a, b = pair
    t = threado.spawn(call, a)
    wait_parked(t)
    start = time.monotonic()
    assert t.cancel(timeout=5)
    assert time.monotonic() - start < SLACK
    assert t.cancelled
    b.sendall(b"data")
    assert a.recv(10) == b"data"  # nothing was consumed by the cancelled call


def test_data_flows_as_with_the_standard_library(pair: Any) -> None:
    a, b = pair
    b.sendall(b"x" * 100_000)
    got = b""
    while len(got) < 100_000:
        got += a.recv(65536)
    assert got == b"x" * 100_000
    r = threado.spawn(a.recv, 5)
    wait_parked(r)
    b.send(b"hello")
    assert r.join() == b"hello"


def test_socket_timeouts_keep_their_meaning(pair: Any) -> None:
    a, _ = pair
    a.settimeout(0.02)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out"):
        a.recv(1)
    assert time.monotonic() - start >= 0.02
    a.settimeout(0)
    with pytest.raises(BlockingIOError):
        a.recv(1)


def test_a_cancelled_sendall_reports_what_it_sent(pair: Any) -> None:
    a, b = pair
    a.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_SNDBUF, 4096)
    data = b"y" * 10_000_000
    t = threado.spawn(a.sendall, data)
    wait_parked(t)  # the buffers are full: it waits to write
    t.cancel()
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    sent = exc.bytes_sent  # type: ignore[attr-defined]
    assert 0 < sent < len(data)
    b.settimeout(1)
    received = 0
    try:
        while received < sent:
            received += len(b.recv(1 << 20))
    except TimeoutError:
        pass
    assert received == sent  # exactly what it said it sent


def test_accept_and_connect() -> None:
    srv = tsocket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    acceptor = threado.spawn(srv.accept)
    wait_parked(acceptor)
    assert acceptor.cancel(timeout=5)  # a blocking accept, cancelled
    acceptor = threado.spawn(srv.accept)
    client = tsocket.create_connection(("127.0.0.1", port), timeout=5)
    conn, _ = acceptor.join()
    assert isinstance(conn, tsocket.socket)
    conn.sendall(b"hi")
    assert client.recv(2) == b"hi"
    for s in (conn, client, srv):
        s.close()


def test_a_timeout_fires_inside_a_blocking_recv(pair: Any) -> None:
    a, _ = pair
    start = time.monotonic()
    with pytest.raises(threado.ThreadTimeout):
        with threado.timeout_after(0.03):
            a.recv(1)
    assert 0.03 <= time.monotonic() - start < 0.03 + SLACK


def test_a_thread_nobody_can_cancel_takes_the_standard_path(pair: Any) -> None:
    a, b = pair
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.append(a.recv(3)))  # no threado state
    t.start()
    b.sendall(b"abc")
    t.join(timeout=10)
    assert got == [b"abc"]


def test_getaddrinfo_is_cancellable_and_correct() -> None:
    assert tsocket.getaddrinfo("127.0.0.1", 80, type=stdsocket.SOCK_STREAM)[0][4] == (
        "127.0.0.1",
        80,
    )
    with pytest.raises(stdsocket.gaierror):  # raised in the caller, as the stdlib does
        tsocket.getaddrinfo("127.0.0.1", "no-such-service")


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


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_sockets_with_a_timeout_are_cancelled_at_once(timeout: float | None) -> None:
    """On a socket with a timeout, CPython waits for readiness itself for the
    whole timeout; threado must wait first so that a cancel lands at once."""
    a, b = tsocket.socketpair()
    a.settimeout(timeout)
    try:
        t = threado.spawn(a.recv, 10)
        wait_parked(t)
        start = time.monotonic()
        assert t.cancel(timeout=10)
        assert time.monotonic() - start < 1
        assert t.cancelled
        start = time.monotonic()
        with pytest.raises(threado.ThreadTimeout):
            with threado.timeout_after(0.05):
                a.recv(1)
        assert time.monotonic() - start < 1
        b.send(b"ok")
        assert a.recv(2) == b"ok"  # and data still flows
    finally:
        a.close()
        b.close()


def test_wait_readable_on_a_closed_descriptor_raises() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError, match="Bad file descriptor"):
        threado.wait_readable(r, timeout=1)


def test_acceptors_sharing_a_listener_take_turns_and_stay_cancellable() -> None:
    """Several threads accept on one blocking listener: each connection goes to
    exactly one, and the others stay cancellable (none is left blocked in the C
    accept after losing the race for a connection)."""
    listener = tsocket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[Any] = []
    lock = threading.Lock()

    def acceptor() -> None:
        while True:
            conn, _ = listener.accept()
            with lock:
                accepted.append(conn)

    threads = [threado.spawn(acceptor) for _ in range(3)]
    clients: list[Any] = []
    try:
        for t in threads:
            wait_parked(t)
        clients += [stdsocket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        deadline = time.monotonic() + 10
        while True:  # polling a count, not ordering threads
            with lock:
                if len(accepted) == 5:
                    break
            assert time.monotonic() < deadline, accepted
            time.sleep(0.001)
        for t in threads:
            assert t.cancel(timeout=5), f"{t!r} is stuck"
            assert t.cancelled
    finally:
        for t in threads:
            t.cancel(timeout=5)
        for c in accepted:
            c.close()
        for c in clients:
            c.close()
        listener.close()
