"""Typing names at no import cost.

``import typing`` costs about 10 ms, which was most of ``import threado``.
threado's annotations are strings (``from __future__ import annotations``), so
its modules import ``typing`` and ``collections.abc`` only for type checkers,
under ``if TYPE_CHECKING:``. The few typing names used at run time come from
here: for a type checker they are ``typing``'s own (``TYPE_CHECKING`` is true
for it), at run time stand-ins with the run-time effect threado relies on:

* ``Generic[T]`` as a base class gives the class ``cls[X]`` subscription
  (a :class:`types.GenericAlias`, as the standard library's generic classes
  such as ``queue.Queue`` give);
* ``Protocol`` is a plain base (threado never checks protocols at run time);
* ``TypeVar``, ``TypeVarTuple``, ``cast`` and ``overload`` do nothing.

A module imported on first use (the I/O layer, ``testing``) may import
``typing`` itself: only ``import threado`` must stay light.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Generic as Generic
    from typing import Protocol as Protocol
    from typing import TypeVar as TypeVar
    from typing import TypeVarTuple as TypeVarTuple
    from typing import cast as cast
    from typing import overload as overload
else:
    from types import GenericAlias

    class Generic:
        __slots__ = ()

        def __class_getitem__(cls, params):
            # ``Generic[T]`` in a class statement is the base itself; a
            # subclass subscripted (``Queue[int]``) is a generic alias.
            return cls if cls is Generic else GenericAlias(cls, params)

    class Protocol:
        __slots__ = ()

    def TypeVar(name, *constraints, **options):
        return name

    TypeVarTuple = TypeVar

    def cast(typ, value):
        return value

    def overload(func):
        return func
