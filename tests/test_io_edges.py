"""Adversarial edge cases of threado's I/O and patching layer (SPEC §6).

Each test compares threado with the standard library wherever it can: the
drop-in modules in the same process, and ``threado.patch()`` (process-wide)
in a fresh interpreter. Tests that fail because of a threado bug are marked
``xfail(strict=True)`` with the bug in the reason.
"""

from __future__ import annotations

import errno
import os
import select as stdselect
import shutil
import socket as stdsocket
import ssl
import subprocess as stdsubprocess
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import threado
import threado.select as tselect
import threado.socket as tsocket
import threado.ssl as tssl
import threado.subprocess as tsubprocess
from threado.testing import wait_parked

SLACK = 2.0

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def in_thread(func: Callable[..., Any], *args: Any, timeout: float = 30) -> Any:
    """Run ``func`` in a threado thread (so threado's paths are taken)."""
    t = threado.spawn(func, *args)
    try:
        return t.join(timeout=timeout)
    except threado.ThreadError as exc:
        raise exc.__cause__ from None


def outcome(func: Callable[[], Any]) -> tuple[Any, ...]:
    """A comparable summary of what ``func()`` did."""
    try:
        return ("ok", func())
    except OSError as exc:
        return ("err", type(exc), exc.errno, str(exc))
    except Exception as exc:
        return ("err", type(exc), str(exc))


