"""A cancellable drop-in for the :mod:`ssl` module.

``threado.ssl.SSLSocket`` is an :class:`ssl.SSLSocket` whose handshake,
reads and writes (and so ``recv``, ``recv_into``, ``send``, ``sendall``
and the ``makefile()`` streams built on them) are blocking points.
:func:`create_default_context` and :class:`SSLContext` make contexts whose
``wrap_socket`` returns such sockets; :func:`threado.patch` makes every
context do so. Every other name of the :mod:`ssl` module is the standard
library's own.

Theory of operation
-------------------

OpenSSL blocks inside C while it waits for the network, where no cancel
reaches it. So each OpenSSL call runs with the socket's Python-level
timeout at 0: instead of blocking, it raises ``SSLWantReadError`` or
``SSLWantWriteError``, and the thread waits for the descriptor in
:func:`threado.wait_readable`/``wait_writable`` (cancellably, until the
socket's own timeout or an enclosing deadline), then tries again. The
socket's timeout is restored after each call, and keeps its meaning: it
ends the call with :class:`TimeoutError`. A thread that has never used
threado takes the standard library's path directly.
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import socket as _tsocket
from ._errors import ThreadCancelled
from ._fdwait import wait_fd
from ._state import clock, lookup_state
from .socket import _stdsocket as _stdsocket_cls

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["SSLContext", "SSLSocket", "create_default_context"]

T = TypeVar("T")

_POLLIN = 0x001
_POLLOUT = 0x004

# The standard library's own, bound now: threado.patch() changes the
# class ssl contexts wrap sockets in.
_create_default_context = _ssl.create_default_context
_stdsettimeout = _stdsocket_cls.settimeout
_stdgettimeout = _stdsocket_cls.gettimeout


def __getattr__(name: str) -> Any:
    # Everything this module does not define is the standard library's.
    return getattr(_ssl, name)


class SSLSocket(_ssl.SSLSocket, _tsocket.socket):  # type: ignore[misc]
    """An :class:`ssl.SSLSocket` whose handshake, reads and writes are cancellable.

    It is also a :class:`threado.socket.socket`: the standard class's own
    ``connect`` and ``accept`` (and its plain-socket calls before wrapping)
    reach the cancellable versions through ``super()``.
    """

    # The timeout the user set, kept apart from the socket's own: _ssl_call
    # sets the socket's to 0 around each OpenSSL call, and another thread
    # looking at it then must still see the user's.
    def settimeout(self, value: float | None) -> None:
        """``socket.settimeout``."""
        _stdsettimeout(self, value)  # validates, and sets the socket's mode
        self._user_timeout = _stdgettimeout(self)

    def gettimeout(self) -> float | None:
        """``socket.gettimeout``: the timeout set by the user."""
        try:
            timeout: float | None = self._user_timeout
            return timeout
        except AttributeError:  # not set through settimeout yet
            return _stdgettimeout(self)

    def setblocking(self, flag: bool) -> None:
        """``socket.setblocking``."""
        self.settimeout(None if flag else 0.0)

    def _ssl_call(self, call: Callable[[], T], what: str = "") -> T:
        """Run one OpenSSL call, waiting cancellably whenever it would block.

        The socket's timeout is 0 only around each OpenSSL call (which then
        cannot block), not while waiting: other threads see its mode as set.
        """
        st = lookup_state()
        timeout = self.gettimeout()
        if st is None or timeout == 0 or self.fileno() < 0:
            return call()  # (closed: the standard error, ValueError)
        st.check()  # a blocking point, even if the call need not wait
        deadline = None if timeout is None else clock() + timeout
        fd = self.fileno()
        while True:
            _stdsettimeout(self, 0.0)
            try:
                return call()
            except _ssl.SSLWantReadError:
                events = _POLLIN
            except _ssl.SSLWantWriteError:
                events = _POLLOUT
            finally:
                _stdsettimeout(self, timeout)
            if not wait_fd(fd, events, deadline, self):
                raise TimeoutError(f"The {what}operation timed out")

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``SSLSocket.read``, cancellable (a blocking point)."""
        return self._ssl_call(lambda: _ssl.SSLSocket.read(self, len, buffer), "read ")

    def write(self, data: ReadableBuffer) -> int:
        """``SSLSocket.write``, cancellable (a blocking point)."""
        return self._ssl_call(lambda: _ssl.SSLSocket.write(self, data), "write ")

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """``SSLSocket.send``, cancellable (a blocking point)."""
        me: Any = self  # the standard class's private fields, untyped
        sslobj = me._sslobj
        if sslobj is None:
            return _ssl.SSLSocket.send(self, data, flags)  # not wrapped yet: plain
        me._checkClosed()
        if flags != 0:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {self.__class__}")
        written: int = self._ssl_call(lambda: sslobj.write(data), "write ")
        return written

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        """``SSLSocket.sendall``, cancellable (a blocking point).

        Raises:
            ThreadCancelled: with a ``bytes_sent`` attribute saying how much
                of ``data`` went out before the cancellation.
        """
        me: Any = self
        if me._sslobj is None:
            return _ssl.SSLSocket.sendall(self, data, flags)
        me._checkClosed()
        if flags != 0:
            raise ValueError(
                f"non-zero flags not allowed in calls to sendall() on {self.__class__}"
            )
        sent = 0
        with memoryview(data) as view, view.cast("B") as byte_view:
            total = len(byte_view)
            try:
                while sent < total:
                    sent += self.send(byte_view[sent:])
            except ThreadCancelled as exc:
                exc.bytes_sent = sent  # type: ignore[attr-defined]
                raise
        return None

    def do_handshake(self, block: bool = False) -> None:
        """``SSLSocket.do_handshake``, cancellable (a blocking point).

        A cancelled handshake closes the socket: a half-done handshake
        leaves nothing usable (and ``wrap_socket``, which runs it, would
        otherwise leak the socket it made).
        """
        try:
            if block and self.gettimeout() == 0:
                # The stdlib's "block": run it as on a blocking socket.
                self.settimeout(None)
                try:
                    self._ssl_call(lambda: _ssl.SSLSocket.do_handshake(self))
                finally:
                    self.settimeout(0.0)
                return
            self._ssl_call(lambda: _ssl.SSLSocket.do_handshake(self))
        except ThreadCancelled:
            self.close()
            raise


SSLSocket.__module__ = "threado.ssl"


class SSLContext(_ssl.SSLContext):
    """An :class:`ssl.SSLContext` whose ``wrap_socket`` returns threado sockets."""

    sslsocket_class = SSLSocket


SSLContext.__module__ = "threado.ssl"


def create_default_context(*args: Any, **kwargs: Any) -> _ssl.SSLContext:
    """``ssl.create_default_context``, for sockets whose waits are cancellable."""
    context = _create_default_context(*args, **kwargs)
    context.sslsocket_class = SSLSocket
    return context
