"""Cancellable sockets: ``threado/socket.py`` (SPEC §6).

Each test compares threado with the standard library wherever it can; a
scenario runs with ``socket`` and with ``threado.socket`` (in a threado
thread, so that threado's paths are taken) and the outcomes must match.
"""

from __future__ import annotations

import errno
import os
import socket as stdsocket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    SLACK,
    CountingPoller,
    fill_send_buffer,
    in_thread,
    outcome,
    park_or_finish,
    plain_thread,
    refused_address,
    settle,
)

import threado
import threado.socket as tsocket
from threado import ThreadCancelled
from threado._fdwait import FDWakeup
from threado.testing import wait_parked

# -- receiving -------------------------------------------------------------------------


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


def test_a_thread_nobody_can_cancel_takes_the_standard_path(pair: Any) -> None:
    a, b = pair
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.append(a.recv(3)))  # no threado state
    t.start()
    b.sendall(b"abc")
    t.join(timeout=10)
    assert got == [b"abc"]


@pytest.mark.parametrize("call", ["recv", "recv_into"])
def test_msg_waitall_waits_for_every_byte(std_pair: Any, pair: Any, call: str) -> None:
    def receive(sock: Any) -> bytes:
        if call == "recv":
            return bytes(sock.recv(10, stdsocket.MSG_WAITALL))
        buf = bytearray(10)
        n = sock.recv_into(buf, 10, stdsocket.MSG_WAITALL)
        return bytes(buf[:n])

    sa, sb = std_pair
    sb.sendall(b"12345")
    th, box = plain_thread(lambda: receive(sa))
    sb.sendall(b"67890")
    th.join(10)
    assert box == [("ok", b"1234567890")]

    a, b = pair
    b.sendall(b"12345")
    t = threado.spawn(receive, a)
    park_or_finish(t)
    b.sendall(b"67890")
    assert t.join(timeout=10) == b"1234567890"


@pytest.mark.parametrize("into", [False, True])
def test_recv_peek_waitall_does_not_repeat_bytes(into: bool) -> None:
    threado.current_thread()  # a thread with a state: the cancellable path
    a, b = tsocket.socketpair()
    with a, b:
        b.sendall(b"ab")
        b.shutdown(stdsocket.SHUT_WR)
        flags = stdsocket.MSG_PEEK | stdsocket.MSG_WAITALL
        if into:
            buf = bytearray(4)
            n = a.recv_into(buf, 4, flags)
            data = bytes(buf[:n])
        else:
            data = a.recv(4, flags)
        assert data == b"ab"  # what the standard socket returns


def _spawn_instrumented(func: Any, *args: Any) -> tuple[threado.Thread[Any], CountingPoller]:
    """Spawn ``func(*args)`` in a thread whose descriptor poller is counted."""
    x, y = stdsocket.socketpair()
    ready = threading.Event()
    go = threading.Event()

    def run() -> Any:
        threado.wait_writable(x)  # makes the thread's wake-up descriptor
        ready.set()
        go.wait()
        return func(*args)

    t = threado.spawn(run)
    assert ready.wait(10)
    x.close()
    y.close()
    wk = t._state.wakeup
    assert isinstance(wk, FDWakeup)
    poller = CountingPoller(wk.poller)
    wk.poller = poller  # type: ignore[assignment]
    go.set()
    return t, poller


def test_recv_waitall_cancelled_after_some_bytes_returns_them() -> None:
    a, b = tsocket.socketpair()
    with a, b:
        t, poller = _spawn_instrumented(a.recv, 4, stdsocket.MSG_WAITALL)
        poller.wait_calls(1)
        b.send(b"ab")
        poller.wait_calls(2)  # took "ab", waits for the rest
        t.cancel(blocking=False)
        assert t.join(timeout=10) == b"ab"  # nothing read is lost


def test_peek_nbytes_and_datagram_truncation_match_the_stdlib() -> None:
    def scenario(mod: Any) -> list[Any]:
        a, b = mod.socketpair()
        u1 = mod.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        u2 = mod.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
        try:
            b.sendall(b"hello world")
            out: list[Any] = [a.recv(5, stdsocket.MSG_PEEK)]
            buf = bytearray(10)
            out.append(a.recv_into(buf, 4))
            out.append(bytes(buf))
            out.append(a.recvfrom(100))
            u1.bind(("127.0.0.1", 0))
            u2.sendto(b"datagram!", u1.getsockname())
            data, addr = u1.recvfrom(4)  # truncated; the rest is discarded
            out += [data, addr == u2.getsockname()]
            u2.sendto(b"second", 0, u1.getsockname())
            buf2 = bytearray(3)
            out.append(u1.recvfrom_into(buf2)[0])
            out.append(bytes(buf2))
            out.append(outcome(lambda: a.recv_into(bytearray(2), 5)))
            out.append(outcome(lambda: a.recv(-1)))
            return out
        finally:
            for s in (a, b, u1, u2):
                s.close()

    expected = scenario(stdsocket)
    assert expected[0] == b"hello"
    assert in_thread(scenario, tsocket) == expected


