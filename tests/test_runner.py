"""The runner, ``python -m threado`` (``threado._runner``).

Programs run in fresh interpreters, with the checkout first on the path.
Signals go to a child once it has printed that its threads are parked, and
are sent again until the child shows it handled one (see ``signals``): the
runner's handlers act on the first one only.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import IO

import pytest
from signals import TIMEOUT
from test_lifecycle import CLEANUP

from threado import _runner

ROOT = Path(__file__).resolve().parent.parent


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), e.get("PYTHONPATH")]))
    return e


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class Program:
    """A child ``python *args`` whose stdout lines and stderr text are read as
    they come, so a test can wait for a line, or for text on stderr."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self.err_changed = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            if is_stdout:
                self.out.append(line)
                self.lines.put(line)
            else:
                with self.err_changed:
                    self.err.append(line)
                    self.err_changed.notify_all()
        if is_stdout:
            self.lines.put("")

    def wait_line(self, prefix: str) -> None:
        """Wait until stdout has a line starting with ``prefix``."""
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            assert line, f"the child ended before printing {prefix!r}: {self.stderr()}"
            if line.startswith(prefix):
                return

    def signal_until(self, signum: int, done: str, *, on_stderr: bool = False) -> None:
        """Send ``signum`` every 0.3 s until ``done`` is on stdout (or stderr)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is None:
                self.proc.send_signal(signum)
            with self.err_changed:
                self.err_changed.wait_for(
                    lambda: done in (self.stderr() if on_stderr else "".join(self.out)),
                    timeout=0.3,  # the re-send interval, nothing else
                )
            if done in (self.stderr() if on_stderr else "".join(self.out)):
                return
            assert time.monotonic() < deadline, f"no {done!r} after {TIMEOUT} s"

    def stderr(self) -> str:
        return "".join(self.err)

    def finish(self, stdin: str = "") -> tuple[int, str, str]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        status = self.proc.wait(timeout=TIMEOUT)
        for reader in self.readers:
            reader.join(timeout=TIMEOUT)
        return status, "".join(self.out), self.stderr()

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in self.readers:
            reader.join()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


# -- the same as python script.py -----------------------------------------------------

SHOW = """
import os, pickle, sys
class Point:  # pickled by reference to __main__: works only if __main__ is this module
    pass
