"""threado: cancellable real OS threads.

Every blocking point of a threado program (a wait on a threado lock, queue,
event, sleep, thread join or ``wait``) is a place where :class:`ThreadCancelled` can
appear, at once, when the thread is cancelled or a timeout expires; ``with``
blocks clean up on the way out. Importing threado patches nothing.

The I/O layer (``threado.socket``, ``select``, ``ssl``, ``subprocess``, and
``wait_readable``/``wait_writable``) is imported on first use (PEP 562):
it loads the standard library's ``socket``, ``ssl``, ``subprocess`` and
``selectors``, which a program that does no I/O through threado should not
pay for at start-up. So are the patching functions (``patch``, ``unpatch``,
``is_patched``, ``get_original``, ``more_magic``), ``wait()`` with its
conditions, ``interruptible``, the executors and ``run_in``, the queues
(``queue``, ``heapq``), ``dump``/``threads`` and ``CancelReason`` (``enum``);
``typing`` is imported for type checkers only (see ``_typing``). The deadlock
detector is on from the start but loads at the first :func:`spawn` or the
first park with no deadline (see ``_park_stand_in``). So ``import threado``
loads threading and threado's core, nothing more.
"""

from . import _lifecycle as _lifecycle  # registers the exit hook (Ctrl-C at exit)
from . import _parking, _typing
from ._condition import Condition as Condition
from ._errors import Deadlock as Deadlock
from ._errors import ThreadCancelled as ThreadCancelled
from ._errors import ThreadError as ThreadError
from ._errors import ThreadTimeout as ThreadTimeout
from ._events import Barrier as Barrier
from ._events import Event as Event
from ._group import ThreadGroup as ThreadGroup
from ._locks import Lock as Lock
from ._locks import RLock as RLock
from ._scopes import CancelScope as CancelScope
from ._scopes import TimeoutScope as TimeoutScope
from ._scopes import cancel_requested as cancel_requested
from ._scopes import checkpoint as checkpoint
from ._scopes import clock as clock
from ._scopes import current_deadline as current_deadline
from ._scopes import ignore_after as ignore_after
from ._scopes import ignore_at as ignore_at
from ._scopes import shield as shield
from ._scopes import sleep as sleep
from ._scopes import timeout_after as timeout_after
from ._scopes import timeout_at as timeout_at
from ._semaphores import BoundedSemaphore as BoundedSemaphore
from ._semaphores import Semaphore as Semaphore
from ._sync_mode import blocking as blocking
from ._threads import Thread as Thread
from ._threads import current_thread as current_thread
from ._threads import run as run
from ._threads import spawn as spawn

if _typing.TYPE_CHECKING:
    from . import select as select
    from . import socket as socket
    from . import ssl as ssl
    from . import subprocess as subprocess
    from . import testing as testing
    from ._asyncio import to_thread as to_thread
    from ._conditions import after as after
    from ._conditions import exited as exited
    from ._conditions import readable as readable
    from ._conditions import signalled as signalled
    from ._conditions import writable as writable
    from ._deadlock import deadlock_detection as deadlock_detection
    from ._executor import ThreadPoolExecutor as ThreadPoolExecutor
    from ._fdwait import wait_readable as wait_readable
    from ._fdwait import wait_writable as wait_writable
    from ._interrupt import interruptible as interruptible
    from ._introspect import dump as dump
    from ._introspect import threads as threads
    from ._patch import get_original as get_original
    from ._patch import is_patched as is_patched
    from ._patch import more_magic as more_magic
    from ._patch import patch as patch
    from ._patch import unpatch as unpatch
    from ._process_pool import ProcessPoolExecutor as ProcessPoolExecutor
    from ._process_pool import WorkerDied as WorkerDied
    from ._queues import LifoQueue as LifoQueue
    from ._queues import PriorityQueue as PriorityQueue
    from ._queues import Queue as Queue
    from ._queues import ShutDown as ShutDown
    from ._reasons import CancelReason as CancelReason
    from ._run_in import run_in as run_in
    from ._simplequeue import SimpleQueue as SimpleQueue
    from ._wait import ALL_COMPLETED as ALL_COMPLETED
    from ._wait import FIRST_COMPLETED as FIRST_COMPLETED
    from ._wait import as_completed as as_completed
    from ._wait import wait as wait

__version__ = "0.1.0"