def plain_thread(func: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Start ``func`` in a plain ``threading`` thread; its outcome lands in the list."""
    box: list[Any] = []
    th = threading.Thread(target=lambda: box.append(outcome(func)))
    th.start()
    return th, box


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (patching is process-wide)."""
    proc = stdsubprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


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


@pytest.fixture
def pair() -> Iterator[tuple[tsocket.socket, tsocket.socket]]:
    a, b = tsocket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def std_pair() -> Iterator[tuple[stdsocket.socket, stdsocket.socket]]:
    a, b = stdsocket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def unresponsive_address() -> Iterator[tuple[str, int]]:
    """A TCP listener whose accept queue is full: new connects hang in SYN_SENT."""
    listener = stdsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    addr = listener.getsockname()
    fillers = []
    for _ in range(8):
        c = stdsocket.socket()
        c.settimeout(0.3)
        try:
            c.connect(addr)
        except TimeoutError:
            c.close()
            break
        fillers.append(c)
    else:  # pragma: no cover
        pytest.skip("could not fill the accept queue")
    yield addr
    for c in fillers:
        c.close()
    listener.close()


def refused_address() -> tuple[str, int]:
    s = stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    addr = s.getsockname()
    s.close()
    return addr


def fill_send_buffer(sock: stdsocket.socket) -> None:
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(timeout)


# -- receiving ----------------------------------------------------------------------


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


# -- errors and timeouts ------------------------------------------------------------


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


# -- sendall / sendfile -------------------------------------------------------------


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


# -- makefile -----------------------------------------------------------------------


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


# -- fromfd / dup / detach / accept -------------------------------------------------


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
        for c in clients:
            c.close()
        listener.close()


# -- getaddrinfo / create_connection --------------------------------------------------


def test_getaddrinfo_matches_the_stdlib_and_is_a_blocking_point() -> None:
    for args in (("127.0.0.1", 80), ("localhost", "http"), (None, 0, 0, stdsocket.SOCK_STREAM)):
        assert in_thread(tsocket.getaddrinfo, *args) == stdsocket.getaddrinfo(*args)  # type: ignore[arg-type]
    bad = ("127.0.0.1", "no-such-service-xyz")
    assert in_thread(outcome, lambda: tsocket.getaddrinfo(*bad)) == outcome(
        lambda: stdsocket.getaddrinfo(*bad)
    )

    def cancelled_first() -> Any:
        threado.current_thread().cancel(blocking=False)
        return tsocket.getaddrinfo("127.0.0.1", 80)

    with pytest.raises(threado.ThreadCancelled):
        in_thread(cancelled_first)


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


# -- select / poll / epoll ----------------------------------------------------------


def test_select_with_empty_lists_waits_its_timeout_and_is_cancellable() -> None:
    start = time.monotonic()
    assert in_thread(tselect.select, [], [], [], 0.2) == ([], [], [])
    assert 0.19 <= time.monotonic() - start < SLACK
    t = threado.spawn(tselect.select, [], [], [])
    wait_parked(t)
    assert t.cancel(timeout=5)


def test_select_errors_match_the_stdlib() -> None:
    def scenario() -> list[Any]:
        tselect.select([], [], [], 0.001)  # the thread's wake-up descriptor exists now
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        cases: list[Callable[[Any], Any]] = [
            lambda sel: sel([r], [], [], 0.1),
            lambda sel: sel([], [], [], -1),
            lambda sel: sel([-1], [], [], 0.1),
            lambda sel: sel(None, [], [], 0.1),
        ]
        pairs = []
        for case in cases:
            expected = outcome(lambda case=case: case(stdselect.select))
            got = outcome(lambda case=case: case(tselect.select))
            pairs.append((got[:2], expected[:2]))  # same exception type (and errno)
        return pairs

    for got, expected in in_thread(scenario):
        assert expected[0] == "err"
        assert got == expected


def test_select_write_set_ignores_hangup() -> None:
    r, w = os.pipe()
    os.close(w)
    try:
        expected = stdselect.select([], [r], [], 0.1)
        assert expected == ([], [], [])
        assert in_thread(tselect.select, [], [r], [], 0.1) == expected
    finally:
        os.close(r)


def test_poll_matches_the_stdlib_and_is_cancellable(pair: Any) -> None:
    a, b = pair
    b.sendall(b"x")

    def scenario(mod: Any) -> list[Any]:
        p = mod.poll()
        p.register(a, stdselect.POLLIN)
        p.register(b.fileno(), stdselect.POLLIN)
        out: list[Any] = [sorted(p.poll(100))]
        p.modify(b, stdselect.POLLOUT)
        out.append(sorted(p.poll(-1)))
        out.append(outcome(lambda: p.unregister(12345)))
        out.append(outcome(lambda: p.modify(12345, 1)))
        p.unregister(a)
        p.unregister(b)
        start = time.monotonic()
        out.append(p.poll(150))
        out.append(time.monotonic() - start >= 0.14)
        return out

    assert in_thread(scenario, tselect) == scenario(stdselect)
    p = tselect.poll()
    p.register(a, stdselect.POLLOUT)
    p.modify(a, stdselect.POLLPRI)
    a.recv(1)
    for forever in (None, -1):
        t = threado.spawn(p.poll, forever)
        wait_parked(t)
        assert t.cancel(timeout=5)


def test_epoll_maxevents_zero_raises() -> None:
    with stdselect.epoll() as ep:
        expected = outcome(lambda: ep.poll(0.1, maxevents=0))
    assert expected[1] is ValueError
    with tselect.epoll() as tep:
        assert in_thread(outcome, lambda: tep.poll(0.1, maxevents=0)) == expected


def test_epoll_fromfd_exists() -> None:
    with stdselect.epoll() as ep:
        other = stdselect.epoll.fromfd(os.dup(ep.fileno()))
        other.close()
        fd = os.dup(ep.fileno())
        try:
            t = tselect.epoll.fromfd(fd)  # type: ignore[attr-defined]
        except AttributeError:
            os.close(fd)
            raise
        t.close()


def test_epoll_results_and_cancellation(pair: Any) -> None:
    a, b = pair
    with tselect.epoll() as ep:
        ep.register(a.fileno(), stdselect.EPOLLIN)
        t = threado.spawn(ep.poll)
        wait_parked(t)
        assert t.cancel(timeout=5)
        t2 = threado.spawn(ep.poll, -1.0, 4)
        wait_parked(t2)
        b.sendall(b"x")
        assert t2.join(timeout=5) == [(a.fileno(), stdselect.EPOLLIN)]
        assert a.recv(1) == b"x"
        with pytest.raises(threado.ThreadTimeout):
            with threado.timeout_after(0.05):
                ep.poll(3, 1)


def test_a_failed_select_leaves_no_stale_registration() -> None:
    def scenario() -> float:
        x, y = tsocket.socketpair()
        try:
            y.sendall(b"ready")
            with pytest.raises(OverflowError):
                tselect.select([x, 2**40], [], [], 0.1)
            start = time.monotonic()
            assert tselect.select([], [], [], 0.3) == ([], [], [])
            return time.monotonic() - start
        finally:
            x.close()
            y.close()

    assert in_thread(scenario) >= 0.29


# -- descriptors ----------------------------------------------------------------------


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


@needs_proc
def test_subprocess_and_socket_churn_leaks_no_descriptor() -> None:
    before = open_fds()

    def churn() -> None:
        for _ in range(3):
            tsubprocess.run(["true"], capture_output=True)
            p = tsubprocess.Popen(["sleep", "30"], stdout=tsubprocess.PIPE)
            with pytest.raises(tsubprocess.TimeoutExpired):
                p.communicate(timeout=0.05)
            p.kill()
            p.communicate()
            a, b = tsocket.socketpair()
            a.close()
            b.close()
            addr = refused_address()
            with pytest.raises(ConnectionRefusedError):
                tsocket.create_connection(addr)

    in_thread(churn)
    assert open_fds() == before


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
    from threado import _fdwait

    monkeypatch.setattr(_fdwait, "_FREE_THREADED", True)
    w = _fdwait.FDWakeup()

    def signalled() -> bool:
        ready = bool(stdselect.select([w.read_fd], [], [], 0)[0])
        w.drain()
        return ready

    other: list[threading.Thread] = []
    lock = _PausingLock(w._lock, lambda: threading.current_thread() in other)
    w._lock = lock
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


# -- ssl ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certfiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl:
        d = tmp_path_factory.mktemp("cert")
        cert, key = d / "cert.pem", d / "key.pem"
        proc = stdsubprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ],
            capture_output=True,
        )
        if proc.returncode == 0:
            return str(cert), str(key)
    keycert = Path(sysconfig.get_paths()["stdlib"]) / "test" / "certdata" / "keycert.pem"
    if keycert.exists():
        return str(keycert), str(keycert)
    pytest.skip("no openssl CLI and no CPython test certificate")


