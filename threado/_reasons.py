"""The public :class:`CancelReason` enumeration, loaded on first use.

``import threado`` does not load :mod:`enum` (about a fifth of its import
cost): inside threado a reason travels as one of the string tokens of
``_errors.Reason``, equal to the members' values, and
:attr:`ThreadCancelled.reason <threado.ThreadCancelled.reason>` turns it into
a member when somebody reads it. This module imports nothing from the rest of
threado.
"""

from __future__ import annotations

import enum

__all__ = ["CancelReason"]


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
