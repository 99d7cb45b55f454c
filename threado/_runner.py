"""The runner: ``python -m threado [options] (script.py | -m module) [args...]``.

It runs a program as ``__main__`` exactly as ``python script.py`` or
``python -m module`` would, with threado's program-wide services around it:
``--patch`` (:func:`threado.patch` before the program starts), ``SIGTERM``
handled like Ctrl-C, and a thread dump on ``SIGQUIT``.

Theory of operation
-------------------

*Running as Python would.* ``sys.argv`` becomes ``[script, *args]`` (for
``-m``, runpy puts the module's file first, as Python does); ``sys.path[0]``
becomes the script's real directory, or the working directory for ``-m``
(unless ``-P``/``PYTHONSAFEPATH`` says not to add it). The program runs in a
fresh module that becomes ``sys.modules["__main__"]`` for good, so pickling,
``multiprocessing`` and ``import __main__`` see the program, also while its
threads outlive its last line. A script is compiled under its absolute path
and runs with the ``__file__``, ``__loader__`` and ``__spec__`` Python gives
one; ``-m``, a directory or a zip file goes through
``runpy._run_module_as_main``, the function behind ``python -m`` (as
``pdb`` and ``cProfile`` use runpy). An uncaught exception escapes with its
traceback cut down to the program's own frames (runpy's outermost ones stay,
as under ``python -m``), so CPython prints it, exits with status 1, and for
a ``KeyboardInterrupt`` ends by ``SIGINT``; ``SystemExit`` codes pass
through untouched.

*SIGTERM* (installed only if its disposition is the default, as Python
does for ``SIGINT``): the first one sets ``_lifecycle.terminating``,
cancels every threado thread (:func:`threado._lifecycle.cancel_all`, which
takes no lock) and raises ``KeyboardInterrupt`` in the main thread, as
Ctrl-C does. Whatever the program does with it, the exit hook in
``_lifecycle`` then cancels what is left, gives the threads their grace
period to clean up, runs the ``atexit`` callbacks and ends the process by
``SIGTERM``. Later ones are ignored while that runs; one that arrives after
the exit hook has finished kills at once, by the default action.

*Thread dumps*: the handler only starts a thread (``_thread``'s, which takes
no Python-level lock the interrupted code could hold) that writes
:func:`threado.dump`'s text to ``stderr``, leaving itself out; the program
carries on. Snapshots leave out the outermost frames that only start the
program (runpy's and the runner's, see ``_introspect``), so stacks, dumps
and ``Deadlock`` reports start at the program, as without the runner.

Both handlers only end waits by raising or cancelling (never by making
progress possible), so the deadlock detector does not count them as
handlers that could wake a wait.
"""

from __future__ import annotations

import _thread
import argparse
import builtins
import io
import os
import runpy
import signal
import sys
import types
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Final

from . import _lifecycle
from ._introspect import format_snapshots, threads
from ._patch import patch

__all__ = ["main"]

_DESCRIPTION = """\
Run a Python program as `python script.py` or `python -m module` would
(same sys.argv, sys.path[0], __file__, exit status and tracebacks), with
threado around it:

  SIGTERM    is handled like Ctrl-C: every threado thread is cancelled, its
             cleanup (finally blocks, with exits) runs, and the main thread
             gets a KeyboardInterrupt; then the process ends by SIGTERM
             (status 143 in a shell), as a killed process does.
  Ctrl-C     while the interpreter waits for non-daemon threado threads at
             exit cancels them, runs their cleanup, and ends the process as an
             uncaught KeyboardInterrupt does (by SIGINT: status 130).
  SIGQUIT    (Ctrl-\\) writes a dump of every thread to stderr: its name,
             what it waits on, and its stack. The program carries on.
"""

_EPILOG = """\
The program's arguments start at the script (or after -m module, or after
--): options there are the program's.

exit status: the program's own (0, its sys.exit() code, 1 after an uncaught
exception), 2 for bad usage of this command, and death by SIGINT or SIGTERM
as described above.
"""

_RESERVED = {"SIGINT", "SIGTERM", "SIGKILL", "SIGSTOP"}

#: ``--dump-on`` not given: SIGQUIT, where it exists and is not ignored.
_DEFAULT: Final = object()


