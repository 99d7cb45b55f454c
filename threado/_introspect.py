"""Introspection: what every thread is doing, as data and as a thread dump.

:func:`threads` returns one :class:`ThreadSnapshot` per live thread that
Python knows about (``threading.enumerate()`` plus ``sys._current_frames()``:
threado's threads, plain ``threading`` threads, the main thread, and foreign
threads that run Python code); :func:`dump` writes the same as text, JSON or
a Graphviz ``dot`` picture. ``threado.Deadlock`` reports are made of these
snapshots.

Theory of operation
-------------------

A snapshot is assembled from plain attribute reads: the thread's
``ThreadState`` (found through ``_state.states``, copied under its leaf lock),
its ``waiting_on``/``wait_since``/``wait_deadline``/``deadline``/``cancel``
fields (a parked thread's deadline is the earlier of its wait's own and its
scopes'), the frame
``sys._current_frames()`` returns for it, and the owner fields of the
``RLock``\\s that threads wait on. It takes no lock of any primitive and
never waits for the threads it looks at, so it cannot block them or deadlock
with them; the price is that each field is a moment's value, and two fields
of one snapshot may belong to slightly different moments. That is what a
thread dump can promise; the deadlock detector, which must be exact,
re-validates what it reads (see ``_deadlock``).

``holds`` lists the locks (``Lock``, ``RLock``, and the lock under a
``Condition``) that some thread waits on and that this thread holds:
threado does not keep a list of every lock a thread holds (that would cost
every uncontended ``acquire()``), only who holds each lock, which is what a
hang needs explained. An ``RLock`` knows its owner; a ``Lock`` records the
thread that acquired it (one ``get_ident()`` and a store on ``acquire()``:
SPEC asks its repr to say "locked by worker-3"), although any thread may
release it.
"""

from __future__ import annotations

import os
import sys
import threading
from types import FrameType

from ._condition import Condition
from ._locks import Lock, RLock
from ._state import ThreadState, clock, states, states_mutex, thread_name
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import traceback
    from typing import IO, Any, Final

__all__ = [
    "ThreadSnapshot",
    "dump",
    "format_snapshots",
    "owner_of",
    "safe_repr",
    "snapshot",
    "threads",
]

#: threado's own directory: its innermost frames (the waiting machinery) are
#: left out of the stacks shown, which end at the caller's blocking call.
_PACKAGE: Final = os.path.dirname(__file__) + os.sep
_RUNPY: Final = os.path.join(os.path.dirname(os.__file__), "runpy.py")
#: Outermost frames that only start a thread or the program (runpy's, and
#: threado's runner's, ``python -m threado``), also left out.
_STARTERS: Final = frozenset(
    {
        (threading.__file__, "_bootstrap"),
        (threading.__file__, "_bootstrap_inner"),
        (threading.__file__, "run"),
        (os.path.join(os.path.dirname(__file__), "_threads.py"), "_bootstrap"),
        *(
            (runpy, name)
            for runpy in ("<frozen runpy>", _RUNPY)
            for name in ("_run_module_as_main", "_run_code")
        ),
        (os.path.join(os.path.dirname(__file__), "__main__.py"), "<module>"),
        *(
            (os.path.join(os.path.dirname(__file__), "_runner.py"), name)
            for name in ("main", "_run_path", "_run_module")
        ),
    }
)


class ThreadSnapshot:
    """What one thread was doing at one moment (see :func:`threado.threads`).

    Attributes:
        name: The thread's name (as ``threading`` knows it).
        ident: Its ``threading.get_ident()`` value.
        daemon: Whether it is a daemon thread (``False`` if unknown).
        waiting_on: The object it is parked on in a threado wait (a
            primitive, a thread handle, a description of descriptors), or
            ``None`` while it runs or blocks outside threado.
        since: The :func:`threado.clock` time its wait began, or ``None``.
        deadline: When its wait ends by itself (a :func:`threado.clock`
            time), or ``None``: the earlier of its enclosing timeout scopes'
            deadline and, while it is parked, the wait's own timeout
            (``lock.acquire(timeout=5)``, ``event.wait(5)``). Running, only
            the scopes' deadline counts.
        holds: The locks it owns that some thread waits for (see the module
            docstring).
        cancel_requested: Whether a cancellation is pending for it.
        stack: Its stack, outermost call first (without threado's parking
            machinery).
    """

    # A plain class, not a dataclass: ``import threado`` stays light
    # (``dataclasses`` imports ``inspect``).
    __slots__ = (
        "cancel_requested",
        "daemon",
        "deadline",
        "holds",
        "ident",
        "name",
        "since",
        "stack",
        "waiting_on",
    )

    def __init__(
        self,
        *,
        name: str,
        ident: int,
        daemon: bool,
        waiting_on: object,
        since: float | None,
        deadline: float | None,
        holds: list[object],
        cancel_requested: bool,
        stack: list[traceback.FrameSummary],
    ) -> None:
        self.name = name
        self.ident = ident
        self.daemon = daemon
        self.waiting_on = waiting_on
        self.since = since
        self.deadline = deadline
        self.holds = holds
        self.cancel_requested = cancel_requested
        self.stack = stack

    def __repr__(self) -> str:
        state = "running" if self.waiting_on is None else f"waiting on {self.waiting_on!r}"
        return f"<threado thread snapshot {self.name!r} (ident {self.ident}) {state}>"


