"""A cancellable drop-in for the :mod:`subprocess` module.

``threado.subprocess.Popen`` is a :class:`subprocess.Popen` whose ``wait``
and ``communicate`` are blocking points, and :func:`run`, :func:`call`,
:func:`check_call` and :func:`check_output` use it. Every other name of the
:mod:`subprocess` module is the standard library's own.

Theory of operation
-------------------

* ``wait`` polls a ``pidfd`` (Linux 5.3+) together with the thread's wake-up
  descriptor: no polling loop, and a cancel interrupts it at once. Where
  there is no ``pidfd``, a helper thread per child waits in ``waitid``
  (without reaping) and the caller waits, cancellably, for it to say the
  child exited; without ``waitid`` either, the standard library's wait.
* ``communicate`` polls the pipes and the wake-up descriptor the same way,
  also in the single-pipe case where the standard library does a plain
  blocking ``read()``.
* No child is left behind: when ``communicate`` is cancelled, or a ``with
  Popen(...)`` block is left by a cancellation (or while the thread has one
  pending), the child is terminated, killed after :data:`KILL_AFTER`
  seconds if it is still running, and reaped, shielded from the
  cancellation, and its pipes are closed. ``run`` builds on both, so a
  cancelled ``run`` leaves neither a running child nor a zombie.
* A thread that has never used threado (nobody can cancel it) takes the
  standard library's path directly.
"""

from __future__ import annotations

import _thread
import os
import select
import subprocess as _subprocess
from types import TracebackType
from typing import Any

from ._errors import ThreadCancelled
from ._fdwait import poll_fds, wait_fd
from ._parking import Latch
from ._scopes import cancel_requested, shield
from ._state import clock, lookup_state

__all__ = ["KILL_AFTER", "Popen", "call", "check_call", "check_output", "run"]

#: Seconds a child gets to exit after SIGTERM before it is killed, when the
#: thread waiting for it is cancelled.
KILL_AFTER = 1.0

_PIPE_BUF: int = getattr(select, "PIPE_BUF", 512)
_READ_SIZE = 32768
_HAS_PIDFD = hasattr(os, "pidfd_open")

# The standard library's own, bound now: threado.patch() replaces them.
_StdPopen = _subprocess.Popen
CompletedProcess = _subprocess.CompletedProcess
CalledProcessError = _subprocess.CalledProcessError
TimeoutExpired = _subprocess.TimeoutExpired
PIPE = _subprocess.PIPE


def __getattr__(name: str) -> Any:
    # Everything this module does not define is the standard library's.
    return getattr(_subprocess, name)


def _buffered(f: Any) -> bytes | None:
    """What a binary pipe stream holds in its buffer, without blocking."""
    fd = f.fileno()
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)  # our read end: nobody else shares it
    try:
        return f.read1(_READ_SIZE)  # type: ignore[no-any-return]
    except BlockingIOError:
        return None
    finally:
        os.set_blocking(fd, was_blocking)


_HAS_WAITID = hasattr(os, "waitid") and hasattr(os, "WNOWAIT")
_watchers: dict[int, Latch] = {}
_watchers_mutex = _thread.allocate_lock()


def _exit_watcher(pid: int) -> Latch:
    """A latch set once child ``pid`` has exited (not reaped: ``WNOWAIT``).

    The fallback where there is no ``pidfd``: one helper thread per child
    waits in ``waitid``, which cannot be interrupted; callers wait for the
    latch, cancellably. A cancelled caller stops waiting at once; the helper
    ends when the child does (the cancelled ``run`` kills it).
    """
    with _watchers_mutex:
        latch = _watchers.get(pid)
        if latch is not None:
            return latch
        latch = _watchers[pid] = Latch()

    def watch() -> None:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass  # reaped by someone else: it has exited all the same
        finally:
            with _watchers_mutex:
                _watchers.pop(pid, None)
            latch.set()

    _thread.start_new_thread(watch, ())
    return latch