def server_context(certfiles: tuple[str, str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certfiles)
    return ctx


def client_context() -> ssl.SSLContext:
    ctx = tssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def tls_pair(certfiles: Any) -> Iterator[tuple[Any, Any]]:
    """(threado TLS client, stdlib TLS server side), handshaken."""
    listener = stdsocket.create_server(("127.0.0.1", 0))
    raw_client = tsocket.create_connection(listener.getsockname())
    raw_server, _ = listener.accept()
    listener.close()
    th, box = plain_thread(
        lambda: server_context(certfiles).wrap_socket(raw_server, server_side=True)
    )
    client = client_context().wrap_socket(raw_client)
    th.join(10)
    assert box[0][0] == "ok", box
    server = box[0][1]
    yield client, server
    client.close()
    server.close()


def test_tls_sendall_is_cancellable(tls_pair: Any) -> None:
    client, server = tls_pair
    assert isinstance(client, tssl.SSLSocket)
    t = threado.spawn(client.sendall, b"x" * 50_000_000)
    park_or_finish(t)
    ok = t.cancel(timeout=1)
    if not ok:
        server.close()  # an RST fails the blocked write
        settle(t)
    assert ok
    assert t.cancelled


def test_tls_recv_cancel_and_data_after(tls_pair: Any) -> None:
    client, server = tls_pair
    t = threado.spawn(client.recv, 10)
    wait_parked(t)
    assert t.cancel(timeout=5)
    server.sendall(b"after")
    assert in_thread(client.recv, 10) == b"after"


def test_tls_read_timeout_matches_the_stdlib(tls_pair: Any, certfiles: Any) -> None:
    client, _ = tls_pair
    client.settimeout(0.2)
    got = in_thread(outcome, lambda: client.recv(1))
    # The stdlib's own, on a stdlib TLS socket.
    listener = stdsocket.create_server(("127.0.0.1", 0))
    raw = stdsocket.create_connection(listener.getsockname())
    srv_raw, _ = listener.accept()
    listener.close()
    th, box = plain_thread(lambda: server_context(certfiles).wrap_socket(srv_raw, server_side=True))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    std_client = ctx.wrap_socket(raw)
    th.join(10)
    std_client.settimeout(0.2)
    expected = outcome(lambda: std_client.recv(1))
    std_client.close()
    box[0][1].close()
    assert expected[1] is TimeoutError
    assert got == expected


def test_a_waiting_tls_read_does_not_change_the_socket_mode(tls_pair: Any) -> None:
    client, _ = tls_pair
    t = threado.spawn(client.recv, 10)
    wait_parked(t)
    try:
        seen = (client.gettimeout(), os.get_blocking(client.fileno()))
    finally:
        t.cancel(timeout=5)
    assert seen == (None, True)


def test_tls_accept_is_cancellable(certfiles: Any) -> None:
    ctx = tssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certfiles)
    listener = ctx.wrap_socket(tsocket.create_server(("127.0.0.1", 0)), server_side=True)
    try:
        t = threado.spawn(listener.accept)
        park_or_finish(t)
        ok = t.cancel(timeout=1)
        if not ok:
            stdsocket.create_connection(listener.getsockname()).close()
            settle(t)
        assert ok
    finally:
        listener.close()


