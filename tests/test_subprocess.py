"""Cancellable subprocesses: threado.subprocess (SPEC §6)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

import threado
import threado.subprocess as tsp
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
        kids = [p for p in os.listdir("/proc") if p.isdigit() and
                open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
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
