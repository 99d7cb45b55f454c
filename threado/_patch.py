"""Patching: make the standard library, and the libraries using it, cancellable.

:func:`patch` replaces, process-wide, the blocking calls of the standard
library with threado's cancellable versions: ``time.sleep``, the
``threading`` primitives and ``Thread.join``, the ``queue`` classes, the
``socket`` class and its constructors, ``select``'s waits (and the
``selectors`` classes built on them), ``subprocess.Popen``, and the class
every ``ssl.SSLContext`` wraps sockets in.
Importing threado patches nothing.

Theory of operation
-------------------

* A registry keeps every original the first time it is replaced ("first
  original wins"), so :func:`patch` is idempotent, :func:`unpatch` restores
  exactly what was there, and :func:`get_original` always answers with the
  standard library's own object.
* Objects created before :func:`patch` keep their classes: patch at program
  start, before other modules create locks and queues.
* ``_thread`` is never patched: the import machinery and the interpreter's
  own shutdown use its locks.
* threado's I/O modules, and the standard modules they wrap, are imported
  inside :func:`patch` (as gevent's ``monkey`` does), so that importing
  threado loads no I/O module; all of them before anything is replaced,
  because they bind the standard library's originals when imported.
* Hazards designed for: ``Thread.start()`` waits on its ``_started`` event,
  which becomes a threado event, so ``start`` runs shielded (a cancel must
  not make it raise once the thread has launched); threads started after
  :func:`patch` get a threado handle in their bootstrap, before ``start``
  returns, so that ``Thread.join`` can wait for them cancellably (older
  threads are joined the standard way); the stdlib calls ``_at_fork_reinit``
  on locks and ``_is_owned``/``_release_save``/``_acquire_restore`` on a
  Condition's lock, which threado's primitives provide; ``SimpleQueue.put``
  stays reentrant, as ``concurrent.futures`` needs.
"""

from __future__ import annotations

import _thread
import importlib
import math
import operator
import sys
import threading
import types

from ._condition import Condition
from ._events import Barrier, Event
from ._locks import Lock, RLock
from ._parking import deadline_from_timeout
from ._queues import LifoQueue, PriorityQueue, Queue
from ._scopes import shield
from ._scopes import sleep as threado_sleep
from ._semaphores import BoundedSemaphore, Semaphore
from ._simplequeue import SimpleQueue
from ._state import lookup_state
from ._threads import Thread, adopt_current
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from typing import Any

__all__ = ["get_original", "is_patched", "more_magic", "patch", "unpatch"]

# (module name, attribute) -> the standard library's original.
_originals: dict[tuple[str, str], Any] = {}
_patch_lock = _thread.allocate_lock()
_patched = False


def get_original(module: str, name: str) -> Any:
    """Return the standard library's own ``module.name``, patched or not.

    Raises:
        AttributeError: the module has no such attribute.
    """
    key = (module, name)
    if key in _originals:
        return _originals[key]
    return getattr(importlib.import_module(module), name)


def is_patched() -> bool:
    """Return whether :func:`patch` is in effect."""
    return _patched


def _resolve(module: str, name: str) -> tuple[Any, str]:
    """Return the object owning ``name`` (which may be ``Class.attr``) and the attribute."""
    owner: Any = importlib.import_module(module)
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def _has(module: str, name: str) -> bool:
    try:
        owner, attr = _resolve(module, name)
    except AttributeError:
        return False  # e.g. no epoll on this platform
    return hasattr(owner, attr)


def _replace(module: str, name: str, value: Any) -> None:
    owner, attr = _resolve(module, name)
    key = (module, name)
    if key not in _originals:
        _originals[key] = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    setattr(owner, attr, value)


# -- time ---------------------------------------------------------------------------

#: time.sleep raises OverflowError above this (the platform's time_t in ns).
_SLEEP_MAX = 2**63 / 1e9


def sleep(secs: float) -> None:
    """``time.sleep``, cancellable: a blocking point (same results and errors)."""
    # float subclasses (numpy floats) are floats; anything else must be an
    # integer (operator.index raises the TypeError time.sleep raises).
    secs = float(secs) if isinstance(secs, float) else float(operator.index(secs))
    if secs != secs:
        raise ValueError("Invalid value NaN (not a number)")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    if secs >= _SLEEP_MAX or math.isinf(secs):
        raise OverflowError("timestamp out of range for platform time_t")
    threado_sleep(secs)


# -- threading.Thread ---------------------------------------------------------------


