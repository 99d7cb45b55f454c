"""Cancellable subprocesses: threado.subprocess (SPEC §6)."""

from __future__ import annotations

import os
import subprocess
import subprocess as stdsubprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers import in_thread, needs_proc, open_fds, outcome, refused_address

import threado
import threado.socket as tsocket
import threado.subprocess as tsp
import threado.subprocess as tsubprocess
from threado.testing import wait_parked

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts children in /proc")


def children() -> list[str]:
    """Our child processes, running or zombie."""
    me = str(os.getpid())
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        found.append(pid)
            except OSError:
                pass
    return found


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    "call",
    [
        lambda: tsp.run(SLEEPER),
        lambda: tsp.run(SLEEPER, capture_output=True, text=True),
        lambda: tsp.run(SLEEPER, input=b"data", stdout=subprocess.PIPE),
        lambda: tsp.check_output(SLEEPER),
        lambda: tsp.call(SLEEPER),
        lambda: tsp.check_call(SLEEPER),
        lambda: tsp.Popen(SLEEPER, stdout=subprocess.PIPE).communicate(),
    ],
)
def test_a_cancelled_call_leaves_no_child_behind(call: Callable[[], Any]) -> None:
    before = children()
    t = threado.spawn(call)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert t.cancelled
    assert children() == before  # neither running nor a zombie


def test_a_cancelled_with_popen_block_stops_and_reaps_the_child() -> None:
    before = children()

    def body() -> None:
        with tsp.Popen(SLEEPER, stdout=subprocess.PIPE) as p:
            p.wait()

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert children() == before


@pytest.mark.slow  # over a second: ``-m "not slow"`` skips it
def test_a_child_that_ignores_sigterm_is_killed() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)"
    )
    before = children()

    def body() -> None:
        with tsp.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) as p:
            assert p.stdout is not None
            p.stdout.readline()  # SIGTERM is ignored from now on
            p.communicate()

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert children() == before