def _signal_number(text: str) -> int | None:
    """Parse ``--dump-on``: a signal name (``USR1``, ``SIGUSR1``) or number; ``none``."""
    word = text.strip().upper()
    if word == "NONE":
        return None
    try:
        number = int(word) if word.isdigit() else int(signal.Signals[_sig_name(word)])
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown signal {text!r}") from None
    if number not in signal.valid_signals():
        raise argparse.ArgumentTypeError(f"not a signal number on this system: {text!r}")
    try:
        name = signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        name = str(number)
    if name in _RESERVED:
        raise argparse.ArgumentTypeError(f"{name} cannot be used for thread dumps")
    return number


def _sig_name(word: str) -> str:
    return word if word.startswith("SIG") else "SIG" + word


def _parser() -> argparse.ArgumentParser:
    default_dump = "SIGQUIT" if hasattr(signal, "SIGQUIT") else "none"
    # The installed command is "threado"; anything else is python -m threado.
    prog = "threado" if os.path.basename(sys.argv[0]) == "threado" else "python -m threado"
    parser = argparse.ArgumentParser(
        prog=prog,
        usage="%(prog)s [--patch] [--dump-on SIGNAL] (script.py | -m module) [args ...]",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--patch",
        action="store_true",
        help="call threado.patch() before the program starts: time.sleep, threading's "
        "locks, events, conditions and joins, queue, socket, select, ssl and subprocess "
        "become cancellable, in the program and the libraries it imports",
    )
    parser.add_argument(
        "--dump-on",
        metavar="SIGNAL",
        type=_signal_number,
        default=_DEFAULT,
        help=f"the signal that writes a thread dump to stderr (default: {default_dump}); "
        "a name (USR1, SIGUSR1) or a number; 'none' turns dumps off",
    )
    parser.add_argument(
        "-m",
        dest="module",
        metavar="module",
        help="run a library module as a script, as python -m does (the rest of the "
        "command line are its arguments)",
    )
    return parser


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split the command line into the runner's options and the program's part.

    The program starts at the first word that is not an option of ours, or
    right after ``-m module`` / ``--``: everything from there on is the
    program's, options that look like ours included.
    """
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return list(argv[:i]), list(argv[i + 1 :])
        if word == "-m":
            return list(argv[: i + 2]), list(argv[i + 2 :])
        if word.startswith("-m") and not word.startswith("--"):
            return list(argv[: i + 1]), list(argv[i + 1 :])
        if word == "--dump-on":
            i += 2
            continue
        if not word.startswith("-") or word == "-":
            return list(argv[:i]), list(argv[i:])
        i += 1
    return list(argv), []


def main(argv: Sequence[str] | None = None) -> None:
    """Run the program named on the command line (``sys.argv[1:]`` by default).

    Returns when the program ended normally; raises its ``SystemExit`` or
    uncaught exception otherwise (``SystemExit(2)`` for bad usage).
    """
    ours, program = _split(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    options = parser.parse_args(ours)
    if options.module is None:
        if not program:
            parser.error("a script or -m module is required")
        target, args = program[0], program[1:]
        if target == "-":
            parser.error("reading the program from stdin is not supported: name a script")
    else:
        target, args = options.module, program
    if options.patch:
        patch()
    _install_handlers(options.dump_on)
    try:
        if options.module is not None:
            _run_module(target, args)
        else:
            _run_path(target, args)
    except BaseException as exc:
        exc.__traceback__ = _program_frames(exc.__traceback__)
        if isinstance(exc, KeyboardInterrupt) and _lifecycle.terminating is not None:
            return  # SIGTERM: the exit hook cleans up, then the process dies by SIGTERM
        raise
    finally:
        # From here on a SIGTERM has no program to interrupt: raised now, its
        # KeyboardInterrupt would land in the interpreter's exit (threading's
        # _shutdown, which would print it and skip threado's exit hook).
        global _program_done
        _program_done = True


# -- running the program ------------------------------------------------------------

#: The module that ran the runner, kept alive once the program's __main__ replaces it.
_runner_main: types.ModuleType | None = None


def _fresh_main() -> types.ModuleType:
    global _runner_main
    _runner_main = sys.modules.get("__main__")
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return module


def _set_path0(directory: str) -> None:
    if not sys.flags.safe_path:
        if sys.path:
            sys.path[0] = directory
        else:
            sys.path.insert(0, directory)


def _run_path(path: str, args: list[str]) -> None:
    sys.argv[:] = [path, *args]
    if os.path.isdir(path) or _is_zip(path):
        # A directory or zip file with a __main__.py: Python puts it first on
        # the path and runs its __main__ module.
        _set_path0(os.path.abspath(path))
        _fresh_main()
        runpy._run_module_as_main("__main__", alter_argv=False)  # type: ignore[attr-defined]
        return
    filename = os.path.abspath(path)
    try:
        with io.open_code(filename) as f:  # as Python opens a script
            source = f.read()
    except OSError as e:
        print(
            f"{sys.executable}: can't open file {filename!r}: [Errno {e.errno}] {e.strerror}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    _set_path0(os.path.dirname(os.path.realpath(filename)))
    module = _fresh_main()
    from importlib.machinery import SourceFileLoader

    module.__dict__.update(
        __annotations__={},
        __file__=filename,
        __cached__=None,
        __loader__=SourceFileLoader("__main__", filename),
        __spec__=None,
        __package__=None,
    )
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:  # printed as Python prints it: no traceback
        exc.__traceback__ = None
        sys.excepthook(type(exc), exc, None)
        raise SystemExit(1) from None
    exec(code, module.__dict__)


def _run_module(name: str, args: list[str]) -> None:
    sys.argv[:] = ["-m", *args]  # as Python's, while the module is found
    _set_path0(os.getcwd())
    _fresh_main()
    runpy._run_module_as_main(name)  # type: ignore[attr-defined]  # sets sys.argv[0]


def _is_zip(path: str) -> bool:
    import zipfile

    return os.path.isfile(path) and zipfile.is_zipfile(path)


def _runner_files() -> frozenset[str]:
    """The files whose frames lead to the program: the runner's and runpy's."""
    here = os.path.dirname(os.path.abspath(__file__))
    files = (__file__, os.path.join(here, "__main__.py"), str(runpy.__file__))
    return frozenset({"<frozen runpy>", *(os.path.normcase(os.path.abspath(f)) for f in files)})


def _program_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without its leading entries in the runner or runpy."""
    ours = _runner_files()
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename not in ours and os.path.normcase(os.path.abspath(filename)) not in ours:
            break
        tb = tb.tb_next
    return tb


