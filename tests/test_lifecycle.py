"""The program's end (``threado._lifecycle``): Ctrl-C while the interpreter waits
for non-daemon threads at exit, with and without the runner.

Each test runs a fresh interpreter. The child announces (prints a line) once
its main thread is parked in the exit wait, and the parent sends SIGINT
again until a worker's ``finally`` block reports (see ``signals``): the
child's first SIGINT raises ``KeyboardInterrupt``, later ones are ignored.
"""

from __future__ import annotations

import signal
import textwrap

import pytest
from signals import Child

#: Child code: ``announce_exit_wait()`` starts a daemon thread that prints
#: "exiting" once the main thread is parked in threado's wait for the
#: non-daemon threads at exit (it announces the ``threading.Thread`` it waits
#: for). Ordered by state: it blocks until the main thread parks.
ANNOUNCE = """
import threading, threado
from threado._parking import add_watcher, block, remove_watcher
from threado._state import get_state

def announce_exit_wait():
    st = threado.current_thread()._state

    def announce():
        me = get_state()
        while True:
            add_watcher(st, me)
            try:
                if isinstance(st.waiting_on, threading.Thread):
                    print("exiting", flush=True)
                    return
                block(me, None)
            finally:
                remove_watcher(st, me)

    threado.spawn(announce, name="announcer", daemon=True)
"""

#: Child code: ``cleanup(name, block)`` runs ``block()`` in a thread that
#: registers its handle in ``handles`` (and releases ``started``) first, and
#: reports "finally <name>" (in one write) as it ends.
CLEANUP = r"""
import os, queue, sys, threading, time, threado
from threado.testing import wait_parked

handles = []
started = threado.Semaphore(0)

def cleanup(name, block):
    handles.append(threado.current_thread())
    started.release()
    try:
        block()
    finally:
        os.write(1, f"finally {name}\n".encode())  # one write: threads end at once
"""

#: Workers of every kind, blocked for good, each reporting its cleanup.
WORKERS = (
    CLEANUP
    + r"""
from signals import interrupt_once

interrupt_once()
threado.patch()
threado.spawn(cleanup, "sleeper", lambda: threado.sleep(600), name="sleeper")
threado.spawn(cleanup, "waiter", threado.Event().wait, name="waiter")
threado.spawn(cleanup, "daemon", threado.Event().wait, name="daemon", daemon=True)
# Plain threads, adopted by patch(): their waits are threado's too.
threading.Thread(target=cleanup, args=("plain-sleep", lambda: time.sleep(600))).start()
threading.Thread(target=cleanup, args=("plain-get", queue.Queue().get)).start()
for _ in range(5):
    started.acquire()
for h in handles:
    wait_parked(h)
announce_exit_wait()
print("main: done", flush=True)
"""
)

NAMES = {"sleeper", "waiter", "daemon", "plain-sleep", "plain-get"}


def finished(out: str) -> set[str]:
    return {line.split()[1] for line in out.splitlines() if line.startswith("finally ")}


def ctrl_c_at_exit(code: str) -> tuple[int, str, str]:
    """Run ``code``, Ctrl-C it once it waits at exit; return (status, stdout, stderr)."""
    with Child(code) as child:
        lines = [child.readline()]
        while lines[-1] and not lines[-1].startswith("exiting"):
            lines.append(child.readline())
        assert lines[-1].startswith("exiting"), lines
        lines.append(child.interrupt())
        out, err = child.finish()
        return child.proc.returncode, "".join(lines) + out, err


@pytest.mark.slow
def test_ctrl_c_at_exit_cancels_non_daemon_threads_and_dies_by_sigint() -> None:
    status, out, err = ctrl_c_at_exit(ANNOUNCE + WORKERS)
    assert finished(out) == NAMES, (out, err)
    assert status == -signal.SIGINT, (status, out, err)
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert "_join_at_exit" in err  # where it was waiting, without threado's parking frames
    assert "_parking" not in err, err


def test_exit_without_ctrl_c_waits_for_non_daemon_threads() -> None:
    code = """
        import threado
        gate = threado.Event()
        def worker():
            try:
                gate.wait()
            finally:
                print("worker: finally", flush=True)
        t = threado.spawn(worker)
        threado.testing.wait_parked(t)
        threado.spawn(gate.set, daemon=True)  # sets it while the main thread may be exiting
        print("main: done", flush=True)
    """
    with Child(textwrap.dedent(code)) as child:
        out, err = child.finish()
    assert child.proc.returncode == 0, err
    assert "worker: finally" in out, out
    assert err == ""


@pytest.mark.slow
def test_ctrl_c_at_exit_after_an_uncaught_exception_still_dies_by_sigint() -> None:
    code = (
        ANNOUNCE
        + r"""
import os, threado
from signals import interrupt_once
interrupt_once()
def worker():
    try:
        threado.Event().wait()
    finally:
        os.write(1, b"finally worker\n")
threado.testing.wait_parked(threado.spawn(worker))
announce_exit_wait()
raise ValueError("the program failed")
"""
    )
    status, out, err = ctrl_c_at_exit(code)
    assert finished(out) == {"worker"}
    assert status == -signal.SIGINT
    assert "ValueError: the program failed" in err
    assert err.rstrip().endswith("KeyboardInterrupt")


@pytest.mark.slow
def test_ctrl_c_at_exit_under_the_runner(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The runner adds nothing to Ctrl-C at exit: the same hook does it.
    script = tmp_path_factory.mktemp("runner") / "prog.py"
    script.write_text(ANNOUNCE + WORKERS.replace("threado.patch()\n", ""))
    code = (
        "import sys\n"
        f"sys.argv = ['threado', '--patch', {str(script)!r}]\n"
        "from threado._runner import main\n"
        "main()\n"
    )
    status, out, err = ctrl_c_at_exit(code)
    assert finished(out) == NAMES, (out, err)
    assert status == -signal.SIGINT, (status, err)
    assert err.rstrip().endswith("KeyboardInterrupt"), err
