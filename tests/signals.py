"""Signals in tests: send again until the target has handled one.

A signal sent to a thread that :func:`threado.testing.wait_parked` reports
as parked can stay unhandled for the whole wait, a CPython limit
(docs/cancellation.rst, "Ctrl-C"): ``wait_parked`` returns once the thread
has *announced* its wait, a few bytecodes before it enters the operating
system's lock wait. A signal that arrives after the interpreter's last
check for signals and before that wait starts only trips a flag (its C
handler does not interrupt the wait), so the Python handler runs when the
wait ends. The sender is woken exactly when the target announces, so under
load the signal often lands in that window.

So a test repeats the signal until the target shows it has handled one,
and the handler acts on its first call only, so that a repeat never
disturbs what the test checks:

* in one process, :class:`Once` wraps the handler and :func:`resend_until`
  repeats the signal until the handler has run;
* for Ctrl-C, a :class:`Child` process calls :func:`interrupt_once` (the
  first SIGINT raises ``KeyboardInterrupt``, later ones are ignored) and
  :meth:`Child.interrupt` repeats SIGINT until the child prints a line or
  exits.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import IO, NoReturn

#: How long the helpers wait for a child or a handler, in seconds.
TIMEOUT = 20.0

#: Source to put first in a ``python -c`` child so that it can import this
#: module (``from signals import ...``).
CHILD_PREAMBLE = f"import sys; sys.path.append({os.path.dirname(os.path.abspath(__file__))!r})\n"

Handler = Callable[[int, FrameType | None], object]


class Once:
    """A signal handler that calls ``handler`` on its first call only.

    Later calls return at once, so a repeated signal never acts twice;
    :attr:`ran` tells the sender that the handler has run.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.ran = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.ran:
            return
        self.ran = True  # first: a signal during the handler finds it set
        self._handler(signum, frame)


def resend_until(
    send: Callable[[], object],
    handler: Once,
    *,
    interval: float = 0.2,
    timeout: float = TIMEOUT,
) -> None:
    """Call ``send`` every ``interval`` seconds until ``handler`` has run.

    Raises :class:`TimeoutError` if it has not run after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    send()
    while not handler.ran:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the signal handler did not run in {timeout} s")
        time.sleep(interval)  # the re-send interval, nothing else
        if not handler.ran:
            send()


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # later SIGINTs never arrive
    raise KeyboardInterrupt


def interrupt_once() -> None:
    """In a child: the first SIGINT raises ``KeyboardInterrupt`` as the
    default handler does, and later ones are ignored."""
    signal.signal(signal.SIGINT, Once(_interrupt))


class Child:
    """A ``python -c code`` child whose output threads read, so that a test
    can wait for its next stdout line with a timeout.

    ``code`` runs after :data:`CHILD_PREAMBLE`. Use it as a context manager:
    leaving kills the child if it still runs and ends the reader threads.
    """

    def __init__(self, code: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD_PREAMBLE + code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._lines: queue.Queue[str] = queue.Queue()  # "" once stdout is closed
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_lines, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_all, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_lines(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def _read_all(self, stream: IO[str]) -> None:
        self._stderr.append(stream.read())

    def readline(self, timeout: float = TIMEOUT) -> str:
        """The child's next stdout line, or ``""`` once its stdout is closed.

        Raises :class:`TimeoutError` if no line comes in ``timeout`` seconds.
        """
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the child printed nothing in {timeout} s") from None
        if not line:
            self._lines.put(line)  # the end stays the end
        return line

    def interrupt(self, *, interval: float = 0.5, timeout: float = TIMEOUT) -> str:
        """Send SIGINT every ``interval`` seconds until the child prints a
        line or exits; return that line (``""`` if it exited)."""
        deadline = time.monotonic() + timeout
        while True:
            self.proc.send_signal(signal.SIGINT)  # nothing once the child has exited
            try:
                return self.readline(timeout=interval)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def finish(self, timeout: float = TIMEOUT) -> tuple[str, str]:
        """Wait for the child to exit; return the rest of its stdout and all
        of its stderr."""
        deadline = time.monotonic() + timeout
        rest: list[str] = []
        while line := self.readline(timeout=max(0.0, deadline - time.monotonic())):
            rest.append(line)
        self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for reader in self._readers:
            reader.join(timeout=max(0.0, deadline - time.monotonic()))
        return "".join(rest), "".join(self._stderr)

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in self._readers:
            reader.join()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
