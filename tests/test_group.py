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
from helpers import forever
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


#: Always empty: ``NOTHING[key]`` raises KeyError in a thread.
NOTHING: dict[int, int] = {}


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


def test_wait_all_is_the_default_and_waits_for_every_thread() -> None:
    gate = threado.Event()
    with threado.ThreadGroup() as g:
        a = g.spawn(lambda: (gate.wait(), "a")[1])
        b = g.spawn(lambda: "b")
        wait_parked(a)
        gate.set()
    assert not a.is_alive()
    assert not b.is_alive()
    assert g.results == ["a", "b"]
    assert g.completed is None
    assert g.exceptions == []


def test_wait_all_failure_cancels_the_others_and_raises_exception_group() -> None:
    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup() as g:
        victim = g.spawn(forever)
        wait_parked(victim)
        bad = g.spawn(lambda: 1 / 0)
    assert victim.cancelled
    assert [type(e) for e in info.value.exceptions] == [ZeroDivisionError]
    assert g.exceptions == [bad.exception]


def test_except_star_catches_group_failures() -> None:
    caught: list[Any] = []
    try:
        with threado.ThreadGroup() as g:
            g.spawn(lambda: 1 / 0)
    except* ZeroDivisionError as eg:
        caught.extend(eg.exceptions)
    assert len(caught) == 1
    assert isinstance(caught[0], ZeroDivisionError)


@pytest.mark.parametrize("policy", [all, any, object, None])
def test_a_thread_cancelled_by_anyone_is_not_a_failure(policy: Any) -> None:
    with threado.ThreadGroup(wait=policy) as g:
        t = g.spawn(forever)
        wait_parked(t)
        t.cancel()
    assert t.cancelled
    assert g.exceptions == []
    assert g.completed is None


def test_threads_results_and_exceptions_are_in_spawn_order() -> None:
    # The later-spawned thread fails first; exceptions stay in spawn order, and
    # the thread that was cancelled is not among them.
    holder: list[threado.Thread[Any]] = []
    b_spawned = threado.Event()
    b_gate = threado.Event()

    def first() -> None:
        with threado.shield():
            b_spawned.wait()
            holder[0].wait()
        raise KeyError("first")

    def second() -> None:
        b_gate.wait()
        raise ValueError("second")

    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup(wait=any) as g:
        a = g.spawn(first)
        holder.append(b := g.spawn(second))
        b_spawned.set()
        wait_parked(b)
        b_gate.set()
        c = g.spawn(forever)
        wait_parked(c)
        c.cancel()
    assert g.threads == [a, b, c]
    assert [type(e) for e in g.exceptions] == [KeyError, ValueError]
    assert [type(e) for e in info.value.exceptions] == [KeyError, ValueError]
    assert c.cancelled


def test_results_in_spawn_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    with threado.ThreadGroup() as g:
        ts = [g.spawn(returns_after, gates[i], i * 10) for i in range(3)]
        for t in ts:
            wait_parked(t)
        for i in (2, 1, 0):
            gates[i].set()
            ts[i].wait()
    assert g.threads == ts
    assert g.results == [0, 10, 20]


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


def test_wait_any_first_success_wins_and_the_rest_are_cancelled() -> None:
    with threado.ThreadGroup(wait=any) as g:
        slow = g.spawn(forever)
        wait_parked(slow)
        fast = g.spawn(lambda: None)
    assert g.completed is fast
    assert slow.cancelled
    assert g.exceptions == []


def test_wait_any_failures_do_not_stop_the_race() -> None:
    go = threado.Event()

    def bad() -> None:
        raise ValueError

    def good() -> str:
        go.wait()
        return "ok"

    with threado.ThreadGroup(wait=any) as g:
        w = g.spawn(good)
        f = g.spawn(bad)
        f.wait()
        assert not w.cancelled
        assert w.is_alive()
        go.set()
    assert g.completed is w
    assert w.result == "ok"


