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
from typing import Any, TypeVar

from ._errors import ThreadCancelled
from ._fdwait import wait_fd
from ._state import clock, lookup_state

__all__ = ["SSLContext", "SSLSocket", "create_default_context"]

T = TypeVar("T")

_POLLIN = 0x001
_POLLOUT = 0x004

# The standard library's own, bound now: threado.patch() changes the
# class ssl contexts wrap sockets in.
_create_default_context = _ssl.create_default_context


def __getattr__(name: str) -> Any:
    # Everything this module does not define is the standard library's.
    return getattr(_ssl, name)


class SSLSocket(_ssl.SSLSocket):
    """An :class:`ssl.SSLSocket` whose handshake, reads and writes are cancellable."""

    def _ssl_call(self, call: Callable[[], T]) -> T:
        """Run one OpenSSL call, waiting cancellably whenever it would block."""
        st = lookup_state()
        timeout = self.gettimeout()
        if st is None or timeout == 0:
            return call()
        st.check()  # a blocking point, even if the call need not wait
        deadline = None if timeout is None else clock() + timeout
        _ssl.SSLSocket.settimeout(self, 0.0)
        try:
            while True:
                try:
                    return call()
                except _ssl.SSLWantReadError:
                    events = _POLLIN
                except _ssl.SSLWantWriteError:
                    events = _POLLOUT
                if not wait_fd(self.fileno(), events, deadline, self):
                    raise TimeoutError("The operation timed out")
        finally:
            _ssl.SSLSocket.settimeout(self, timeout)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``SSLSocket.read``, cancellable (a blocking point)."""
        return self._ssl_call(lambda: _ssl.SSLSocket.read(self, len, buffer))

    def write(self, data: Any) -> int:
        """``SSLSocket.write``, cancellable (a blocking point)."""
        return self._ssl_call(lambda: _ssl.SSLSocket.write(self, data))

    def do_handshake(self, block: bool = False) -> None:
        """``SSLSocket.do_handshake``, cancellable (a blocking point).

        A cancelled handshake closes the socket: a half-done handshake
        leaves nothing usable (and ``wrap_socket``, which runs it, would
        otherwise leak the socket it made).
        """
        try:
            if block and self.gettimeout() == 0:
                # The stdlib's "block": run it as on a blocking socket.
                _ssl.SSLSocket.settimeout(self, None)
                try:
                    self._ssl_call(lambda: _ssl.SSLSocket.do_handshake(self))
                finally:
                    _ssl.SSLSocket.settimeout(self, 0.0)
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