print("argv", sys.argv)
print("file", __file__)
print("path0", sys.path[0])
print("name", __name__, __package__, getattr(__spec__, "name", None), __cached__)
print("loader", type(__loader__).__name__)
print("main is us", sys.modules["__main__"].__dict__ is globals())
print("pickle", type(pickle.loads(pickle.dumps(Point()))).__name__)
print("doc", __doc__)
"""

PROGRAMS = {
    "exit 0": SHOW,
    "sys.exit(3)": "import sys\nprint('leaving')\nsys.exit(3)\n",
    "sys.exit(message)": "import sys\nsys.exit('no way')\n",
    "uncaught exception": "def f():\n    raise ValueError('boom')\n\nprint('before')\nf()\n",
    "KeyboardInterrupt": "raise KeyboardInterrupt\n",
    "main guard": "if __name__ == '__main__':\n    print('guarded')\n",
    "syntax error": "print('never'\n",
    "deadlock": "import threado\nthreado.Event().wait()\n",  # the runner keeps detection on
}


def normal(text: str) -> str:
    """Traceback text without runpy's frames (``python -m`` shows two) and
    without what differs from run to run (addresses, thread idents, times)."""
    lines = text.splitlines(keepends=True)
    text = "".join(line for line in lines if '"<frozen runpy>"' not in line)
    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    text = re.sub(r"ident \d+", "ident ?", text)
    return re.sub(r"\d+\.\d+ s\b", "? s", text)


@pytest.mark.parametrize(
    "name",
    # Two children each: the first program stays in the quick run.
    [name if name == "exit 0" else pytest.param(name, marks=pytest.mark.slow) for name in PROGRAMS],
)
def test_a_script_runs_as_under_python(tmp_path: Path, name: str) -> None:
    (tmp_path / "sub").mkdir()
    script = tmp_path / "sub" / "prog.py"
    script.write_text(PROGRAMS[name])
    args = ["sub/prog.py", "-x", "--foo", "--patch", "--", "-m", "os"]
    plain = run(*args, cwd=tmp_path)
    ours = run("-m", "threado", *args, cwd=tmp_path)
    assert (ours.returncode, ours.stdout) == (plain.returncode, plain.stdout)
    assert normal(ours.stderr) == normal(plain.stderr)
    if name == "exit 0":
        assert f"path0 {script.parent}\n" in ours.stdout
        assert "main is us True\npickle Point\n" in ours.stdout
        assert f"argv {args!r}\n" in ours.stdout
        assert f"file {script}\n" in ours.stdout
    if name == "uncaught exception":
        assert ours.returncode == 1
        assert ours.stderr.endswith("    raise ValueError('boom')\nValueError: boom\n")
        assert "threado" not in ours.stderr  # no runner frame in the traceback
    if name == "KeyboardInterrupt":
        assert ours.returncode == -signal.SIGINT


@pytest.mark.slow
def test_a_module_and_a_package_run_as_under_python_m(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(SHOW)
    (pkg / "mod.py").write_text(SHOW + "raise SystemExit(4)\n")
    for module in ("pkg", "pkg.mod", "nosuchmodule"):
        args = ["-m", module, "-x", "--foo"]
        plain = run(*args, cwd=tmp_path)
        ours = run("-m", "threado", *args, cwd=tmp_path)
        assert (ours.returncode, ours.stdout, ours.stderr) == (
            plain.returncode,
            plain.stdout,
            plain.stderr,
        ), module
    assert "main is us True" in ours.stdout or module == "nosuchmodule"


@pytest.mark.slow
def test_a_directory_and_a_zip_file_run_as_under_python(tmp_path: Path) -> None:
    import zipfile

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text(SHOW)
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as z:
        z.writestr("__main__.py", SHOW)
    for target in ("app", "app.zip"):
        plain = run(target, "-x", cwd=tmp_path)
        ours = run("-m", "threado", target, "-x", cwd=tmp_path)
        assert (ours.returncode, ours.stdout, ours.stderr) == (0, plain.stdout, ""), target


def test_the_console_script_is_declared_and_runs_a_program(tmp_path: Path) -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"] == {"threado": "threado._runner:main"}
    (tmp_path / "prog.py").write_text(SHOW)
    # What the installed `threado` script does: sys.exit(main()), from another
    # directory (its own sys.path[0] is where it is installed).
    plain = run("prog.py", "a", "-b", cwd=tmp_path)
    wrapper = "import sys; from threado._runner import main; sys.exit(main())"
    ours = run("-c", wrapper, "prog.py", "a", "-b", cwd=tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, plain.stdout, "")


# -- usage --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "a script or -m module is required"),
        (["--patch"], "a script or -m module is required"),
        (["--bogus", "x.py"], "unrecognized arguments: --bogus"),
        (["--dump-on", "NOPE", "x.py"], "unknown signal 'NOPE'"),
        (["--dump-on", "KILL", "x.py"], "SIGKILL cannot be used"),
        (["--dump-on", "TERM", "x.py"], "SIGTERM cannot be used"),
        (["--dump-on", "100000", "x.py"], "not a signal number"),
        (["-m"], "expected one argument"),
        (["-"], "not supported"),
    ],
)
def test_bad_usage_exits_with_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _runner.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m threado")
    assert message in err


def test_help_explains_the_options_signals_and_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        _runner.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--patch", "--dump-on SIGNAL", "-m module", "SIGTERM", "SIGQUIT", "Ctrl-C", "143"):
        assert text in out, text


@pytest.mark.slow
def test_a_missing_script_fails_as_under_python(tmp_path: Path) -> None:
    plain = run("missing.py", cwd=tmp_path)
    ours = run("-m", "threado", "missing.py", cwd=tmp_path)
    assert (ours.returncode, ours.stderr) == (plain.returncode, plain.stderr) == (2, plain.stderr)


def test_the_command_line_splits_at_the_program() -> None:
    split = _runner._split
    assert split(["--patch", "s.py", "--patch", "-m", "x"]) == (
        ["--patch"],
        ["s.py", "--patch", "-m", "x"],
    )
    assert split(["--dump-on", "USR1", "-m", "pkg", "-x"]) == (
        ["--dump-on", "USR1", "-m", "pkg"],
        ["-x"],
    )
    assert split(["-mpkg", "a"]) == (["-mpkg"], ["a"])
    assert split(["--", "-odd.py", "a"]) == ([], ["-odd.py", "a"])
    assert _runner._signal_number("usr1") == signal.SIGUSR1
    assert _runner._signal_number("SIGUSR2") == signal.SIGUSR2
    assert _runner._signal_number(str(int(signal.SIGUSR1))) == signal.SIGUSR1
    assert _runner._signal_number("none") is None


# -- --patch ------------------------------------------------------------------------

LEGACY_LIB = """
import queue, time

