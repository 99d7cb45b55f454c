"""Threads and cancellation: spawn, the Thread handle, current_thread, run (SPEC §1-2)."""

from __future__ import annotations

import contextvars
import functools
import gc
import logging
import math
import os
import signal
import subprocess
import textwrap
import threading
import time
import typing
from typing import Any

import pytest
from helpers import SLACK, forever, run_python, sigusr1_script, spawn_parked
from signals import Child, Once, resend_until

import threado
from threado import CancelReason, ThreadCancelled, ThreadError
from threado import _threads as threads_module
from threado.testing import wait_parked

# -- spawn ------------------------------------------------------------------


def test_spawn_runs_at_once_and_join_returns_the_result() -> None:
    t = threado.spawn(pow, 2, 16)
    assert isinstance(t, threado.Thread)
    assert t.join() == 65536
    assert t.result == 65536
    assert t.exception is None
    assert not t.cancelled
    assert t.done()
    assert not t.is_alive()


def test_spawn_rejects_a_non_callable_at_once() -> None:
    with pytest.raises(TypeError, match="callable"):
        threado.spawn(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        threado.spawn(print, name=3)  # type: ignore[arg-type]


def test_keyword_arguments_go_through_partial() -> None:
    t = threado.spawn(functools.partial(int, "ff", base=16))
    assert t.join() == 255


def test_name_daemon_and_ids() -> None:
    seen: dict[str, object] = {}

    def worker() -> None:
        seen["name"] = threading.current_thread().name
        seen["ident"] = threading.get_ident()
        seen["native_id"] = threading.get_native_id()
        seen["daemon"] = threading.current_thread().daemon

    t = threado.spawn(worker, name="worker-7", daemon=True)
    t.join()
    assert t.name == seen["name"] == "worker-7"
    assert t.ident == seen["ident"]
    assert t.native_id == seen["native_id"]
    assert t.daemon is True is seen["daemon"]
    default = threado.spawn(print)
    default.join()
    assert "print" in default.name
    assert default.daemon is False


def test_thread_cannot_be_instantiated_directly() -> None:
    with pytest.raises(TypeError, match="spawn"):
        threado.Thread()
    assert threado.Thread[int] is not None  # generic at runtime too


def test_spawned_thread_runs_in_a_copy_of_the_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("parent")

    def child() -> str:
        seen = var.get()
        var.set("child")
        return seen

    assert threado.spawn(child).join() == "parent"
    assert var.get() == "parent"


def test_current_thread_in_a_spawned_thread_is_its_handle() -> None:
    holder: list[threado.Thread[object]] = []
    t = threado.spawn(lambda: holder.append(threado.current_thread()))
    t.join()
    assert holder == [t]


def test_spawn_runs_func_with_args_in_a_new_os_thread_at_once() -> None:
    seen: dict[str, object] = {}
    started = threading.Event()

    def body(a: int, b: int) -> int:
        seen["ident"] = threading.get_ident()
        seen["native"] = threading.get_native_id()
        started.set()
        return a + b

    t = threado.spawn(body, 2, 3)
    assert started.wait(10)  # runs without anybody joining it
    assert t.join() == 5
    assert seen["ident"] != threading.get_ident()
    assert seen["ident"] == t.ident
    assert seen["native"] == t.native_id
    assert seen["native"] != threading.get_native_id()


@pytest.mark.parametrize("bad", [None, 42, "func"])
def test_spawn_of_a_non_callable_raises_type_error_immediately(bad: object) -> None:
    before = threading.active_count()
    with pytest.raises(TypeError):
        threado.spawn(bad)  # type: ignore[arg-type]
    assert threading.active_count() == before


def test_keyword_arguments_go_through_functools_partial() -> None:
    t = threado.spawn(functools.partial(int, base=2), "101")
    assert t.join() == 5


def test_spawn_name_and_daemon() -> None:
    seen: dict[str, object] = {}

    def body() -> None:
        seen["name"] = threading.current_thread().name
        seen["daemon"] = threading.current_thread().daemon

    t = threado.spawn(body, name="worker-x", daemon=True)
    t.join()
    assert t.name == "worker-x"
    assert seen["name"] == "worker-x"
    assert t.daemon is True
    assert seen["daemon"] is True
    u = threado.spawn(body)
    u.join()
    assert u.daemon is False
    assert seen["daemon"] is False


def test_new_thread_runs_in_a_copy_of_the_spawners_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    token = var.set("spawner")
    try:

        def body() -> str:
            before = var.get()
            var.set("child")  # must not leak back
            return before

        assert threado.spawn(body).join() == "spawner"
        assert var.get() == "spawner"
    finally:
        var.reset(token)


def test_thread_class_is_exported_and_generic() -> None:
    t = threado.spawn(lambda: 1)
    # Generic for the type checker (mypy --strict checks the tests) ...
    assert typing.assert_type(t.join(), int) == 1
    assert isinstance(t, threado.Thread)
    # ... and subscriptable at run time, as the standard library's classes
    # are (annotations name their types as strings: threado imports typing
    # only for type checkers, so ``typing.get_type_hints`` of its functions
    # is not supported).
    alias = threado.Thread[int]
    assert typing.get_origin(alias) is threado.Thread
    assert typing.get_args(alias) == (int,)
    assert threado.Thread.join.__annotations__["return"] == "T"


# -- join, wait, result, exception -------------------------------------------


def test_join_wraps_the_threads_exception() -> None:
    t = threado.spawn(int, "x")
    with pytest.raises(ThreadError) as info:
        t.join()
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(ThreadError):
        _ = t.result
    assert isinstance(t.exception, ValueError)
    assert not t.cancelled


def test_join_of_a_cancelled_thread_raises_thread_error() -> None:
    t = threado.spawn(threado.sleep, 60)
    wait_parked(t)
    t.cancel()
    with pytest.raises(ThreadError) as info:
        t.join()
    assert isinstance(info.value.__cause__, ThreadCancelled)
    assert t.cancelled


def test_join_timeout_raises_the_builtin_timeout_error() -> None:
    gate = threading.Event()
    t = threado.spawn(gate.wait)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        t.join(timeout=0.02)
    assert time.monotonic() - start >= 0.02
    assert t.wait(timeout=0.01) is False
    gate.set()
    assert t.wait(timeout=10) is True
    assert t.join() is True


def test_result_and_exception_of_a_running_thread_raise_without_blocking() -> None:
    gate = threading.Event()
    t = threado.spawn(gate.wait)
    with pytest.raises(RuntimeError):
        _ = t.result
    with pytest.raises(RuntimeError):
        _ = t.exception
    assert not t.cancelled
    assert not t.done()
    assert t.is_alive()
    gate.set()
    t.join()


@pytest.mark.parametrize("how", ["join", "wait", "cancel"])
def test_is_alive_is_false_once_the_wait_returns(how: str) -> None:
    for _ in range(20):
        t = threado.spawn(threado.sleep, 0 if how != "cancel" else 60)
        if how == "join":
            t.join()
        elif how == "wait":
            assert t.wait()
        else:
            assert t.cancel()
        assert not t.is_alive()
        assert t not in threado._threads._running


def test_joining_yourself_raises() -> None:
    def selfish() -> None:
        me = threado.current_thread()
        with pytest.raises(RuntimeError):
            me.join()
        with pytest.raises(RuntimeError):
            me.wait(1)

    threado.spawn(selfish).join()
    with pytest.raises(RuntimeError):
        threado.current_thread().join()


def test_join_and_wait_are_blocking_points() -> None:
    blocker = threado.spawn(threado.sleep, 60)
    joiner = threado.spawn(blocker.join)
    wait_parked(joiner)
    assert joiner.cancel(timeout=5)
    assert joiner.cancelled
    assert blocker.is_alive()
    blocker.cancel()


def test_join_returns_the_result() -> None:
    assert threado.spawn(lambda: "value").join() == "value"


def test_join_raises_thread_error_caused_by_the_exception() -> None:
    err = KeyError("k")

    def body() -> None:
        raise err

    t = threado.spawn(body)
    with pytest.raises(ThreadError) as info:
        t.join()
    assert info.value.__cause__ is err


def test_join_of_a_cancelled_thread_raises_thread_error_caused_by_thread_cancelled() -> None:
    t = spawn_parked(forever)
    t.cancel()
    with pytest.raises(ThreadError) as info:
        t.join()
    assert isinstance(info.value.__cause__, ThreadCancelled)


def test_wait_does_not_raise_for_the_outcome() -> None:
    t = threado.spawn(int, "x")
    assert t.wait() is True
    assert isinstance(t.exception, ValueError)
    c = spawn_parked(forever)
    c.cancel()
    assert c.wait() is True


def test_join_timeout_raises_builtin_timeout_error_while_running() -> None:
    t = spawn_parked(forever)
    try:
        with pytest.raises(TimeoutError):
            t.join(timeout=0.01)
        assert t.is_alive()
    finally:
        t.cancel()


def test_wait_timeout_returns_false_then_true() -> None:
    gate = threado.Event()
    t = threado.spawn(gate.wait)
    wait_parked(t)
    assert t.wait(timeout=0.01) is False
    gate.set()
    assert t.wait(timeout=10) is True


def test_result_and_exception_of_a_running_thread_raise_runtime_error() -> None:
    t = spawn_parked(forever)
    try:
        with pytest.raises(RuntimeError):
            _ = t.result
        with pytest.raises(RuntimeError):
            _ = t.exception
    finally:
        t.cancel()


def test_result_exception_and_cancelled_after_the_end() -> None:
    ok = threado.spawn(lambda: 7)
    ok.wait()
    assert ok.result == 7
    assert ok.exception is None
    assert not ok.cancelled

    bad = threado.spawn(int, "x")
    bad.wait()
    assert isinstance(bad.exception, ValueError)
    with pytest.raises(ThreadError) as info:
        _ = bad.result
    assert info.value.__cause__ is bad.exception
    assert not bad.cancelled

    c = spawn_parked(forever)
    assert not c.cancelled
    c.cancel()
    assert c.cancelled
    assert isinstance(c.exception, ThreadCancelled)


def test_is_alive_and_done() -> None:
    gate = threado.Event()
    t = threado.spawn(gate.wait)
    wait_parked(t)
    assert t.is_alive()
    assert not t.done()
    gate.set()
    t.join()
    assert not t.is_alive()
    assert t.done()


@pytest.mark.parametrize("how", ["join", "wait", "cancel"])
def test_is_alive_is_false_when_join_wait_or_cancel_returns(how: str) -> None:
    gate = threado.Event()
    t = threado.spawn(gate.wait)
    wait_parked(t)
    if how == "cancel":
        assert t.cancel() is True
    else:
        gate.set()
        getattr(t, how)()
    assert not t.is_alive()


def test_join_and_wait_are_blocking_points_for_the_waiter() -> None:
    target = spawn_parked(forever)
    for how in ("join", "wait"):
        waiter = threado.spawn(getattr(target, how))
        wait_parked(waiter)
        assert waiter.cancel(timeout=10)
        assert waiter.cancelled
    assert target.is_alive()
    target.cancel()


def test_joining_or_waiting_for_yourself_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        threado.current_thread().join()
    with pytest.raises(RuntimeError):
        threado.current_thread().wait(timeout=0.01)

    def body() -> str:
        try:
            threado.current_thread().join()
        except RuntimeError:
            return "raised"
        return "no"  # pragma: no cover

    assert threado.spawn(body).join(timeout=10) == "raised"


# -- current_thread for threads threado did not start ---------------------------


def test_current_thread_of_the_main_thread() -> None:
    main = threado.current_thread()
    assert main is threado.current_thread()
    assert main.ident == threading.main_thread().ident
    assert main.name == threading.main_thread().name
    assert main.is_alive()
    assert not main.done()


def test_plain_thread_handle_can_be_cancelled_and_joined() -> None:
    handles: list[threado.Thread[object]] = []
    ready = threading.Event()
    log: list[str] = []

    def plain() -> None:
        handles.append(threado.current_thread())
        ready.set()
        try:
            threado.sleep(60)
        except ThreadCancelled:
            log.append("cancelled")  # a plain thread would report it if re-raised

    t = threading.Thread(target=plain)
    t.start()
    ready.wait()
    h = handles[0]
    wait_parked(h)
    assert h.cancel(timeout=10)  # returns once the plain thread has ended
    assert log == ["cancelled"]
    assert h.done()
    assert h.join() is None  # a plain thread has no result
    t.join()


def test_join_of_a_plain_thread_handle_waits_for_its_end() -> None:
    handles: list[threado.Thread[object]] = []
    ready = threading.Event()
    go = threading.Event()

    def plain() -> None:
        handles.append(threado.current_thread())
        ready.set()
        go.wait()

    t = threading.Thread(target=plain)
    t.start()
    ready.wait()
    joiner = threado.spawn(handles[0].join)
    wait_parked(joiner)
    assert not joiner.done()
    go.set()
    joiner.join(timeout=10)
    t.join()


def test_blocking_cancel_of_the_main_thread_from_a_non_daemon_thread_exits() -> None:
    proc = run_python(
        """
        import threado
        main = threado.current_thread()
        def killer():
            from threado.testing import wait_parked
            wait_parked(main)
            print("cancel returned", main.cancel(), flush=True)
        threado.spawn(killer)
        threado.sleep(60)
        """,
        timeout=60,
    )
    assert "cancel returned True" in proc.stdout
    assert proc.returncode == 1
    assert "threado.ThreadCancelled" in proc.stderr


def test_cancel_source_names_the_main_thread() -> None:
    t = threado.spawn(threado.sleep, 60)
    wait_parked(t)
    t.cancel()
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.source is threado.current_thread()
    assert threading.main_thread().name in str(exc)


def test_cancelling_the_main_thread() -> None:
    proc = run_python(
        """
        import threado
        main = threado.current_thread()
        def killer():
            from threado.testing import wait_parked
            wait_parked(main)
            main.cancel(blocking=False)
        t = threado.spawn(killer)
        try:
            threado.sleep(60)
        except threado.ThreadCancelled as exc:
            print("main cancelled:", exc.reason)
        t.join()
        threado.sleep(0)  # level-triggered: escapes the script
        """
    )
    assert "main cancelled: CancelReason.EXPLICIT" in proc.stdout
    assert proc.returncode == 1
    assert "threado.ThreadCancelled" in proc.stderr


def test_current_thread_of_the_main_thread_has_its_ids_and_no_result() -> None:
    assert threading.current_thread() is threading.main_thread()
    h = threado.current_thread()
    assert isinstance(h, threado.Thread)
    assert h.ident == threading.get_ident()
    assert h.native_id == threading.get_native_id()
    assert h.name == threading.main_thread().name
    assert h.daemon is False
    assert h.is_alive()
    assert not h.done()
    with pytest.raises(RuntimeError):
        _ = h.result


def test_cancelling_the_main_thread_exits_with_status_1() -> None:
    proc = run_python(
        """
        import threado
        from threado.testing import wait_parked
        main = threado.current_thread()
        def killer():
            wait_parked(main)
            main.cancel(blocking=False)
        threado.spawn(killer)
        threado.sleep(60)
        print("not reached")
        """
    )
    assert proc.returncode == 1
    assert "ThreadCancelled" in proc.stderr
    assert "not reached" not in proc.stdout


def test_current_thread_of_a_plain_thread_can_be_cancelled_like_any() -> None:
    box: list[threado.Thread[object]] = []
    ready = threading.Event()
    log: list[str] = []

    def plain() -> None:
        box.append(threado.current_thread())
        ready.set()
        try:
            threado.sleep(math.inf)
        except ThreadCancelled:
            log.append("cancelled")
        try:
            threado.checkpoint()  # level-triggered
        except ThreadCancelled:
            log.append("again")

    pt = threading.Thread(target=plain, name="plainy", daemon=True)
    pt.start()
    assert ready.wait(10)
    h = box[0]
    assert h.name == "plainy"
    assert h.ident == pt.ident
    assert h.daemon is True
    wait_parked(h)
    assert h.is_alive()
    assert h.cancel(timeout=10) is True
    assert log == ["cancelled", "again"]
    assert not h.is_alive()
    assert h.done()
    pt.join()


def test_join_of_a_plain_thread_handle_returns_none_when_it_ends() -> None:
    box: list[threado.Thread[object]] = []
    ready = threading.Event()
    go = threading.Event()

    def plain() -> None:
        box.append(threado.current_thread())
        ready.set()
        go.wait()

    pt = threading.Thread(target=plain)
    pt.start()
    assert ready.wait(10)
    h = box[0]
    with pytest.raises(TimeoutError):
        h.join(timeout=0.01)
    go.set()
    assert h.join(timeout=10) is None
    assert not h.is_alive()
    pt.join()


def test_plain_thread_ended_by_thread_cancelled_reports_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooked: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args.exc_type))
    box: list[threado.Thread[object]] = []
    ready = threading.Event()

    def plain() -> None:
        box.append(threado.current_thread())
        ready.set()
        threado.sleep(math.inf)  # ThreadCancelled escapes the plain thread

    pt = threading.Thread(target=plain)
    pt.start()
    assert ready.wait(10)
    h = box[0]
    wait_parked(h)
    assert h.cancel(timeout=10) is True
    pt.join()
    # It ended by ThreadCancelled, which is its cancellation, not a failure:
    # recorded on the handle, and not reported to threading.excepthook.
    assert hooked == []
    assert h.cancelled is True
    assert isinstance(h.exception, ThreadCancelled)
    with pytest.raises(ThreadError):
        h.join()


