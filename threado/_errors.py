"""The exception family of threado.

Two families, as in trio and curio:

* Cancellation derives from :class:`BaseException`, so that ``except Exception``
  handlers never swallow it: :class:`ThreadCancelled`.
* Everything else derives from :class:`Exception`: :class:`ThreadError` (a
  thread's failure, seen by whoever joins it), :class:`ThreadTimeout` (a
  timeout block expired; also a builtin :class:`TimeoutError`) and
  :class:`Deadlock` (a wait that could never end; a :class:`RuntimeError`).

This module imports nothing from the rest of threado: it is the bottom layer.
"""

from __future__ import annotations

import enum

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["CancelReason", "Deadlock", "ThreadCancelled", "ThreadError", "ThreadTimeout"]


class CancelReason(enum.Enum):
    """Why a :class:`ThreadCancelled` was raised.

    Attributes:
        EXPLICIT: Somebody called :meth:`threado.Thread.cancel` on the thread;
            the exception's ``source`` is the canceller's thread handle.
        DEADLINE: The deadline of an enclosing timeout block passed;
            ``source`` is its :class:`threado.TimeoutScope`.
        GROUP: A :class:`threado.ThreadGroup` cancelled its threads (a
            failure, a race won, the end of a ``wait=None`` block, or an
            exception from the block); ``source`` is the group.
    """

    EXPLICIT = "explicit"
    DEADLINE = "deadline"
    GROUP = "group"

    def __repr__(self) -> str:
        return f"CancelReason.{self.name}"


CancelReason.__module__ = "threado"


class ThreadCancelled(BaseException):
    """Raised at a blocking point of a thread that has been cancelled.

    It derives from :class:`BaseException` (not :class:`Exception`), so that
    generic ``except Exception`` handlers let it pass. Cancellation is
    level-triggered: a thread that catches it and carries on gets it again at
    its next blocking point.

    Inside a timeout block whose deadline passed, the blocking point raises a
    ``ThreadCancelled`` whose :attr:`reason` is :attr:`CancelReason.DEADLINE`;
    the timeout block turns it into :class:`ThreadTimeout` when it leaves.

    Attributes:
        reason: Why the cancellation happened (a :class:`CancelReason`).
        source: What caused it: the cancelling :class:`threado.Thread` (or
            ``None`` if unknown), the timeout scope, or the group.
    """

    reason: CancelReason
    source: object

    def __init__(
        self,
        message: str = "thread cancelled",
        reason: CancelReason = CancelReason.EXPLICIT,
        source: object = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.source = source

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.reason, None))


class ThreadError(Exception):
    """Raised by :meth:`threado.Thread.join` when the thread did not return.

    Its ``__cause__`` is the exception that ended the thread (also when that
    exception was :class:`ThreadCancelled`).
    """


class ThreadTimeout(TimeoutError):
    """Raised by a ``timeout_after``/``timeout_at`` block whose deadline passed.

    It subclasses the builtin :class:`TimeoutError`. Inside the block the
    blocking point raised :class:`ThreadCancelled` (so that ``except
    Exception`` handlers there do not swallow it); only the block itself
    raises ``ThreadTimeout``, and only for its own deadline: an outer block's
    expiry passes through an inner block as ``ThreadCancelled``.
    """


class Deadlock(RuntimeError):
    """Raised at the blocking point whose wait would complete a deadlock.

    Instead of blocking forever, the thread whose park completed the deadlock
    raises it (the others stay parked): either every thread of the process is
    parked in a threado wait that only those threads could end (the global
    rule), or threads wait without a deadline for ``RLock``s owned by each
    other in a cycle (the cycle rule). The thread has left its wait as a
    cancelled one does: it holds nothing it did not hold before. Unlike
    :class:`ThreadCancelled` it is an ordinary error (a bug in the program),
    and unlike a timeout it is certain: it is only raised when no thread could
    ever end the wait. See ``docs/deadlocks.rst``.

    Attributes:
        threads: One ``threado`` thread snapshot (as :func:`threado.threads`
            returns) per thread involved, the raising thread first.
    """

    threads: list[Any]

    def __init__(self, message: str = "deadlock", threads: list[Any] | None = None) -> None:
        super().__init__(message)
        self.threads = list(threads or ())

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),))


for _cls in (Deadlock, ThreadCancelled, ThreadError, ThreadTimeout):
    _cls.__module__ = "threado"
