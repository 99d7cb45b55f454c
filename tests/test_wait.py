"""threado.wait() and threado.as_completed(): ``threado/_wait.py``, ``_conditions.py`` (SPEC §7)."""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from helpers import (
    SLACK,
    needs_proc,
    open_fds,
    run_python,
    spawn_parked,
    wait_registrations,
)
from signals import Once, resend_until

import threado
from threado._state import clock
from threado.testing import wait_parked

# A waitable, what makes it ready, and what to clean up: built per test.
Case = tuple[object, Callable[[], object], Callable[[], object]]


def _nothing() -> None:
    pass


@pytest.fixture(autouse=True)
def restore_signal_handlers() -> Iterator[None]:
    """Leave SIGUSR1/SIGUSR2 as they were: signalled() installs a dispatcher."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def _event() -> Case:
    e = threado.Event()
    return e, e.set, _nothing


def _thread() -> Case:
    e = threado.Event()
    t = threado.spawn(e.wait)
    return t, e.set, t.join


def _future() -> Case:
    f: cf.Future[int] = cf.Future()
    return f, lambda: f.set_result(1), _nothing


def _group() -> Case:
    e = threado.Event()
    g = threado.ThreadGroup()
    g.__enter__()
    g.spawn(e.wait)

    def leave() -> None:
        g.__exit__(None, None, None)

    return g, e.set, leave


def _queue() -> Case:
    q: threado.Queue[int] = threado.Queue()
    return q, lambda: q.put(1), _nothing


def _simple_queue() -> Case:
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    return q, lambda: q.put(1), _nothing


def _readable_queue() -> Case:
    q: threado.LifoQueue[int] = threado.LifoQueue()
    return threado.readable(q), lambda: q.put(1), _nothing


def _writable_queue() -> Case:
    q: threado.Queue[int] = threado.Queue(maxsize=1)
    q.put(0)
    return threado.writable(q), q.get_nowait, _nothing


def _readable_socket() -> Case:
    a, b = socket.socketpair()

    def close() -> None:
        a.close()
        b.close()

    return threado.readable(b), lambda: a.send(b"x"), close


def _writable_pipe() -> Case:
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass

    def drain() -> None:
        os.read(r, 1 << 20)

    def close() -> None:
        os.close(r)
        os.close(w)

    return threado.writable(w), drain, close


def _exited_popen() -> Case:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    assert p.stdin is not None
    stdin = p.stdin

    def finish() -> None:
        assert p.wait() == 0  # readiness did not reap it

    return threado.exited(p), stdin.close, finish


def _exited_pid() -> Case:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    assert p.stdin is not None
    stdin = p.stdin

    def finish() -> None:
        pid, status = os.waitpid(p.pid, 0)  # still there to reap
        assert pid == p.pid
        assert os.waitstatus_to_exitcode(status) == 0
        p.returncode = 0

    return threado.exited(p.pid), stdin.close, finish


CASES: dict[str, Callable[[], Case]] = {
    "event": _event,
    "thread": _thread,
    "future": _future,
    "group": _group,
    "queue": _queue,
    "simple_queue": _simple_queue,
    "readable_queue": _readable_queue,
    "writable_queue": _writable_queue,
    "readable_socket": _readable_socket,
    "writable_pipe": _writable_pipe,
    "exited_popen": _exited_popen,
    "exited_pid": _exited_pid,
}


@pytest.mark.parametrize("name", CASES)
def test_each_waitable_alone_wakes_the_waiter(name: str) -> None:
    x, fire, cleanup = CASES[name]()
    try:
        assert threado.wait([x], timeout=0) == []
        t = spawn_parked(threado.wait, [x])
        fire()
        assert t.join(timeout=SLACK) == [x]
        assert threado.wait([x], timeout=0) == [x]  # level-triggered: still ready
    finally:
        cleanup()


@pytest.mark.parametrize("name", CASES)
def test_each_waitable_ready_on_entry_is_reported_at_once(name: str) -> None:
    x, fire, cleanup = CASES[name]()
    try:
        fire()
        if name.startswith("exited") or name == "thread" or name == "group":
            assert threado.wait([x], timeout=SLACK) == [x]  # the end takes a moment
        t0 = clock()
        assert threado.wait([x]) == [x]
        assert threado.wait([x, x], return_when=threado.ALL_COMPLETED) == [x, x]
        assert clock() - t0 < SLACK
    finally:
        cleanup()


def test_after_is_ready_once_its_time_has_passed() -> None:
    a = threado.after(0.05)
    assert threado.wait([a], timeout=0) == []
    t0 = clock()
    assert threado.wait([a]) == [a]
    assert 0.04 <= clock() - t0 < SLACK
    assert threado.wait([a], timeout=0) == [a]
    assert threado.wait([threado.after(0)]) != []


def test_mixed_returns_the_ready_ones_in_the_order_given(pipe: tuple[int, int]) -> None:
    r, w = pipe
    e1, e2 = threado.Event(), threado.Event()
    q: threado.Queue[int] = threado.Queue()
    items: list[object] = [e1, threado.readable(r), q, e2, threado.writable(w)]
    assert threado.wait(items) == [items[4]]  # a pipe has room
    e2.set()
    q.put(1)
    os.write(w, b"x")
    assert threado.wait(items[:4]) == [items[1], q, e2]


def test_wait_from_another_thread_wakes_on_any_source(pipe: tuple[int, int]) -> None:
    r, w = pipe
    e = threado.Event()
    f: cf.Future[None] = cf.Future()
    t = spawn_parked(threado.wait, [e, threado.readable(r), f, threado.after(60)])
    assert "threado.wait(" in repr(t._state.waiting_on)
    os.write(w, b"x")
    result = t.join(timeout=SLACK)
    assert len(result) == 1
    assert isinstance(result[0], threado.readable)
    assert wait_registrations(e, f) == 0


def test_empty_and_timeout_return_an_empty_list() -> None:
    assert threado.wait([]) == []
    assert threado.wait([], timeout=0) == []
    e = threado.Event()
    t0 = clock()
    assert threado.wait([e], timeout=0.05) == []
    assert 0.04 <= clock() - t0 < SLACK
    assert wait_registrations(e) == 0


def test_all_completed_waits_for_all_or_the_timeout(pipe: tuple[int, int]) -> None:
    r, w = pipe
    e1, e2 = threado.Event(), threado.Event()
    e1.set()
    os.write(w, b"x")
    items: list[object] = [e1, threado.readable(r), e2]
    t0 = clock()
    assert threado.wait(items, timeout=0.05, return_when=threado.ALL_COMPLETED) == items[:2]
    assert 0.04 <= clock() - t0 < SLACK  # no early return: the ready descriptor is left out
    t = spawn_parked(lambda: threado.wait(items, return_when=threado.ALL_COMPLETED))
    e2.set()
    assert t.join(timeout=SLACK) == items
    assert wait_registrations(e1, e2) == 0


def test_all_completed_with_descriptors_only(pipe: tuple[int, int]) -> None:
    _, w = pipe
    items: list[object] = [threado.writable(w), threado.after(0.05)]
    t0 = clock()
    assert threado.wait(items, return_when=threado.ALL_COMPLETED) == items
    assert clock() - t0 >= 0.04


# -- cancellation and timeouts ---------------------------------------------------------------


def test_wait_is_a_blocking_point(pipe: tuple[int, int]) -> None:
    e = threado.Event()
    e.set()

    def body() -> list[object]:
        threado.current_thread().cancel(blocking=False)
        return threado.wait([e])

    t = threado.spawn(body)
    with pytest.raises(threado.ThreadError) as info:
        t.join(timeout=SLACK)
    assert isinstance(info.value.__cause__, threado.ThreadCancelled)


@pytest.mark.parametrize("with_fd", [False, True])
def test_cancel_leaves_no_registration(with_fd: bool, pipe: tuple[int, int]) -> None:
    r, _ = pipe
    e = threado.Event()
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    items: list[object] = [e, q, threado.signalled(signal.SIGUSR1)]
    if with_fd:
        items.append(threado.readable(r))
    t = spawn_parked(threado.wait, items)
    assert wait_registrations(e, q) == 3
    assert t.cancel(timeout=SLACK)
    assert t.cancelled
    assert wait_registrations(e, q) == 0


def test_enclosing_timeout_bounds_wait() -> None:
    e = threado.Event()
    t0 = clock()
    with pytest.raises(threado.ThreadTimeout), threado.timeout_after(0.05):
        threado.wait([e, threado.after(60)])
    assert 0.04 <= clock() - t0 < SLACK
    with threado.ignore_after(0.05) as scope:
        threado.wait([e], timeout=60)
    assert scope.expired
    assert wait_registrations(e) == 0


def test_wait_works_in_a_plain_thread() -> None:
    e = threado.Event()
    box: list[object] = []
    th = threading.Thread(target=lambda: box.append(threado.wait([e], timeout=SLACK)))
    th.start()
    e.set()
    th.join()
    assert box == [[e]]


def test_firing_and_cancel_at_the_same_instant_lose_nothing() -> None:
    for _ in range(200):
        q: threado.Queue[int] = threado.Queue()
        got: list[int] = []

        def consumer(q: threado.Queue[int] = q, got: list[int] = got) -> None:
            while True:
                threado.wait([q])
                try:
                    got.append(q.get_nowait())
                    return
                except threado.ShutDown:  # pragma: no cover
                    return
                except Exception:  # queue.Empty: another round
                    continue

        t = spawn_parked(consumer)
        q.put(7)
        t.cancel(blocking=False)
        t.wait(SLACK)
        # Either the wait won (the item was taken) or the cancel did (it is still queued).
        assert got + [q.get_nowait() for _ in range(q.qsize())] == [7]
        assert (got and t.exception is None) or (not got and t.cancelled)
        assert wait_registrations(q) == 0


def test_event_set_and_cancel_at_the_same_instant() -> None:
    outcomes = set()
    for _ in range(200):
        e = threado.Event()
        t = spawn_parked(threado.wait, [e])
        e.set()
        t.cancel(blocking=False)
        assert t.wait(SLACK)
        if t.cancelled:
            outcomes.add("cancelled")
        else:
            assert t.result == [e]
            outcomes.add("woken")
        assert wait_registrations(e) == 0
    assert outcomes  # both are correct; which one wins is the race's


def test_two_threads_race_for_one_queue_item() -> None:
    q: threado.Queue[int] = threado.Queue()

    def take() -> int:
        while True:
            threado.wait([q])
            try:
                return q.get_nowait()
            except Exception:  # queue.Empty: the other one got it
                continue

    a = spawn_parked(take)
    b = spawn_parked(take)
    q.put(1)
    first = a if a.wait(SLACK / 2) else b
    assert first.join(timeout=SLACK) == 1
    other = b if first is a else a
    wait_parked(other)
    assert other.is_alive()
    q.put(2)
    assert other.join(timeout=SLACK) == 2
    assert wait_registrations(q) == 0


@pytest.mark.parametrize("with_fd", [False, True])
def test_keyboard_interrupt_in_main_thread_unregisters(
    with_fd: bool, pipe: tuple[int, int]
) -> None:
    e = threado.Event()
    items: list[object] = [e, threado.after(60)]
    if with_fd:
        items.append(threado.readable(pipe[0]))
    main = threado.current_thread()
    ident = threading.main_thread().ident
    assert ident is not None

    class Boom(KeyboardInterrupt):
        pass

    def boom(signum: int, frame: FrameType | None) -> None:
        raise Boom

    handler = Once(boom)
    old = signal.signal(signal.SIGUSR2, handler)
    try:

        def poke() -> None:
            wait_parked(main)
            resend_until(lambda: signal.pthread_kill(ident, signal.SIGUSR2), handler)

        sender = threado.spawn(poke)
        with pytest.raises(Boom):
            threado.wait(items)
        sender.join(timeout=SLACK)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert wait_registrations(e) == 0


# -- as_completed ----------------------------------------------------------------------------


def test_as_completed_yields_in_order_of_readiness() -> None:
    e1, e2, e3 = threado.Event(), threado.Event(), threado.Event()
    e2.set()
    it = threado.as_completed([e1, e2, e3, e2])
    assert next(it) is e2  # ready ones first, each once

    def fire() -> None:
        e3.set()
        threado.sleep(0.01)
        e1.set()

    t = threado.spawn(fire)
    assert list(it) == [e3, e1]
    t.join()


def test_as_completed_raises_timeout_error() -> None:
    e1, e2 = threado.Event(), threado.Event()
    e1.set()
    it = threado.as_completed([e1, e2], timeout=0.05)
    assert next(it) is e1
    t0 = clock()
    with pytest.raises(TimeoutError):
        next(it)
    assert 0.03 <= clock() - t0 < SLACK
    assert wait_registrations(e1, e2) == 0


def test_as_completed_with_futures_and_threads() -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        futures = [ex.submit(pow, 2, i) for i in range(5)]
        assert sorted(f.result() for f in threado.as_completed(futures, timeout=SLACK)) == [
            1,
            2,
            4,
            8,
            16,
        ]
    threads = [threado.spawn(pow, 3, i) for i in range(3)]
    assert {t.join() for t in threado.as_completed(threads)} == {1, 3, 9}


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "name"),
    [(object(), "object"), (threading.Event(), "Event"), (3, "int"), (None, "NoneType")],
)
def test_something_unwaitable_raises_type_error_naming_it(bad: object, name: str) -> None:
    e = threado.Event()
    with pytest.raises(TypeError, match=name):
        threado.wait([e, bad])
    with pytest.raises(TypeError, match=name):
        threado.as_completed([bad])
    assert wait_registrations(e) == 0


def test_bad_arguments() -> None:
    e = threado.Event()
    with pytest.raises(TypeError, match="iterable"):
        threado.wait(e)  # type: ignore[arg-type]
    for timeout in (-1, -0.5, math.nan):
        with pytest.raises(ValueError, match="timeout"):
            threado.wait([e], timeout=timeout)
        with pytest.raises(ValueError, match="timeout"):
            threado.as_completed([e], timeout=timeout)
    with pytest.raises(TypeError):
        threado.wait([e], timeout="1")  # type: ignore[arg-type]
    for when in ("FIRST_EXCEPTION", cf.FIRST_EXCEPTION, None):
        with pytest.raises(ValueError, match="return_when"):
            threado.wait([e], return_when=when)  # type: ignore[arg-type]
    assert threado.FIRST_COMPLETED == cf.FIRST_COMPLETED
    assert threado.ALL_COMPLETED == cf.ALL_COMPLETED
    with pytest.raises(TypeError, match="object"):
        threado.readable(object())
    with pytest.raises(ValueError, match="negative"):
        threado.readable(-1)
    with pytest.raises(TypeError, match="str"):
        threado.exited("123")
    with pytest.raises(ValueError, match="pid"):
        threado.exited(0)
    with pytest.raises(ValueError, match="negative"):
        threado.after(-1)
    with pytest.raises(ValueError, match="NaN"):
        threado.after(math.nan)
    with pytest.raises(ValueError, match="signal"):
        threado.signalled(0)
    with pytest.raises(ValueError, match="caught"):
        threado.signalled(signal.SIGKILL)


# -- descriptors -----------------------------------------------------------------------------


def test_several_descriptors_in_one_poll(pipe: tuple[int, int]) -> None:
    r, w = pipe
    a, b = socket.socketpair()
    try:
        items = [threado.readable(r), threado.readable(b), threado.readable(a)]
        t = spawn_parked(threado.wait, items)
        a.send(b"x")
        assert t.join(timeout=SLACK) == [items[1]]
        os.write(w, b"y")
        assert threado.wait(items) == items[:2]
        both = [threado.readable(b), threado.writable(b)]
        assert threado.wait(both) == both  # one descriptor, two conditions
    finally:
        a.close()
        b.close()


def test_a_hung_up_or_closed_descriptor_is_ready() -> None:
    r, w = os.pipe()
    os.close(w)
    assert len(threado.wait([threado.readable(r)], timeout=SLACK)) == 1  # EOF: a read returns b""
    os.close(r)
    assert len(threado.wait([threado.readable(r)], timeout=SLACK)) == 1  # the read reports EBADF


@needs_proc
def test_no_descriptor_is_left_behind() -> None:
    threado.wait([threado.readable(0), threado.after(0)])  # this thread's wake-up descriptor
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    assert p.stdin is not None
    before = open_fds()
    r, w = os.pipe()
    for _ in range(50):  # a pidfd opened and closed by each call
        assert len(threado.wait([threado.readable(r), threado.exited(p), threado.after(0)])) == 1
    t = spawn_parked(threado.wait, [threado.readable(r), threado.exited(p)])
    assert t.cancel(timeout=SLACK)
    os.close(r)
    os.close(w)
    assert open_fds() == before
    p.stdin.close()
    assert p.wait() == 0


# -- child processes -------------------------------------------------------------------------


def test_exited_does_not_reap_and_keeps_the_status() -> None:
    p = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert threado.wait([threado.exited(p)], timeout=SLACK) != []
    assert p.returncode is None  # not reaped by the wait
    assert p.wait() == 3
    assert threado.wait([threado.exited(p)]) != []  # reaped: still ended


def test_exited_with_threado_popen() -> None:
    with threado.subprocess.Popen([sys.executable, "-c", "pass"]) as p:
        c = threado.exited(p)
        assert threado.wait([c], timeout=SLACK) == [c]
    assert p.returncode == 0


def test_exited_fallback_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    p = subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"])
    c = threado.exited(p)
    assert threado.wait([c], timeout=SLACK) == [c]
    assert p.wait() == 4


# -- signals ---------------------------------------------------------------------------------


def test_signalled_wakes_a_waiting_thread_and_counts() -> None:
    s = threado.signalled(signal.SIGUSR1)
    assert s.count == 0
    assert threado.wait([s], timeout=0) == []
    t = spawn_parked(threado.wait, [s])
    ident = threading.main_thread().ident
    assert ident is not None
    signal.pthread_kill(ident, signal.SIGUSR1)  # handled by this (the main) thread at once
    assert t.join(timeout=SLACK) == [s]
    assert s.count == 1
    assert threado.signalled(signal.SIGUSR1).count == 0  # counts from its creation
    signal.pthread_kill(ident, signal.SIGUSR1)
    assert s.count == 2
    assert wait_registrations() == 0


def test_signalled_chains_to_the_previous_handler_and_main_thread_waits() -> None:
    seen: list[int] = []
    previous = Once(lambda signum, frame: seen.append(signum))
    old = signal.signal(signal.SIGUSR2, previous)
    try:
        s = threado.signalled(signal.SIGUSR2)
        main = threado.current_thread()
        ident = threading.main_thread().ident
        assert ident is not None

        def poke() -> None:
            wait_parked(main)
            resend_until(lambda: signal.pthread_kill(ident, signal.SIGUSR2), previous)

        sender = threado.spawn(poke)
        assert threado.wait([s, threado.Event()], timeout=SLACK * 4) == [s]
        sender.join(timeout=SLACK)
        assert seen == [signal.SIGUSR2]
        assert s.count >= 1
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_signalled_first_used_off_the_main_thread_says_main_thread() -> None:
    proc = run_python(
        """
        import signal, threado
        def first():
            try:
                threado.signalled(signal.SIGUSR2)
            except RuntimeError as e:
                print("RuntimeError:", e)
        threado.spawn(first).join()
        threado.signalled(signal.SIGUSR2)  # installed from the main thread
        threado.spawn(threado.signalled, signal.SIGUSR2).join()  # now fine anywhere
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeError:" in proc.stdout
    assert "main thread" in proc.stdout
    assert proc.stdout.strip().endswith("ok")


