"""Patching the standard library (SPEC §6): each test runs in a fresh interpreter,
because patching is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from helpers import run_python

PRELUDE = """
import faulthandler, sys
faulthandler.dump_traceback_later(50, exit=True)
import threado
from threado.testing import wait_parked
"""


def run_patched(code: str, timeout: float = 60) -> str:
    """Run ``code`` after ``threado.patch()`` in a fresh interpreter; return stdout."""
    source = PRELUDE + "threado.patch()\n" + textwrap.dedent(code)
    proc = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter, unpatched; return its stdout."""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    "call",
    [
        "time.sleep(60)",
        "threading.Event().wait()",
        "queue.Queue().get()",
        "queue.SimpleQueue().get()",
        "q1.put(2)",
        "cond_wait()",
        "held.acquire()",
        "threading.Semaphore(0).acquire()",
        "threading.Barrier(2).wait()",
        "plain_thread_join()",
    ],
)
def test_library_calls_become_cancellable(call: str) -> None:
    out = run_patched(
        f"""
        import queue, threading, time
        q1 = queue.Queue(1)
        q1.put(1)  # full
        held = threading.Lock()
        held.acquire()
        def cond_wait():
            c = threading.Condition()
            with c:
                c.wait()
        def plain_thread_join():
            gate = threading.Event()
            t = threading.Thread(target=gate.wait, daemon=True)
            t.start()
            try:
                t.join()
            finally:
                gate.set()
        def library_code():
            {call}
        t = threado.spawn(library_code)
        wait_parked(t)
        start = time.monotonic()
        print(t.cancel(timeout=5), t.cancelled, time.monotonic() - start < 2)
        """
    )
    assert out.split() == ["True", "True", "True"]


def test_timeouts_fire_inside_library_calls() -> None:
    out = run_patched(
        """
        import queue, time
        try:
            with threado.timeout_after(0.05):
                queue.Queue().get()
        except threado.ThreadTimeout:
            print("timed out")
        """
    )
    assert out.split("\n")[0] == "timed out"


def test_patched_calls_behave_as_the_originals() -> None:
    out = run_patched(
        """
        import queue, threading, time
        for v in (-1, float("nan"), "1", 1e20, None):
            try:
                time.sleep(v)
            except Exception as e:
                print(type(e).__name__, e)
        time.sleep(0)
        time.sleep(0.001)
        q = queue.Queue(1)
        q.put(1)
        try:
            q.put(2, timeout=0.01)
        except queue.Full:
            print("Full")
        try:
            queue.Queue().get(timeout=0.01)
        except queue.Empty:
            print("Empty")
        print(threading.Event().wait(0.01), threading.Lock().acquire(timeout=0.01))
        """
    )
    assert out.split("\n")[:8] == [
        "ValueError sleep length must be non-negative",
        "ValueError Invalid value NaN (not a number)",
        "TypeError 'str' object cannot be interpreted as an integer",
        "OverflowError timestamp out of range for platform time_t",
        "TypeError 'NoneType' object cannot be interpreted as an integer",
        "Full",
        "Empty",
        "False True",
    ]


def test_patch_is_idempotent_and_undoable() -> None:
    out = run_patched(
        """
        import queue, threading, time
        originals = [threado.get_original(m, n) for m, n in
                     [("time", "sleep"), ("threading", "Lock"), ("queue", "Queue")]]
        print(threading.Lock is threado.Lock, queue.Queue is threado.Queue, threado.is_patched())
        threado.patch()
        print(threado.get_original("threading", "Lock") is originals[1])
        threado.unpatch()
        print([time.sleep, threading.Lock, queue.Queue] == originals, threado.is_patched())
        print(threading.Thread.join is threado.get_original("threading", "Thread.join"))
        """
    )
    assert out.split() == ["True", "True", "True", "True", "True", "False", "True"]


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


def test_start_does_not_raise_in_a_cancelled_thread() -> None:
    """Thread.start() waits on a (now threado) Event: a pending cancel must
    not make it raise once the new thread has launched."""
    out = run_patched(
        """
        import threading
        ran = []
        def starter():
            threado.current_thread().cancel(blocking=False)  # cancel pending
            t = threading.Thread(target=ran.append, args=(1,))
            t.start()
            print("started", flush=True)
            t.join()  # a blocking point: raises here
        s = threado.spawn(starter)
        s.wait()
        print(s.cancelled, ran)
        """
    )
    assert out.split() == ["started", "True", "[1]"]


def test_interpreter_machinery_still_works() -> None:
    out = run_patched(
        """
        import asyncio, concurrent.futures, logging, multiprocessing, os, threading
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            print(list(ex.map(pow, [2, 3], [2, 2])))
        logging.basicConfig(stream=sys.stdout, format="%(message)s")
        logging.getLogger().warning("logged")
        async def main():
            return await asyncio.to_thread(pow, 2, 10)
        print(asyncio.run(main()))
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            print(pool.map(abs, [-1, -2]))
        pid = os.fork()
        if pid == 0:
            lock = threading.Lock()
            with lock:
                pass
            handler = logging.StreamHandler()
            handler.acquire()
            handler.release()
            os._exit(0)
        print(os.waitpid(pid, 0)[1])
        """
    )
    assert out.split("\n")[:6] == ["[4, 9]", "logged", "1024", "[1, 2]", "0", ""]


