"""threado: cancellable real OS threads.

Every blocking point of a threado program (a wait on a threado lock, queue,
event, sleep or thread join) is a place where :class:`ThreadCancelled` can
appear, at once, when the thread is cancelled or a timeout expires; ``with``
blocks clean up on the way out. Importing threado patches nothing.
"""

from ._condition import Condition as Condition
from ._errors import CancelReason as CancelReason
from ._errors import ThreadCancelled as ThreadCancelled
from ._errors import ThreadError as ThreadError
from ._errors import ThreadTimeout as ThreadTimeout
from ._events import Barrier as Barrier
from ._events import Event as Event
from ._fdwait import wait_readable as wait_readable
from ._fdwait import wait_writable as wait_writable
from ._group import ThreadGroup as ThreadGroup
from ._locks import Lock as Lock
from ._locks import RLock as RLock
from ._patch import get_original as get_original
from ._patch import is_patched as is_patched
from ._patch import more_magic as more_magic
from ._patch import patch as patch
from ._patch import unpatch as unpatch
from ._queues import LifoQueue as LifoQueue
from ._queues import PriorityQueue as PriorityQueue
from ._queues import Queue as Queue
from ._queues import ShutDown as ShutDown
from ._queues import SimpleQueue as SimpleQueue
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
from ._threads import Thread as Thread
from ._threads import current_thread as current_thread
from ._threads import run as run
from ._threads import spawn as spawn

__version__ = "0.1.0"

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "CancelReason",
    "Condition",
    "Event",
    "LifoQueue",
    "Lock",
    "PriorityQueue",
    "Queue",
    "RLock",
    "Semaphore",
    "ShutDown",
    "SimpleQueue",
    "Thread",
    "ThreadCancelled",
    "ThreadError",
    "ThreadGroup",
    "ThreadTimeout",
    "TimeoutScope",
    "cancel_requested",
    "checkpoint",
    "clock",
    "current_deadline",
    "current_thread",
    "get_original",
    "ignore_after",
    "ignore_at",
    "is_patched",
    "more_magic",
    "patch",
    "run",
    "shield",
    "sleep",
    "spawn",
    "timeout_after",
    "timeout_at",
    "unpatch",
    "wait_readable",
    "wait_writable",
]