def test_signalled_sigterm_replaces_the_default_action() -> None:
    proc = run_python(
        """
        import os, signal, threado
        s = threado.signalled(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        print(threado.wait([s], timeout=10) == [s], s.count)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "1"]


def test_signalled_coexists_with_asyncio_wakeup_fd() -> None:
    proc = run_python(
        """
        import asyncio, os, signal, threado

        async def main():
            loop = asyncio.get_running_loop()
            got = loop.create_future()
            loop.add_signal_handler(signal.SIGUSR1, lambda: got.set_result(True))
            s = threado.signalled(signal.SIGUSR1)
            fd = signal.set_wakeup_fd(-1)
            signal.set_wakeup_fd(fd)  # asyncio's, untouched
            os.kill(os.getpid(), signal.SIGUSR1)
            print(await asyncio.wait_for(got, 10), fd != -1, s.count)

        asyncio.run(main())
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "1"]


# -- reprs -----------------------------------------------------------------------------------


def test_condition_reprs() -> None:
    assert repr(threado.readable(5)) == "threado.readable(5)"
    assert repr(threado.writable(5)) == "threado.writable(5)"
    assert repr(threado.after(1.5)) == "threado.after(1.5)"
    assert repr(threado.exited(12345)) == "threado.exited(12345)"
    assert repr(threado.signalled(signal.SIGUSR1)).startswith("threado.signalled(")