@pytest.mark.parametrize("call", ["recvmsg", "recvmsg_into"])
def test_recvmsg_is_cancellable(call: str) -> None:
    u = tsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    sender = stdsocket.socket(stdsocket.AF_INET, stdsocket.SOCK_DGRAM)
    try:
        if call == "recvmsg":
            t = threado.spawn(u.recvmsg, 100)
        else:
            t = threado.spawn(u.recvmsg_into, [bytearray(100)])
        park_or_finish(t)
        ok = t.cancel(timeout=1)
        if not ok:
            sender.sendto(b"unstick", u.getsockname())
            settle(t)
        assert ok
        assert t.cancelled
    finally:
        u.close()
        sender.close()


def test_recv_loses_nothing_across_many_cancellations(pair: Any) -> None:
    a, b = pair
    for i in range(5):
        t = threado.spawn(a.recv, 10)
        wait_parked(t)
        assert t.cancel(timeout=5)
        b.sendall(bytes([i]) * 3)
        assert a.recv(10) == bytes([i]) * 3


# -- timeouts and errors ---------------------------------------------------------------


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


def test_a_timeout_fires_inside_a_blocking_recv(pair: Any) -> None:
    a, _ = pair
    start = time.monotonic()
    with pytest.raises(threado.ThreadTimeout):
        with threado.timeout_after(0.03):
            a.recv(1)
    assert 0.03 <= time.monotonic() - start < 0.03 + SLACK


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


@pytest.mark.slow  # over a second: ``-m "not slow"`` skips it
def test_socket_timeouts_match_the_stdlib(unresponsive_address: Any) -> None:
    def scenario(mod: Any) -> list[Any]:
        a, b = mod.socketpair()
        listener = mod.socket()
        c = mod.socket()
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            fill_send_buffer(a)
            for s in (a, b, listener, c):
                s.settimeout(0.2)
            out = []
            for op in (
                lambda: a.recv(1),
                lambda: a.send(b"z" * 65536),
                lambda: a.sendall(b"z" * 65536),
                lambda: listener.accept(),
                lambda: c.connect(unresponsive_address),
            ):
                start = time.monotonic()
                out.append(outcome(op))
                assert 0.15 <= time.monotonic() - start < SLACK
            return out
        finally:
            for s in (a, b, listener, c):
                s.close()

    expected = scenario(stdsocket)
    assert all(o[1] is TimeoutError for o in expected)
    assert in_thread(scenario, tsocket) == expected


@pytest.mark.parametrize("how", ["settimeout0", "setblocking"])
@pytest.mark.parametrize("call", ["recv", "recv_into", "recvfrom", "send", "sendall", "accept"])
def test_nonblocking_sockets_never_wait(how: str, call: str) -> None:
    def scenario(mod: Any) -> tuple[Any, ...]:
        a, b = mod.socketpair()
        listener = mod.socket()
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            if call in ("send", "sendall"):
                fill_send_buffer(a)
            for s in (a, listener):
                if how == "settimeout0":
                    s.settimeout(0)
                else:
                    s.setblocking(False)
            op: dict[str, Callable[[], Any]] = {
                "recv": lambda: a.recv(1),
                "recv_into": lambda: a.recv_into(bytearray(1)),
                "recvfrom": lambda: a.recvfrom(1),
                "send": lambda: a.send(b"y" * 65536),
                "sendall": lambda: a.sendall(b"y" * 65536),
                "accept": lambda: listener.accept(),
            }
            start = time.monotonic()
            with threado.timeout_after(30):  # a deadline: threado's path is taken
                result = outcome(op[call])
            return result, time.monotonic() - start < 1
        finally:
            for s in (a, b, listener):
                s.close()

    expected = scenario(stdsocket)
    assert expected[0][1] is BlockingIOError
    assert in_thread(scenario, tsocket) == expected