def test_tls_connect_is_cancellable(unresponsive_address: Any) -> None:
    s = client_context().wrap_socket(tsocket.socket(), server_hostname="localhost")
    try:
        t = threado.spawn(s.connect, unresponsive_address)
        park_or_finish(t)
        ok = t.cancel(timeout=1)
        if not ok:
            s.shutdown(stdsocket.SHUT_RDWR)  # aborts the SYN_SENT connect
            settle(t)
        assert ok
    finally:
        s.close()


# -- subprocess -----------------------------------------------------------------------


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_run_timeout_raises_as_the_stdlib_and_reaps_the_child() -> None:
    cmd = ["sh", "-c", "echo $$; exec sleep 30"]

    def scenario(mod: Any) -> tuple[Any, ...]:
        with pytest.raises(stdsubprocess.TimeoutExpired) as info:
            mod.run(cmd, capture_output=True, timeout=0.5)
        exc = info.value
        pid = int(exc.stdout.split()[0])
        return exc.cmd, exc.timeout, pid_gone(pid)

    assert in_thread(scenario, tsubprocess) == scenario(stdsubprocess) == (cmd, 0.5, True)


def test_run_timeout_does_not_wait_for_grandchildren_holding_the_pipes() -> None:
    cmd = ["sh", "-c", "sleep 4 & exec sleep 30"]

    def timed(mod: Any) -> float:
        start = time.monotonic()
        with pytest.raises(stdsubprocess.TimeoutExpired):
            mod.run(cmd, capture_output=True, timeout=0.3)
        return time.monotonic() - start

    assert timed(stdsubprocess) < 1.5
    assert in_thread(timed, tsubprocess) < 1.5


def test_communicate_after_readline_keeps_buffered_output() -> None:
    def scenario(mod: Any) -> tuple[bytes, bytes]:
        p = mod.Popen(["printf", "a\\nb\\nc\\n"], stdout=stdsubprocess.PIPE)
        first = p.stdout.readline()
        rest, _ = p.communicate()
        return first, rest

    expected = scenario(stdsubprocess)
    assert expected == (b"a\n", b"b\nc\n")
    assert in_thread(scenario, tsubprocess) == expected


def test_check_output_input_none_with_encoding() -> None:
    def scenario(mod: Any) -> Any:
        return outcome(lambda: mod.check_output(["echo", "hi"], input=None, encoding="utf-8"))

    expected = scenario(stdsubprocess)
    assert expected == ("ok", "hi\n")
    assert in_thread(scenario, tsubprocess) == expected