def test_a_plain_thread_failure_is_recorded_and_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooked: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: hooked.append(args.exc_type))
    box: list[threado.Thread[object]] = []

    def plain() -> None:
        box.append(threado.current_thread())
        raise KeyError("boom")

    pt = threading.Thread(target=plain)
    pt.start()
    pt.join()
    h = box[0]
    assert h.wait(timeout=10)
    assert hooked == [KeyError]  # threading still reports it, as always
    assert isinstance(h.exception, KeyError)
    assert not h.cancelled
    with pytest.raises(ThreadError) as info:
        h.join()
    assert isinstance(info.value.__cause__, KeyError)


def test_primitives_work_from_plain_threads_and_their_waits_are_cancellable() -> None:
    e = threado.Event()
    q: threado.Queue[int] = threado.Queue()
    handles: list[threado.Thread[Any]] = []
    results: list[Any] = []
    ready = threading.Event()
    at_sem = threading.Event()

    def plain() -> None:
        handles.append(threado.current_thread())
        ready.set()
        results.append(e.wait())
        results.append(q.get(timeout=10))
        at_sem.set()
        try:
            threado.Semaphore(0).acquire()
        except ThreadCancelled:
            results.append("cancelled")

    t = threading.Thread(target=plain)
    t.start()
    ready.wait()
    wait_parked(handles[0])
    e.set()
    q.put(5)
    at_sem.wait()
    wait_parked(handles[0])  # now in Semaphore.acquire
    assert handles[0].cancel(timeout=10)
    t.join()
    assert results == [True, 5, "cancelled"]