@pytest.mark.slow  # CPython's own suites: ``-m "not slow"`` skips them
@pytest.mark.parametrize(
    ("suite", "name", "attr"),
    [
        ("LockTests", "Lock", "locktype"),
        ("RLockTests", "RLock", "locktype"),
        ("ConditionTests", "Condition", "condtype"),
        ("EventTests", "Event", "eventtype"),
        ("SemaphoreTests", "Semaphore", "semtype"),
        ("BoundedSemaphoreTests", "BoundedSemaphore", "semtype"),
        ("BarrierTests", "Barrier", "barriertype"),
    ],
)
def test_cpython_lock_tests_against_the_patched_threading_module(
    suite: str, name: str, attr: str
) -> None:
    pytest.importorskip("test.lock_tests")
    out = run_patched(
        f"""
        import threading, unittest
        from test import lock_tests
        assert getattr(threading, {name!r}) is getattr(threado, {name!r})
        factory = staticmethod(getattr(threading, {name!r}))
        cls = type("T", (getattr(lock_tests, {suite!r}),), {{{attr!r}: factory}})
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=0).run(
            unittest.defaultTestLoader.loadTestsFromTestCase(cls))
        print("OK" if result.wasSuccessful() else "FAILED")
        """,
        timeout=120,
    )
    assert out.strip().endswith("OK"), out


SILENT_SERVER = """
import socket, threading
srv = socket.create_server(("127.0.0.1", 0))
port = srv.getsockname()[1]
held = []
def accept_forever():
    while True:
        conn, _ = srv.accept()  # accept, and never answer
        held.append(conn)
threado.spawn(accept_forever, daemon=True)
"""


@pytest.mark.parametrize(
    "client",
    [
        "urllib.request.urlopen(f'http://127.0.0.1:{port}/')",
        "urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=30)",
        "requests.get(f'http://127.0.0.1:{port}/', timeout=30)",
        "http_client_get()",
        "requests.get(f'http://127.0.0.1:{port}/')",
        "socket.create_connection(('127.0.0.1', port)).recv(1)",
    ],
)
def test_real_clients_are_cancelled_within_100_ms(client: str) -> None:
    if "requests" in client:
        pytest.importorskip("requests")
    out = run_patched(
        SILENT_SERVER
        + f"""
import http.client, time, urllib.request
try:
    import requests
except ImportError:
    pass
def http_client_get():
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/")
    c.getresponse()
t = threado.spawn(lambda: {client})
wait_parked(t)
start = time.monotonic()
t.cancel()
print(t.cancelled, time.monotonic() - start < 0.1)
start = time.monotonic()
try:
    with threado.timeout_after(0.2):
        {client}
except threado.ThreadTimeout:
    print("timeout", 0.2 <= time.monotonic() - start < 1.0)
"""
    )
    assert out.split() == ["True", "True", "timeout", "True"]


def test_socketserver_handler_cancelled_mid_recv() -> None:
    out = run_patched(
        """
        import socket, socketserver, threading
        handlers = []
        started = threading.Event()
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                handlers.append(threado.current_thread())
                started.set()
                try:
                    self.request.recv(100)  # the client never sends
                except threado.ThreadCancelled:
                    print("handler cancelled", flush=True)
                    raise
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        serving = threado.spawn(server.serve_forever, 0.05)
        client = socket.create_connection(server.server_address)
        started.wait()
        wait_parked(handlers[0])
        handlers[0].cancel(timeout=5)
        server.shutdown()
        serving.join()
        server.server_close()
        client.close()
        print("done")
        """
    )
    assert out.split("\n")[:2] == ["handler cancelled", "done"]


@pytest.mark.parametrize(
    "wait",
    [
        "select.select([a], [], [])",
        "poll_wait()",
        "epoll_wait()",
        "selector_wait(selectors.DefaultSelector())",
        "selector_wait(selectors.PollSelector())",
        "selector_wait(selectors.SelectSelector())",
    ],
)
def test_select_poll_epoll_and_selectors_become_cancellable(wait: str) -> None:
    out = run_patched(
        f"""
        import select, selectors, socket
        a, b = socket.socketpair()
        def poll_wait():
            p = select.poll()
            p.register(a, select.POLLIN)
            return p.poll()
        def epoll_wait():
            e = select.epoll()
            e.register(a.fileno(), select.EPOLLIN)
            return e.poll()
        def selector_wait(sel):
            sel.register(a, selectors.EVENT_READ)
            return sel.select()
        t = threado.spawn(lambda: {wait})
        wait_parked(t)
        print(t.cancel(timeout=5), t.cancelled)
        t = threado.spawn(lambda: {wait})
        wait_parked(t)
        b.send(b"x")
        print(bool(t.join()))
        print(select.select([a], [b], [], 0)[1] == [b])
        """
    )
    assert out.split() == ["True", "True", "True", "True"]


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


def test_an_ended_thread_is_freed_by_reference_counting_under_patch() -> None:
    """Neither a plain thread adopted by the patch nor a spawned one stays in
    a cycle with its handle once it has ended (the garbage collector is off)."""
    proc = run_python(
        """
        import gc, threading, weakref
        import threado
        threado.patch()
        threado.current_thread()
        gc.disable()
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        plain = weakref.ref(t)
        del t
        h = threado.spawn(lambda: 1)
        th = h._thread
        h.join()
        spawned, handle = weakref.ref(th), weakref.ref(h)
        del th, h
        print(plain() is None, spawned() is None, handle() is None)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]


def test_joining_a_spawned_threads_threading_object_is_cancellable_under_patch() -> None:
    proc = run_python(
        """
        import threading
        import threado
        from threado.testing import wait_parked
        threado.patch()
        ev = threado.Event()
        target = threado.spawn(ev.wait)
        wait_parked(target)
        joiner = threado.spawn(target._thread.join)  # threading.Thread.join, patched
        wait_parked(joiner)
        print(joiner.cancel(timeout=5), joiner.cancelled, target.is_alive())
        ev.set()
        target.join()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]