def test_errors_and_results_match_the_stdlib() -> None:
    py = sys.executable

    def scenario(mod: Any) -> list[Any]:
        def err(f: Callable[[], Any]) -> Any:
            try:
                return ("ok", f())
            except stdsubprocess.CalledProcessError as e:
                return ("cpe", e.returncode, e.cmd, e.output, e.stderr)
            except Exception as e:
                return ("err", type(e), str(e))

        return [
            err(lambda: mod.check_output([py, "-c", "print('o'); raise SystemExit(3)"])),
            err(lambda: mod.check_call(["false"])),
            err(lambda: mod.call(["sh", "-c", "exit 5"])),
            err(lambda: mod.check_output(["cat"], input="text\r\n", text=True)),
            err(lambda: mod.run(["cat"], input=b"x", stdin=stdsubprocess.PIPE)),
            err(lambda: mod.check_output(["true"], stdout=stdsubprocess.PIPE)),
            err(lambda: mod.run(["sh", "-c", "echo e >&2; exit 2"], capture_output=True).stderr),
        ]

    assert in_thread(scenario, tsubprocess) == scenario(stdsubprocess)


def test_communicate_large_input_and_output() -> None:
    data = os.urandom(4_000_000)

    def scenario() -> bool:
        p = tsubprocess.Popen(
            ["sh", "-c", "cat; cat /dev/null >&2"],
            stdin=tsubprocess.PIPE,
            stdout=tsubprocess.PIPE,
            stderr=tsubprocess.PIPE,
        )
        out, err = p.communicate(data, timeout=60)
        return out == data and err == b"" and p.returncode == 0

    assert in_thread(scenario)


def test_a_cancelled_communicate_with_pending_input_reaps_the_child() -> None:
    procs: list[Any] = []

    def scenario() -> None:
        p = tsubprocess.Popen(["sleep", "30"], stdin=tsubprocess.PIPE, stdout=tsubprocess.PIPE)
        procs.append(p)
        p.communicate(b"x" * 10_000_000)

    t = threado.spawn(scenario)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert t.cancelled
    p = procs[0]
    assert p.returncode is not None
    assert pid_gone(p.pid)
    assert p.stdin.closed
    assert p.stdout.closed


def test_popen_with_block_entered_while_cancelled_leaves_no_child() -> None:
    procs: list[Any] = []

    def scenario() -> None:
        threado.current_thread().cancel(blocking=False)
        with tsubprocess.Popen(["sleep", "30"], stdout=tsubprocess.PIPE) as p:
            procs.append(p)
        threado.sleep(0)  # the cancellation is still pending

    t = threado.spawn(scenario)
    assert t.wait(timeout=10)
    assert t.cancelled
    p = procs[0]
    assert p.returncode == -15
    assert pid_gone(p.pid)
    assert p.stdout.closed


# -- patching (fresh interpreters) ----------------------------------------------------


