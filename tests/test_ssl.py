"""Cancellable TLS sockets: threado.ssl (SPEC §6)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import (
    CERT,
    client_context,
    in_thread,
    outcome,
    park_or_finish,
    plain_thread,
    server_context,
    settle,
)

import threado
import threado.socket as tsocket
import threado.ssl as tssl
from threado.testing import wait_parked


@pytest.fixture
def silent_tls_server() -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes handshakes, then never speaks."""
    if not CERT.exists():
        pytest.skip("needs CPython's test certificates")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()
    conns: list[ssl.SSLSocket] = []

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                conns.append(ctx.wrap_socket(raw, server_side=True))
            except (ssl.SSLError, OSError):
                raw.close()

    t = threading.Thread(target=serve)
    t.start()
    yield port
    stop.set()
    t.join()
    listener.close()
    for c in conns:
        c.close()


def test_a_tls_read_is_cancellable(silent_tls_server: int) -> None:
    sock = client_context().wrap_socket(socket.create_connection(("127.0.0.1", silent_tls_server)))
    assert isinstance(sock, tssl.SSLSocket)
    try:
        t = threado.spawn(sock.recv, 10)
        wait_parked(t)
        start = time.monotonic()
        assert t.cancel(timeout=5)
        assert time.monotonic() - start < 1
        assert t.cancelled
        with pytest.raises(threado.ThreadTimeout):
            with threado.timeout_after(0.05):
                sock.recv(10)
        sock.settimeout(0.05)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # the socket's own timeout keeps its meaning
        assert sock.gettimeout() == 0.05
    finally:
        sock.close()


def test_a_tls_handshake_is_cancellable() -> None:
    # A server that accepts and never answers: the client handshake waits.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    raw = socket.create_connection(("127.0.0.1", port))
    try:
        t = threado.spawn(client_context().wrap_socket, raw)
        wait_parked(t)
        assert t.cancel(timeout=5)
        assert t.cancelled
    finally:
        raw.close()
        listener.close()


def test_patched_https_client_is_cancellable(silent_tls_server: int) -> None:
    code = textwrap.dedent(
        f"""
        import ssl, time, threado, http.client
        from threado.testing import wait_parked
        threado.patch()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        def fetch():
            c = http.client.HTTPSConnection("127.0.0.1", {silent_tls_server}, context=ctx)
            c.request("GET", "/")
            c.getresponse()
        t = threado.spawn(fetch)
        wait_parked(t)
        start = time.monotonic()
        t.cancel(timeout=5)
        print(t.cancelled, time.monotonic() - start < 0.5)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.stdout.split() == ["True", "True"], out.stderr


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


def test_tls_sendall_and_recv_roundtrip(tls_pair: tuple[Any, ssl.SSLSocket]) -> None:
    client, server = tls_pair
    payload = os.urandom(300_000)
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            received.extend(server.recv(65536))

    reader = threading.Thread(target=drain)
    reader.start()
    client.sendall(payload)
    reader.join(timeout=20)
    assert bytes(received) == payload
    assert client.gettimeout() is None


def test_tls_reader_not_disturbed_by_a_concurrent_writer(
    tls_pair: tuple[Any, ssl.SSLSocket], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _server = tls_pair
    inside = threading.Event()
    leave = threading.Event()
    real_write = ssl.SSLSocket.write

    def slow_write(self: Any, data: Any) -> int:
        # Stands for the OpenSSL call, during which the GIL is released.
        if threado.current_thread().name == "writer":
            inside.set()
            leave.wait()
        return real_write(self, data)

    monkeypatch.setattr(ssl.SSLSocket, "write", slow_write)
    writer = threado.spawn(client.write, b"hello", name="writer")
    reader = None
    try:
        assert inside.wait(10)
        reader = threado.spawn(client.recv, 10, name="reader")
        wait_parked(reader)  # RuntimeError if it ended (SSLWantReadError) instead
    finally:
        leave.set()
        writer.join(timeout=10)
        if reader is not None:
            reader.cancel(timeout=10)


def test_tls_read_timeout_matches_the_stdlib(tls_pair: Any, certfiles: Any) -> None:
    client, _ = tls_pair
    client.settimeout(0.2)
    got = in_thread(outcome, lambda: client.recv(1))
    # The stdlib's own, on a stdlib TLS socket.
    listener = socket.create_server(("127.0.0.1", 0))
    raw = socket.create_connection(listener.getsockname())
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
            socket.create_connection(listener.getsockname()).close()
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
            s.shutdown(socket.SHUT_RDWR)  # aborts the SYN_SENT connect
            settle(t)
        assert ok
    finally:
        s.close()