def test_send_on_a_closed_peer_raises_as_the_stdlib() -> None:
    def scenario(mod: Any) -> list[Any]:
        a, b = mod.socketpair()
        b.close()
        try:
            return [
                outcome(lambda: a.send(b"x")),
                outcome(lambda: a.sendall(b"x" * 100_000)),
                outcome(lambda: a.recv(10)),
            ]
        finally:
            a.close()

    expected = scenario(stdsocket)
    assert expected[0][1] is BrokenPipeError
    assert in_thread(scenario, tsocket) == expected


def test_argument_errors_come_first_on_a_socket_with_a_timeout(pair: Any, std_pair: Any) -> None:
    sa, _ = std_pair
    sa.settimeout(0.5)
    expected = outcome(lambda: sa.recv(-1))
    assert expected[1] is ValueError
    a, _ = pair
    a.settimeout(0.5)
    assert in_thread(lambda: outcome(lambda: a.recv(-1))) == expected


def test_recv_on_a_closed_socket_with_a_timeout() -> None:
    def scenario(mod: Any) -> Any:
        s = mod.socket()
        s.settimeout(0.3)
        s.close()
        return outcome(lambda: s.recv(1))

    expected = scenario(stdsocket)
    assert expected[1] is OSError
    assert expected[2] == errno.EBADF
    assert in_thread(scenario, tsocket) == expected


def test_recv_on_closed_socket_after_a_wait_says_ebadf() -> None:
    threado.current_thread()
    a, b = tsocket.socketpair()
    with b:
        t = threado.spawn(a.recv, 1)
        wait_parked(t)
        b.send(b"x")
        assert t.join() == b"x"  # that read had to wait: the next one waits first
        assert a._waited
        a.close()
        with pytest.raises(OSError) as info:
            a.recv(1)
        assert info.value.errno == 9


def test_empty_sendall_on_a_closed_socket() -> None:
    def scenario(mod: Any) -> Any:
        s = mod.socket()
        s.close()
        return outcome(lambda: s.sendall(b""))

    expected = scenario(stdsocket)
    assert expected[1] is OSError
    assert in_thread(scenario, tsocket) == expected


def test_closing_a_socket_under_a_waiting_recv_leaves_it_cancellable(pair: Any) -> None:
    a, _b = pair
    t = threado.spawn(a.recv, 10)
    wait_parked(t)
    a.close()  # as in the stdlib, a close does not wake the waiter on Linux
    start = time.monotonic()
    assert t.cancel(timeout=5)  # ... but it must not hang forever
    assert time.monotonic() - start < SLACK
    exc = t.exception  # cancelled, or EBADF if the poll saw the closed descriptor
    assert isinstance(exc, threado.ThreadCancelled) or (
        isinstance(exc, OSError) and exc.errno == errno.EBADF
    )


def test_shutdown_from_another_thread_wakes_recv_as_in_the_stdlib(pair: Any, std_pair: Any) -> None:
    sa, _ = std_pair
    th, box = plain_thread(lambda: sa.recv(10))
    a, _ = pair
    t = threado.spawn(a.recv, 10)
    wait_parked(t)
    sa.shutdown(stdsocket.SHUT_RD)
    a.shutdown(stdsocket.SHUT_RD)
    th.join(5)
    assert box == [("ok", b"")]
    assert t.join(timeout=5) == b""


# -- connecting ------------------------------------------------------------------------


def test_connect_refused_matches_the_stdlib() -> None:
    addr = refused_address()

    def scenario(mod: Any) -> list[Any]:
        s = mod.socket()
        s2 = mod.socket()
        s2.settimeout(5)
        try:
            return [
                outcome(lambda: s.connect(addr)),
                outcome(lambda: s2.connect_ex(addr)),
                outcome(lambda: mod.create_connection(addr)),
                outcome(lambda: mod.create_connection(addr, timeout=0.5)),
                outcome(lambda: mod.create_connection(addr, all_errors=True).close()),
            ]
        finally:
            s.close()
            s2.close()

    expected = scenario(stdsocket)
    assert expected[0][1] is ConnectionRefusedError
    assert expected[4][1] is ExceptionGroup
    assert in_thread(scenario, tsocket) == expected


def test_connect_ex_timeout_returns_an_errno(unresponsive_address: Any) -> None:
    def scenario(mod: Any) -> Any:
        s = mod.socket()
        s.settimeout(0.3)
        try:
            return outcome(lambda: s.connect_ex(unresponsive_address))
        finally:
            s.close()

    expected = scenario(stdsocket)
    assert expected == ("ok", errno.EWOULDBLOCK)
    assert in_thread(scenario, tsocket) == expected