# -- review fixes ----------------------------------------------------------------------------


def test_a_queue_watch_leaves_the_stdlib_conditions_alone() -> None:
    """A stdlib-style consumer's single notify() is never taken by a wait()."""
    q: threado.Queue[int] = threado.Queue()
    stop = threado.Event()
    watcher = spawn_parked(threado.wait, [q, stop])
    got: list[int] = []

    def consumer() -> None:
        with q.not_empty:
            while not q.queue:
                q.not_empty.wait()
            got.append(q.queue.popleft())

    c = spawn_parked(consumer)
    with q.not_empty:
        q.queue.append(42)
        q.not_empty.notify()  # one waiter: it must be the consumer
    try:
        c.join(timeout=SLACK)
    finally:
        c.cancel(timeout=SLACK)
        stop.set()
        watcher.join(timeout=SLACK)
    assert got == [42]


def test_a_queue_watch_makes_no_conditions_and_costs_nothing_after() -> None:
    q: threado.Queue[int] = threado.Queue(maxsize=1)
    w = threado.writable(q)
    assert threado.wait([q, w], timeout=0) == [w]
    assert threado.wait([q, threado.Event()], timeout=0) == []
    assert q._conditions is None  # put/get stay on their lean path
    assert wait_registrations(q) == 0


def _fill(q: threado.Queue[int]) -> None:
    while not q.full():
        q.put_nowait(0)


