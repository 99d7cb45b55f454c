"""Synchronous runs on one CPU: pinning the thread given the turn.

``_sync_run`` passes a run's turn from thread to thread; this module holds
the affinity side of it (Linux only): the run's CPU, pinning and unpinning.

Theory of operation
-------------------

Members run one at a time, so a second CPU cannot help them;
but a thread woken on another CPU costs a cross-CPU wake-up (an
inter-processor interrupt to an idle core: tens of microseconds on a VM,
three times a same-CPU switch). So on Linux, with two CPUs or more allowed,
the thread given the turn is pinned to the run's CPU (``sched_setaffinity``
on its native id) by the thread giving it, under the mutex, just before its
baton is released: it is queued on the CPU of the giver, which was woken
there too, and the hand-off is a same-CPU context switch. Its mask, read at
that moment, waits in ``unpin_to``; the thread gives it back to itself as it
wakes, before any code of the program runs. So the program's code never
runs pinned (threads and processes it starts inherit its own mask, and a
mask it sets, or another thread sets for it while it waits, is kept), and a
thread waiting for its turn is not pinned either: a signal handler that
runs in the main thread as it waits runs unpinned, but only until the turn
comes to the main thread: it runs inside the wait, so the pin meant for
the wake-up applies to it until it returns (a window as long as the
handler; not pinning the main thread would close it, at the cost of a
cross-CPU wake-up at each hand-off to it). The giver pins before it
releases the baton: a system call between that release and its own block
would let the kernel switch to the woken thread there, which then waits for
the GIL the giver holds. Pinning a waiting thread is cheap; moving a running
one is not (as costly as the wake-up saved), so a spawned member's thread
is *born* on the run's CPU: a spawner holding the turn pins itself around
``Thread.start()``, and the new thread's first turn gives it the spawner's
mask (unless its mask was set since it began: its native id is known once
``spawn()`` returns, before the thread can tell its run its id). (A signal
handler running in the spawner meanwhile runs pinned too, as one does in
the microseconds between a pin and the wake-up.) A thread that starts
runs one after another (``explore``) keeps its CPU for all of them; threads
starting their first run take the allowed CPUs in turn. If pinning fails
(a cpuset changed), the run stops pinning.

The pieces: :func:`run_cpu` chooses a run's CPU; :func:`pin` (the giver,
under the run's mutex) pins the thread given the turn and returns the mask
it had, which ``_sync_run`` keeps in the member's ``unpin_to`` until the
thread gives itself back with :func:`unpin` as it wakes; :func:`pin_self` and
:func:`pinned_to` serve a spawner starting a thread on the run's CPU, whose
:data:`Birth` travels to the new thread, and :func:`born_mask` tells it at
its first turn which mask is its own. Tests replace :data:`set_affinity` to
record every mask set.
"""

from __future__ import annotations

import _thread
import os

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "Birth",
    "born_mask",
    "get_affinity",
    "pin",
    "pin_id",
    "pin_self",
    "pinned_to",
    "run_cpu",
    "set_affinity",
    "unpin",
]

#: ``os.sched_getaffinity`` / ``os.sched_setaffinity``, or ``None`` (not Linux).
get_affinity: Callable[[int], set[int]] | None = getattr(os, "sched_getaffinity", None)
set_affinity: Callable[[int, Iterable[int]], None] | None = getattr(os, "sched_setaffinity", None)

#: A thread born pinned (see ``Run.start_pinned``): its own mask, and the pin.
Birth = tuple[set[int], set[int]]

_lock = _thread.allocate_lock()  # guards _runs_started
_runs_started = 0
#: The CPU of the last run each thread started (``.cpu``).
_last_cpu = _thread._local()


def pin_id() -> int | None:
    """The calling thread's native id, by which it can be pinned; ``None``
    where threads cannot be pinned."""
    return _thread.get_native_id() if set_affinity is not None else None


def run_cpu() -> set[int] | None:
    """The CPU of a new run, as a mask; ``None``: no pinning (not Linux, or
    one CPU allowed).

    A thread starting runs one after another (``explore``) keeps its CPU:
    it was left there by its last wait, and moving it costs as much as a
    wake-up across CPUs. Threads starting their first run take the allowed
    CPUs in turn, so that runs in parallel do not share one.
    """
    global _runs_started
    if get_affinity is None or set_affinity is None:
        return None
    allowed = sorted(get_affinity(0))
    if len(allowed) < 2:
        return None
    cpu = getattr(_last_cpu, "cpu", None)
    if cpu not in allowed:
        with _lock:
            _runs_started += 1
            n = _runs_started
        cpu = _last_cpu.cpu = allowed[n % len(allowed)]
    return {cpu}


def pin(tid: int, cpu: set[int]) -> set[int] | None:
    """Pin thread ``tid`` to ``cpu``; return the mask it had, or ``None`` if
    that was ``cpu`` already (nothing done).

    Raises:
        OSError: ``cpu`` is not allowed (a cpuset changed).
    """
    get, put = get_affinity, set_affinity
    if get is None or put is None:
        return None
    mask = get(tid)
    if mask == cpu:
        return None
    put(tid, cpu)
    return mask


def pin_self(cpu: set[int]) -> set[int]:
    """Pin the calling thread to ``cpu``; return the mask it had.

    Raises:
        OSError: ``cpu`` is not allowed (or pinning is not possible here).
    """
    get, put = get_affinity, set_affinity
    if get is None or put is None:
        raise OSError("no thread affinity on this platform")
    mask = get(0)
    put(0, cpu)
    return mask


def pinned_to(cpu: set[int]) -> bool:
    """Whether the calling thread's mask is ``cpu``."""
    return get_affinity is not None and get_affinity(0) == cpu


def unpin(mask: set[int]) -> None:
    """Give the calling thread its own affinity ``mask`` back (after a pin)."""
    if set_affinity is not None:
        try:
            set_affinity(0, mask)
        except OSError:
            pass  # the mask is not allowed any more: the kernel's choice


def born_mask(birth: Birth) -> set[int] | None:
    """The mask to give back to the calling thread, born pinned (``birth``:
    its spawner's own mask and the pin), as it waits for its first turn;
    ``None`` if its mask is not the pin any more: someone set it since the
    thread began (its native id is known then), and it keeps that one."""
    mask, pin = birth
    try:
        return mask if pinned_to(pin) else None
    except OSError:
        return None