def test_results_are_those_of_the_standard_library() -> None:
    r = tsp.run([sys.executable, "-c", "print('hi')"], capture_output=True, text=True, check=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    assert tsp.check_output(["cat"], input=b"x" * 200_000) == b"x" * 200_000
    assert tsp.call([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    with pytest.raises(subprocess.CalledProcessError):
        tsp.check_call([sys.executable, "-c", "raise SystemExit(2)"])
    with pytest.raises(subprocess.TimeoutExpired):
        tsp.run(SLEEPER, timeout=0.05)
    p = tsp.Popen(SLEEPER)
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=0.02)
    p.kill()
    assert p.wait() == -9


def test_a_timeout_block_around_run() -> None:
    before = children()
    with threado.ignore_after(0.05) as scope:
        tsp.run(SLEEPER)
    assert scope.expired
    assert children() == before


def test_patched_subprocess_run_is_cancellable() -> None:
    code = textwrap.dedent(
        """
        import os, subprocess, sys, threado
        from threado.testing import wait_parked
        threado.patch()
        t = threado.spawn(subprocess.run, [sys.executable, "-c", "import time; time.sleep(60)"])
        wait_parked(t)
        print(t.cancel(timeout=10), t.cancelled)
        kids = []
        for p in os.listdir("/proc"):
            try:  # a process may end between listdir and open
                with open(f"/proc/{p}/stat") as f:
                    if p.isdigit() and f.read().rsplit(")", 1)[1].split()[1] == str(os.getpid()):
                        kids.append(p)
            except OSError:
                pass
        print(kids)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n")[:2] == ["True True", "[]"], out.stderr


def test_a_cancel_while_a_with_block_waits_for_its_child_stops_it() -> None:
    before = children()

    def body() -> None:
        with tsp.Popen(SLEEPER):
            pass  # the block ends; __exit__ waits for the child

    t = threado.spawn(body)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert children() == before


@pytest.mark.skipif(not hasattr(os, "waitid"), reason="needs os.waitid")
def test_without_pidfd_a_wait_is_still_cancellable_and_reaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback for kernels without pidfd: a helper thread waits in
    waitid (without reaping); the caller waits for it, cancellably."""
    monkeypatch.setattr(tsp, "_HAS_PIDFD", False)
    before = children()
    t = threado.spawn(tsp.run, SLEEPER)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert t.cancelled
    assert children() == before  # neither running nor a zombie
    # And a wait that is not cancelled returns the exit status.
    done = threado.spawn(tsp.call, [sys.executable, "-c", "raise SystemExit(3)"])
    assert done.join(timeout=30) == 3
    assert children() == before


# -- matching the standard library -----------------------------------------------------


@pytest.mark.slow  # over a second: ``-m "not slow"`` skips it
def test_run_timeout_raises_as_the_stdlib_and_reaps_the_child() -> None:
    cmd = ["sh", "-c", "echo $$; exec sleep 30"]

    def scenario(mod: Any) -> tuple[Any, ...]:
        with pytest.raises(subprocess.TimeoutExpired) as info:
            mod.run(cmd, capture_output=True, timeout=0.5)
        exc = info.value
        assert exc.stdout is not None
        pid = int(exc.stdout.split()[0])
        return exc.cmd, exc.timeout, pid_gone(pid)

    assert in_thread(scenario, tsubprocess) == scenario(stdsubprocess) == (cmd, 0.5, True)


def test_run_timeout_does_not_wait_for_grandchildren_holding_the_pipes() -> None:
    cmd = ["sh", "-c", "sleep 4 & exec sleep 30"]

    def timed(mod: Any) -> float:
        start = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            mod.run(cmd, capture_output=True, timeout=0.3)
        return time.monotonic() - start

    assert timed(stdsubprocess) < 1.5
    assert in_thread(timed, tsubprocess) < 1.5


def test_communicate_after_readline_keeps_buffered_output() -> None:
    def scenario(mod: Any) -> tuple[bytes, bytes]:
        p = mod.Popen(["printf", "a\\nb\\nc\\n"], stdout=subprocess.PIPE)
        first = p.stdout.readline()
        rest, _ = p.communicate()
        return first, rest

    expected = scenario(stdsubprocess)
    assert expected == (b"a\n", b"b\nc\n")
    assert in_thread(scenario, tsubprocess) == expected


def test_check_output_input_none_with_encoding() -> None:
    def scenario(mod: Any) -> Any:
        return outcome(lambda: mod.check_output(["echo", "hi"], input=None, encoding="utf-8"))

    expected = scenario(stdsubprocess)
    assert expected == ("ok", "hi\n")
    assert in_thread(scenario, tsubprocess) == expected


def test_errors_and_results_match_the_stdlib() -> None:
    py = sys.executable

    def scenario(mod: Any) -> list[Any]:
        def err(f: Callable[[], Any]) -> Any:
            try:
                return ("ok", f())
            except subprocess.CalledProcessError as e:
                return ("cpe", e.returncode, e.cmd, e.output, e.stderr)
            except Exception as e:
                return ("err", type(e), str(e))

        return [
            err(lambda: mod.check_output([py, "-c", "print('o'); raise SystemExit(3)"])),
            err(lambda: mod.check_call(["false"])),
            err(lambda: mod.call(["sh", "-c", "exit 5"])),
            err(lambda: mod.check_output(["cat"], input="text\r\n", text=True)),
            err(lambda: mod.run(["cat"], input=b"x", stdin=subprocess.PIPE)),
            err(lambda: mod.check_output(["true"], stdout=subprocess.PIPE)),
            err(lambda: mod.run(["sh", "-c", "echo e >&2; exit 2"], capture_output=True).stderr),
        ]

    assert in_thread(scenario, tsubprocess) == scenario(stdsubprocess)


def test_communicate_large_input_and_output() -> None:
    data = os.urandom(4_000_000)

    def scenario() -> bool:
        p = tsp.Popen(
            ["sh", "-c", "cat; cat /dev/null >&2"],
            stdin=tsp.PIPE,
            stdout=tsp.PIPE,
            stderr=tsp.PIPE,
        )
        out, err = p.communicate(data, timeout=60)
        return out == data and err == b"" and p.returncode == 0

    assert in_thread(scenario)


# -- cancellation ----------------------------------------------------------------------


def test_a_cancelled_communicate_with_pending_input_reaps_the_child() -> None:
    procs: list[Any] = []

    def scenario() -> None:
        p = tsp.Popen(["sleep", "30"], stdin=tsp.PIPE, stdout=tsp.PIPE)
        procs.append(p)
        p.communicate(b"x" * 10_000_000)

    t = threado.spawn(scenario)
    wait_parked(t)
    assert t.cancel(timeout=10)
    assert t.cancelled
    p = procs[0]
    assert p.returncode is not None
    assert pid_gone(p.pid)
    assert p.stdin.closed
    assert p.stdout.closed


def test_popen_with_block_entered_while_cancelled_leaves_no_child() -> None:
    procs: list[Any] = []

    def scenario() -> None:
        threado.current_thread().cancel(blocking=False)
        with tsp.Popen(["sleep", "30"], stdout=tsp.PIPE) as p:
            procs.append(p)
        threado.sleep(0)  # the cancellation is still pending

    t = threado.spawn(scenario)
    assert t.wait(timeout=10)
    assert t.cancelled
    p = procs[0]
    assert p.returncode == -15
    assert pid_gone(p.pid)
    assert p.stdout.closed


@needs_proc
def test_subprocess_and_socket_churn_leaks_no_descriptor() -> None:
    before = open_fds()

    def churn() -> None:
        for _ in range(3):
            tsp.run(["true"], capture_output=True)
            p = tsp.Popen(["sleep", "30"], stdout=tsp.PIPE)
            with pytest.raises(tsp.TimeoutExpired):
                p.communicate(timeout=0.05)
            p.kill()
            p.communicate()
            a, b = tsocket.socketpair()
            a.close()
            b.close()
            addr = refused_address()
            with pytest.raises(ConnectionRefusedError):
                tsocket.create_connection(addr)

    in_thread(churn)
    assert open_fds() == before