@pytest.mark.parametrize(
    "change",
    ["put", "get", "get_frees_a_putter", "shutdown", "shutdown_immediate", "stdlib_notify"],
)
def test_every_readiness_change_wakes_a_queue_watch(change: str) -> None:
    q: threado.Queue[int] = threado.Queue(maxsize=2)
    if change == "put":
        cond: object = q
    else:
        cond = threado.writable(q) if change != "stdlib_notify" else q
    if cond is not q or change.startswith("shutdown"):
        _fill(q)
    if change == "shutdown":
        cond = q = threado.Queue()  # empty: readable once shut down
    t = spawn_parked(threado.wait, [cond, threado.Event()])
    if change == "put":
        q.put(1)
    elif change == "get":
        q.get()
    elif change == "get_frees_a_putter":
        putter = spawn_parked(q.put, 7)
        q.get()  # the putter takes the slot: still full, the watch re-parks
        putter.join(timeout=SLACK)
        wait_parked(t)
        assert wait_registrations(q) == 1
        q.get()
    elif change == "shutdown":
        q.shutdown()
    elif change == "shutdown_immediate":
        q.shutdown(immediate=True)
    else:
        with q.not_empty:
            q.queue.append(5)
            q.not_empty.notify()
    assert t.join(timeout=SLACK) == [cond]
    assert wait_registrations(q) == 0