def test_importing_threado_patches_nothing() -> None:
    out = run_fresh(
        """
        import select, selectors, socket, ssl, subprocess, time, threading, queue
        before = {
            "socket": socket.socket, "create_connection": socket.create_connection,
            "getaddrinfo": socket.getaddrinfo, "select": select.select, "poll": select.poll,
            "epoll": select.epoll, "Popen": subprocess.Popen, "sleep": time.sleep,
            "sslcls": ssl.SSLContext.sslsocket_class, "Lock": threading.Lock,
            "Queue": queue.Queue, "selcls": selectors.EpollSelector._selector_cls,
        }
        import threado, threado.socket, threado.select, threado.ssl, threado.subprocess
        import threado.testing
        after = {
            "socket": socket.socket, "create_connection": socket.create_connection,
            "getaddrinfo": socket.getaddrinfo, "select": select.select, "poll": select.poll,
            "epoll": select.epoll, "Popen": subprocess.Popen, "sleep": time.sleep,
            "sslcls": ssl.SSLContext.sslsocket_class, "Lock": threading.Lock,
            "Queue": queue.Queue, "selcls": selectors.EpollSelector._selector_cls,
        }
        assert before == after, [k for k in before if before[k] is not after[k]]
        assert not threado.is_patched()
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_patch_is_idempotent_and_unpatch_restores_io_names() -> None:
    out = run_fresh(
        """
        import select, selectors, socket, ssl, subprocess
        import threado, threado.socket as ts, threado.select as tsel
        orig = (socket.socket, socket.socketpair, select.select, select.epoll,
                subprocess.Popen, ssl.SSLContext.sslsocket_class,
                selectors.EpollSelector._selector_cls, selectors.PollSelector._selector_cls)
        threado.patch(); threado.patch()
        assert socket.socket is ts.socket and select.epoll is tsel.epoll
        assert threado.get_original("socket", "socket") is orig[0]
        assert threado.get_original("select", "epoll") is orig[3]
        assert threado.get_original("ssl", "SSLContext.sslsocket_class") is orig[5]
        assert selectors.EpollSelector._selector_cls is tsel.epoll
        threado.unpatch()
        now = (socket.socket, socket.socketpair, select.select, select.epoll,
               subprocess.Popen, ssl.SSLContext.sslsocket_class,
               selectors.EpollSelector._selector_cls, selectors.PollSelector._selector_cls)
        assert now == orig, [i for i, (a, b) in enumerate(zip(now, orig)) if a is not b]
        threado.unpatch()  # twice is fine too
        assert not threado.is_patched()
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_patched_selectors_and_asyncio_are_cancellable_and_exact() -> None:
    out = run_fresh(
        """
        import asyncio, concurrent.futures, selectors, socket, time
        import threado
        from threado.testing import wait_parked
        threado.patch()

        def selector_timeout():
            a, b = socket.socketpair()
            with selectors.DefaultSelector() as sel:
                sel.register(a, selectors.EVENT_READ)
                start = time.monotonic()
                assert sel.select(0.2) == []
                assert time.monotonic() - start >= 0.19
                b.send(b"x")
                [(key, ev)] = sel.select(1)
                assert key.fileobj is a and ev == selectors.EVENT_READ
            a.close(); b.close()

        threado.spawn(selector_timeout).join()

        def selector_forever():
            with selectors.DefaultSelector() as sel:
                a, b = socket.socketpair()
                sel.register(a, selectors.EVENT_READ)
                try:
                    sel.select()
                finally:
                    a.close(); b.close()

        t = threado.spawn(selector_forever)
        wait_parked(t)
        assert t.cancel(timeout=5) and t.cancelled

        t = threado.spawn(asyncio.run, asyncio.sleep(30))
        wait_parked(t)
        assert t.cancel(timeout=5) and t.cancelled

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            assert list(ex.map(abs, [-1, -2, -3])) == [1, 2, 3]
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_patched_isinstance_checks_still_hold() -> None:
    out = run_fresh(
        """
        import socket, ssl
        import threado
        early = socket.socket()
        threado.patch()
        ctx = ssl.create_default_context()
        tls = ctx.wrap_socket(socket.socket(), server_hostname="localhost")
        print(isinstance(tls, socket.socket), isinstance(tls, socket.SocketType),
              isinstance(early, socket.socket))
        tls.close(); early.close()
        """
    )
    assert out.split() == ["True", "True", "True"]


def test_patched_stdlib_calls_keep_their_results_and_errors() -> None:
    out = run_fresh(
        """
        import errno, socket, subprocess, select
        import threado
        s = socket.socket(); s.bind(("127.0.0.1", 0)); refused = s.getsockname(); s.close()

        def scenario():
            out = []
            try:
                socket.create_connection(refused)
            except OSError as e:
                out.append((type(e).__name__, e.errno))
            a, b = socket.socketpair()
            a.settimeout(0.1)
            try:
                a.recv(1)
            except TimeoutError as e:
                out.append(str(e))
            a.setblocking(False)
            try:
                a.recv(1)
            except BlockingIOError as e:
                out.append(e.errno == errno.EAGAIN)
            b.send(b"peek")
            out.append(a.recv(4, socket.MSG_PEEK))
            out.append(select.select([a], [], [], 1)[0] == [a])
            out.append(subprocess.run(["sh", "-c", "echo hi"], capture_output=True).stdout)
            try:
                subprocess.run(["sleep", "5"], timeout=0.1)
            except subprocess.TimeoutExpired as e:
                out.append(round(e.timeout, 1))
            a.close(); b.close()
            return out

        expected = scenario()
        threado.patch()
        assert isinstance(socket.socketpair()[0], threado.socket.socket)
        got = threado.spawn(scenario).join()
        assert got == expected, (got, expected)
        print("ok")
        """
    )
    assert out.strip() == "ok"