def nap():
    time.sleep(60)

def take():
    return queue.Queue().get()
"""

DRIVER = """
import time, threado, legacy_lib

start = time.monotonic()
with threado.ignore_after(0.2) as scope:
    with threado.ThreadGroup() as g:
        g.spawn(legacy_lib.nap)
        g.spawn(legacy_lib.take)
print("patched", threado.is_patched())
print("expired", scope.expired)
print("cancelled", [t.cancelled for t in g.threads])
print("quick", time.monotonic() - start < 30)
"""


def test_patch_makes_an_unmodified_library_cancellable(tmp_path: Path) -> None:
    (tmp_path / "legacy_lib.py").write_text(LEGACY_LIB)
    (tmp_path / "driver.py").write_text(DRIVER)
    ours = run("-m", "threado", "--patch", "driver.py", cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == [
        "patched True",
        "expired True",
        "cancelled [True, True]",
        "quick True",
    ]


# -- SIGTERM ------------------------------------------------------------------------

TERM_PROGRAM = (
    CLEANUP
    + r"""
threado.spawn(cleanup, "sleeper", lambda: threado.sleep(600))
threado.spawn(cleanup, "daemon", threado.Event().wait, daemon=True)
plain = [
    threading.Thread(target=cleanup, args=("plain-sleep", lambda: time.sleep(600))),
    threading.Thread(target=cleanup, args=("plain-get", queue.Queue().get)),
]
for t in plain:
    t.start()
for _ in range(4):
    started.acquire()
for h in handles:
    wait_parked(h)
try:
    print("parked", flush=True)  # in the try: SIGTERM may come at once
    for t in plain:
        t.join()
except KeyboardInterrupt:
    os.write(1, b"main: KeyboardInterrupt\n")
    if "--swallow" not in sys.argv:
        raise
finally:
    os.write(1, b"finally main\n")
"""
)


def finished(out: str) -> set[str]:
    return set(re.findall(r"^finally (\S+)$", out, re.MULTILINE))


@pytest.mark.slow
@pytest.mark.parametrize("swallow", [False, True])
def test_sigterm_cancels_every_thread_runs_cleanup_and_dies_by_sigterm(
    tmp_path: Path, swallow: bool
) -> None:
    # Whether the program lets the KeyboardInterrupt escape or ends normally,
    # the process ends by SIGTERM.
    (tmp_path / "prog.py").write_text(TERM_PROGRAM)
    args = ["prog.py", "--swallow"] if swallow else ["prog.py"]
    with Program("-m", "threado", "--patch", *args, cwd=tmp_path) as child:
        child.wait_line("parked")
        child.signal_until(signal.SIGTERM, "finally ")
        status, out, err = child.finish()
    assert finished(out) == {"sleeper", "daemon", "plain-sleep", "plain-get", "main"}, (out, err)
    assert "main: KeyboardInterrupt\n" in out
    assert status == -signal.SIGTERM, (status, err)
    assert err == ""  # no traceback: the process was terminated, not interrupted


LATE_TERM_PROGRAM = """\
import os, signal, sys, threading

