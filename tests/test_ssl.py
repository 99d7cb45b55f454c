"""Cancellable TLS sockets: threado.ssl (SPEC §6)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import threado
import threado.ssl as tssl
from threado.testing import wait_parked

CERT = Path(sysconfig.get_paths()["stdlib"]) / "test" / "certdata" / "keycert.pem"
pytestmark = pytest.mark.skipif(not CERT.exists(), reason="needs CPython's test certificates")


@pytest.fixture
def silent_tls_server() -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes handshakes, then never speaks."""
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


def client_context() -> ssl.SSLContext:
    ctx = tssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
