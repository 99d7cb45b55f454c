"""A cancellable drop-in for the :mod:`select` module.

``select()``, ``poll().poll()`` and ``epoll().poll()`` are blocking points
(when they may wait): ``cancel()`` and enclosing timeouts interrupt them at
once. Since :mod:`selectors` builds on these, patching them
(:func:`threado.patch`) makes every ``selectors`` selector cancellable too.
Every other name of the :mod:`select` module is the standard library's own.

A thread that has never used threado (nobody can cancel it) and a call
with a zero timeout take the standard library's path directly.
"""

from __future__ import annotations

import errno
import select as _select
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._fdwait import _fileno, poll_fds
from ._parking import check_seconds
from ._state import clock, lookup_state

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

# The standard library's own, bound now: threado.patch() replaces them.
_stdselect = _select.select
_stdpoll = _select.poll
_stdepoll = getattr(_select, "epoll", None)

_POLLIN: int = _select.POLLIN
_POLLOUT: int = _select.POLLOUT
_POLLPRI: int = _select.POLLPRI
_READABLE = _POLLIN | _select.POLLHUP | _select.POLLERR
# As Linux's select(): a hang-up makes a descriptor readable, not writable.
_WRITABLE = _POLLOUT | _select.POLLERR


def __getattr__(name: str) -> Any:
    # Everything this module does not define is the standard library's.
    return getattr(_select, name)


def select(
    rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any], timeout: float | None = None
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select``, cancellable: a blocking point when it may wait."""
    if timeout is not None:
        timeout = check_seconds(timeout, "timeout")
        if timeout < 0:
            raise ValueError("timeout must be non-negative")
    if lookup_state() is None or timeout == 0:
        return _stdselect(rlist, wlist, xlist, timeout)
    # Each object's descriptor is asked for once (fileno() may change, or the
    # lists mutate, while we wait: the answer is about what was asked).
    sets = [_with_filenos(objs) for objs in (rlist, wlist, xlist)]
    fds: dict[int, int] = {}
    for pairs, events in zip(sets, (_POLLIN, _POLLOUT, _POLLPRI), strict=True):
        for _, fd in pairs:
            fds[fd] = fds.get(fd, 0) | events
    deadline = None if timeout is None else clock() + timeout
    ready = dict(poll_fds(fds, deadline, "select"))
    if any(ev & _select.POLLNVAL for ev in ready.values()):
        raise OSError(errno.EBADF, "Bad file descriptor")
    r, w, x = sets
    return (
        [o for o, fd in r if ready.get(fd, 0) & _READABLE],
        [o for o, fd in w if ready.get(fd, 0) & _WRITABLE],
        [o for o, fd in x if ready.get(fd, 0) & _POLLPRI],
    )


def _with_filenos(objs: Iterable[Any]) -> list[tuple[Any, int]]:
    """``(obj, obj's descriptor)`` pairs; a list is walked as it is (as the
    stdlib's select does: a ``fileno()`` that shrinks it ends the walk)."""
    if not isinstance(objs, list):
        objs = list(objs)
    pairs = []
    i = 0
    while i < len(objs):
        obj = objs[i]
        pairs.append((obj, _fileno(obj)))
        i += 1
    return pairs


class poll:
    """``select.poll``, whose :meth:`poll` is cancellable."""

    def __init__(self) -> None:
        self._std = _stdpoll()
        self._fds: dict[int, int] = {}

    def register(
        self, fd: FileDescriptorLike, eventmask: int = _POLLIN | _POLLPRI | _POLLOUT
    ) -> None:
        """Register ``fd`` (or replace its event mask)."""
        self._std.register(fd, eventmask)
        self._fds[_fileno(fd)] = eventmask

    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None:
        """Change the event mask of a registered ``fd``."""
        self._std.modify(fd, eventmask)
        self._fds[_fileno(fd)] = eventmask

    def unregister(self, fd: FileDescriptorLike) -> None:
        """Stop watching ``fd``."""
        self._std.unregister(fd)
        del self._fds[_fileno(fd)]

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """``poll.poll(timeout_ms)``, cancellable: a blocking point when it may wait."""
        if timeout is not None:
            timeout = check_seconds(timeout, "timeout")
        if lookup_state() is None or timeout == 0:
            return self._std.poll(timeout)
        deadline = None if timeout is None or timeout < 0 else clock() + timeout / 1000
        return poll_fds(dict(self._fds), deadline, self)


class epoll:
    """``select.epoll``, whose :meth:`poll` is cancellable.

    It waits until the epoll descriptor itself is readable (or a cancel
    arrives), then collects the events without blocking.
    """

    def __init__(self, sizehint: int = -1, flags: int = 0) -> None:
        if _stdepoll is None:  # pragma: no cover - not Linux
            raise OSError(errno.ENOSYS, "epoll is not available on this platform")
        self._std = _stdepoll(sizehint, flags)

    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]:
        """``epoll.poll``, cancellable: a blocking point when it may wait."""
        if timeout is not None:
            timeout = check_seconds(timeout, "timeout")
        if maxevents != -1 and maxevents < 1:
            raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
        if lookup_state() is None or timeout == 0:
            return self._std.poll(timeout, maxevents)  # type: ignore[no-any-return]
        deadline = None if timeout is None or timeout < 0 else clock() + timeout
        while True:
            if not poll_fds({self._std.fileno(): _POLLIN}, deadline, self):
                return []
            events = self._std.poll(0, maxevents)
            if events:
                return events  # type: ignore[no-any-return]

    @classmethod
    def fromfd(cls, fd: int) -> epoll:
        """Make an epoll object from an epoll descriptor, as ``select.epoll.fromfd``."""
        if _stdepoll is None:  # pragma: no cover - not Linux
            raise OSError(errno.ENOSYS, "epoll is not available on this platform")
        self = cls.__new__(cls)
        self._std = _stdepoll.fromfd(fd)
        return self

    def register(
        self, fd: FileDescriptorLike, eventmask: int = _POLLIN | _POLLPRI | _POLLOUT
    ) -> None:
        """Register ``fd``."""
        self._std.register(fd, eventmask)

    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None:
        """Change the event mask of ``fd``."""
        self._std.modify(fd, eventmask)

    def unregister(self, fd: FileDescriptorLike) -> None:
        """Stop watching ``fd``."""
        self._std.unregister(fd)

    def fileno(self) -> int:
        """The epoll descriptor."""
        return int(self._std.fileno())

    def close(self) -> None:
        """Close the epoll descriptor."""
        self._std.close()

    @property
    def closed(self) -> bool:
        """Whether the epoll object is closed."""
        return bool(self._std.closed)

    def __enter__(self) -> epoll:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()