runner_handler = signal.getsignal(signal.SIGTERM)


def reporting(signum, frame):
    try:
        runner_handler(signum, frame)
    finally:
        os.write(1, b"handled\\n")


signal.signal(signal.SIGTERM, reporting)


def late_exit_hook():
    # Registered after threado's: runs before threado's exit wait, once the
    # program has ended. It blocks until the test writes a byte.
    os.write(1, b"at exit\\n")
    os.read(0, 1)


threading._register_atexit(late_exit_hook)
"""


@pytest.mark.slow
def test_sigterm_after_the_program_ended_still_dies_by_sigterm(tmp_path: Path) -> None:
    # The SIGTERM comes once the program has ended, before threado's exit
    # wait: there is no program left to interrupt, and a KeyboardInterrupt
    # raised there would abort the interpreter's exit handling (exit status 0).
    (tmp_path / "prog.py").write_text(LATE_TERM_PROGRAM)
    with Program("-m", "threado", "prog.py", cwd=tmp_path) as child:
        child.wait_line("at exit")
        child.signal_until(signal.SIGTERM, "handled")
        status, out, err = child.finish(stdin="x")
    assert status == -signal.SIGTERM, (status, out, err)
    assert err == ""


@pytest.mark.slow
def test_the_legacy_example_stops_cleanly_on_sigterm() -> None:
    # docs/running.rst: python -m threado --patch examples/legacy.py --forever
    with Program("-m", "threado", "--patch", "examples/legacy.py", "--forever", cwd=ROOT) as child:
        child.wait_line("legacy: the workers wait for more jobs")
        child.signal_until(signal.SIGTERM, "worker 0: cleaned up")
        status, out, err = child.finish()
    assert status == -signal.SIGTERM, (out, err)
    for n in range(3):
        assert f"worker {n}: cleaned up" in out
    assert err == ""


# -- thread dumps -------------------------------------------------------------------

DUMP_PROGRAM = """
import sys, threado
from threado.testing import wait_parked

event, jobs = threado.Event(), threado.Queue()

def alpha():
    event.wait()

def beta():
    jobs.get()

threads = [threado.spawn(alpha, name="alpha-worker"), threado.spawn(beta, name="beta-worker")]
for t in threads:
    wait_parked(t)
print("parked", flush=True)
sys.stdin.readline()  # until the test has seen the dump
event.set()
jobs.put(1)
for t in threads:
    t.join()
print("done", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "signum"), [((), signal.SIGQUIT), (("--dump-on", "USR1"), signal.SIGUSR1)]
)
def test_the_dump_signal_writes_a_thread_dump_and_the_program_carries_on(
    tmp_path: Path, option: tuple[str, ...], signum: int
) -> None:
    (tmp_path / "prog.py").write_text(DUMP_PROGRAM)
    with Program("-m", "threado", *option, "prog.py", cwd=tmp_path) as child:
        child.wait_line("parked")
        child.signal_until(signum, "jobs.get()", on_stderr=True)
        status, out, err = child.finish("go\n")
    assert (status, out) == (0, "parked\ndone\n"), err
    dump = err[: err.index("jobs.get()") + len("jobs.get()")]  # the first dump
    line = DUMP_PROGRAM.splitlines().index(
        "sys.stdin.readline()  # until the test has seen the dump"
    )
    for text in (
        "Thread 'MainThread'",
        f'prog.py", line {line + 1}, in <module>',
        "sys.stdin.readline()",
        "Thread 'alpha-worker'",
        "waiting on <threado.Event",
        "in alpha",
        "event.wait()",
        "Thread 'beta-worker'",
        "waiting on <threado.Queue",
        "in beta",
    ):
        assert text in dump, (text, dump)
    assert "_runner.py" not in dump, dump
    assert "runpy" not in dump, dump