def test_a_given_back_item_wakes_a_queue_watch() -> None:
    q: threado.Queue[int] = threado.Queue()
    watch = spawn_parked(threado.wait, [q, threado.Event()])
    with q.mutex:
        q.unfinished_tasks += 1
    q._give_back(1)  # what a getter abandoned after being handed item 1 does
    assert watch.join(timeout=SLACK) == [q]
    assert q.get_nowait() == 1


def test_a_handler_chaining_back_to_the_dispatcher_counts_once() -> None:
    base_calls: list[int] = []
    signal.signal(signal.SIGUSR2, lambda signum, frame: base_calls.append(signum))
    s0 = threado.signalled(signal.SIGUSR2)  # the dispatcher, chaining to base
    previous = signal.getsignal(signal.SIGUSR2)
    calls: list[int] = []

    def user(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        assert callable(previous)
        previous(signum, frame)  # chains to the dispatcher

    signal.signal(signal.SIGUSR2, user)
    signal.raise_signal(signal.SIGUSR2)  # user -> dispatcher -> base
    assert (len(calls), s0.count, len(base_calls)) == (1, 1, 1)
    s1 = threado.signalled(signal.SIGUSR2)  # installs the dispatcher again, over user
    signal.raise_signal(signal.SIGUSR2)  # dispatcher -> user -> (dispatcher) -> base
    assert (len(calls), s1.count, s0.count, len(base_calls)) == (2, 1, 2, 2)
    assert threado.wait([s1], timeout=0) == [s1]


def test_an_interrupt_while_unregistering_still_leaves_the_wait() -> None:
    class Boom(KeyboardInterrupt):
        pass

    class Condition:
        """A Future's condition whose second use (the unregistration) raises once."""

        def __init__(self, real: threading.Condition) -> None:
            self.real, self.calls = real, 0

        def __enter__(self) -> object:
            self.calls += 1
            if self.calls == 2:
                raise Boom
            return self.real.__enter__()

        def __exit__(self, *exc: Any) -> None:
            self.real.__exit__(*exc)

    f: cf.Future[int] = cf.Future()
    f._condition = Condition(f._condition)  # type: ignore[assignment]
    e = threado.Event()
    st = threado.current_thread()._state
    depth, waiting_on = st.depth, st.waiting_on
    with pytest.raises(Boom):
        threado.wait([e, f], timeout=0)
    assert (st.depth, st.waiting_on) == (depth, waiting_on)
    assert wait_registrations(e, f) == 0


@needs_proc
def test_an_interrupt_after_closing_a_pidfd_closes_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open")
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    assert p.stdin is not None
    threado.wait([threado.readable(0), threado.after(0)])  # this thread's wake-up descriptor
    real_close = os.close
    closed: list[int] = []

    def close(fd: int) -> None:
        real_close(fd)
        closed.append(fd)
        if len(closed) == 1:
            raise KeyboardInterrupt  # as if a signal was handled right after the call

    try:
        before = open_fds()
        monkeypatch.setattr(os, "close", close)
        with pytest.raises(KeyboardInterrupt):
            threado.wait([threado.exited(p), threado.Event()], timeout=0)
        monkeypatch.undo()
        assert len(closed) == 1  # closed, and not closed again (its number may be reused)
        assert open_fds() == before
    finally:
        p.stdin.close()
        p.wait()


@needs_proc
def test_a_closed_descriptor_is_not_aliased_by_a_pidfd() -> None:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    assert p.stdin is not None
    threado.wait([threado.readable(0), threado.after(0)])  # this thread's wake-up descriptor
    r, w = os.pipe()
    os.close(w)
    os.close(r)  # r: the lowest free number, which a pidfd would take
    rc = threado.readable(r)
    try:
        assert threado.wait([rc, threado.exited(p)], timeout=SLACK) == [rc]
        assert threado.wait([threado.exited(p), rc], timeout=SLACK) == [rc]
    finally:
        p.stdin.close()
        p.wait()


@pytest.mark.parametrize("alone", [True, False])
def test_a_closed_descriptor_is_not_aliased_by_a_new_wakeup_descriptor(alone: bool) -> None:
    def body() -> list[object]:  # a fresh thread: no wake-up descriptor yet
        r, w = os.pipe()
        os.close(w)
        os.close(r)
        rc = threado.readable(r)
        items: list[object] = [rc] if alone else [rc, threado.Event()]
        return threado.wait(items, timeout=SLACK)

    assert len(threado.spawn(body).join(timeout=SLACK * 2)) == 1


@pytest.mark.parametrize("cls", [threado.readable, threado.writable])
@pytest.mark.parametrize("alone", [True, False])
def test_a_socket_closed_before_the_call_is_ready(cls: type[threado.readable], alone: bool) -> None:
    a, b = socket.socketpair()
    try:
        cond = cls(a)
        a.close()
        items: list[object] = [cond] if alone else [cond, threado.Event()]
        assert threado.wait(items, timeout=SLACK) == [cond]
        if not alone:
            assert threado.wait([cond, cond], return_when=threado.ALL_COMPLETED) == [cond, cond]
    finally:
        b.close()
    with pytest.raises(ValueError):
        cls(a)  # bad input at creation, as before
    with pytest.raises(ValueError):
        cls(-1)
    with pytest.raises(TypeError):
        cls(object())


def test_several_conditions_ready_from_the_start_all_complete() -> None:
    q: threado.SimpleQueue[int] = threado.SimpleQueue()
    items = [threado.writable(q), threado.writable(q)]
    t0 = clock()
    assert threado.wait(items, return_when=threado.ALL_COMPLETED, timeout=SLACK) == items
    assert clock() - t0 < SLACK


def test_an_empty_wait_in_a_cancelled_thread_raises() -> None:
    def body() -> list[object]:
        threado.current_thread().cancel(blocking=False)
        return threado.wait([])

    t = threado.spawn(body)
    with pytest.raises(threado.ThreadError) as info:
        t.join(timeout=SLACK)
    assert isinstance(info.value.__cause__, threado.ThreadCancelled)
