"""A cancellable drop-in for the :mod:`socket` module.

``threado.socket.socket`` is a :class:`socket.socket` whose blocking calls
(``accept``, ``connect``, ``recv*``, ``send*``, ``sendall``, ``sendfile``, and
the ``makefile()`` streams built on them) are blocking points: ``cancel()``
and enclosing timeouts interrupt them at once. Every other name of the
:mod:`socket` module is the standard library's own.

Theory of operation
-------------------

* Data calls are made with ``MSG_DONTWAIT`` (non-blocking for that call
  only, so the socket's ``O_NONBLOCK`` flag, which a child process may share,
  is never flipped); when one would block, the thread waits in
  ``threado.wait_readable``/``wait_writable``, which also watch its wake-up
  descriptor. ``accept`` waits for readability, then accepts. ``connect``
  on a blocking socket connects in non-blocking mode and restores it.
* Socket timeouts (``settimeout``) keep their standard meaning: the wait
  ends with :class:`TimeoutError` (``socket.timeout``) when the socket's own
  timeout passes. A non-blocking socket (timeout 0) behaves exactly as in
  the standard library.
* Nothing is lost: ``recv`` either returns the bytes it read or raises
  before reading any; a cancelled ``sendall`` says how many bytes it sent
  in the exception's ``bytes_sent`` attribute. A buffered ``makefile()``
  stream whose read is cancelled refuses further reads, since its buffer
  cannot give back what it took from the socket.
* A thread that has never used threado (no handle exists, so nobody can
  cancel it, and it has no deadline) takes the standard library's path
  directly: patched sockets cost such threads one attribute lookup.
* Name resolution cannot be interrupted inside libc, so
  :func:`getaddrinfo` resolves in a helper thread that the caller can stop
  waiting for; the helper finishes in the background.
"""

from __future__ import annotations

import _thread
import errno
import io
import os
import socket as _socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ThreadCancelled
from ._fdwait import wait_fd
from ._locks import Lock
from ._parking import Latch
from ._state import clock, lookup_state
from ._state import local as _local

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

T = TypeVar("T")

_POLLIN = 0x001
_POLLOUT = 0x004
# A wait for readability shorter than this found data already there (a
# wait that sleeps costs a wake-up, several microseconds at the least).
_QUICK_WAIT = 5e-6
_WAITALL: int = int(getattr(_socket, "MSG_WAITALL", 0))
_PEEK: int = int(getattr(_socket, "MSG_PEEK", 0))
# A plain int: MSG_DONTWAIT is an IntFlag, and IntFlag.__or__ runs Python code.
_DONTWAIT: int = int(getattr(_socket, "MSG_DONTWAIT", 0))
# The standard library's own, bound now: threado.patch() replaces the
# module's attributes with this module's versions.
_stdsocket: type[_socket.socket] = _socket.socket
_std_recv = _socket.socket.recv
_std_recv_into = _socket.socket.recv_into
_std_send = _socket.socket.send
_socketpair = _socket.socketpair
_create_server = _socket.create_server
_getaddrinfo = _socket.getaddrinfo


def __getattr__(name: str) -> Any:
    # Everything this module does not define is the standard library's.
    return getattr(_socket, name)


_acceptors_mutex = _thread.allocate_lock()  # makes a listener's acceptors lock once
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_acceptors_mutex._at_fork_reinit)  # type: ignore[attr-defined]


def _acceptors_lock(sock: socket) -> Lock:
    """The cancellable lock that a listener's threado acceptors take turns on."""
    lock = sock._acceptors
    if lock is None:
        with _acceptors_mutex:
            lock = sock._acceptors
            if lock is None:
                lock = sock._acceptors = Lock()
    return lock


