"""Thread groups: structured concurrency (SPEC §5)."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from signals import Child

import threado
from threado import CancelReason, ThreadCancelled, ThreadGroup, ThreadTimeout
from threado.testing import wait_parked


def sleeper(log: list[str], name: str = "sleeper") -> None:
    try:
        threado.sleep(60)
    finally:
        log.append(name)


def returns_after(gate: threado.Event, value: object) -> object:
    gate.wait()
    return value


# -- wait=all ------------------------------------------------------------------------


def test_all_waits_for_every_thread_and_keeps_spawn_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    with ThreadGroup() as g:
        threads = [g.spawn(returns_after, gate, i) for i, gate in enumerate(gates)]
        for gate in reversed(gates):
            gate.set()
    assert g.threads == threads
    assert g.results == [0, 1, 2]
    assert g.exceptions == []
    assert g.completed is None
    assert all(not t.is_alive() for t in threads)


def test_a_failure_cancels_the_others_and_the_block_raises_an_exception_group() -> None:
    log: list[str] = []
    with pytest.raises(ExceptionGroup) as info:
        with ThreadGroup() as g:
            s = g.spawn(sleeper, log)
            wait_parked(s)
            g.spawn(int, "x")
    assert log == ["sleeper"]
    assert s.cancelled
    [err] = info.value.exceptions
    assert isinstance(err, ValueError)
    assert g.exceptions == [err]
    exc = s.exception
    assert isinstance(exc, ThreadCancelled)
    assert exc.reason is CancelReason.GROUP
    assert exc.source is g


def test_except_star_works() -> None:
    caught: list[BaseException] = []
    try:
        with ThreadGroup() as g:
            g.spawn(int, "x")
            g.spawn(operator_error)
    except* ValueError as eg:
        caught.extend(eg.exceptions)
    except* KeyError as eg:
        caught.extend(eg.exceptions)
    assert sorted(type(e).__name__ for e in caught) == ["KeyError", "ValueError"]


def operator_error() -> None:
    raise KeyError("k")


def test_a_thread_ended_by_cancellation_is_not_a_failure() -> None:
    with ThreadGroup() as g:
        t = g.spawn(threado.sleep, 60)
        wait_parked(t)
        t.cancel()  # by somebody else, not the group
    assert g.exceptions == []
    assert t.cancelled


# -- any / object ------------------------------------------------------------------


def test_any_first_success_wins_and_the_rest_are_cancelled() -> None:
    log: list[str] = []
    go = threado.Event()
    with ThreadGroup(wait=any) as g:
        slow = g.spawn(sleeper, log)
        wait_parked(slow)
        fast = g.spawn(returns_after, go, "fast")
        wait_parked(fast)
        go.set()
    assert g.completed is fast
    assert fast.result == "fast"
    assert slow.cancelled
    assert log == ["sleeper"]


def test_any_failures_do_not_stop_the_race() -> None:
    go = threado.Event()
    with ThreadGroup(wait=any) as g:
        g.spawn(int, "x")  # fails first
        winner = g.spawn(returns_after, go, 42)
        wait_parked(winner)
        go.set()
    assert g.completed is winner
    assert len(g.exceptions) == 1  # collected, not raised


def test_any_raises_the_failures_only_if_nobody_answers() -> None:
    with pytest.raises(ExceptionGroup) as info:
        with ThreadGroup(wait=any) as g:
            g.spawn(int, "x")
            g.spawn(int, "y")
    assert len(info.value.exceptions) == 2
    assert g.completed is None


def test_object_waits_for_the_first_non_none_result() -> None:
    log: list[str] = []
    gate = threado.Event()
    with ThreadGroup(wait=object) as g:
        g.spawn(lambda: None)
        slow = g.spawn(sleeper, log)
        answer = g.spawn(returns_after, gate, "answer")
        wait_parked(answer)
        gate.set()
    assert g.completed is answer
    assert slow.cancelled


# -- wait=None -------------------------------------------------------------------------


def test_none_cancels_every_thread_as_the_block_ends() -> None:
    q: threado.Queue[int] = threado.Queue()
    got: list[int] = []

    def worker() -> None:
        for item in q:
            got.append(item)
            q.task_done()

    with ThreadGroup(wait=None) as g:
        workers = [g.spawn(worker) for _ in range(3)]
        for i in range(10):
            q.put(i)
        q.join()  # every item processed; the workers now wait in get()
    assert sorted(got) == list(range(10))
    assert all(w.cancelled for w in workers)


# -- the body's own exceptions ------------------------------------------------------


def test_body_exception_cancels_the_threads_and_joins_the_failures() -> None:
    log: list[str] = []
    with pytest.raises(ExceptionGroup) as info:
        with ThreadGroup() as g:
            t = g.spawn(sleeper, log)
            wait_parked(t)
            raise RuntimeError("body")
    assert log == ["sleeper"]
    [err] = info.value.exceptions
    assert isinstance(err, RuntimeError)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_body_keyboard_interrupt_and_system_exit_propagate_as_themselves(
    exc_type: type[BaseException],
) -> None:
    log: list[str] = []
    with pytest.raises(exc_type):
        with ThreadGroup() as g:
            t = g.spawn(sleeper, log)
            wait_parked(t)
            raise exc_type
    assert log == ["sleeper"]


def test_an_enclosing_timeout_cancels_the_threads_and_raises_thread_timeout() -> None:
    log: list[str] = []
    start = time.monotonic()
    with pytest.raises(ThreadTimeout):
        with threado.timeout_after(0.05), ThreadGroup() as g:
            g.spawn(sleeper, log, "a")
            g.spawn(sleeper, log, "b")
    assert sorted(log) == ["a", "b"]
    assert time.monotonic() - start < 5


def test_cancelling_the_thread_in_the_block_cancels_its_children_first() -> None:
    log: list[str] = []
    inside = threading.Event()

    def parent() -> None:
        with ThreadGroup() as g:
            g.spawn(sleeper, log, "child")
            inside.set()
            threado.sleep(60)
        log.append("not reached")  # pragma: no cover

    p = threado.spawn(parent)
    inside.wait()
    wait_parked(p)
    assert p.cancel(timeout=10)
    assert p.cancelled
    assert log == ["child"]


def test_body_ending_while_a_failure_is_being_handled() -> None:
    """A failure and the end of the body land together: the failure is raised
    once, the other threads are cancelled, nothing is left running."""
    for _ in range(30):
        log: list[str] = []
        with pytest.raises(ExceptionGroup):
            with ThreadGroup() as g:
                g.spawn(sleeper, log)
                g.spawn(int, "x")
        assert log == ["sleeper"]


# -- spawning, adding, closing ---------------------------------------------------------


def test_children_may_spawn_into_the_open_group() -> None:
    with ThreadGroup() as g:

        def parent() -> None:
            g.spawn(pow, 2, 5)

        g.spawn(parent)
    assert sorted(t.result for t in g.threads if t.result is not None) == [32]
    assert len(g.threads) == 2


def test_spawning_into_a_closed_group_raises() -> None:
    with ThreadGroup() as g:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        g.spawn(print)


def test_add_adopts_a_threado_thread_and_refuses_others() -> None:
    log: list[str] = []
    t = threado.spawn(sleeper, log)
    wait_parked(t)
    with pytest.raises(ExceptionGroup):
        with ThreadGroup() as g:
            g.add(t)
            g.spawn(int, "x")
    assert t.cancelled
    assert log == ["sleeper"]
    with ThreadGroup() as g2:
        with pytest.raises(TypeError):
            g2.add(threading.Thread())  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="started by threado"):
            g2.add(threado.current_thread())


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="wait"):
        ThreadGroup(wait="all")
    with pytest.raises(ValueError, match="limit"):
        ThreadGroup(limit=0)
    g = ThreadGroup()
    with pytest.raises(TypeError, match="callable"):
        g.spawn(3)  # type: ignore[call-overload]
    with g:
        pass
    with pytest.raises(RuntimeError, match="once"), g:
        pass  # pragma: no cover


# -- next_done, iteration, join, cancel_remaining -----------------------------------


def test_next_done_and_iteration_follow_completion_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    with ThreadGroup() as g:
        threads = [g.spawn(returns_after, gate, i) for i, gate in enumerate(gates)]
        for t in threads:
            wait_parked(t)
        order = []
        for i in (2, 0, 1):
            gates[i].set()
            done = g.next_done(timeout=10)
            assert done is not None
            order.append(done.result)
        assert g.next_done() is None
    assert order == [2, 0, 1]
    with ThreadGroup() as g2:
        for i in range(3):
            g2.spawn(pow, i, 2)
        assert sorted(t.result for t in g2) == [0, 1, 4]


def test_next_result_and_timeouts() -> None:
    gate = threado.Event()
    with ThreadGroup() as g:
        g.spawn(returns_after, gate, "r")
        with pytest.raises(TimeoutError):
            g.next_done(timeout=0.01)
        gate.set()
        assert g.next_result() == "r"
        with pytest.raises(RuntimeError, match="no thread left"):
            g.next_result()


def test_join_and_cancel_remaining() -> None:
    log: list[str] = []
    with ThreadGroup() as g:
        g.spawn(pow, 2, 2)
        s = g.spawn(sleeper, log)
        wait_parked(s)
        g.cancel_remaining()
        assert log == ["sleeper"]
        assert not s.is_alive()
        g.join()
    assert g.exceptions == []


def test_next_done_is_a_blocking_point() -> None:
    with ThreadGroup(wait=None) as g:
        g.spawn(threado.sleep, 60)
        waiter = threado.spawn(g.next_done)
        wait_parked(waiter)
        assert waiter.cancel(timeout=5)
        assert waiter.cancelled


# -- bounded fan-out --------------------------------------------------------------


def test_limit_bounds_the_running_threads() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def job(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threado.sleep(0.002)
        with lock:
            running -= 1
        return i

    with ThreadGroup(limit=3) as g:
        for i in range(30):
            g.spawn(job, i)
    assert peak <= 3
    assert g.results == list(range(30))


def test_a_spawn_waiting_for_a_slot_is_cancellable() -> None:
    log: list[str] = []
    with ThreadGroup(limit=1, wait=None) as g:
        first = g.spawn(sleeper, log)
        wait_parked(first)
        spawner = threado.spawn(g.spawn, print)
        wait_parked(spawner)
        assert spawner.cancel(timeout=5)
        assert spawner.cancelled
    assert len(g.threads) == 1


# -- repr -------------------------------------------------------------------------


def test_repr() -> None:
    with ThreadGroup(wait=any) as g:
        assert repr(g) == "<threado.ThreadGroup wait=any open: 0/0 running>"
        g.spawn(pow, 1, 1)
    assert repr(g) == "<threado.ThreadGroup wait=any closed: 0/1 running>"


# -- Ctrl-C and interpreter exit -----------------------------------------------------


def test_ctrl_c_at_the_end_of_a_group_cancels_the_threads_then_propagates() -> None:
    code = """
        import sys, threading, threado
        from threado.testing import wait_parked
        from signals import interrupt_once
        interrupt_once()  # repeated Ctrl-Cs raise only once
        def worker(i):
            try:
                threado.sleep(60)
            finally:
                sys.stdout.write(f"cleanup {i}\\n")  # one write: lines stay whole
                sys.stdout.flush()
        main = threado.current_thread()
        def announce():  # Ctrl-C comes once the main thread waits at the exit
            wait_parked(main)
            print("ready", flush=True)
        try:
            with threado.ThreadGroup() as g:
                for i in range(3):
                    wait_parked(g.spawn(worker, i))
                threading.Thread(target=announce, daemon=True).start()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """
    with Child(textwrap.dedent(code)) as child:
        assert child.readline().strip() == "ready"
        first = child.interrupt()  # again until handled: see signals.py
        rest, err = child.finish()
    out = first + rest
    lines = out.split("\n")
    assert sorted(line for line in lines if line.startswith("cleanup")) == [
        "cleanup 0",
        "cleanup 1",
        "cleanup 2",
    ]
    assert lines.index("interrupted") > max(i for i, x in enumerate(lines) if "cleanup" in x)
    assert child.proc.returncode == 0, err


def test_daemon_threads_are_cancelled_at_interpreter_exit_and_clean_up() -> None:
    code = """
        import sys, threado
        from threado.testing import wait_parked
        def worker(i):
            try:
                threado.sleep(60)
            finally:
                sys.stdout.write(f"cleanup {i}\\n")  # one write: lines stay whole
                sys.stdout.flush()
        for i in range(3):
            wait_parked(threado.spawn(worker, i, daemon=True))
        print("exit", flush=True)
    """
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "exit"
    assert sorted(proc.stdout.split("\n")[1:4]) == ["cleanup 0", "cleanup 1", "cleanup 2"]
    assert time.monotonic() - start < 10
    assert proc.stderr == ""


# -- stress ------------------------------------------------------------------------


def test_stress_many_short_groups_with_failures_cancels_and_timeouts() -> None:
    """Thousands of short-lived groups with random failures, cancels and
    timeouts: no thread survives its group, and every failure is reported
    exactly once (raised by its group)."""
    rng = random.Random(7)
    baseline = threading.active_count()
    raised = 0
    failed = 0
    groups = 0
    deadline = time.monotonic() + float(__import__("os").environ.get("THREADO_STRESS_SECONDS", "2"))
    while time.monotonic() < deadline:
        groups += 1
        plan = [rng.choice(["ok", "fail", "sleep", "sleep_long"]) for _ in range(rng.randint(1, 5))]
        policy = rng.choice([all, any, object, None])
        # Always a finite timeout: a "sleep_long" thread under wait=all would
        # otherwise (rightly) keep its group waiting.
        limit = rng.choice([0.0, 0.002, 0.02])

        def job(kind: str) -> object:
            if kind == "fail":
                raise ValueError(kind)
            if kind == "sleep":
                threado.sleep(rng.random() * 0.002)
            if kind == "sleep_long":
                threado.sleep(60)
            return kind

        threads: list[threado.Thread[Any]] = []
        try:
            with threado.ignore_after(limit), ThreadGroup(wait=policy) as g:
                for kind in plan:
                    threads.append(g.spawn(job, kind))
                if rng.random() < 0.2 and threads:
                    rng.choice(threads).cancel(blocking=False)
        except ExceptionGroup as eg:
            raised += len(eg.exceptions)
        assert all(not t.is_alive() for t in threads)
        failed += sum(1 for t in threads if isinstance(t.exception, ValueError))
        # Failures not raised (a race won, or the block timed out) are still
        # visible on the group; raised ones are never raised twice.
        assert raised <= failed
    assert groups > 50
    assert threading.active_count() == baseline


def test_add_refuses_the_blocks_own_thread_and_ignores_duplicates() -> None:
    def body() -> str:
        with ThreadGroup() as g:
            with pytest.raises(RuntimeError, match="cannot join it"):
                g.add(threado.current_thread())
            t = g.spawn(pow, 2, 2)
            g.add(t)  # already in: nothing happens
        assert g.threads == [t]
        return "ok"

    assert threado.spawn(body).join() == "ok"


def test_body_exception_is_not_shown_twice() -> None:
    with pytest.raises(ExceptionGroup) as info:
        with ThreadGroup():
            raise RuntimeError("body")
    assert info.value.__suppress_context__


def test_limit_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="limit"):
        ThreadGroup(limit=True)


@pytest.mark.parametrize("policy", [all, any, object])
def test_a_member_dying_of_system_exit_ends_the_group_with_it(policy: Any) -> None:
    """As asyncio.TaskGroup: whatever the policy, the others are cancelled and
    the block re-raises the SystemExit itself."""
    sibling: list[threado.Thread[Any]] = []
    with pytest.raises(SystemExit) as info, threado.ThreadGroup(wait=policy) as g:
        sibling.append(g.spawn(threado.sleep, 60))
        wait_parked(sibling[0])
        g.spawn(sys.exit, 4)
    assert info.value.code == 4
    assert sibling[0].cancelled
