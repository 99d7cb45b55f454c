"""The program's end: threads at exit, Ctrl-C and SIGTERM, death by signal.

Theory of operation
-------------------

At interpreter exit, ``threading._shutdown`` joins the non-daemon threads in
a wait that Ctrl-C cannot end cleanly: the ``KeyboardInterrupt`` escapes it,
is printed as ignored, and the threads are frozen mid-flight (or, on 3.13,
the wait goes on). So importing threado registers :func:`_join_at_exit` with
``threading._register_atexit``; ``_shutdown`` calls such hooks before its own
join, and ours, registered at import, after every hook registered later
(an executor's shutdown, which stops its workers) and after the main
thread's handle has ended (a thread joining the main thread gets its
answer). It waits for every non-daemon thread that has a threado handle
(spawned, or adopted: plain threads under ``patch()``) in a threado wait, so
a ``KeyboardInterrupt`` ends it: then every threado thread is cancelled
(:func:`cancel_all`), the non-daemon ones get :data:`~threado._threads.EXIT_GRACE`
seconds to run their cleanup (a second Ctrl-C cuts that short), the
interrupt is printed as an uncaught one would be, and the process ends as
after an uncaught ``KeyboardInterrupt``: by ``SIGINT``.

A script cannot ask CPython, from inside finalization, for the death by
``SIGINT`` it gives an uncaught ``KeyboardInterrupt`` (status 130 in a
shell). :func:`die_by_signal` does what matters that is left (the
``atexit`` callbacks, which include threado's daemon-thread cleanup and
failure reports, and flushing the standard streams), then restores the
signal's default action and sends the signal to the process. Skipped: the
interpreter's final teardown of modules, as after ``os._exit``.

The runner (``python -m threado``) handles ``SIGTERM`` like Ctrl-C: its
handler sets :data:`terminating`, cancels every threado thread and
interrupts the main thread. The exit hook then does not wait for anything
but the cancelled threads' cleanup, and the process ends by ``SIGTERM``.

The exit wait announces the ``threading.Thread`` it waits for, not the
handle: like ``threading``'s own join, it is not a wait the deadlock
detector reasons about, so a program hung at exit hangs as it would without
threado (and Ctrl-C ends it cleanly).
"""

from __future__ import annotations

import os
import sys
import threading

from ._errors import Reason
from ._reports import _logger
from ._scopes import shield
from ._state import clock, lookup_state, states
from ._threads import EXIT_GRACE, Thread, _adopted, _registry_lock, _running, handle_of
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["cancel_all", "die_by_signal", "exit_waited", "terminating"]

#: The signal the process must end by, once set (only ever set once): the
#: runner's ``SIGTERM`` handler stores ``SIGTERM`` here. ``None`` otherwise.
terminating: int | None = None

#: Set once the wait for threado's non-daemon threads at exit has returned:
#: from then on, nothing of threado's is left to clean up before dying.
exit_waited = False


def cancel_all(message: str) -> None:
    """Cancel every thread that has a threado handle, but the caller.

    Takes no lock (copies of the registries are single atomic operations),
    so it is safe in a signal handler; it never waits.
    """
    me = lookup_state()
    handles = [*_running, *map(handle_of, list(states.values()))]
    for h in handles:
        if h is not None and h._state is not me:
            h._state.request_cancel(Reason.EXPLICIT, None, message)


def _non_daemons() -> list[Thread[Any]]:
    """The running non-daemon threads that have a threado handle, but the caller's."""
    me = lookup_state()
    with _registry_lock:
        handles = [*_running, *_adopted]
    return [
        h
        for h in handles
        if not h._done._set
        and not h._thread.daemon
        and h._state is not me
        and h._thread is not threading.main_thread()
    ]


def _join_at_exit() -> None:
    """Wait for threado's non-daemon threads at exit; Ctrl-C cancels them.

    See the module docstring. Runs in the main thread, from
    ``threading._shutdown``.
    """
    global exit_waited
    interrupt: KeyboardInterrupt | None = None
    try:
        with shield():  # the main thread may itself be cancelled by now
            while terminating is None:
                pending = _non_daemons()
                if not pending:
                    exit_waited = True
                    return
                for h in pending:
                    h._done.wait_until(None, h._thread)
    except KeyboardInterrupt as exc:
        interrupt = exc
    cancel_all("cancelled at interpreter exit")
    deadline = clock() + EXIT_GRACE
    try:
        with shield():
            for h in _non_daemons():
                if not h._done.wait_until(deadline, h._thread):
                    _logger().warning(
                        "%r did not finish its cleanup within %.1f s of interpreter exit",
                        h,
                        EXIT_GRACE,
                    )
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: the user will not wait any longer
    signum = terminating
    if signum is None:
        import signal

        signum = signal.SIGINT
        if interrupt is not None:  # printed as an uncaught one would be
            tb = interrupt.__traceback__
            if tb is not None:
                tb.tb_next = None  # where: the wait at exit, without threado's parking
            sys.excepthook(type(interrupt), interrupt, tb)
    del interrupt
    die_by_signal(signum)


def die_by_signal(signum: int) -> NoReturn:
    """Run the ``atexit`` callbacks, flush, then die by ``signum``'s default action.

    Called in the main thread, during interpreter exit. If the signal does not
    end the process (it is blocked), exits with status ``128 + signum``, as
    shells report a death by signal.
    """
    import atexit
    import signal

    try:
        atexit._run_exitfuncs()  # each callback's failure is printed, not raised
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except Exception:  # a closed or broken stream: nothing more to do
                pass
        if sys.platform != "win32":
            try:
                signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
            except (OSError, ValueError):  # not the main thread: the default may still hold
                pass
            os.kill(os.getpid(), signum)
        os._exit(128 + signum)


try:
    threading._register_atexit(_join_at_exit)  # type: ignore[attr-defined]
except RuntimeError:
    pass  # imported while the interpreter exits: threading's wait has begun already
