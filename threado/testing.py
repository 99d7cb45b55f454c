"""Helpers for testing code that uses threado.

Tests of concurrent code must order threads by their state, never by
sleeping. :func:`wait_parked` returns once a thread is parked in a threado
wait (registered where its wake-up will come from), so a test can then
release, notify or cancel it knowing exactly which path it exercises.
"""

from __future__ import annotations

from typing import Any

from ._parking import add_watcher, block, remove_watcher
from ._state import clock, get_state
from ._threads import Thread

__all__ = ["wait_parked"]


def wait_parked(thread: Thread[Any], timeout: float = 10.0) -> None:
    """Return once ``thread`` is parked in a threado wait; a blocking point.

    "Parked" means registered with whatever will wake it (a lock's wait
    queue, a sleep's deadline, a thread's end), so any release, notify or
    cancel from now on reaches it.

    Raises:
        TimeoutError: ``thread`` did not park within ``timeout`` seconds.
        RuntimeError: ``thread`` ended without parking, or is the caller.
        ThreadCancelled: the calling thread was cancelled.
    """
    st = thread._state
    me = get_state()
    if st is me:
        raise RuntimeError("a thread cannot wait for itself to park")
    deadline = clock() + timeout
    while True:
        me.check()
        add_watcher(st, me)
        try:
            if st.waiting_on is not None:
                return
            if thread.done():
                raise RuntimeError(f"{thread!r} ended without parking")
            if not block(me, me.effective_deadline(deadline)) and clock() >= deadline:
                raise TimeoutError(f"{thread!r} did not park within {timeout} seconds")
        finally:
            remove_watcher(st, me)