# -- cancel -------------------------------------------------------------------


def test_cancel_a_parked_thread_runs_its_cleanup_before_returning() -> None:
    log: list[str] = []

    def worker() -> None:
        try:
            threado.sleep(60)
        finally:
            log.append("finally")

    t = threado.spawn(worker)
    wait_parked(t)
    start = time.monotonic()
    assert t.cancel() is True
    assert time.monotonic() - start < SLACK
    assert log == ["finally"]
    assert t.cancelled
    assert not t.is_alive()
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.EXPLICIT
    assert exc.source is threado.current_thread()


def test_cancel_a_running_thread_fires_at_its_next_blocking_point() -> None:
    gate = threading.Event()
    log: list[str] = []

    def worker() -> None:
        gate.wait()  # running code that threado cannot interrupt
        log.append("ran on")
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover

    t = threado.spawn(worker)
    assert t.cancel(blocking=False) is False
    gate.set()
    assert t.wait(timeout=10)
    assert log == ["ran on"]
    assert t.cancelled


def test_cancel_before_start_still_runs_the_function_up_to_its_first_blocking_point() -> None:
    log: list[str] = []

    def worker() -> None:
        try:
            log.append("started")
            threado.sleep(60)
        finally:
            log.append("finally")

    for _ in range(20):
        log.clear()
        t = threado.spawn(worker)
        t._state.request_cancel("explicit", None, "early")
        t.cancel()
        assert log == ["started", "finally"]