ThreadSnapshot.__module__ = "threado"


def owner_of(obj: object) -> int | None:
    """Return the ident holding ``obj`` if it is a held lock (or a Condition over one).

    For an ``RLock``, its owner; for a ``Lock``, the thread that acquired it
    (any thread may release a ``Lock``, so the deadlock detector's cycle
    rule never follows it; reports only show it).
    """
    if isinstance(obj, Condition):
        obj = obj._lock
    if isinstance(obj, RLock):
        return obj._owner
    if isinstance(obj, Lock):
        holder = obj._holder
        return holder if obj._inner.locked() else None
    return None


def _stack(frame: FrameType | None) -> list[traceback.FrameSummary]:
    if frame is None:
        return []
    import traceback  # lazily: only reports need it

    stack = list(traceback.extract_stack(frame))
    while stack and stack[-1].filename.startswith(_PACKAGE):
        stack.pop()
    start = 0
    while start < len(stack) and (stack[start].filename, stack[start].name) in _STARTERS:
        start += 1
    return stack[start:]


def snapshot(
    ident: int,
    frame: FrameType | None,
    st: ThreadState | None,
    holds: list[object] | None = None,
) -> ThreadSnapshot:
    """Build the snapshot of thread ``ident`` from what was read of it."""
    t = getattr(threading, "_active", {}).get(ident)
    what = st.waiting_on if st is not None else None
    deadline = None
    if st is not None:
        # Read each field once: they are a moment's values (see above).
        deadline = st.deadline
        own = st.wait_deadline if what is not None else None
        if own is not None and (deadline is None or own < deadline):
            deadline = own
    return ThreadSnapshot(
        name=thread_name(ident),
        ident=ident,
        daemon=bool(t.daemon) if t is not None else False,
        waiting_on=what,
        since=st.wait_since if st is not None and what is not None else None,
        deadline=deadline,
        holds=list(holds or ()),
        cancel_requested=st is not None and st.cancel is not None,
        stack=_stack(frame),
    )


def threads() -> list[ThreadSnapshot]:
    """Return a snapshot of every live thread Python knows about.

    Never blocks, and never blocks the threads it looks at; each field is a
    moment's value (see the module docstring). Threads come in
    ``threading.enumerate()`` order, then foreign threads running Python code.
    """
    frames = sys._current_frames()
    try:
        idents = [t.ident for t in threading.enumerate() if t.ident is not None]
        idents += [i for i in frames if i not in set(idents)]
        with states_mutex:
            known = dict(states)
        found = {i: known.get(i) for i in idents}
        held: dict[int, list[object]] = {}
        for st in found.values():
            what = st.waiting_on if st is not None else None
            owner = owner_of(what)
            if owner is not None:
                lock = what._lock if isinstance(what, Condition) else what
                if all(x is not lock for x in held.setdefault(owner, [])):
                    held[owner].append(lock)
        return [snapshot(i, frames.get(i), found[i], held.get(i)) for i in idents]
    finally:
        frames.clear()  # it holds our own frame: no frame -> locals -> frame cycle


def safe_repr(obj: object) -> str:
    """``repr(obj)``, or a plain description if that raises (reports must not fail)."""
    try:
        return repr(obj)
    except Exception:
        return f"<{type(obj).__qualname__} object at {id(obj):#x} (repr failed)>"


