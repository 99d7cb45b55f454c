"""Run every script in ``examples/``, and the README's example, as users would.

Each runs in a fresh interpreter (``sys.executable``, warnings as errors) with
the checkout first on ``sys.path``, must exit with status 0 and print nothing
on stderr, and must print the lines that show it did what the docs say.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Lines each example must print (each is a prefix of some output line). An
# example without an entry still has to print "<name> finished".
EXPECTED: dict[str, list[str]] = {
    "demo.py": [
        "worker: finally block ran",
        "main: cancel() returned True after ",
        "main: join() raised ThreadError caused by ThreadCancelled(",
        "main: caught ThreadTimeout after ",
        "main: ignore_after block left, expired=True",
        "main: a block that finished in time has expired=False",
    ],
    "cpu_timeout.py": [
        "timeout: expired=True after 0.",
        "cancel: ended=True, cancelled=True, locked=False",
        "group: answer=168, slow one cancelled=True",
    ],
    "timeouts.py": [
        "inner block raised ThreadTimeout: inner.expired=True",
        "outer block carries on: outer.expired=False",
        "outer block raised ThreadTimeout: outer.expired=True, inner.expired=False",
        "in time: 'slept 0.01 s'",
        "ignore_after, too slow: None",
        "timeout_after, too slow: ThreadTimeout",
        "the deadline stopped the steps early: True, expired=True",
    ],
    "threads.py": [
        "results: [0, 1, 4, 9, 16]",
        "with a keyword argument: 10",
        "join() raised ThreadError; its __cause__ is ValueError('no such file')",
        "the loop was stopped by its deadline: expired=True",
        "worker: shielded cleanup finished",
        "main: cancel() returned True; cancelled=True",
    ],
    "sync.py": [
        "main: <locked threado.Lock object locked by holder (ident ",
        "waiter: cancelled while waiting; the with block never ran",
        "main: waiter cancelled, the holder still has the lock: locked=True",
        "main: holder cancelled, its with block released the lock: locked=False",
        "consumer: cancelled mid-wait, lock held again: True",
        "main: consumer ended, cancelled=True, locked=False",
        "consumer: got 'job-1'",
        "consumer: the cancel fired at the next blocking point",
        "main: consumer cancelled=True, items left=[]",
        "main: acquire(timeout=0.1) returned False: both slots are busy",
        "main: job 2 cancelled while waiting for a slot: cancelled=True",
        "main: every permit is back: value=2",
        "main: one release too many raised ValueError: Semaphore released too many times",
        "b: BrokenBarrierError, a party left before everybody arrived",
        "main: a cancelled=True, barrier broken=True",
        "main: after reset(), three parties passed with indices [0, 1, 2]",
    ],
    "group_worker_pool.py": [
        "main: all 40 items processed: True",
        "main: sum of the squares: 20540",
        "main: every worker ran its cleanup: [0, 1, 2, 3]",
        "main: every worker ended by cancellation: True",
        "main: no failures: []",
    ],
    "group_first_answer.py": [
        "main: g.completed is mirror-d: 'file from mirror-d'",
        "main: cancelled mid-wait: ['mirror-a', 'mirror-b']",
        "main: cleanup ran for: ['mirror-a', 'mirror-b', 'mirror-d']",
        "main: collected, not raised: [ConnectionError('mirror-c: connection refused')]",
        "main: the cache returned None; still racing: True",
        "main: g.completed is database: 'user:42 from the database'",
    ],
    "group_batch_timeout.py": [
        "main: the batch raised ThreadTimeout after ",
        "main: finished: {'job-0': 0, 'job-1': 10, 'job-3': 30, 'job-4': 40, 'job-6': 60}",
        "main: cancelled: ['job-2', 'job-5', 'job-7']",
        "main: never started: ['job-8', 'job-9']",
        "main: still running: []",
    ],
    "find_the_race.py": [
        "explore: money appeared or vanished: ",
        "  note: explore: failed with seed=",
        "replay 1 with seed=",
        "replay 3 with seed=",
        "with the lock, every schedule passed: exhausted=True after ",
    ],
    "deadlock.py": [
        "deadlock: 'philosopher-",
        "  waiting on <locked threado.RLock object owner=philosopher-",
        "  holds <locked threado.RLock object owner=philosopher-",
        "      with right:  # no timeout: without detection, this waits forever",
        "main: exactly one philosopher raised Deadlock: True",
        "main: the report names all five: True",
        "main: the others ate: True",
        "main: forks still taken: []",
    ],
    "group_philosophers.py": [
        *(f"philosopher {i}: cancelled" for i in range(5)),
        "main: the timeout expired: True",
        "main: philosophers still at the table: []",
        "main: forks still taken: []",
        *(f"philosopher {i}: ate" for i in range(1, 5)),
        "main: failures: []",
    ],
    "supervisor.py": [
        "supervisor: socket says b'status?'",
        "supervisor: child exited with status 0",
        "supervisor: worker finished with 499500",
        "supervisor: SIGTERM received (1x)",
        "supervisor: timer fired: stop watching",
        "supervisor finished",
    ],
    "io_and_patching.py": [
        "server: read 'GET /report HTTP/1.1', and will never answer",
        "main: cancel() returned True",
        "main: the downloader ended with ThreadCancelled: cancelled=True",
        "main: the request raised ThreadTimeout after ",
        "main: a child is running: True",
        "main: cancel() returned True, runner cancelled=True",
        "main: child processes left: False",
        "main: cancel() returned True, reader cancelled=True",
        "main: the next recv gets b'every byte'",
    ],
}

# Each example runs in a couple of seconds at most; this bound is generous so
# that a loaded CI machine does not fail it, while a hang still fails fast.
TIMEOUT = 30


def run_from_checkout(*args: str) -> list[str]:
    """Run ``python -W error *args`` from the checkout; return its output lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-W", "error", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def assert_printed(lines: list[str], expected: list[str]) -> None:
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), (
            f"no output line starts with {prefix!r}:\n" + "\n".join(lines)
        )


def test_expectations_name_existing_examples() -> None:
    assert set(EXPECTED) <= {p.name for p in EXAMPLES.glob("*.py")}


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_runs(script: Path) -> None:
    lines = run_from_checkout(str(script))
    assert_printed(lines, [*EXPECTED.get(script.name, []), f"{script.stem} finished"])


def test_readme_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", readme, re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, "README.md should hold exactly one Python example"
    lines = run_from_checkout("-c", blocks[0])
    assert lines == ["worker: cleaning up", "cancelled: True", "timed out", "expired: True"]