def test_cancel_a_finished_thread_is_a_no_op() -> None:
    t = threado.spawn(pow, 2, 2)
    t.join()
    assert t.cancel() is True
    assert t.cancel(blocking=False) is True
    assert not t.cancelled
    assert t.result == 4


def test_cancel_twice_and_from_several_threads_at_once() -> None:
    t = threado.spawn(threado.sleep, 60)
    wait_parked(t)
    barrier = threading.Barrier(5)

    def canceller() -> bool:
        barrier.wait()
        return t.cancel()

    cancellers = [threado.spawn(canceller) for _ in range(4)]
    barrier.wait()
    assert t.cancel()
    assert all(c.join() for c in cancellers)
    assert t.cancel()
    assert t.cancelled


def test_cancel_with_timeout_on_uninterruptible_code_returns_false() -> None:
    gate = threading.Event()

    def stuck() -> None:
        gate.wait()  # a plain threading wait: not a blocking point
        threado.checkpoint()

    t = threado.spawn(stuck)
    start = time.monotonic()
    assert t.cancel(timeout=0.05) is False
    assert time.monotonic() - start >= 0.05
    assert t.is_alive()
    gate.set()
    assert t.cancel(timeout=10) is True
    assert t.cancelled


def test_blocking_cancel_warns_with_the_stack_when_it_waits_long(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(threads_module, "CANCEL_WARN_AFTER", 0.05)
    gate = threading.Event()

    def stuck_in_plain_wait() -> None:
        gate.wait()
        threado.checkpoint()

    t = threado.spawn(stuck_in_plain_wait, name="stuck-one")
    releaser = threading.Timer(0.5, gate.set)
    releaser.start()
    with caplog.at_level(logging.WARNING, logger="threado"):
        assert t.cancel() is True
    releaser.join()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "stuck-one" in warnings[0].getMessage()
    assert "stuck_in_plain_wait" in warnings[0].getMessage()  # the stack


def test_a_thread_cancelling_itself_is_not_blocked() -> None:
    log: list[object] = []

    def worker() -> None:
        log.append(threado.current_thread().cancel())
        log.append("still running")
        threado.sleep(0)
        log.append("not reached")  # pragma: no cover

    t = threado.spawn(worker)
    t.wait()
    assert log == [False, "still running"]
    assert t.cancelled


def test_cancellation_is_level_triggered() -> None:
    caught = 0

    def stubborn() -> None:
        nonlocal caught
        for _ in range(3):
            try:
                threado.sleep(60)
            except ThreadCancelled:
                caught += 1
        threado.sleep(60)

    t = threado.spawn(stubborn)
    wait_parked(t)
    assert t.cancel(timeout=10)  # does not hang on a thread that swallowed it
    assert caught == 3
    assert t.cancelled


def test_cancel_is_a_blocking_point_for_the_canceller() -> None:
    gate = threading.Event()
    target = threado.spawn(gate.wait)
    canceller = threado.spawn(target.cancel)
    wait_parked(canceller)
    assert canceller.cancel(timeout=5)
    assert canceller.cancelled
    gate.set()
    target.wait()


def test_cancel_without_blocking_is_safe_in_a_signal_handler() -> None:
    t = threado.spawn(threado.sleep, 60)
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


def test_thread_cancelled_is_a_base_exception() -> None:
    assert issubclass(ThreadCancelled, BaseException)
    assert not issubclass(ThreadCancelled, Exception)
    assert issubclass(threado.ThreadTimeout, TimeoutError)
    assert issubclass(ThreadError, Exception)
    assert ThreadCancelled.__module__ == "threado"


def test_repr_shows_what_a_thread_waits_on() -> None:
    t = threado.spawn(threado.sleep, 60, name="sleeper")
    wait_parked(t)
    r = repr(t)
    assert r == "<threado.Thread sleeper waiting on 'sleep'>"  # no times: state only
    t.cancel()
    assert repr(t) == "<threado.Thread sleeper cancelled>"
    ok = threado.spawn(print, name="ok")
    ok.join()
    assert repr(ok) == "<threado.Thread ok finished>"


def test_thread_cancelled_is_a_base_exception_not_an_exception() -> None:
    assert issubclass(ThreadCancelled, BaseException)
    assert not issubclass(ThreadCancelled, Exception)

    def body() -> str:
        threado.current_thread().cancel()
        try:
            threado.checkpoint()
        except Exception:  # pragma: no cover - must not catch it
            return "swallowed"
        return "no"  # pragma: no cover

    t = threado.spawn(body)
    t.wait()
    assert t.cancelled


def test_thread_cancelled_reason_explicit_with_source() -> None:
    t = spawn_parked(forever)
    t.cancel()
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.EXPLICIT
    assert exc.source is threado.current_thread()


@pytest.mark.parametrize("reason", list(CancelReason))
def test_thread_cancelled_takes_a_reason_member_or_its_value(reason: CancelReason) -> None:
    assert ThreadCancelled("x", reason).reason is reason
    assert ThreadCancelled("x", reason.value).reason is reason
    exc = ThreadCancelled()
    exc.reason = reason
    assert exc.reason is reason


@pytest.mark.parametrize("bad", ["timeout", None, 1, CancelReason])
def test_thread_cancelled_rejects_what_is_not_a_reason(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"reason must be a threado\.CancelReason"):
        ThreadCancelled("x", bad)
    with pytest.raises(ValueError, match=r"reason must be a threado\.CancelReason"):
        ThreadCancelled().reason = bad


def test_cancel_wakes_a_blocked_thread_and_waits_for_its_finally() -> None:
    log: list[str] = []
    lock = threado.Lock()

    def body() -> None:
        try:
            with lock:
                threado.Event().wait()
        finally:
            log.append("finally")

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel() is True
    assert log == ["finally"]  # ran before cancel() returned
    assert not t.is_alive()
    assert not lock.locked()  # the with exit ran too
    assert t.cancelled


def test_cancel_reacts_at_once_no_polling() -> None:
    t = spawn_parked(forever)
    start = time.monotonic()
    assert t.cancel(timeout=SLACK) is True
    assert time.monotonic() - start < SLACK


def test_cancel_timeout_returns_false_on_code_threado_cannot_interrupt() -> None:
    gate = threading.Event()
    ran: list[str] = []

    def stuck() -> None:
        gate.wait()  # a plain threading wait: not a blocking point
        ran.append("after gate")
        threado.checkpoint()
        ran.append("not reached")  # pragma: no cover

    t = threado.spawn(stuck)
    assert t.cancel(timeout=0.05) is False
    assert t.is_alive()
    gate.set()
    assert t.cancel(timeout=10) is True
    assert ran == ["after gate"]
    assert t.cancelled


def test_cancel_blocking_false_returns_without_waiting() -> None:
    gate = threading.Event()

    def stuck() -> None:
        gate.wait()
        threado.checkpoint()

    t = threado.spawn(stuck)
    assert t.cancel(blocking=False) is False
    assert t.is_alive()
    gate.set()
    t.wait()
    assert t.cancelled


def test_cancel_of_a_finished_thread_is_a_no_op_returning_true() -> None:
    t = threado.spawn(lambda: 3)
    t.wait()
    assert t.cancel() is True
    assert t.cancel(blocking=False) is True
    assert t.cancel(timeout=0) is True
    assert t.join() == 3
    assert not t.cancelled


def test_cancelling_twice_is_fine() -> None:
    t = spawn_parked(forever)
    assert t.cancel(blocking=False) in (False, True)
    assert t.cancel() is True
    assert t.cancel() is True
    assert t.cancelled


def test_a_self_cancel_returns_and_the_next_blocking_point_raises() -> None:
    log: list[str] = []

    def body() -> None:
        threado.current_thread().cancel()  # blocking=True by default
        log.append("returned")
        try:
            threado.sleep(60)
        except ThreadCancelled:
            log.append("next blocking point raised")
            raise

    t = threado.spawn(body)
    assert t.wait(timeout=10)
    assert log == ["returned", "next blocking point raised"]


def test_cancellation_is_level_triggered_and_cancel_does_not_hang_on_a_swallower() -> None:
    count = 0

    def swallower() -> None:
        nonlocal count
        while True:
            try:
                threado.sleep(60)
            except ThreadCancelled:
                count += 1
                if count == 5:
                    break
        threado.Event().wait()  # dies here

    t = threado.spawn(swallower)
    wait_parked(t)
    assert t.cancel(timeout=10) is True
    assert count == 5
    assert t.cancelled


def test_thread_cancelled_before_it_begins_still_runs_its_function() -> None:
    log: list[str] = []
    gate = threado.Event()
    for _ in range(5):
        log.clear()

        def body() -> None:
            log.append("started")
            try:
                gate.wait()
            finally:
                log.append("cleanup")

        t = threado.spawn(body)
        t.cancel(blocking=False)  # most likely before it begins
        assert t.wait(timeout=10)
        assert log == ["started", "cleanup"]
        assert t.cancelled


def test_cancel_nonblocking_from_a_signal_handler() -> None:
    code = sigusr1_script(
        """
        t = threado.spawn(threado.sleep, 60)
        wait_parked(t)
        handler = Once(lambda *_: t.cancel(blocking=False))
        signal.signal(signal.SIGUSR1, handler)
        resend_until(lambda: os.kill(os.getpid(), signal.SIGUSR1), handler)
        print("cancelled" if t.wait(timeout=10) and t.cancelled else "no", flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() == "cancelled", proc.stderr


def test_cancel_nonblocking_in_a_handler_does_not_take_a_lock_interrupted_code_holds() -> None:
    # White-box: simulate a signal arriving while the main thread, which has
    # no threado handle yet, is inside spawn() holding the registry lock.
    code = """
        import os, signal, threado
        from threado import _threads
        from threado.testing import wait_parked
        import threading
        done = threading.Event()
        def target():
            done.wait()
        t = threado.spawn(target, daemon=True)
        signal.signal(signal.SIGUSR1, lambda *_: t.cancel(blocking=False))
        with _threads._registry_lock:   # as inside spawn()
            signal.raise_signal(signal.SIGUSR1)  # the handler runs here
            x = 1
        print("handler returned", flush=True)
        done.set()
    """
    try:
        proc = run_python(code, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the signal handler deadlocked in cancel(blocking=False)")
    assert "handler returned" in proc.stdout, proc.stderr


def test_blocking_cancel_logs_a_warning_with_the_targets_stack(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from threado import _threads

    monkeypatch.setattr(_threads, "CANCEL_WARN_AFTER", 0.05)
    gate = threading.Event()

    def stuck_somewhere_special() -> None:
        gate.wait()
        threado.checkpoint()

    warned = threading.Event()

    class Flag(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "stuck-target" in record.getMessage():
                warned.set()

    flag = Flag()
    logging.getLogger("threado").addHandler(flag)
    try:
        with caplog.at_level(logging.WARNING, logger="threado"):
            t = threado.spawn(stuck_somewhere_special, name="stuck-target")
            canceller = threado.spawn(t.cancel)
            assert warned.wait(10), "no warning logged"
            assert canceller.is_alive()  # logged while still waiting
            gate.set()
            assert canceller.join(timeout=10) is True
    finally:
        logging.getLogger("threado").removeHandler(flag)
    warns = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warns) == 1
    assert "stuck_somewhere_special" in warns[0].getMessage()


def test_documented_cancel_warning_delay_is_several_seconds() -> None:
    from threado import _threads

    assert 2.0 <= _threads.CANCEL_WARN_AFTER <= 30.0


# -- failures are never silent ----------------------------------------------------


def test_unretrieved_failure_is_logged_once_when_the_handle_is_collected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="threado"):
        t = threado.spawn(int, "boom", name="doomed")
        t.wait()
        del t
        gc.collect()
    errors = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert len(errors) == 1
    assert "doomed" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is ValueError


def test_retrieved_and_cancelled_outcomes_are_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="threado"):
        a = threado.spawn(int, "boom")
        with pytest.raises(ThreadError):
            a.join()
        b = threado.spawn(int, "boom")
        b.wait()
        assert b.exception is not None
        c = threado.spawn(threado.sleep, 60)
        wait_parked(c)
        c.cancel()
        del a, b, c
        gc.collect()
    assert [r for r in caplog.records if "never retrieved" in r.getMessage()] == []


def test_unretrieved_failure_is_logged_at_exit() -> None:
    proc = run_python(
        """
        import logging, threado
        logging.basicConfig()
        keep = threado.spawn(int, "boom", name="lost")
        keep.wait()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("never retrieved") == 1
    assert "'lost'" in proc.stderr
    assert "ValueError" in proc.stderr


def test_unretrieved_failure_is_logged_once_with_traceback_when_collected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def doomed_func() -> None:
        raise ValueError("boom-gc")

    with caplog.at_level(logging.ERROR, logger="threado"):
        t = threado.spawn(doomed_func, name="doomed-gc")
        t.wait()
        assert not t.cancelled
        del t
        gc.collect()
        gc.collect()
    recs = [r for r in caplog.records if "doomed-gc" in r.getMessage()]
    assert len(recs) == 1
    assert recs[0].exc_info is not None
    assert recs[0].exc_info[0] is ValueError
    text = logging.Formatter().formatException(recs[0].exc_info)
    assert "doomed_func" in text
    assert "boom-gc" in text


@pytest.mark.parametrize("how", ["join", "result", "exception", "group"])
def test_retrieved_failure_is_not_logged(how: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="threado"):
        if how == "group":
            with pytest.raises(ExceptionGroup):
                with threado.ThreadGroup() as g:
                    t = g.spawn(int, "x", name="retrieved-one")
        else:
            t = threado.spawn(int, "x", name="retrieved-one")
            t.wait()
            if how == "join":
                with pytest.raises(ThreadError):
                    t.join()
            elif how == "result":
                with pytest.raises(ThreadError):
                    _ = t.result
            else:
                assert t.exception is not None
        del t
        gc.collect()
    assert not [r for r in caplog.records if "retrieved-one" in r.getMessage()]


def test_unretrieved_failure_is_logged_at_interpreter_exit() -> None:
    proc = run_python(
        """
        import threado
        def lost_func():
            raise ValueError("boom-exit")
        keep = threado.spawn(lost_func, name="lost-at-exit")
        keep.wait()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("lost-at-exit") == 1, proc.stderr
    assert "lost_func" in proc.stderr
    assert "boom-exit" in proc.stderr


def test_unretrieved_failure_of_a_daemon_thread_still_running_at_exit_is_logged() -> None:
    proc = run_python(
        """
        import threado
        from threado.testing import wait_parked
        def fails_in_cleanup():
            try:
                threado.sleep(60)
            finally:
                raise ValueError("cleanup-failed")
        keep = threado.spawn(fails_in_cleanup, name="daemon-fail", daemon=True)
        wait_parked(keep)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("daemon-fail") == 1, proc.stderr
    assert "cleanup-failed" in proc.stderr


# -- run ----------------------------------------------------------------------------


def test_run_returns_the_result_and_propagates_unwrapped() -> None:
    assert threado.run(pow, 3, 3) == 27
    with pytest.raises(ValueError):
        threado.run(int, "x")
    with pytest.raises(TypeError, match="callable"):
        threado.run(None)  # type: ignore[arg-type]


def test_run_returns_result_and_propagates_unwrapped() -> None:
    assert threado.run(divmod, 7, 2) == (3, 1)
    err = OSError("raw")

    def boom() -> None:
        raise err

    with pytest.raises(OSError) as info:
        threado.run(boom)
    assert info.value is err
    with pytest.raises(TypeError):
        threado.run(42)  # type: ignore[arg-type]


def test_run_calls_in_the_calling_thread() -> None:
    assert threado.run(threading.get_ident) == threading.get_ident()


# -- interpreter exit ------------------------------------------------------------------


def test_daemon_threads_are_cancelled_and_cleaned_up_at_interpreter_exit() -> None:
    proc = run_python(
        """
        import os, threado
        from threado.testing import wait_parked
        lock = threado.Lock()
        def worker(n):
            try:
                with lock:
                    pass
                threado.sleep(60)
            finally:
                os.write(1, b"cleanup %d\\n" % n)
        ts = [threado.spawn(worker, i, daemon=True) for i in range(3)]
        for t in ts:
            wait_parked(t)
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0] == "main done"
    assert sorted(lines[1:4]) == ["cleanup 0", "cleanup 1", "cleanup 2"], proc.stdout


def test_daemon_cleanup_at_exit_after_an_uncaught_exception() -> None:
    proc = run_python(
        """
        import threado
        from threado.testing import wait_parked
        def worker():
            try:
                threado.sleep(60)
            finally:
                print("cleanup", flush=True)
        wait_parked(threado.spawn(worker, daemon=True))
        raise SystemExit(4)
        """
    )
    assert proc.returncode == 4
    assert "cleanup" in proc.stdout


# -- fork ------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_process_starts_with_a_clean_working_threado() -> None:
    parked = threado.spawn(threado.sleep, 60)
    wait_parked(parked)
    code = """
        import os, sys, threado
        from threado.testing import wait_parked
        parked = threado.spawn(threado.sleep, 60)
        wait_parked(parked)
        pid = os.fork()
        if pid == 0:
            ok = True
            try:
                ok &= threado.spawn(pow, 2, 5).join(timeout=5) == 32
                with threado.ignore_after(0.01) as s:
                    threado.sleep(5)
                ok &= s.expired
                t = threado.spawn(threado.sleep, 60)
                wait_parked(t)
                ok &= t.cancel(timeout=5)
                ok &= parked.wait(timeout=5)  # not running here
                ok &= isinstance(parked.exception, RuntimeError)
            finally:
                os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        parked.cancel()
        sys.exit(os.waitstatus_to_exitcode(status))
    """
    proc = run_python(code)
    parked.cancel()
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_starts_with_clean_working_threado() -> None:
    code = """
        import os, sys, threado, queue
        from threado.testing import wait_parked
        parked = threado.spawn(threado.sleep, 60, daemon=True)
        wait_parked(parked)
        lock = threado.Lock()
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                assert threado.current_thread().is_alive()
                assert parked.done() and not parked.is_alive()
                assert parked.wait(timeout=5)
                assert threado.spawn(pow, 2, 5).join(timeout=5) == 32
                l2 = threado.Lock()
                q = threado.Queue()
                def worker():
                    with l2:
                        q.put("x")
                    threado.sleep(60)
                w = threado.spawn(worker)
                assert q.get(timeout=5) == "x"
                wait_parked(w)
                assert w.cancel(timeout=5)
                with lock:  # the parent's lock, free at fork time
                    pass
                with threado.ignore_after(0.01) as s:
                    threado.sleep(5)
                assert s.expired
                code = 0
            except BaseException as e:
                print("child:", repr(e), flush=True)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        parked.cancel()
        sys.exit(os.waitstatus_to_exitcode(status))
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_from_a_spawned_thread() -> None:
    code = """
        import os, sys, threado
        def forker():
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    assert threado.spawn(pow, 2, 3).join(timeout=5) == 8
                    t = threado.spawn(threado.sleep, 60)
                    from threado.testing import wait_parked
                    wait_parked(t)
                    assert t.cancel(timeout=5)
                    code = 0
                except BaseException as e:
                    print("child:", repr(e), flush=True)
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        sys.exit(threado.spawn(forker).join())
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_exits_when_the_main_handle_latch_was_busy_at_fork() -> None:
    # White-box: another thread holds the main handle's latch mutex at the
    # instant of fork, as a joiner of the main thread briefly does.
    code = """
        import os, sys, threading, time, threado
        main = threado.current_thread()
        held = threading.Event(); release = threading.Event()
        def holder():
            with main._done.mutex:
                held.set(); release.wait()
        x = threading.Thread(target=holder); x.start(); held.wait()
        pid = os.fork()
        if pid == 0:
            ok = threado.spawn(pow, 2, 2).join(timeout=5) == 4
            sys.exit(0 if ok else 3)  # a normal exit
        release.set(); x.join()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r, status = os.waitpid(pid, os.WNOHANG)
            if r:
                sys.exit(os.waitstatus_to_exitcode(status))
            time.sleep(0.05)
        os.kill(pid, 9); os.waitpid(pid, 0)
        print("child hung at exit", flush=True)
        sys.exit(5)
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_unretrieved_failure_is_reported_once_across_fork() -> None:
    code = """
        import os, sys, threado
        t = threado.spawn(int, "boom", name="failed-before-fork")
        t.wait()
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        os.waitpid(pid, 0)
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("failed-before-fork") == 1, proc.stderr


# -- Ctrl-C ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wait", ["threado.sleep(60)", "t.join()", "t.cancel()", "threado.timeout_after(60, t.join)"]
)
def test_ctrl_c_interrupts_the_main_thread_parked_in_a_threado_wait(wait: str) -> None:
    code = f"""
        import sys, threading, threado
        from threado.testing import wait_parked
        from signals import interrupt_once
        interrupt_once()  # repeated Ctrl-Cs raise only once
        gate = threading.Event()
        def stuck():
            gate.wait()  # uninterruptible on purpose: join/cancel must wait
        t = threado.spawn(stuck, daemon=True)
        main = threado.current_thread()
        def announce():  # Ctrl-C comes once the main thread is parked
            wait_parked(main)
            print("ready", flush=True)
        threading.Thread(target=announce, daemon=True).start()
        try:
            {wait}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        finally:
            gate.set()
            print("cleanup", flush=True)
    """
    with Child(textwrap.dedent(code)) as child:
        assert child.readline().strip() == "ready"
        start = time.monotonic()
        first = child.interrupt()  # again until handled: see signals.py
        rest, err = child.finish()
        assert time.monotonic() - start < SLACK + 3
    out = first + rest
    assert out.split() == ["interrupted", "cleanup"], err
    assert child.proc.returncode == 0, err