def _bootstrap_inner(self: threading.Thread) -> None:
    # Runs first in every thread started after patch(): give it a handle, so
    # that join() can wait for its end cancellably.
    # Threads started by threado.spawn() come with their handle already.
    if getattr(self, "_threado_handle", None) is None:
        st = lookup_state()
        if st is None or st.handle is None:
            self._threado_handle = adopt_current(self)  # type: ignore[attr-defined]
    _originals[("threading", "Thread._bootstrap_inner")](self)


def _start(self: threading.Thread) -> None:
    with shield():  # start() must not raise once the thread has launched
        _originals[("threading", "Thread.start")](self)


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    original = _originals[("threading", "Thread.join")]
    handle: Thread[Any] | None = getattr(self, "_threado_handle", None)
    if handle is None or self is threading.current_thread() or not self._started.is_set():  # type: ignore[attr-defined]
        if self._started.is_set() and self is not threading.current_thread():  # type: ignore[attr-defined]
            # Still a blocking point: a thread that has ended has dropped its
            # handle (see threado._threads._unlink), and an old one has none.
            st = lookup_state()
            if st is not None:
                st.check()
        original(self, timeout)  # the standard checks and errors, or an old thread
        return
    if handle._done.wait_until(deadline_from_timeout(timeout), self):
        original(self, None)  # it has ended: returns at once
    # On timeout, return like threading does; is_alive() tells the caller.


def _patch_thread_methods() -> None:
    cls = threading.Thread
    for name, value in (
        ("_bootstrap_inner", _bootstrap_inner),
        ("start", _start),
        ("join", _join),
    ):
        key = ("threading", f"Thread.{name}")
        if key not in _originals:
            _originals[key] = getattr(cls, name)
        setattr(cls, name, value)


def _unpatch_thread_methods() -> None:
    for name in ("_bootstrap_inner", "start", "join"):
        key = ("threading", f"Thread.{name}")
        if key in _originals:
            setattr(threading.Thread, name, _originals[key])


# -- patch / unpatch ---------------------------------------------------------------

#: threado's I/O modules, imported by the first patch() (not by `import threado`).
_IO_MODULES = ("socket", "select", "ssl", "subprocess")


def _io(name: str) -> types.ModuleType:
    """Return threado's I/O module ``name`` (``"socket"`` ...), importing it if needed."""
    return importlib.import_module(f"{__package__}.{name}")


_REPLACEMENTS: list[tuple[str, str, Callable[[], Any]]] = [
    ("time", "sleep", lambda: sleep),
    ("threading", "Lock", lambda: Lock),
    ("threading", "RLock", lambda: RLock),
    ("threading", "Condition", lambda: Condition),
    ("threading", "Semaphore", lambda: Semaphore),
    ("threading", "BoundedSemaphore", lambda: BoundedSemaphore),
    ("threading", "Event", lambda: Event),
    ("threading", "Barrier", lambda: Barrier),
    ("queue", "Queue", lambda: Queue),
    ("queue", "LifoQueue", lambda: LifoQueue),
    ("queue", "PriorityQueue", lambda: PriorityQueue),
    ("queue", "SimpleQueue", lambda: SimpleQueue),
    ("socket", "socket", lambda: _io("socket").socket),
    ("socket", "socketpair", lambda: _io("socket").socketpair),
    ("socket", "fromfd", lambda: _io("socket").fromfd),
    ("socket", "getaddrinfo", lambda: _io("socket").getaddrinfo),
    ("socket", "create_connection", lambda: _io("socket").create_connection),
    ("socket", "create_server", lambda: _io("socket").create_server),
    ("select", "select", lambda: _io("select").select),
    ("select", "poll", lambda: _io("select").poll),
    ("select", "epoll", lambda: _io("select").epoll),
    ("subprocess", "Popen", lambda: _io("subprocess").Popen),
    # Every SSL context wraps sockets in this class.
    ("ssl", "SSLContext.sslsocket_class", lambda: _io("ssl").SSLSocket),
    # selectors bound these as class attributes when it was imported.
    ("selectors", "SelectSelector._select", lambda: staticmethod(_io("select").select)),
    ("selectors", "PollSelector._selector_cls", lambda: _io("select").poll),
    ("selectors", "EpollSelector._selector_cls", lambda: _io("select").epoll),
]