def test_a_hanging_connect_is_cancellable(unresponsive_address: Any) -> None:
    s = tsocket.socket()
    try:
        t = threado.spawn(s.connect, unresponsive_address)
        wait_parked(t)
        start = time.monotonic()
        assert t.cancel(timeout=5)
        assert time.monotonic() - start < SLACK
        assert t.cancelled
        assert s.gettimeout() is None  # the blocking mode was restored
        assert os.get_blocking(s.fileno())
    finally:
        s.close()


@pytest.mark.slow  # over a second: ``-m "not slow"`` skips it
def test_unix_connect_to_a_full_backlog_waits_for_room(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    listener = stdsocket.socket(stdsocket.AF_UNIX)
    listener.bind(path)
    listener.listen(0)
    fillers = []
    while True:
        c = stdsocket.socket(stdsocket.AF_UNIX)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            break
        fillers.append(c)

    def connect_and_send(mod: Any) -> bytes:
        s = mod.socket(stdsocket.AF_UNIX)
        try:
            s.connect(path)
            s.sendall(b"hi")
            return b"sent"
        finally:
            s.close()

    def drain_and_read() -> bytes:
        listener.settimeout(5)
        got = b""
        for _ in range(len(fillers) + 1):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            conn.settimeout(0.5)
            try:
                got += conn.recv(10)
            except TimeoutError:
                pass
            conn.close()
        return got

    try:
        th, box = plain_thread(lambda: connect_and_send(stdsocket))
        assert drain_and_read() == b"hi"
        th.join(10)
        assert box == [("ok", b"sent")]
        # The backlog is full again once a new filler connects.
        for c in fillers:
            c.close()
        fillers[:] = []
        while True:
            c = stdsocket.socket(stdsocket.AF_UNIX)
            c.setblocking(False)
            try:
                c.connect(path)
            except BlockingIOError:
                c.close()
                break
            fillers.append(c)
        t = threado.spawn(connect_and_send, tsocket)
        park_or_finish(t)
        got = drain_and_read()
        settle(t)
        assert outcome(t.join) == ("ok", b"sent")
        assert got == b"hi"
    finally:
        for c in fillers:
            c.close()
        listener.close()


def test_create_connection_with_timeout_zero_matches_the_stdlib() -> None:
    listener = stdsocket.create_server(("127.0.0.1", 0))
    try:
        addr = listener.getsockname()

        def scenario(mod: Any) -> Any:
            def go() -> Any:
                s = mod.create_connection(addr, timeout=0)
                s.close()

            return outcome(go)

        assert in_thread(scenario, tsocket) == scenario(stdsocket)
    finally:
        listener.close()


def test_getaddrinfo_is_cancellable_and_correct() -> None:
    assert tsocket.getaddrinfo("127.0.0.1", 80, type=stdsocket.SOCK_STREAM)[0][4] == (
        "127.0.0.1",
        80,
    )
    with pytest.raises(stdsocket.gaierror):  # raised in the caller, as the stdlib does
        tsocket.getaddrinfo("127.0.0.1", "no-such-service")


def test_getaddrinfo_matches_the_stdlib_and_is_a_blocking_point() -> None:
    for args in (("127.0.0.1", 80), ("localhost", "http"), (None, 0, 0, stdsocket.SOCK_STREAM)):
        assert in_thread(tsocket.getaddrinfo, *args) == stdsocket.getaddrinfo(*args)
    bad = ("127.0.0.1", "no-such-service-xyz")
    assert in_thread(outcome, lambda: tsocket.getaddrinfo(*bad)) == outcome(
        lambda: stdsocket.getaddrinfo(*bad)
    )

    def cancelled_first() -> Any:
        threado.current_thread().cancel(blocking=False)
        return tsocket.getaddrinfo("127.0.0.1", 80)

    with pytest.raises(threado.ThreadCancelled):
        in_thread(cancelled_first)


# -- accepting -------------------------------------------------------------------------


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


def test_accept_returns_threado_sockets_and_several_acceptors_share() -> None:
    listener = tsocket.create_server(("127.0.0.1", 0))
    assert isinstance(listener, tsocket.socket)
    clients = []
    try:
        threads = [threado.spawn(listener.accept) for _ in range(3)]
        for t in threads:
            wait_parked(t)
        for _ in range(3):
            clients.append(stdsocket.create_connection(listener.getsockname()))
        conns = [t.join(timeout=10)[0] for t in threads]
        assert all(isinstance(c, tsocket.socket) for c in conns)
        assert len({c.getpeername() for c in conns}) == 3  # each got its own
        for c in conns:
            c.close()
    finally:
        for client in clients:
            client.close()
        listener.close()


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


# -- sendall and sendfile --------------------------------------------------------------


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


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_a_cancelled_sendall_reports_exactly_what_went_out(pair: Any, timeout: Any) -> None:
    a, b = pair
    a.settimeout(timeout)
    data = bytes(range(256)) * 20_000
    t = threado.spawn(a.sendall, data)
    wait_parked(t)
    t.cancel()
    with pytest.raises(threado.ThreadError) as info:
        t.join()
    exc = info.value.__cause__
    assert isinstance(exc, threado.ThreadCancelled)
    sent = exc.bytes_sent  # type: ignore[attr-defined]
    b.setblocking(False)
    got = bytearray()
    while True:
        try:
            chunk = b.recv(1 << 20)
        except BlockingIOError:
            break
        got += chunk
    assert 0 < sent < len(data)
    assert bytes(got) == data[:sent]


def test_sendfile_sends_as_the_stdlib_and_a_cancel_keeps_the_position(pair: Any) -> None:
    payload = os.urandom(300_000)
    with tempfile.TemporaryFile() as f:
        f.write(payload)
        f.flush()
        a, b = pair

        def send_some() -> int:
            return int(a.sendfile(f, 1000, 5000))

        got = bytearray()
        n = in_thread(send_some)
        while len(got) < 5000:
            got += b.recv(65536)
        assert n == 5000
        assert bytes(got) == payload[1000:6000]
        assert f.tell() == 6000  # as the stdlib leaves it

        f.seek(0)
        t = threado.spawn(a.sendfile, f)
        wait_parked(t)
        assert t.cancel(timeout=5)
        received = 0
        b.setblocking(False)
        while True:
            try:
                chunk = b.recv(1 << 20)
            except BlockingIOError:
                break
            received += len(chunk)
        assert received == f.tell()  # nothing sent is unaccounted for


# -- makefile, fromfd, dup, detach -----------------------------------------------------


def test_a_cancelled_buffered_read_refuses_later_reads_but_writes_go_on(pair: Any) -> None:
    a, b = pair
    f = a.makefile("rwb")
    t = threado.spawn(f.read, 5)
    wait_parked(t)
    assert t.cancel(timeout=5)
    b.sendall(b"later")
    with pytest.raises(ValueError):
        f.read(5)
    f.write(b"still writes")
    f.flush()
    assert b.recv(100) == b"still writes"
    f.close()


def test_a_cancelled_unbuffered_read_loses_nothing(pair: Any) -> None:
    a, b = pair
    f = a.makefile("rwb", buffering=0)
    t = threado.spawn(f.read, 5)
    wait_parked(t)
    assert t.cancel(timeout=5)
    b.sendall(b"intact")
    assert f.read(6) == b"intact"
    f.write(b"w")
    assert b.recv(1) == b"w"
    f.close()


def test_makefile_argument_errors_and_timeouts_match_the_stdlib() -> None:
    def scenario(mod: Any) -> list[Any]:
        a, b = mod.socketpair()
        try:
            out = [
                outcome(lambda: a.makefile("r", buffering=0)),
                outcome(lambda: a.makefile("rx")),
            ]
            a.settimeout(0.1)
            f = a.makefile("rb", buffering=0)
            out.append(outcome(lambda: f.read(1)))
            b.sendall(b"x")
            out.append(outcome(lambda: f.read(1)))  # a timed-out SocketIO refuses reads
            f.close()
            return out
        finally:
            a.close()
            b.close()

    expected = scenario(stdsocket)
    assert expected[2][1] is TimeoutError
    assert in_thread(scenario, tsocket) == expected


def test_fromfd_dup_and_detach_behave_as_the_stdlib(pair: Any) -> None:
    a, b = pair
    a.settimeout(2.5)
    d = a.dup()
    f = tsocket.fromfd(a.fileno(), a.family, a.type)
    sf = stdsocket.fromfd(a.fileno(), a.family, a.type)
    try:
        assert isinstance(d, tsocket.socket)
        assert isinstance(f, tsocket.socket)
        assert d.gettimeout() == 2.5
        assert f.gettimeout() == sf.gettimeout()
        t = threado.spawn(d.recv, 10)  # a dup is cancellable too
        wait_parked(t)
        assert t.cancel(timeout=5)
        b.sendall(b"via dup")
        assert in_thread(f.recv, 10) == b"via dup"
        fd = d.detach()
        assert d.fileno() == -1
        os.close(fd)
    finally:
        d.close()
        f.close()
        sf.close()