# Public submodules, imported by the first `threado.<name>`.
_LAZY_SUBMODULES = frozenset({"select", "socket", "ssl", "subprocess", "testing"})
# Public names defined in a module imported on first use: name -> module.
_LAZY_NAMES = {
    "wait_readable": "._fdwait",
    "wait_writable": "._fdwait",
    # Interruptible regions load their machinery (sys.monitoring, ctypes) on first use.
    "interruptible": "._interrupt",
    # wait() and its conditions (readable, exited, signalled, ...) on first use.
    **dict.fromkeys(("after", "exited", "readable", "signalled", "writable"), "._conditions"),
    **dict.fromkeys(("ALL_COMPLETED", "FIRST_COMPLETED", "as_completed", "wait"), "._wait"),
    **dict.fromkeys(("get_original", "is_patched", "more_magic", "patch", "unpatch"), "._patch"),
    # Beyond one process: multiprocessing loads on first use.
    "ProcessPoolExecutor": "._process_pool",
    "WorkerDied": "._process_pool",
    "run_in": "._run_in",
    # concurrent.futures loads logging; asyncio is heavier still.
    "ThreadPoolExecutor": "._executor",
    "to_thread": "._asyncio",
    # The queues load the standard library's queue (and heapq) on first use.
    **dict.fromkeys(("LifoQueue", "PriorityQueue", "Queue", "ShutDown"), "._queues"),
    "SimpleQueue": "._simplequeue",
    # Introspection and the deadlock detector (see _load_deadlock_detector).
    **dict.fromkeys(("dump", "threads"), "._introspect"),
    "deadlock_detection": "._deadlock",
    # enum costs a fifth of the import: reasons travel as strings inside.
    "CancelReason": "._reasons",
}


def _lazy_attribute(name: str) -> object:
    """Import and return the lazily loaded public ``name`` (see the module docstring).

    Raises:
        AttributeError: ``name`` is not one of threado's public names.
    """
    import importlib

    if name in _LAZY_SUBMODULES:
        # Importing a submodule binds it on the package.
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups find it without calling us
    return value


def _load_deadlock_detector() -> None:
    """Import the deadlock detector, which puts its hook in the parking layer.

    Detection is on from ``import threado``, but its analysis code
    (``_deadlock``, ``_introspect``) is loaded only when it may be needed: by
    the first :func:`spawn`, or by the first park with no deadline
    (:func:`_park_stand_in`), whichever comes first.
    """
    from . import _deadlock

    _parking.load_detector = None
    if _parking.on_park is _park_stand_in:  # pragma: no cover - the import sets it
        _parking.on_park = _deadlock._on_park


def _park_stand_in(record: _parking.ParkRecord) -> BaseException | None:
    """The parking layer's hook until the detector is loaded: load it, run it.

    Loading takes milliseconds, during which another thread (one threado did
    not spawn) may park and wait for this import: the parking thread stays
    unregistered meanwhile, as a running thread, so that whichever park
    completes a deadlock after the detector is in place decides, as with the
    detector preloaded. This call returns before the thread blocks, and the
    detector counts its frame as parking code.
    """
    key = record[0].ident or 0
    _parking.parked.pop(key, None)
    _load_deadlock_detector()
    hook = _parking.on_park
    if hook is None:  # deadlock_detection(False) meanwhile
        return None
    _parking.parked[key] = record
    return hook(record)


_parking.load_detector = _load_deadlock_detector
_parking.on_park = _park_stand_in


if not _typing.TYPE_CHECKING:
    # Hidden from type checkers, which see the imports above instead and
    # so still report a misspelt `threado.<name>`.
    __getattr__ = _lazy_attribute


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_LAZY_NAMES})


__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "Barrier",
    "BoundedSemaphore",
    "CancelReason",
    "CancelScope",
    "Condition",
    "Deadlock",
    "Event",
    "LifoQueue",
    "Lock",
    "PriorityQueue",
    "ProcessPoolExecutor",
    "Queue",
    "RLock",
    "Semaphore",
    "ShutDown",
    "SimpleQueue",
    "Thread",
    "ThreadCancelled",
    "ThreadError",
    "ThreadGroup",
    "ThreadPoolExecutor",
    "ThreadTimeout",
    "TimeoutScope",
    "WorkerDied",
    "after",
    "as_completed",
    "blocking",
    "cancel_requested",
    "checkpoint",
    "clock",
    "current_deadline",
    "current_thread",
    "deadlock_detection",
    "dump",
    "exited",
    "get_original",
    "ignore_after",
    "ignore_at",
    "interruptible",
    "is_patched",
    "more_magic",
    "patch",
    "readable",
    "run",
    "run_in",
    "shield",
    "signalled",
    "sleep",
    "spawn",
    "threads",
    "timeout_after",
    "timeout_at",
    "to_thread",
    "unpatch",
    "wait",
    "wait_readable",
    "wait_writable",
    "writable",
]