def patch() -> None:
    """Make the standard library's blocking calls cancellable, process-wide.

    Patches ``time.sleep``; ``threading.Lock``, ``RLock``, ``Condition``,
    ``Semaphore``, ``BoundedSemaphore``, ``Event``, ``Barrier`` and
    ``Thread.join``; ``queue.Queue``, ``LifoQueue``, ``PriorityQueue`` and
    ``SimpleQueue``; and ``socket.socket`` (with ``socketpair``, ``fromfd``,
    ``getaddrinfo``, ``create_connection``, ``create_server``) and
    ``select.select``/``poll``/``epoll`` (and so every :mod:`selectors`
    selector), which makes ``http.client``, ``urllib``, ``socketserver`` and
    other socket users cancellable; TLS sockets' handshakes, reads and
    writes (through ``ssl.SSLContext.sslsocket_class``); and
    ``subprocess.Popen``, whose ``wait``
    and ``communicate`` become cancellable and stop and reap the child when
    cancelled (so ``run``, ``call``, ``check_output`` ... do too).
    Idempotent. Call it first, at program start:
    objects created before it keep the standard classes.
    """
    global _patched
    with _patch_lock:
        for io_module in _IO_MODULES:
            _io(io_module)  # each binds the originals it needs: before any replacement
        for module, name, value in _REPLACEMENTS:
            if _has(module, name):
                _replace(module, name, value())
        _patch_thread_methods()
        _patched = True


def unpatch() -> None:
    """Undo :func:`patch`: put every original back (objects made meanwhile stay)."""
    global _patched
    with _patch_lock:
        for module, name, _ in _REPLACEMENTS:
            key = (module, name)
            if key in _originals:
                owner, attr = _resolve(module, name)
                setattr(owner, attr, _originals[key])
        _unpatch_thread_methods()
        _patched = False


# -- more_magic ---------------------------------------------------------------------


class _MagicModule(types.ModuleType):
    """A standard module as seen by a library imported under :func:`more_magic`:
    the names :func:`patch` replaces are threado's, everything else the module's."""

    def __init__(self, real: types.ModuleType, replacements: dict[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__["_real"] = real
        self.__dict__["_replacements"] = replacements

    def __getattr__(self, name: str) -> Any:
        replacements = self.__dict__["_replacements"]
        if name in replacements:
            return replacements[name]
        return getattr(self.__dict__["_real"], name)

    def __repr__(self) -> str:
        return f"<module {self.__name__!r} (threado's cancellable view)>"


_magic_modules: dict[str, _MagicModule] = {}


def _magic_view(name: str) -> _MagicModule:
    view = _magic_modules.get(name)
    if view is None:
        replacements = {
            attr: value()
            for module, attr, value in _REPLACEMENTS
            if module == name and "." not in attr and _has(module, attr)
        }
        view = _magic_modules[name] = _MagicModule(sys.modules[name], replacements)
    return view


def more_magic() -> AbstractContextManager[None]:
    """Make the libraries imported inside the block use threado's versions.

    ``with threado.more_magic(): import somelib``. While the block runs the
    standard library is patched (as by :func:`patch`), so names a library
    binds at import (``from time import sleep``, ``from threading import
    Lock``) are threado's; when it ends, the modules imported in the block
    get, in place of their references to ``time``, ``threading``, ``queue``,
    ``socket``, ``select`` and ``subprocess``, views of those modules whose
    patched names are threado's, so calls made later (``time.sleep(...)``)
    stay cancellable; and the patch is undone (if :func:`patch` was not in
    effect before).

    Differences from :func:`patch`: only the libraries imported in the block
    are affected afterwards; modules imported before it keep what they
    have; and, while the block runs, the whole process sees the patch.
    """
    from contextlib import contextmanager  # here: not a cost of ``import threado``

    return contextmanager(_more_magic)()


def _more_magic() -> Iterator[None]:
    """The body of :func:`more_magic`, a generator for ``contextmanager``."""
    already = set(sys.modules)
    was_patched = is_patched()
    if not was_patched:
        patch()
    try:
        yield
    finally:
        try:
            targets = {
                name for module, _, _ in _REPLACEMENTS if "." not in module for name in [module]
            }
            for mod_name in set(sys.modules) - already:
                module = sys.modules.get(mod_name)
                namespace = getattr(module, "__dict__", None)
                if not isinstance(namespace, dict) or mod_name.startswith("threado"):
                    continue
                for key, value in list(namespace.items()):
                    if (
                        isinstance(value, types.ModuleType)
                        and value.__name__ in targets
                        and sys.modules.get(value.__name__) is value
                    ):
                        namespace[key] = _magic_view(value.__name__)
        finally:
            if not was_patched:
                unpatch()