class _SocketMeta(type):
    """Makes every standard socket pass ``isinstance(x, threado.socket.socket)``.

    :func:`threado.patch` puts this class in the place of ``socket.socket``;
    sockets made before (or by classes bound before) must still pass the
    checks code makes against ``socket.socket``.
    """

    def __instancecheck__(cls, obj: object) -> bool:
        if cls is socket:
            return isinstance(obj, _stdsocket)
        return type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub: type) -> bool:
        if cls is socket:
            return issubclass(sub, _stdsocket)
        return type.__subclasscheck__(cls, sub)


class socket(_socket.socket, metaclass=_SocketMeta):
    """A :class:`socket.socket` whose blocking calls are cancellable."""

    # _waited: the last read in a thread that can be cancelled had to wait.
    # Then the next one waits first instead of trying (and failing) first: in
    # a request/response exchange the answer is rarely there yet, and a
    # failed try costs more than the wait (an exception, and the GIL held a
    # little longer while the peer's thread wants it). A wait that returns at
    # once shows data streaming in, and turns it off again.
    # _acceptors: see accept(); made on first use.
    __slots__ = ("_acceptors", "_waited")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waited = False
        self._acceptors: Lock | None = None

    def _blocking(self, events: int, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (a non-blocking try) until it does not block.

        On a socket with a timeout, CPython's own code waits for readiness
        (up to the whole timeout) before it tries the call, and no cancel
        reaches that wait; so there threado waits first, cancellably, and
        tries only once the descriptor is ready.
        """
        timeout = self.gettimeout()
        deadline = None if timeout is None else clock() + timeout
        wait_first = timeout is not None and self.fileno() >= 0  # closed: the call says EBADF
        while True:
            if wait_first and not wait_fd(self.fileno(), events, deadline, self):
                raise TimeoutError("timed out")
            try:
                return attempt()
            except (BlockingIOError, InterruptedError):
                pass
            if not wait_first and not wait_fd(self.fileno(), events, deadline, self):
                raise TimeoutError("timed out")

    def _cancellable(self) -> bool:
        # The standard path for non-blocking sockets and for threads nobody
        # can cancel (no threado state: no handle, no deadlines).
        st = lookup_state()
        if st is None or self.gettimeout() == 0:
            return False
        st.check()  # a blocking point, even if data is ready
        return True

    # -- receiving and sending: the hot paths -------------------------------------
    #
    # Each call reads the thread's slot directly: no state means nobody can
    # cancel the thread (the stdlib path, one attribute read more); otherwise
    # one non-blocking try, and only if that would block, the waiting loop.

    def _wait_and_retry(self, events: int, call: Callable[..., T], *args: Any) -> T:
        """The slow path: wait (cancellably) until ``call(self, *args)`` succeeds."""
        timeout = self.gettimeout()
        deadline = None if timeout is None else clock() + timeout
        fd = self.fileno()
        if fd < 0:
            return call(self, *args)  # closed: the standard error (EBADF)
        while True:
            if not wait_fd(fd, events, deadline, self):
                raise TimeoutError("timed out")
            try:
                return call(self, *args)
            except (BlockingIOError, InterruptedError):
                pass

    def _read_after_wait(self, call: Callable[..., T], *args: Any) -> T:
        """A read (no socket timeout) that waits first; see ``_waited``."""
        fd = self.fileno()
        if fd < 0:
            return call(self, *args)  # closed: the standard error (EBADF)
        while True:
            start = clock()
            wait_fd(fd, _POLLIN, None, self)
            quick = clock() - start < _QUICK_WAIT
            try:
                result = call(self, *args)
            except (BlockingIOError, InterruptedError):
                continue
            if quick:
                self._waited = False
            return result

    def _recv_waitall(self, bufsize: int, flags: int) -> bytes:
        buf = bytearray(bufsize)
        n = self._recv_into_waitall(memoryview(buf), flags)
        del buf[n:]
        return bytes(buf)

    def _recv_into_waitall(self, view: memoryview, flags: int) -> int:
        """``MSG_WAITALL`` on a blocking socket: fill ``view`` (or stop at
        end of stream), waiting cancellably in between. Like the kernel's own
        ``MSG_WAITALL`` interrupted by a signal, a cancel that comes after
        some bytes arrived returns them (the cancel waits for the next
        blocking point): nothing read is lost."""
        f = (flags & ~_WAITALL) | _DONTWAIT
        want = len(view)
        got = 0
        fd = self.fileno()
        while got < want:
            try:
                n = _std_recv_into(self, view[got:], want - got, f)
            except (BlockingIOError, InterruptedError):
                try:
                    wait_fd(fd, _POLLIN, None, self)
                except ThreadCancelled:
                    if got:
                        break
                    raise
                continue
            if n == 0:
                break  # end of stream
            got += n
        return got

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """``socket.recv``, cancellable (a blocking point)."""
        st = _local.state
        if st is None:
            return _std_recv(self, bufsize, flags)
        timeout = self.gettimeout()
        if timeout == 0 or flags & _DONTWAIT:  # the caller's own MSG_DONTWAIT: never waits
            return _std_recv(self, bufsize, flags)
        if st.cancel is not None or st.deadline is not None:
            st.check()
        if bufsize < 0:
            return _std_recv(self, bufsize, flags)  # the standard ValueError, at once
        if timeout is None and flags & _WAITALL and not flags & _PEEK:
            return self._recv_waitall(bufsize, flags)
        flags |= _DONTWAIT
        if timeout is None:  # with a timeout, CPython would wait first: see _blocking
            if self._waited:
                return self._read_after_wait(_std_recv, bufsize, flags)
            try:
                return _std_recv(self, bufsize, flags)
            except (BlockingIOError, InterruptedError):
                self._waited = True
        return self._wait_and_retry(_POLLIN, _std_recv, bufsize, flags)

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        """``socket.recv_into``, cancellable (a blocking point)."""
        st = _local.state
        if st is None:
            return _std_recv_into(self, buffer, nbytes, flags)
        timeout = self.gettimeout()
        if timeout == 0 or flags & _DONTWAIT:  # the caller's own MSG_DONTWAIT: never waits
            return _std_recv_into(self, buffer, nbytes, flags)
        if st.cancel is not None or st.deadline is not None:
            st.check()
        if nbytes < 0:
            return _std_recv_into(self, buffer, nbytes, flags)  # the standard ValueError
        if timeout is None and flags & _WAITALL and not flags & _PEEK:
            view = memoryview(buffer).cast("B")
            return self._recv_into_waitall(view[: nbytes or len(view)], flags)
        flags |= _DONTWAIT
        if timeout is None:
            if self._waited:
                return self._read_after_wait(_std_recv_into, buffer, nbytes, flags)
            try:
                return _std_recv_into(self, buffer, nbytes, flags)
            except (BlockingIOError, InterruptedError):
                self._waited = True
        return self._wait_and_retry(_POLLIN, _std_recv_into, buffer, nbytes, flags)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        """``socket.send``, cancellable (a blocking point)."""
        st = _local.state
        if st is None:
            return _std_send(self, data, flags)
        timeout = self.gettimeout()
        if timeout == 0 or flags & _DONTWAIT:  # the caller's own MSG_DONTWAIT: never waits
            return _std_send(self, data, flags)
        if st.cancel is not None or st.deadline is not None:
            st.check()
        flags |= _DONTWAIT
        if timeout is None:
            try:
                return _std_send(self, data, flags)
            except (BlockingIOError, InterruptedError):
                pass
        return self._wait_and_retry(_POLLOUT, _std_send, data, flags)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        """``socket.recvfrom``, cancellable (a blocking point)."""
        if flags & _DONTWAIT or not self._cancellable():
            return super().recvfrom(bufsize, flags)
        f = flags | _DONTWAIT
        return self._blocking(_POLLIN, lambda: _stdsocket.recvfrom(self, bufsize, f))

    def recvfrom_into(
        self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, Any]:
        """``socket.recvfrom_into``, cancellable (a blocking point)."""
        if flags & _DONTWAIT or not self._cancellable():
            return super().recvfrom_into(buffer, nbytes, flags)
        f = flags | _DONTWAIT
        return self._blocking(_POLLIN, lambda: _stdsocket.recvfrom_into(self, buffer, nbytes, f))

    if hasattr(_stdsocket, "recvmsg"):

        def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> Any:
            """``socket.recvmsg``, cancellable (a blocking point)."""
            if flags & _DONTWAIT or not self._cancellable():
                return super().recvmsg(bufsize, ancbufsize, flags)
            f = flags | _DONTWAIT
            return self._blocking(_POLLIN, lambda: _stdsocket.recvmsg(self, bufsize, ancbufsize, f))

        def recvmsg_into(self, buffers: Any, ancbufsize: int = 0, flags: int = 0) -> Any:
            """``socket.recvmsg_into``, cancellable (a blocking point)."""
            if flags & _DONTWAIT or not self._cancellable():
                return super().recvmsg_into(buffers, ancbufsize, flags)
            f = flags | _DONTWAIT
            buffers = list(buffers)  # an iterator must survive a retry
            return self._blocking(
                _POLLIN, lambda: _stdsocket.recvmsg_into(self, buffers, ancbufsize, f)
            )

        def sendmsg(
            self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None
        ) -> int:
            """``socket.sendmsg``, cancellable (a blocking point)."""
            extra = () if address is None else (address,)
            if flags & _DONTWAIT or not self._cancellable():
                return super().sendmsg(buffers, ancdata, flags, *extra)
            f = flags | _DONTWAIT
            buffers, ancdata = list(buffers), list(ancdata)
            return self._blocking(
                _POLLOUT, lambda: _stdsocket.sendmsg(self, buffers, ancdata, f, *extra)
            )

    def sendto(self, data: ReadableBuffer, *args: Any) -> int:
        """``socket.sendto``, cancellable (a blocking point)."""
        if len(args) == 2 and isinstance(args[0], int) and args[0] & _DONTWAIT:
            return super().sendto(data, *args)  # the caller's own MSG_DONTWAIT
        if not self._cancellable():
            return super().sendto(data, *args)
        if len(args) == 1:
            flags, address = 0, args[0]
        elif len(args) == 2:
            flags, address = args
        else:
            raise TypeError(f"sendto() takes 2 or 3 arguments ({len(args) + 1} given)")
        f = flags | _DONTWAIT
        return self._blocking(_POLLOUT, lambda: _stdsocket.sendto(self, data, f, address))

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        """``socket.sendall``, cancellable (a blocking point).

        Raises:
            ThreadCancelled: with a ``bytes_sent`` attribute saying how much
                of ``data`` went out before the cancellation.
            TimeoutError: the socket's timeout passed (for the whole call).
        """
        if flags & _DONTWAIT or not self._cancellable():
            return super().sendall(data, flags)
        view = memoryview(data).cast("B")
        total = len(view)
        if not total:
            _stdsocket.send(self, view, flags | _DONTWAIT)  # errors as the stdlib's (EBADF)
            return None
        sent = 0
        timeout = self.gettimeout()
        deadline = None if timeout is None else clock() + timeout
        f = flags | _DONTWAIT
        wait_first = timeout is not None  # see _blocking
        try:
            while sent < total:
                if wait_first and not wait_fd(self.fileno(), _POLLOUT, deadline, self):
                    raise TimeoutError("timed out")
                try:
                    sent += _stdsocket.send(self, view[sent:], f)
                    continue
                except (BlockingIOError, InterruptedError):
                    pass
                if not wait_first and not wait_fd(self.fileno(), _POLLOUT, deadline, self):
                    raise TimeoutError("timed out")
        except ThreadCancelled as exc:
            exc.bytes_sent = sent  # type: ignore[attr-defined]
            raise
        return None

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """``socket.sendfile``, cancellable: sends with :meth:`send`."""
        if not self._cancellable():
            return super().sendfile(file, offset, count)
        return self._sendfile_use_send(file, offset, count)  # type: ignore[attr-defined,no-any-return]

    # -- connections --------------------------------------------------------------

    def accept(self) -> tuple[socket, Any]:
        """``socket.accept``, cancellable (a blocking point).

        Returns a threado socket for the connection.
        """
        if self._cancellable():
            # Threads accepting on one listener take turns: between "a
            # connection is there" and the C accept, another acceptor could
            # take it, leaving this one blocked in C where no cancel reaches
            # it (accept has no per-call non-blocking flag).
            with _acceptors_lock(self):
                timeout = self.gettimeout()
                deadline = None if timeout is None else clock() + timeout
                if timeout is None:
                    # A blocking listener: wait until a connection is there.
                    if not wait_fd(self.fileno(), _POLLIN, deadline, self):  # pragma: no cover
                        raise TimeoutError("timed out")
                    fd, addr = self._accept()  # type: ignore[attr-defined]
                else:
                    fd, addr = self._blocking(_POLLIN, self._accept)  # type: ignore[attr-defined]
        else:
            fd, addr = self._accept()  # type: ignore[attr-defined]
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        if _socket.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    def connect(self, address: Any) -> None:
        """``socket.connect``, cancellable (a blocking point)."""
        if not self._cancellable():
            return super().connect(address)
        err = self._connect(address)
        if err:
            raise OSError(err, os.strerror(err))
        return None

    def connect_ex(self, address: Any) -> int:
        """``socket.connect_ex``, cancellable (a blocking point)."""
        if not self._cancellable():
            return super().connect_ex(address)
        try:
            return self._connect(address)
        except TimeoutError:
            return errno.EWOULDBLOCK  # what the standard connect_ex says on timeout

    def _connect(self, address: Any) -> int:
        # connect without blocking (with a timeout, CPython's own code would
        # wait for the whole timeout where no cancel reaches it), then wait
        # here, cancellably, and restore the socket's timeout. Nothing else
        # uses a socket that is still connecting.
        timeout = self.gettimeout()
        deadline = None if timeout is None else clock() + timeout
        super().settimeout(0.0)
        try:
            err = super().connect_ex(address)
            if err in (errno.EAGAIN, errno.EWOULDBLOCK) and timeout is None:
                # A unix socket whose listener's backlog is full: poll cannot
                # wait for room, so connect as the standard library does
                # (blocking; not cancellable while it waits).
                super().settimeout(None)
                return super().connect_ex(address)
            if err not in (errno.EINPROGRESS, errno.EALREADY):
                return err
            if not wait_fd(self.fileno(), _POLLOUT, deadline, self):
                raise TimeoutError("timed out")
            return self.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        finally:
            super().settimeout(timeout)

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """``socket.makefile``, whose reads and writes are blocking points.

        A buffered stream whose read is cancelled is closed for reading
        (later reads raise ``ValueError``): its buffer may hold bytes read
        from the socket that it cannot give back, so reading on could skip
        or repeat data. ``flush()`` and ``close()`` still work. An unbuffered
        stream (``buffering=0``) loses nothing and stays fully usable.
        """
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        rawmode = ("r" if reading else "") + ("w" if writing else "")
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        raw = _SocketIO(self, rawmode, close_on_cancel=buffering != 0)
        self._io_refs += 1  # type: ignore[attr-defined]
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: Any
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        text = io.TextIOWrapper(buffer, io.text_encoding(encoding), errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text

    def dup(self) -> socket:
        """``socket.dup``, returning a threado socket."""
        fd = _socket.dup(self.fileno())
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        sock.settimeout(self.gettimeout())
        return sock


socket.__module__ = "threado.socket"


class _SocketIO(_socket.SocketIO):
    """The raw layer of :meth:`socket.makefile` streams (see there)."""

    def __init__(self, sock: socket, mode: str, close_on_cancel: bool) -> None:
        super().__init__(sock, mode)  # type: ignore[arg-type]
        self._close_on_cancel = close_on_cancel
        self._read_cancelled = False

    def readinto(self, b: WriteableBuffer) -> int | None:
        if self._read_cancelled:
            raise ValueError(
                "read from a socket stream whose earlier read was cancelled "
                "(its buffer may hold bytes it cannot give back)"
            )
        try:
            return super().readinto(b)
        except ThreadCancelled:
            # Closed for reading, not closed outright: the buffered stream
            # above must still flush and close (libraries do, while the
            # cancellation propagates).
            self._read_cancelled = self._close_on_cancel
            raise


# As in the standard library: the C base type, of which every socket
# (standard or threado) is an instance.
SocketType = _socket.SocketType


def _adopt(sock: _socket.socket) -> socket:
    """Turn a standard socket into a threado socket (same descriptor)."""
    timeout = sock.gettimeout()
    new = socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    new.settimeout(timeout)
    return new


def socketpair(
    family: int = -1, type: int = _socket.SOCK_STREAM, proto: int = 0
) -> tuple[socket, socket]:
    """``socket.socketpair``, returning threado sockets."""
    if family == -1:
        family = _socket.AF_UNIX if hasattr(_socket, "AF_UNIX") else _socket.AF_INET
    a, b = _socketpair(family, type, proto)
    return _adopt(a), _adopt(b)


def fromfd(fd: int, family: int, type: int, proto: int = 0) -> socket:
    """``socket.fromfd``, returning a threado socket."""
    return socket(family, type, proto, fileno=_socket.dup(fd))


def getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> list[Any]:
    """``socket.getaddrinfo``, cancellable (a blocking point).

    libc's resolver cannot be interrupted, so the lookup runs in a helper
    thread; a cancelled caller stops waiting for it at once, and the helper
    finishes (and is discarded) in the background.
    """
    if lookup_state() is None:
        return _getaddrinfo(host, port, family, type, proto, flags)
    done = Latch()
    outcome: list[Any] = []

    def resolve() -> None:
        try:
            outcome.append((True, _getaddrinfo(host, port, family, type, proto, flags)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    _thread.start_new_thread(resolve, ())
    done.wait_until(None, f"getaddrinfo({host!r}, {port!r})")
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


_GLOBAL_DEFAULT_TIMEOUT: Any = _socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


def create_connection(
    address: tuple[str, int],
    timeout: Any = _GLOBAL_DEFAULT_TIMEOUT,
    source_address: Any = None,
    *,
    all_errors: bool = False,
) -> socket:
    """``socket.create_connection``, cancellable: resolution and connects too."""
    host, port = address
    # As the stdlib's, look up the socket module's class and resolver at call
    # time (tests replace them with mocks); its own originals mean ours.
    sock_cls: Any = _socket.socket
    if sock_cls is _stdsocket:
        sock_cls = socket
    resolve: Any = _socket.getaddrinfo
    if resolve is _getaddrinfo:
        resolve = getaddrinfo
    errors: list[Exception] = []
    for family, kind, proto, _, sockaddr in resolve(host, port, 0, _socket.SOCK_STREAM):
        sock = None
        try:
            sock = sock_cls(family, kind, proto)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            errors.clear()
            return sock  # type: ignore[no-any-return]
        except OSError as exc:
            errors.append(exc)
            if sock is not None:
                sock.close()
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    if not errors:
        raise OSError("getaddrinfo returns an empty list")
    if all_errors:
        raise ExceptionGroup("create_connection failed", errors)
    raise errors[-1]


def create_server(address: Any, **kwargs: Any) -> socket:
    """``socket.create_server``, returning a threado socket."""
    return _adopt(_create_server(address, **kwargs))
