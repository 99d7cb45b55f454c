"""Shared fixtures: every test must leave no thread behind; sockets and TLS pairs.

Shared helpers that are not fixtures are in ``helpers.py``.
"""

from __future__ import annotations

import shutil
import signal
import socket as stdsocket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CERT, client_context, plain_thread, server_context
from proc_jobs import Listener

import threado.socket as tsocket

# A suite started as a background job of a non-interactive shell (``cmd &`` in a
# script) inherits SIGINT and SIGQUIT ignored, and every child interpreter would
# too: Python keeps an inherited SIG_IGN instead of installing its handlers, so
# ``_thread.interrupt_main()`` and Ctrl-C tests would see no KeyboardInterrupt.
# Start from what an interactive start gives (an exec resets handlers, not ignores).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGQUIT) == signal.SIG_IGN:
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves a thread it started running."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before]
    for t in leftover:
        t.join(timeout=5.0)
    alive = [t for t in leftover if t.is_alive()]
    assert not alive, f"threads left running: {alive}"


# -- jobs in other processes ----------------------------------------------------------


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    """A Unix socket that process and cluster jobs report to (see ``proc_jobs``)."""
    lis = Listener(str(tmp_path / "jobs.sock"))
    yield lis
    lis.close()


# -- sockets ----------------------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[tsocket.socket, tsocket.socket]]:
    """Two connected threado sockets (``socketpair``), closed afterwards."""
    a, b = tsocket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def std_pair() -> Iterator[tuple[stdsocket.socket, stdsocket.socket]]:
    """Two connected standard-library sockets, to compare threado with."""
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
    host, port = listener.getsockname()
    fillers = []
    for _ in range(8):
        c = stdsocket.socket()
        c.settimeout(0.3)
        try:
            c.connect((host, port))
        except TimeoutError:
            c.close()
            break
        fillers.append(c)
    else:  # pragma: no cover
        pytest.skip("could not fill the accept queue")
    yield host, port
    for c in fillers:
        c.close()
    listener.close()


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certfiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(certificate, key) files for a TLS server: made with the ``openssl``
    command if there is one, else CPython's own test certificate."""
    openssl = shutil.which("openssl")
    if openssl:
        d = tmp_path_factory.mktemp("cert")
        cert, key = d / "cert.pem", d / "key.pem"
        proc = subprocess.run(
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
    if CERT.exists():
        return str(CERT), str(CERT)
    pytest.skip("no openssl CLI and no CPython test certificate")


@pytest.fixture
def tls_pair(certfiles: tuple[str, str]) -> Iterator[tuple[ssl.SSLSocket, ssl.SSLSocket]]:
    """(threado TLS client, standard-library TLS server side), handshaken."""
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