def _age(t: float | None, now: float) -> str:
    return "" if t is None else f" for {now - t:.3f} s"


def format_snapshots(snaps: list[ThreadSnapshot], now: float | None = None) -> str:
    """Format snapshots as a thread dump, one block per thread."""
    import traceback  # lazily: only reports need it

    if now is None:
        now = clock()
    out: list[str] = []
    for s in snaps:
        flags = ", daemon" if s.daemon else ""
        out.append(f"Thread {s.name!r} (ident {s.ident}{flags}):")
        if s.waiting_on is None:
            out.append("  running (not parked in a threado wait)")
        else:
            out.append(f"  waiting on {safe_repr(s.waiting_on)}{_age(s.since, now)}")
        if s.deadline is not None:
            out.append(f"  deadline in {s.deadline - now:.3f} s")
        for lock in s.holds:
            out.append(f"  holds {safe_repr(lock)}")
        if s.cancel_requested:
            out.append("  cancel requested")
        out.append("  Stack (most recent call last):")
        for entry in traceback.format_list(s.stack):
            out.extend("  " + line for line in entry.rstrip("\n").split("\n"))
    return "\n".join(out)


def _json(snaps: list[ThreadSnapshot], now: float) -> str:
    import json  # lazily: only dumps need it

    def one(s: ThreadSnapshot) -> dict[str, Any]:
        return {
            "name": s.name,
            "ident": s.ident,
            "daemon": s.daemon,
            "waiting_on": None if s.waiting_on is None else safe_repr(s.waiting_on),
            "waiting_for": None if s.since is None else now - s.since,
            "deadline_in": None if s.deadline is None else s.deadline - now,
            "holds": [safe_repr(x) for x in s.holds],
            "cancel_requested": s.cancel_requested,
            "stack": [
                {"file": f.filename, "line": f.lineno, "function": f.name, "code": f.line}
                for f in s.stack
            ],
        }

    return json.dumps({"threads": [one(s) for s in snaps]}, indent=2)


def _dot(snaps: list[ThreadSnapshot]) -> str:
    def q(*parts: str) -> str:
        """A quoted dot label, one line per part."""
        esc = [p.replace("\\", "\\\\").replace('"', '\\"') for p in parts]
        return '"' + "\\n".join(esc) + '"'

    lines = ["digraph threado {", "  rankdir=LR;"]
    objects: dict[int, object] = {}
    for s in snaps:
        parts = [s.name, f"ident {s.ident}"]
        if s.cancel_requested:
            parts.append("cancel requested")
        style = "" if s.waiting_on is not None else ", style=bold"
        lines.append(f"  t{s.ident} [shape=box{style}, label={q(*parts)}];")
        if s.waiting_on is not None:
            objects[id(s.waiting_on)] = s.waiting_on
            lines.append(f'  t{s.ident} -> o{id(s.waiting_on)} [label="waits on"];')
        for lock in s.holds:
            objects[id(lock)] = lock
            lines.append(f'  o{id(lock)} -> t{s.ident} [label="held by"];')
    for key, obj in objects.items():
        lines.append(f"  o{key} [shape=ellipse, label={q(safe_repr(obj))}];")
    lines.append("}")
    return "\n".join(lines)


def dump(file: IO[str] | None = None, format: str = "text") -> None:
    """Write what every live thread is doing to ``file`` (default: ``sys.stderr``).

    For each thread: name, ident, whether it runs or what it waits on and for
    how long, its deadline, the locks others wait for that it holds, whether
    a cancellation is pending, and its stack. Never blocks the threads it
    looks at.

    Args:
        file: A text stream (default ``sys.stderr``).
        format: ``"text"`` (a thread dump), ``"json"`` (``{"threads": [...]}``
            for tools; times are relative, in seconds) or ``"dot"`` (a
            Graphviz digraph of who waits on what and who holds what).

    Raises:
        ValueError: ``format`` is not one of these.
    """
    if format not in ("text", "json", "dot"):
        raise ValueError(f"format must be 'text', 'json' or 'dot', not {format!r}")
    snaps = threads()
    now = clock()
    if format == "text":
        text = format_snapshots(snaps, now)
    elif format == "json":
        text = _json(snaps, now)
    else:
        text = _dot(snaps)
    out = sys.stderr if file is None else file
    out.write(text + "\n")
    flush = getattr(out, "flush", None)
    if flush is not None:
        flush()
