"""Cancel real network clients, a child process and a socket read.

1. ``threado.patch()`` runs first, before anything else: from then on the
   standard library's blocking calls are blocking points.
2. A local server (on 127.0.0.1 only) accepts connections, reads each
   request, and never answers: every client below waits for a reply that
   never comes.
3. ``urllib.request`` knows nothing about threado, yet a thread waiting in
   it for the reply is cancelled in the middle of its wait.
4. ``threado.timeout_after`` bounds an ``http.client`` request.
5. ``threado.subprocess.run`` (the drop-in module, which works with or
   without patching) of a sleeping child is cancelled: the child is
   terminated and reaped, and no child process is left.
6. A ``recv`` on a socket pair is cancelled, and loses no byte.

Nothing here depends on timing: the server reports each request it reads,
and ``wait_parked`` makes sure a thread is waiting before it is cancelled.

Run it with ``python examples/io_and_patching.py``.
"""

# ruff: noqa: E402  (threado.patch() runs before the other imports, on purpose)

# -- patch first --
import threado

threado.patch()  # first, before other modules create sockets, locks or queues

import http.client
import os
import socket
import sys
import urllib.request

import threado.socket
import threado.subprocess
from threado.testing import wait_parked

# -- end of patch first --


def accept_and_never_answer(listener: socket.socket, requests: threado.Queue[str]) -> None:
    """Accept connections, read each request, and never answer."""
    held: list[socket.socket] = []
    try:
        while True:
            conn, _ = listener.accept()  # cancellable: patch() made it so
            held.append(conn)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            requests.put(head.split(b"\r\n", 1)[0].decode())
    finally:
        for conn in held:
            conn.close()


def fetch(url: str) -> bytes:
    # No proxy: the server is local (and a proxy set in the environment
    # would answer in its place).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url) as response:
        return bytes(response.read())


def cancel_urlopen(url: str, requests: threado.Queue[str]) -> None:
    print("== urllib.request: a download cancelled mid-wait")
    t = threado.spawn(fetch, url, name="downloader")
    print(f"server: read {requests.get()!r}, and will never answer")
    wait_parked(t)  # the downloader waits for the reply
    print(f"main: cancel() returned {t.cancel()}")
    print(f"main: the downloader ended with {type(t.exception).__name__}: cancelled={t.cancelled}")


def http_client_with_a_deadline(port: int) -> None:
    print("== http.client: a request bounded by timeout_after")
    conn = http.client.HTTPConnection("127.0.0.1", port)
    start = threado.clock()
    try:
        with threado.timeout_after(0.2):  # connect, send, wait for the reply: 0.2 s in all
            conn.request("GET", "/status")
            conn.getresponse()
    except threado.ThreadTimeout:
        elapsed = threado.clock() - start
        print(f"main: the request raised ThreadTimeout after {elapsed:.1f} s")
    finally:
        conn.close()


def child_processes_left() -> bool:
    """Whether this process has a child, running or a zombie (POSIX)."""
    try:
        os.waitpid(-1, os.WNOHANG)  # reaps nothing that is still running
    except ChildProcessError:
        return False  # no child at all
    return True


def cancel_a_child_process() -> None:
    print("== threado.subprocess.run: a cancelled child is stopped and reaped")
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    t = threado.spawn(threado.subprocess.run, sleeper, name="runner")
    wait_parked(t)  # the child runs, and run() waits for it
    print(f"main: a child is running: {child_processes_left()}")
    print(f"main: cancel() returned {t.cancel()}, runner cancelled={t.cancelled}")
    print(f"main: child processes left: {child_processes_left()}")


def cancel_a_recv() -> None:
    print("== threado.socket: a recv cancelled, no byte lost")
    a, b = threado.socket.socketpair()
    with a, b:
        t = threado.spawn(a.recv, 100, name="reader")
        wait_parked(t)
        print(f"main: cancel() returned {t.cancel()}, reader cancelled={t.cancelled}")
        b.sendall(b"every byte")
        print(f"main: the next recv gets {a.recv(100)!r}")


def main() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        threado.ThreadGroup(wait=None) as g,  # cancels the server as the block ends
    ):
        port = listener.getsockname()[1]
        requests: threado.Queue[str] = threado.Queue()
        g.spawn(accept_and_never_answer, listener, requests, name="server")
        cancel_urlopen(f"http://127.0.0.1:{port}/report", requests)
        http_client_with_a_deadline(port)
    cancel_a_child_process()
    cancel_a_recv()
    print("io_and_patching finished")


if __name__ == "__main__":
    main()