def test_wait_any_raises_failures_only_if_nobody_answers() -> None:
    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup(wait=any) as g:
        g.spawn(lambda: 1 / 0)
        g.spawn(lambda: NOTHING[1])
    assert sorted(type(e).__name__ for e in info.value.exceptions) == [
        "KeyError",
        "ZeroDivisionError",
    ]
    assert g.completed is None


def test_wait_object_waits_for_the_first_non_none_result() -> None:
    gate = threado.Event()

    def late() -> int:
        gate.wait()
        return 0

    with threado.ThreadGroup(wait=object) as g:
        none = g.spawn(lambda: None)
        none.wait()
        bad = g.spawn(lambda: 1 / 0)
        bad.wait()
        zero = g.spawn(late)
        other = g.spawn(forever)
        wait_parked(zero)
        assert not other.cancelled
        gate.set()
    assert g.completed is zero
    assert zero.result == 0
    assert other.cancelled


def test_wait_object_with_only_none_results_does_not_raise() -> None:
    with threado.ThreadGroup(wait=object) as g:
        g.spawn(lambda: None)
    assert g.completed is None


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


def test_wait_none_cancels_all_threads_at_the_end_of_the_block() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with threado.ThreadGroup(wait=None) as g:
        t = g.spawn(worker)
        wait_parked(t)
    assert t.cancelled
    assert cleaned.is_set()
    assert g.exceptions == []


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


def test_body_exception_is_not_shown_twice() -> None:
    with pytest.raises(ExceptionGroup) as info:
        with ThreadGroup():
            raise RuntimeError("body")
    assert info.value.__suppress_context__


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


def test_ordinary_body_exception_joins_the_failures_after_threads_are_cleaned_up() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with pytest.raises(ExceptionGroup) as info, threado.ThreadGroup() as g:
        t = g.spawn(worker)
        wait_parked(t)  # before the failure, which cancels it
        failing = g.spawn(lambda: NOTHING[0])
        failing.wait()
        raise ValueError("body")
    assert cleaned.is_set()
    assert t.cancelled
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]


@pytest.mark.parametrize("exc_type", [ThreadCancelled, KeyboardInterrupt, SystemExit])
def test_base_body_exceptions_propagate_as_themselves_after_cleanup(exc_type: Any) -> None:
    cleaned = threado.Event()
    children: list[threado.Thread[Any]] = []

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    def owner() -> None:
        with threado.ThreadGroup() as g:
            children.append(t := g.spawn(worker))
            wait_parked(t)
            if exc_type is ThreadCancelled:
                threado.current_thread().cancel(blocking=False)
                threado.checkpoint()
            raise exc_type()

    o = threado.spawn(owner)
    o.wait()
    assert type(o.exception) is exc_type
    assert cleaned.is_set()
    assert children[0].cancelled


def test_body_cancelled_by_another_thread_cancels_the_children() -> None:
    cleaned = threado.Event()
    entered = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    def owner() -> None:
        with threado.ThreadGroup() as g:
            wait_parked(g.spawn(worker))
            entered.set()
            forever()

    o = threado.spawn(owner)
    entered.wait()
    wait_parked(o)
    assert o.cancel(timeout=10)
    assert o.cancelled
    assert cleaned.is_set()


def test_thread_system_exit_propagates_as_itself_like_asyncio() -> None:
    with pytest.raises(SystemExit), threado.ThreadGroup() as g:
        g.spawn(sys.exit, 3)


# -- timeouts around a group -----------------------------------------------------------


def test_timeout_after_around_a_group_cancels_threads_and_raises_thread_timeout() -> None:
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.05):
        with threado.ThreadGroup() as g:
            t = g.spawn(forever)
    assert t.cancelled
    assert g.exceptions == []


