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

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Final

    from ._reasons import CancelReason

__all__ = ["Deadlock", "Reason", "ThreadCancelled", "ThreadError", "ThreadTimeout"]


class Reason:
    """The reasons for a cancellation as threado passes them around inside.

    Each is the value of the :class:`~threado.CancelReason` member of the
    same name (``CancelReason(Reason.GROUP) is CancelReason.GROUP``); the
    enumeration itself lives in ``_reasons`` and is loaded on first use.
    """

    __slots__ = ()
    EXPLICIT: Final = "explicit"
    DEADLINE: Final = "deadline"
    GROUP: Final = "group"


_REASONS = frozenset((Reason.EXPLICIT, Reason.DEADLINE, Reason.GROUP))


def _reason_token(reason: object) -> str:
    """The token of ``reason``, a :class:`CancelReason` member or its value.

    Raises:
        ValueError: ``reason`` is neither.
    """
    token = getattr(reason, "value", reason)
    if type(token) is not str or token not in _REASONS:
        raise ValueError(f"reason must be a threado.CancelReason, not {reason!r}")
    return token


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

    _reason: str
    source: object

    def __init__(
        self,
        message: str = "thread cancelled",
        reason: CancelReason | str = Reason.EXPLICIT,
        source: object = None,
    ) -> None:
        super().__init__(message)
        self._reason = (
            reason if type(reason) is str and reason in _REASONS else _reason_token(reason)
        )
        self.source = source

    @property
    def reason(self) -> CancelReason:
        """Why the cancellation happened (a :class:`CancelReason`)."""
        from ._reasons import CancelReason

        return CancelReason(self._reason)

    @reason.setter
    def reason(self, value: CancelReason) -> None:
        self._reason = _reason_token(value)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self._reason, None))


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