# -- signals ------------------------------------------------------------------------


def _install_handlers(dump_on: object) -> None:
    """Handle SIGTERM and the dump signal; as Python does for SIGINT, a signal
    that the parent made ignored stays ignored (a ``--dump-on`` given
    explicitly is installed whatever was there)."""
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    if dump_on is _DEFAULT:
        quit_signal = getattr(signal, "SIGQUIT", None)
        if quit_signal is not None and signal.getsignal(quit_signal) == signal.SIG_DFL:
            signal.signal(quit_signal, _on_dump_signal)
    elif isinstance(dump_on, int):
        signal.signal(dump_on, _on_dump_signal)


#: Set once the program has ended (normally or not), before the interpreter exits.
_program_done = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _lifecycle.exit_waited:
        # threado's cleanup at exit is over: die now, as without a handler.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _lifecycle.terminating is not None:
        return  # the first one is being handled; its cleanup is bounded
    _lifecycle.terminating = signum
    _lifecycle.cancel_all("cancelled by SIGTERM")
    if not _program_done:
        # Interrupt the program as Ctrl-C would. Once it has ended, the exit
        # hook (waiting, or still to come) sees ``terminating`` and does the rest.
        raise KeyboardInterrupt


def _on_dump_signal(signum: int, frame: FrameType | None) -> None:
    _thread.start_new_thread(_write_dump, ())


def _write_dump() -> None:
    """Write :func:`threado.dump`'s text to stderr, without this thread."""
    try:
        me = _thread.get_ident()
        sys.stderr.write(format_snapshots([s for s in threads() if s.ident != me]) + "\n")
        sys.stderr.flush()
    except BaseException:  # a dump must never take the program down
        pass