def test_timeout_while_the_body_blocks_also_raises_thread_timeout() -> None:
    with pytest.raises(ThreadTimeout), threado.timeout_after(0.05):
        with threado.ThreadGroup() as g:
            t = g.spawn(forever)
            forever()
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
        ThreadGroup(wait="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        ThreadGroup(limit=0)
    g = ThreadGroup()
    with pytest.raises(TypeError, match="callable"):
        g.spawn(3)  # type: ignore[arg-type]
    with g:
        pass
    with pytest.raises(RuntimeError, match="once"), g:
        pass  # pragma: no cover


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


def test_limit_must_be_a_positive_integer() -> None:
    with pytest.raises(ValueError, match="limit"):
        ThreadGroup(limit=True)


def test_spawning_into_a_closed_group_raises_runtime_error() -> None:
    with threado.ThreadGroup() as g:
        pass
    with pytest.raises(RuntimeError):
        g.spawn(lambda: None)
    t = threado.spawn(lambda: None)
    t.join()
    with pytest.raises(RuntimeError):
        g.add(t)


def test_children_may_spawn_into_the_group() -> None:
    with threado.ThreadGroup() as g:

        def parent() -> str:
            g.spawn(lambda: "grandchild")
            return "parent"

        g.spawn(parent)
    assert sorted(g.results) == ["grandchild", "parent"]
    assert len(g.threads) == 2


def test_a_child_spawning_while_the_block_exits_is_waited_for() -> None:
    go = threado.Event()
    done: list[str] = []

    def parent() -> None:
        go.wait()
        g.spawn(lambda: done.append("late"))

    with threado.ThreadGroup() as g:
        p = g.spawn(parent)
        wait_parked(p)
        go.set()  # the parent spawns while the block is exiting (or just before)
    assert done == ["late"]


def test_add_rejects_plain_threads_and_adopts_threado_ones() -> None:
    plain = threading.Thread(target=lambda: None)
    plain.start()
    plain.join()
    handle: list[threado.Thread[Any]] = []
    got, done = threading.Event(), threading.Event()

    def body() -> None:
        handle.append(threado.current_thread())
        got.set()
        done.wait()

    pt = threading.Thread(target=body)
    pt.start()
    got.wait()
    try:
        with threado.ThreadGroup() as g:
            with pytest.raises((TypeError, RuntimeError)):
                g.add(plain)  # type: ignore[arg-type]
            with pytest.raises((TypeError, RuntimeError)):
                g.add(handle[0])
            t = threado.spawn(lambda: 7)
            g.add(t)
    finally:
        done.set()
        pt.join()
    assert g.threads == [t]
    assert g.results == [7]


def test_group_start_failure_forgets_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = threading.Thread.start

    def failing_start(self: threading.Thread) -> None:
        if self.name == "nope":
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", failing_start)
    with threado.ThreadGroup(limit=1) as g:
        with pytest.raises(RuntimeError):
            g.spawn(lambda: None, name="nope")
        t = g.spawn(lambda: 5)  # the slot came back
    assert g.threads == [t]
    assert g._slots is not None
    assert g._slots.value == 1


def test_group_spawn_interrupted_after_start_keeps_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C in Thread.start()'s wait, once the new thread has begun: the
    # thread runs, so the group keeps it (it cannot outlive the block) and
    # its end gives back its slot exactly once.
    real_start = threading.Thread.start
    began = threading.Event()
    gate = threado.Event()
    handles: list[threado.Thread[Any]] = []

    def start_then_interrupt(self: threading.Thread) -> None:
        real_start(self)
        if self.name == "victim":
            began.wait()
            raise KeyboardInterrupt  # Ctrl-C while start() waits for _started

    def body() -> None:
        handles.append(threado.current_thread())
        began.set()
        gate.wait()

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    g = threado.ThreadGroup(limit=1)
    try:
        with g:
            with pytest.raises(KeyboardInterrupt):
                g.spawn(body, name="victim")
            g.cancel_remaining()  # reaches the victim only if the group kept it
        outlived = handles[0].is_alive()
    finally:
        gate.set()
        for t in threading.enumerate():
            if t.name == "victim":
                t.join(timeout=10)
    assert g._slots is not None
    problems = []
    if outlived:
        problems.append("a thread of the group outlived its block")
    if g._slots.value > 1:
        problems.append(f"limit=1 but {g._slots.value} slots free: released twice")
    assert not problems, problems
    assert g.threads == handles
    assert handles[0].cancelled


def test_group_spawn_interrupted_before_the_thread_runs_forgets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ctrl-C in start() before the new thread's bootstrap got going: the
    # spawner takes the launch token first, so the thread never runs its
    # function and the group forgets it (its slot comes back once).
    real_start = threading.Thread.start
    real_run = threading.Thread.run
    decided = threading.Event()
    ran: list[str] = []

    def start_then_interrupt(self: threading.Thread) -> None:
        real_start(self)
        if self.name == "victim":
            raise KeyboardInterrupt

    def run_when_decided(self: threading.Thread) -> None:
        if self.name == "victim":
            decided.wait()
        real_run(self)

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    monkeypatch.setattr(threading.Thread, "run", run_when_decided)
    with threado.ThreadGroup(limit=1) as g:
        with pytest.raises(KeyboardInterrupt):
            g.spawn(ran.append, "victim ran", name="victim")
        decided.set()
        t = g.spawn(ran.append, "second ran")  # the slot came back
    for plain in threading.enumerate():
        if plain.name == "victim":
            plain.join(timeout=10)
    assert ran == ["second ran"]
    assert g.threads == [t]
    assert g._slots is not None
    assert g._slots.value == 1


@pytest.mark.parametrize("seed", range(3))
def test_group_spawns_interrupted_at_random_points_keep_exactly_the_threads_that_ran(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Ctrl-C before the OS thread starts, or racing its bootstrap for the
    # launch token, or not at all: a thread is a member iff its function
    # ran, nothing outlives the block, and every slot comes back once.
    rng = random.Random(seed)
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        mode = rng.choice(("before", "after", "none")) if self.name.startswith("v-") else "none"
        if mode == "before":
            raise KeyboardInterrupt
        real_start(self)
        if mode == "after":
            raise KeyboardInterrupt

    ran: list[str] = []
    monkeypatch.setattr(threading.Thread, "start", start)
    with threado.ThreadGroup(limit=3) as g:
        for i in range(40):
            try:
                g.spawn(ran.append, f"v-{i}", name=f"v-{i}")
            except KeyboardInterrupt:
                pass
    for plain in threading.enumerate():
        if plain.name.startswith("v-"):
            plain.join(timeout=10)  # a thread that lost the token ends at once
    assert sorted(t.name for t in g.threads) == sorted(ran)
    assert not any(t.is_alive() for t in g.threads)
    assert g._slots is not None
    assert g._slots.value == 3


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


def test_next_done_returns_threads_in_completion_order_then_none() -> None:
    gates = [threado.Event() for _ in range(3)]
    with threado.ThreadGroup() as g:
        ts = [g.spawn(returns_after, gates[i], i) for i in range(3)]
        for t in ts:
            wait_parked(t)
        order = []
        for i in (2, 0, 1):
            gates[i].set()
            order.append(g.next_done())
        assert order == [ts[2], ts[0], ts[1]]
        assert g.next_done() is None
        assert g.next_done(timeout=0) is None


def test_next_done_timeout() -> None:
    with threado.ThreadGroup() as g:
        t = g.spawn(forever)
        wait_parked(t)
        with pytest.raises(TimeoutError):
            g.next_done(timeout=0.01)
        g.cancel_remaining()
        assert g.next_done() is t


def test_next_result_returns_the_next_result() -> None:
    gate = threado.Event()
    with threado.ThreadGroup() as g:
        a = g.spawn(lambda: (gate.wait(), "a")[1])
        wait_parked(a)
        g.spawn(lambda: "b")
        assert g.next_result() == "b"
        gate.set()
        assert g.next_result() == "a"


def test_iteration_yields_threads_in_completion_order() -> None:
    gates = [threado.Event() for _ in range(3)]
    seen = []
    with threado.ThreadGroup() as g:
        ts = [g.spawn(returns_after, gates[i], i) for i in range(3)]
        for t in ts:
            wait_parked(t)
        gates[1].set()
        it = iter(g)
        seen.append(next(it))
        gates[2].set()
        seen.append(next(it))
        gates[0].set()
        seen.extend(it)
    assert seen == [ts[1], ts[2], ts[0]]


def test_join_waits_without_raising_and_the_group_stays_open() -> None:
    gate = threado.Event()
    with pytest.raises(ExceptionGroup), threado.ThreadGroup() as g:
        a = g.spawn(lambda: gate.wait())
        wait_parked(a)
        b = g.spawn(lambda: 1 / 0)
        g.join()
        assert not a.is_alive()
        assert not b.is_alive()
        c = g.spawn(lambda: 3)
        g.join()
        assert c.result == 3


def test_cancel_remaining_cancels_and_waits() -> None:
    cleaned = threado.Event()

    def worker() -> None:
        try:
            forever()
        finally:
            cleaned.set()

    with threado.ThreadGroup() as g:
        t = g.spawn(worker)
        wait_parked(t)
        g.cancel_remaining()
        assert cleaned.is_set()
        assert not t.is_alive()
        assert t.cancelled
    assert g.exceptions == []


def test_cancel_remaining_from_a_child_does_not_hang() -> None:
    code = textwrap.dedent(
        """
        import threado
        def forever():
            threado.Event().wait()
        with threado.ThreadGroup() as g:
            g.spawn(forever)
            def child():
                g.cancel_remaining()
            c = g.spawn(child)
        print("done", c.cancelled or c.exception is None)
        """
    )
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("cancel_remaining() from a child thread hung")
    assert "done" in r.stdout


def test_group_member_join_waits_for_the_others_only() -> None:
    gate = threado.Event()
    order: list[str] = []

    def other() -> None:
        gate.wait()
        order.append("other")

    def member(g: threado.ThreadGroup) -> str:
        g.join()  # must not wait for itself
        order.append("member")
        return "ok"

    with threado.ThreadGroup() as g:
        o = g.spawn(other)
        m = g.spawn(member, g)
        wait_parked(m)
        wait_parked(o)
        gate.set()
    assert m.result == "ok"
    assert order == ["other", "member"]


def test_group_member_cancel_remaining_spares_itself() -> None:
    def sleeper() -> None:
        threado.sleep(60)

    def member(g: threado.ThreadGroup) -> str:
        g.cancel_remaining()
        return "done"

    with threado.ThreadGroup() as g:
        s = g.spawn(sleeper)
        wait_parked(s)
        m = g.spawn(member, g)
    assert m.result == "done"
    assert s.cancelled


def test_two_members_cancel_remaining_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    both_in = threading.Barrier(2)
    real = threado.ThreadGroup._start_cancelling

    def start_cancelling(self: threado.ThreadGroup, spare: Any = None) -> None:
        if spare is not None:
            both_in.wait()  # both past cancel_remaining's entry check
        real(self, spare)

    monkeypatch.setattr(threado.ThreadGroup, "_start_cancelling", start_cancelling)

    def finder(g: threado.ThreadGroup) -> str:
        g.cancel_remaining()  # "I have the answer: stop the others"
        return "found"

    with threado.ThreadGroup() as g:
        m1 = g.spawn(finder, g)
        m2 = g.spawn(finder, g)
        try:
            ended = m1.wait(timeout=2) and m2.wait(timeout=2)
        finally:
            if not (m1.done() and m2.done()):  # unstick them, for the test's sake
                with g._mutex:
                    g._running.pop(m1, None)
                    g._idle.handoff_all_locked(True)
        assert ended, "both members hang in cancel_remaining()"


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