def _reset_watchers_in_child() -> None:
    global _watchers_mutex
    _watchers_mutex = _thread.allocate_lock()
    _watchers.clear()  # the parent's children, and its helper threads, are not ours


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_watchers_in_child)


class Popen(_subprocess.Popen):  # type: ignore[type-arg]
    """A :class:`subprocess.Popen` whose ``wait`` and ``communicate`` are cancellable."""

    def _wait(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if lookup_state() is None:
            return super()._wait(timeout)  # type: ignore[misc,no-any-return]
        deadline = None if timeout is None else clock() + timeout
        if not _HAS_PIDFD:
            if not _HAS_WAITID:
                return super()._wait(timeout)  # type: ignore[misc,no-any-return]
            if not _exit_watcher(self.pid).wait_until(deadline, self):
                raise TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
            return super()._wait(None)  # type: ignore[misc,no-any-return]  # exited: reaps at once
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:  # already reaped elsewhere, or no permission
            return super()._wait(timeout)  # type: ignore[misc,no-any-return]
        try:
            if not wait_fd(pidfd, select.POLLIN, deadline, self):
                raise TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
        finally:
            os.close(pidfd)
        return super()._wait(None)  # type: ignore[misc,no-any-return]  # exited: reaps at once

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """``Popen.communicate``, cancellable (a blocking point).

        A cancelled ``communicate`` terminates (then kills) and reaps the
        child and closes its pipes before the cancellation propagates.
        """
        if lookup_state() is None:
            return super().communicate(input, timeout)
        me: Any = self
        if me._communication_started and input:
            raise ValueError("Cannot send input after starting communication")
        endtime = None if timeout is None else clock() + timeout
        try:
            if (
                timeout is None
                and not me._communication_started
                and self.stdout is None
                and self.stderr is None
                and (input is None or len(input) <= _PIPE_BUF)
            ):
                # The stdlib's own path for stdin alone: one write that an
                # empty pipe takes whole without blocking, then wait(), which
                # is ours (cancellable).
                return super().communicate(input)
            return self._communicate_cancellable(input, endtime, timeout)
        except ThreadCancelled:
            self._stop()
            raise
        finally:
            me._communication_started = True

    def _communicate_cancellable(
        self, input: Any, endtime: float | None, orig_timeout: float | None
    ) -> tuple[Any, Any]:
        # The stdlib's private helpers (input encoding, output kept across a
        # timeout, newline translation), which typeshed does not describe.
        me: Any = self
        stdin, stdout_f, stderr_f = me.stdin, me.stdout, me.stderr
        if stdin and not me._communication_started:
            try:
                stdin.flush()
            except BrokenPipeError:
                pass
            if not input:
                try:
                    stdin.close()
                except BrokenPipeError:
                    pass
        if not me._communication_started:
            # Output so far, kept across a TimeoutExpired as the stdlib does.
            me._fileobj2output = {}
            for f in (stdout_f, stderr_f):
                if f:
                    me._fileobj2output[f] = []
                    if not f.closed and hasattr(f, "read1"):
                        # Bytes an earlier readline() left in the stream's
                        # buffer come first (the loop below reads the pipe).
                        chunk = _buffered(f)
                        if chunk:
                            me._fileobj2output[f].append(chunk)
        me._save_input(input)
        data: Any = memoryview(me._input) if me._input else None
        files: dict[int, Any] = {}
        fds: dict[int, int] = {}
        if stdin and data is not None and not stdin.closed:
            files[stdin.fileno()] = stdin
            fds[stdin.fileno()] = select.POLLOUT
        for f in (stdout_f, stderr_f):
            if f and not f.closed:
                files[f.fileno()] = f
                fds[f.fileno()] = select.POLLIN
        while fds:
            ready = poll_fds(fds, endtime, self)
            if not ready:
                me._check_timeout(
                    endtime,
                    orig_timeout,
                    me._fileobj2output.get(stdout_f),
                    me._fileobj2output.get(stderr_f),
                    skip_check_and_raise=True,
                )
            for fd, _ in ready:
                f = files[fd]
                if f is stdin:
                    offset = me._input_offset
                    try:
                        offset += os.write(fd, data[offset : offset + _PIPE_BUF])
                    except BrokenPipeError:
                        offset = len(data)
                    me._input_offset = offset
                    if offset >= len(data):
                        del fds[fd]
                        stdin.close()
                else:
                    chunk = os.read(fd, _READ_SIZE)
                    if chunk:
                        me._fileobj2output[f].append(chunk)
                    else:
                        del fds[fd]
                        f.close()
        self.wait(timeout=me._remaining_time(endtime))
        out: Any = None
        err: Any = None
        if stdout_f is not None:
            out = b"".join(me._fileobj2output[stdout_f])
        if stderr_f is not None:
            err = b"".join(me._fileobj2output[stderr_f])
        if me.text_mode:
            if out is not None:
                out = me._translate_newlines(out, stdout_f.encoding, stdout_f.errors)
            if err is not None:
                err = me._translate_newlines(err, stderr_f.encoding, stderr_f.errors)
        return out, err

    def _stop(self) -> None:
        """Terminate, then kill, and reap the child; close its pipes. Shielded."""
        with shield():
            if self.returncode is None:
                try:
                    self.terminate()
                    self.wait(timeout=KILL_AFTER)
                except TimeoutExpired:
                    self.kill()
                    self.wait()
                except ProcessLookupError:
                    self.wait()
            for f in (self.stdin, self.stdout, self.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.returncode is None and (
            (exc_type is not None and issubclass(exc_type, ThreadCancelled)) or cancel_requested()
        ):
            self._stop()
        try:
            # Closes the pipes and waits for the child: a blocking point.
            super().__exit__(exc_type, value, traceback)
        except ThreadCancelled:
            self._stop()  # cancelled while waiting: stop and reap, no zombie
            raise


Popen.__module__ = "threado.subprocess"


def run(
    *popenargs: Any,
    input: Any = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    **kwargs: Any,
) -> _subprocess.CompletedProcess[Any]:
    """``subprocess.run``, cancellable: a cancel stops and reaps the child."""
    if input is not None:
        if kwargs.get("stdin") is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        kwargs["stdin"] = PIPE
    if capture_output:
        if kwargs.get("stdout") is not None or kwargs.get("stderr") is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output.")
        kwargs["stdout"] = PIPE
        kwargs["stderr"] = PIPE
    with Popen(*popenargs, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except TimeoutExpired:
            process.kill()
            # As the stdlib on POSIX: communicate() put the output so far on
            # the exception; waiting for the pipes' end would also wait for
            # any grandchild that holds them.
            process.wait()
            raise
        except BaseException:
            process.kill()
            raise
        retcode = process.poll()
        if check and retcode:
            raise CalledProcessError(retcode, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, retcode, stdout, stderr)  # type: ignore[arg-type]


def call(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> int:
    """``subprocess.call``, cancellable."""
    with Popen(*popenargs, **kwargs) as p:
        try:
            return p.wait(timeout=timeout)
        except BaseException:
            p.kill()
            raise


def check_call(*popenargs: Any, **kwargs: Any) -> int:
    """``subprocess.check_call``, cancellable."""
    retcode = call(*popenargs, **kwargs)
    if retcode:
        cmd: Any = kwargs.get("args", popenargs[0] if popenargs else None)
        raise CalledProcessError(retcode, cmd)
    return 0


def check_output(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """``subprocess.check_output``, cancellable."""
    if "stdout" in kwargs:
        raise ValueError("stdout argument not allowed, it will be overridden.")
    if "input" in kwargs and kwargs["input"] is None:
        text = any(kwargs.get(k) for k in ("universal_newlines", "text", "encoding", "errors"))
        kwargs["input"] = "" if text else b""
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout
