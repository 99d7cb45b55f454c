"""Threads and cancellation: spawn, the Thread handle, current_thread, run (SPEC §1-2)."""

from __future__ import annotations

import contextvars
import functools
import gc
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from signals import Child, Once, resend_until

import threado
from threado import CancelReason, ThreadCancelled, ThreadError
from threado import _threads as threads_module
from threado.testing import wait_parked

SLACK = 2.0  # generous upper bound for real-time assertions on shared CI machines


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
        threado.spawn(42)  # type: ignore[call-overload]
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
        t._state.request_cancel(CancelReason.EXPLICIT, None, "early")
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
    assert r.startswith("<threado.Thread sleeper waiting on 'sleep' for ")
    t.cancel()
    assert repr(t) == "<threado.Thread sleeper cancelled>"
    ok = threado.spawn(print, name="ok")
    ok.join()
    assert repr(ok) == "<threado.Thread ok finished>"


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


# -- run ----------------------------------------------------------------------------


def test_run_returns_the_result_and_propagates_unwrapped() -> None:
    assert threado.run(pow, 3, 3) == 27
    with pytest.raises(ValueError):
        threado.run(int, "x")
    with pytest.raises(TypeError, match="callable"):
        threado.run(None)  # type: ignore[call-overload]


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


# -- stress ---------------------------------------------------------------------------


def test_stress_random_sleeps_cancels_and_timeouts() -> None:
    """100+ threads sleep random times under random cancels and timeouts:
    every thread ends, every finally runs once, no thread is left over."""
    baseline = threading.active_count()
    rng = random.Random(42)
    rounds = int(os.environ.get("THREADO_STRESS_ROUNDS", "3"))
    finals: list[int] = []
    finals_lock = threading.Lock()
    for _ in range(rounds):
        finals.clear()

        def worker(i: int, pause: float, limit: float | None) -> None:
            try:
                with threado.timeout_after(limit):
                    threado.sleep(pause)
                    threado.sleep(pause)
            finally:
                with finals_lock:
                    finals.append(i)

        n = 120
        ts = [
            threado.spawn(worker, i, rng.random() * 0.02, rng.choice([None, 0.0, 0.005, 0.01, 1.0]))
            for i in range(n)
        ]
        victims = rng.sample(ts, n // 2)
        for v in victims:
            v.cancel(blocking=rng.random() < 0.5)
        for t in ts:
            assert t.wait(timeout=30)
            exc = t.exception
            assert exc is None or isinstance(exc, ThreadCancelled | threado.ThreadTimeout)
        assert sorted(finals) == list(range(n))
    assert threading.active_count() == baseline


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
