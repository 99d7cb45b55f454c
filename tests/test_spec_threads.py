"""One test per claim of SPEC §1-3 (Threads, Cancellation, Timeouts).

Threads are ordered by state (events, ``wait_parked``), never by sleeping;
whatever needs a fresh interpreter runs in a subprocess.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import logging
import math
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
import typing
from decimal import Decimal

import pytest
from signals import CHILD_PREAMBLE

import threado
from threado import CancelReason, ThreadCancelled, ThreadError, ThreadTimeout
from threado.testing import wait_parked

SLACK = 5.0  # generous bound for real-time assertions on a shared machine


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def forever() -> None:
    threado.sleep(math.inf)


def spawn_parked() -> threado.Thread[None]:
    t = threado.spawn(forever)
    wait_parked(t)
    return t


def self_cancelled(func: typing.Callable[[], object]) -> object:
    """Run ``func`` in a spawned thread that has cancelled itself; return its outcome."""

    def body() -> object:
        threado.current_thread().cancel()
        return func()

    t = threado.spawn(body)
    t.wait()
    return t.exception if t.exception is not None else t.result


# == §1 Threads =================================================================


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
    t = spawn_parked()
    t.cancel()
    with pytest.raises(ThreadError) as info:
        t.join()
    assert isinstance(info.value.__cause__, ThreadCancelled)


def test_wait_does_not_raise_for_the_outcome() -> None:
    t = threado.spawn(int, "x")
    assert t.wait() is True
    assert isinstance(t.exception, ValueError)
    c = spawn_parked()
    c.cancel()
    assert c.wait() is True


def test_join_timeout_raises_builtin_timeout_error_while_running() -> None:
    t = spawn_parked()
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
    t = spawn_parked()
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

    c = spawn_parked()
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
    target = spawn_parked()
    for how in ("join", "wait"):
        waiter = threado.spawn(getattr(target, how))
        wait_parked(waiter)
        assert waiter.cancel(timeout=10)
        assert waiter.cancelled
    assert target.is_alive()
    target.cancel()


def test_thread_class_is_exported_and_generic() -> None:
    t = threado.spawn(lambda: 1)
    t.join()
    assert isinstance(t, threado.Thread)
    alias = threado.Thread[int]
    assert typing.get_origin(alias) is threado.Thread
    assert typing.get_args(alias) == (int,)
    ret = typing.get_type_hints(threado.Thread.join)["return"]
    assert isinstance(ret, typing.TypeVar)


def test_current_thread_in_a_spawned_thread_is_its_handle() -> None:
    box: list[object] = []
    t = threado.spawn(lambda: box.append(threado.current_thread()))
    t.join()
    assert box == [t]


def test_current_thread_of_the_main_thread() -> None:
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
    text = logging.Formatter().formatException(recs[0].exc_info)  # type: ignore[arg-type]
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


def test_run_returns_result_and_propagates_unwrapped() -> None:
    assert threado.run(divmod, 7, 2) == (3, 1)
    err = OSError("raw")

    def boom() -> None:
        raise err

    with pytest.raises(OSError) as info:
        threado.run(boom)
    assert info.value is err
    with pytest.raises(TypeError):
        threado.run(42)  # type: ignore[call-overload]


def test_run_calls_in_the_calling_thread() -> None:
    assert threado.run(threading.get_ident) == threading.get_ident()


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


# == §2 Cancellation ================================================================


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
    t = spawn_parked()
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
    t = spawn_parked()
    assert t.cancel(blocking=False) in (False, True)
    assert t.cancel() is True
    assert t.cancel() is True
    assert t.cancelled


def test_a_thread_cancelling_itself_is_not_blocked() -> None:
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


def test_shield_holds_back_thread_cancellation_until_the_first_blocking_point_after() -> None:
    log: list[str] = []
    gate = threado.Event()

    def body() -> None:
        with threado.shield():
            gate.wait()  # not interrupted by the cancel
            log.append("shielded wait done")
            assert threado.cancel_requested() is False
            threado.checkpoint()
            log.append("checkpoint in shield passed")
        log.append("after shield")
        threado.checkpoint()
        log.append("not reached")  # pragma: no cover

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel(timeout=0.05) is False  # held back
    gate.set()
    assert t.wait(timeout=10)
    assert log == ["shielded wait done", "checkpoint in shield passed", "after shield"]
    assert t.cancelled


def test_shield_holds_back_an_enclosing_timeout_and_inner_timeouts_still_work() -> None:
    log: list[str] = []
    with pytest.raises(ThreadTimeout):
        with threado.timeout_after(0.01):
            with threado.shield():
                threado.sleep(0.05)  # outlives the outer deadline
                log.append("slept in shield")
                assert threado.current_deadline() == math.inf
                with threado.timeout_after(0.01) as inner:
                    with pytest.raises(ThreadCancelled):
                        threado.sleep(60)
                # (ThreadTimeout was raised by inner and caught below)
            log.append("after shield")
            threado.checkpoint()
    assert log == ["slept in shield", "after shield"]
    assert inner.expired is False  # ThreadCancelled was caught inside; no ThreadTimeout


def test_timeout_opened_inside_a_shield_raises_thread_timeout() -> None:
    with threado.shield():
        with pytest.raises(ThreadTimeout):
            with threado.timeout_after(0.01):
                threado.sleep(60)


def test_checkpoint_raises_when_cancelled_and_not_otherwise() -> None:
    threado.checkpoint()  # nothing pending: returns
    exc = self_cancelled(threado.checkpoint)
    assert isinstance(exc, ThreadCancelled)


def test_checkpoint_in_a_cpu_loop() -> None:
    ready = threading.Event()
    n = 0

    def loop() -> None:
        nonlocal n
        ready.set()
        while True:
            n += 1
            threado.checkpoint()

    t = threado.spawn(loop)
    assert ready.wait(10)
    assert t.cancel(timeout=10) is True
    assert t.cancelled
    assert n > 0


def test_sleep_is_a_blocking_point_and_sleep_zero_a_checkpoint() -> None:
    assert isinstance(self_cancelled(lambda: threado.sleep(0)), ThreadCancelled)
    assert isinstance(self_cancelled(lambda: threado.sleep(0.001)), ThreadCancelled)
    threado.sleep(0)
    start = time.monotonic()
    threado.sleep(0.02)
    assert time.monotonic() - start >= 0.02


@pytest.mark.parametrize(
    "bad",
    [-1, -0.5, math.nan, "1", None, Decimal("0.1"), 1j, object()],
    ids=["neg-int", "neg-float", "nan", "str", "none", "decimal", "complex", "object"],
)
def test_sleep_rejects_bad_durations_as_time_sleep_does(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)) as expected:
        time.sleep(bad)  # type: ignore[arg-type]
    with pytest.raises(expected.type):
        threado.sleep(bad)  # type: ignore[arg-type]


def test_sleep_accepts_what_time_sleep_accepts() -> None:
    class Idx:
        def __index__(self) -> int:
            return 0

    for ok in (0, 0.0, False, Idx()):
        time.sleep(ok)  # type: ignore[arg-type]
        threado.sleep(ok)  # type: ignore[arg-type]


def _entry_checks() -> dict[str, typing.Callable[[], object]]:
    def q_get() -> object:
        q: threado.Queue[int] = threado.Queue()
        q.put_nowait(1)
        try:
            return q.get()
        finally:
            assert q.qsize() == 1  # consumed nothing

    def q_put() -> object:
        q: threado.Queue[int] = threado.Queue(maxsize=5)
        try:
            return q.put(1)
        finally:
            assert q.qsize() == 0

    def sq_get() -> object:
        q: threado.SimpleQueue[int] = threado.SimpleQueue()
        q.put(1)
        try:
            return q.get()
        finally:
            assert q.qsize() == 1

    def event_wait() -> object:
        e = threado.Event()
        e.set()
        return e.wait()

    def sem_acquire() -> object:
        s = threado.Semaphore(1)
        try:
            return s.acquire()
        finally:
            assert s.value == 1

    def bsem_acquire() -> object:
        s = threado.BoundedSemaphore(1)
        return s.acquire()

    def cond_wait_for() -> object:
        c = threado.Condition()
        with c:
            return c.wait_for(lambda: True)

    def cond_wait() -> object:
        c = threado.Condition()
        with c:
            return c.wait(timeout=0)

    def barrier_one() -> object:
        return threado.Barrier(1).wait()

    def join_finished() -> object:
        t = threado.spawn(lambda: None)
        with threado.shield():
            t.wait()
        return t.join()

    def wait_finished() -> object:
        t = threado.spawn(lambda: None)
        with threado.shield():
            t.wait()
        return t.wait()

    def queue_join() -> object:
        return threado.Queue().join()

    def sleep_zero() -> object:
        return threado.sleep(0)

    def timed_get() -> object:
        q: threado.Queue[int] = threado.Queue()
        q.put_nowait(1)
        return q.get(timeout=0)

    def timed_event() -> object:
        e = threado.Event()
        e.set()
        return e.wait(timeout=0)

    return {
        f.__name__: f
        for f in (
            q_get,
            q_put,
            sq_get,
            event_wait,
            sem_acquire,
            bsem_acquire,
            cond_wait_for,
            cond_wait,
            barrier_one,
            join_finished,
            wait_finished,
            queue_join,
            sleep_zero,
            timed_get,
            timed_event,
        )
    }


@pytest.mark.parametrize("name", list(_entry_checks()))
def test_every_blocking_point_checks_on_entry_even_without_waiting(name: str) -> None:
    func = _entry_checks()[name]
    assert isinstance(self_cancelled(func), ThreadCancelled)


def test_blocking_point_in_an_expired_timeout_checks_on_entry() -> None:
    q: threado.Queue[int] = threado.Queue()
    q.put_nowait(1)
    with threado.ignore_after(0) as s:
        q.get()
    assert s.expired
    assert q.qsize() == 1


def test_cancelled_consumer_of_a_never_empty_queue_dies() -> None:
    q: threado.Queue[int] = threado.Queue()
    for i in range(10):
        q.put_nowait(i)
    taken: list[int] = []

    def consumer() -> None:
        while True:
            taken.append(q.get())
            q.put(taken[-1])  # never empties
            if len(taken) == 3:
                threado.current_thread().cancel(blocking=False)

    t = threado.spawn(consumer)
    assert t.wait(timeout=10)
    assert t.cancelled
    assert q.qsize() == 10


@pytest.mark.parametrize("kind", ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"])
def test_nowait_methods_never_raise_thread_cancelled(kind: str) -> None:
    def body() -> list[object]:
        q = getattr(threado, kind)()
        out: list[object] = []
        q.put_nowait(1)
        out.append(q.get_nowait())
        try:
            q.get_nowait()
        except queue.Empty:
            out.append("empty")
        if kind != "SimpleQueue":
            b = getattr(threado, kind)(maxsize=1)
            b.put_nowait(1)
            try:
                b.put_nowait(2)
            except queue.Full:
                out.append("full")
        return out

    res = self_cancelled(body)
    expected = [1, "empty"] if kind == "SimpleQueue" else [1, "empty", "full"]
    assert res == expected


def test_thread_cancelled_reason_explicit_with_source() -> None:
    t = spawn_parked()
    t.cancel()
    exc = t.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.EXPLICIT
    assert exc.source is threado.current_thread()


def test_thread_cancelled_reason_deadline_and_block_raises_thread_timeout() -> None:
    caught: list[ThreadCancelled] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.01) as scope:
            try:
                threado.sleep(60)
            except ThreadCancelled as exc:
                caught.append(exc)
                raise
    assert caught[0].reason is CancelReason.DEADLINE
    assert caught[0].source is scope
    assert info.value.__cause__ is caught[0]


def test_thread_cancelled_reason_group() -> None:
    with pytest.raises(ExceptionGroup):
        with threado.ThreadGroup() as g:
            victim = g.spawn(forever)
            wait_parked(victim)
            g.spawn(int, "x")
    exc = victim.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.GROUP
    assert exc.source is g


def test_current_deadline() -> None:
    assert threado.current_deadline() == math.inf
    before = threado.clock()
    with threado.timeout_after(100):
        d1 = threado.current_deadline()
        assert before + 100 <= d1 <= threado.clock() + 100
        with threado.timeout_after(1000):
            assert threado.current_deadline() == d1  # the earliest
        with threado.timeout_at(before + 10):
            assert threado.current_deadline() == before + 10
        with threado.timeout_after(None):
            assert threado.current_deadline() == d1
        assert threado.current_deadline() == d1
    assert threado.current_deadline() == math.inf


def test_current_deadline_in_a_plain_thread() -> None:
    out: list[float] = []

    def plain() -> None:
        out.append(threado.current_deadline())
        with threado.timeout_at(12345.0):
            out.append(threado.current_deadline())

    pt = threading.Thread(target=plain)
    pt.start()
    pt.join()
    assert out == [math.inf, 12345.0]


def test_cancel_requested() -> None:
    assert threado.cancel_requested() is False
    with threado.timeout_after(0):
        assert threado.cancel_requested() is True
        with threado.shield():
            assert threado.cancel_requested() is False
    assert threado.cancel_requested() is False

    def body() -> list[bool]:
        out = [threado.cancel_requested()]
        threado.current_thread().cancel()
        out.append(threado.cancel_requested())
        with threado.shield():
            out.append(threado.cancel_requested())
        out.append(threado.cancel_requested())
        return out

    assert threado.spawn(body).join() == [False, True, False, True]


def _sigusr1_script(body: str) -> str:
    # The handlers act once and the pokes repeat until one ran: see signals.py.
    return (
        CHILD_PREAMBLE
        + textwrap.dedent(
            """
            import os, signal, sys, threading, threado
            from threado.testing import wait_parked
            from signals import Once, resend_until
            class Boom(KeyboardInterrupt):
                pass
            main = threado.current_thread()
            def poke(handler):
                wait_parked(main)
                ident = threading.main_thread().ident
                resend_until(lambda: signal.pthread_kill(ident, signal.SIGUSR1), handler)
            """
        )
        + textwrap.dedent(body)
    )


def test_keyboard_interrupt_abandon_passes_a_handed_item_on() -> None:
    # The handler hands an item to the parked main thread, then raises:
    # the item must stay available, not be dropped with the waiter.
    code = _sigusr1_script(
        """
        q = threado.Queue()
        @Once
        def handler(*_):
            q.put("item")
            raise Boom
        signal.signal(signal.SIGUSR1, handler)
        threado.spawn(poke, handler)
        try:
            q.get()
        except Boom:
            pass
        print("left", q.get_nowait(), flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() == "left item", proc.stderr


def test_keyboard_interrupt_abandon_passes_a_handed_lock_on() -> None:
    code = _sigusr1_script(
        """
        lock = threado.Lock()
        lock.acquire()
        @Once
        def handler(*_):
            lock.release()  # hands the lock to the parked main thread
            raise Boom
        signal.signal(signal.SIGUSR1, handler)
        threado.spawn(poke, handler)
        try:
            lock.acquire()
            print("acquired", flush=True)
        except Boom:
            print("free" if lock.acquire(blocking=False) else "leaked", flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() in ("free", "acquired"), proc.stderr
    assert proc.stdout.strip() == "free"


def test_keyboard_interrupt_abandon_passes_a_handed_permit_on() -> None:
    code = _sigusr1_script(
        """
        sem = threado.Semaphore(0)
        @Once
        def handler(*_):
            sem.release()
            raise Boom
        signal.signal(signal.SIGUSR1, handler)
        threado.spawn(poke, handler)
        try:
            sem.acquire()
        except Boom:
            print("value", sem.value, flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() == "value 1", proc.stderr


def test_cancel_nonblocking_from_a_signal_handler() -> None:
    code = _sigusr1_script(
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


def test_cancelled_acquire_never_takes_the_lock() -> None:
    lock = threado.Lock()
    lock.acquire()
    t = threado.spawn(lock.acquire)
    wait_parked(t)
    t.cancel()
    assert t.cancelled
    lock.release()
    assert not lock.locked()


def test_cancelled_put_never_inserts_and_get_never_consumes() -> None:
    q: threado.Queue[int] = threado.Queue(maxsize=1)
    q.put(0)
    p = threado.spawn(q.put, 1)
    wait_parked(p)
    p.cancel()
    assert q.get_nowait() == 0
    assert q.empty()
    g = threado.spawn(q.get)
    wait_parked(g)
    g.cancel()
    q.put_nowait(5)
    assert q.get_nowait() == 5


def test_cancelled_condition_wait_reacquires_its_lock_first() -> None:
    cond = threado.Condition()
    held: list[bool] = []

    def body() -> None:
        with cond:
            try:
                cond.wait()
            except ThreadCancelled:
                held.append(cond._is_owned())  # type: ignore[attr-defined]
                raise

    t = threado.spawn(body)
    wait_parked(t)
    t.cancel()
    assert held == [True]


# == §3 Timeouts ====================================================================


def test_timeout_after_context_manager() -> None:
    inside: list[BaseException] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.01):
            try:
                threado.sleep(60)
            except Exception:  # pragma: no cover - must not swallow it
                inside.append(Exception())
            except BaseException as e:
                inside.append(e)
                raise
    assert isinstance(inside[0], ThreadCancelled)
    assert isinstance(info.value, TimeoutError)
    assert issubclass(ThreadTimeout, TimeoutError)


def test_timeout_after_not_expired_changes_nothing() -> None:
    with threado.timeout_after(60) as s:
        threado.sleep(0)
    assert s.expired is False


def test_timeout_after_call_form() -> None:
    assert threado.timeout_after(60, pow, 2, 4) == 16
    with pytest.raises(ThreadTimeout):
        threado.timeout_after(0.01, threado.sleep, 60)


def test_ignore_after_context_manager_and_expired() -> None:
    with threado.ignore_after(0.01) as s:
        threado.sleep(60)
        pytest.fail("not reached")  # pragma: no cover
    assert s.expired is True
    with threado.ignore_after(60) as s2:
        threado.sleep(0)
    assert s2.expired is False


def test_ignore_after_call_form() -> None:
    assert threado.ignore_after(0.01, threado.sleep, 60) is None
    assert threado.ignore_after(60, pow, 3, 2) == 9


def test_timeout_at_and_ignore_at_take_absolute_clock_values() -> None:
    assert threado.clock() == pytest.approx(time.monotonic(), abs=1.0)
    start = threado.clock()
    with pytest.raises(ThreadTimeout):
        with threado.timeout_at(start + 0.02):
            threado.sleep(60)
    assert threado.clock() >= start + 0.02
    with threado.ignore_at(threado.clock() + 0.01) as s:
        threado.sleep(60)
    assert s.expired
    assert threado.timeout_at(threado.clock() + 60, pow, 2, 3) == 8
    assert threado.ignore_at(threado.clock() + 60, pow, 2, 3) == 8
    assert threado.ignore_at(threado.clock() + 0.01, threado.sleep, 60) is None
    with pytest.raises(ThreadTimeout):
        threado.timeout_at(threado.clock() + 0.01, threado.sleep, 60)


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
def test_none_means_no_timeout(fn: str) -> None:
    f = getattr(threado, fn)
    with f(None) as s:
        assert threado.current_deadline() == math.inf
        threado.sleep(0.001)
    assert s.expired is False
    assert f(None, pow, 2, 2) == 4


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
@pytest.mark.parametrize(
    ("bad", "error"),
    [(math.nan, ValueError), ("1", TypeError), (object(), TypeError), (Decimal(1), TypeError)],
    ids=["nan", "str", "object", "decimal"],
)
def test_nan_or_non_number_raises(fn: str, bad: object, error: type[Exception]) -> None:
    f = getattr(threado, fn)
    with pytest.raises(error):
        with f(bad):
            pass
    with pytest.raises(error):
        f(bad, pow, 2, 2)


@pytest.mark.parametrize("fn", ["timeout_after", "ignore_after", "timeout_at", "ignore_at"])
@pytest.mark.parametrize("value", [0, -1, -0.5, 0.0, -math.inf])
def test_zero_or_negative_expires_at_the_first_blocking_point(fn: str, value: float) -> None:
    f = getattr(threado, fn)
    if fn.endswith("_at"):
        value = value if value == -math.inf else threado.clock() + value
    log: list[str] = []
    raised: BaseException | None = None
    try:
        with f(value) as s:
            log.append("body runs")
            threado.sleep(60)
            log.append("not reached")  # pragma: no cover
    except ThreadTimeout as e:
        raised = e
    assert log == ["body runs"]
    assert s.expired
    assert (raised is not None) == fn.startswith("timeout")


def test_nested_outer_expiry_passes_through_inner_as_outer_timeout() -> None:
    caught_inner: list[BaseException] = []
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.02) as outer:
            try:
                with threado.timeout_after(60) as inner:
                    threado.sleep(60)
            except ThreadTimeout as e:  # pragma: no cover - must not catch it
                caught_inner.append(e)
    assert caught_inner == []
    assert outer.expired
    assert not inner.expired
    cause = info.value.__cause__
    assert isinstance(cause, ThreadCancelled)
    assert cause.source is outer


def test_nested_outer_expiry_is_not_swallowed_by_an_inner_ignore() -> None:
    with threado.ignore_after(0.02) as outer:
        with threado.ignore_after(60) as inner:
            threado.sleep(60)
        pytest.fail("not reached")  # pragma: no cover
    assert outer.expired
    assert not inner.expired


def test_nested_inner_expiry_is_reported_by_the_inner_block_only() -> None:
    with threado.timeout_after(60) as outer:
        with pytest.raises(ThreadTimeout):
            with threado.timeout_after(0.01) as inner:
                threado.sleep(60)
        threado.sleep(0)
    assert inner.expired
    assert not outer.expired


def test_outer_deadline_passing_during_inner_with_earlier_inner_deadline() -> None:
    # Both deadlines pass before the first blocking point: the outer one was
    # passing while the inner block ran, so the inner block must not raise.
    with pytest.raises(ThreadTimeout) as info:
        with threado.timeout_after(0.02) as outer:
            with threado.timeout_after(0.01) as inner:
                end = threado.clock() + 0.03
                while threado.clock() < end:
                    pass
                threado.checkpoint()
    assert outer.expired
    assert not inner.expired
    assert info.value.__cause__.source is outer  # type: ignore[union-attr]


def test_explicit_cancel_passes_through_a_timeout_block_unchanged() -> None:
    def body() -> None:
        with threado.timeout_after(60):
            threado.sleep(60)

    t = threado.spawn(body)
    wait_parked(t)
    t.cancel()
    assert t.cancelled
    assert t.exception.reason is CancelReason.EXPLICIT  # type: ignore[union-attr]


def test_timeouts_work_in_the_main_thread() -> None:
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(ThreadTimeout):
        threado.timeout_after(0.01, threado.Event().wait)


def test_timeouts_work_in_a_plain_threading_thread() -> None:
    out: list[object] = []

    def plain() -> None:
        try:
            with threado.timeout_after(0.01):
                threado.Queue().get()
        except ThreadTimeout:
            out.append("timeout")
        with threado.ignore_after(0.01) as s:
            threado.sleep(60)
        out.append(s.expired)

    pt = threading.Thread(target=plain)
    pt.start()
    pt.join(timeout=SLACK)
    assert out == ["timeout", True]


def test_timeouts_work_in_a_spawned_thread() -> None:
    def body() -> str:
        try:
            with threado.timeout_after(0.01):
                threado.Lock().acquire() and threado.sleep(60)
        except ThreadTimeout:
            return "timeout"
        return "no"  # pragma: no cover

    assert threado.spawn(body).join(timeout=SLACK) == "timeout"


def test_spawned_thread_does_not_inherit_deadlines() -> None:
    with threado.timeout_after(0.01):
        t = threado.spawn(lambda: (threado.current_deadline(), threado.sleep(0.05)))
        with threado.shield():
            t.wait()
    d, _ = t.join()
    assert d == math.inf


def test_spawned_thread_does_not_inherit_shields() -> None:
    with threado.shield():
        t = spawn_parked()
        assert t.cancel(timeout=SLACK) is True
    assert t.cancelled


def test_group_opened_inside_a_timeout_cancels_its_threads_at_the_deadline() -> None:
    log: list[str] = []

    def worker() -> None:
        try:
            threado.sleep(60)
        finally:
            log.append("worker cleanup")

    with pytest.raises(ThreadTimeout):
        with threado.timeout_after(0.05):
            with threado.ThreadGroup() as g:
                t = g.spawn(worker)
    assert log == ["worker cleanup"]
    assert t.cancelled
    assert t.exception.reason is CancelReason.GROUP  # type: ignore[union-attr]


def test_group_inside_a_timeout_body_blocked_elsewhere() -> None:
    with threado.ignore_after(0.05) as s:
        with threado.ThreadGroup() as g:
            t = g.spawn(forever)
            threado.Event().wait()
    assert s.expired
    assert t.cancelled
    assert not t.is_alive()


def test_a_timeout_costs_no_thread() -> None:
    before = threading.active_count()
    with threado.ignore_after(0.05):
        assert threading.active_count() == before
        threado.Event().wait()
    assert threading.active_count() == before


def test_timeout_after_counts_from_entering_the_block() -> None:
    cm = threado.timeout_after(0.05)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass  # the scope object exists, but no block has started yet
    with cm:
        threado.sleep(0.001)  # well within 0.05 s of entering
    assert not cm.expired


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
