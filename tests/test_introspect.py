"""Introspection (SPEC §8): ``threado.threads()``, ``threado.dump()`` and reprs."""

from __future__ import annotations

import io
import json
import threading
import traceback

import pytest
from helpers import TIMED_WAITS, timed_wait

import threado
from threado.testing import wait_parked


def by_name(name: str) -> threado._introspect.ThreadSnapshot:
    found = [s for s in threado.threads() if s.name == name]
    assert len(found) == 1, [s.name for s in threado.threads()]
    return found[0]


def test_threads_lists_every_live_thread_with_what_it_does() -> None:
    ev = threado.Event()
    lock = threado.RLock()
    plain_stop = threading.Event()
    plain = threading.Thread(target=plain_stop.wait, name="plain")
    plain.start()

    def holder() -> None:
        with lock:
            ev.wait()

    h = threado.spawn(holder, name="holder")
    wait_parked(h)
    w = threado.spawn(lock.acquire, name="lock-waiter")
    wait_parked(w)
    t0 = threado.clock()
    try:
        names = {s.name for s in threado.threads()}
        assert {"holder", "lock-waiter", "plain", threading.current_thread().name} <= names

        me = by_name(threading.current_thread().name)
        assert me.ident == threading.get_ident()
        assert me.waiting_on is None  # running: it is taking the snapshot
        assert isinstance(me.stack[-1], traceback.FrameSummary)
        assert me.stack[-1].name == "by_name"  # threado's own frames left out

        hs = by_name("holder")
        assert hs.waiting_on is ev
        assert hs.since is not None
        assert hs.since <= t0
        assert hs.holds == [lock]  # somebody waits for it
        assert hs.deadline is None
        assert not hs.cancel_requested
        assert any(f.name == "holder" for f in hs.stack)

        ws = by_name("lock-waiter")
        assert ws.waiting_on is lock
        assert ws.holds == []

        ps = by_name("plain")
        assert ps.waiting_on is None  # blocked outside threado: "running"
        assert ps.stack  # but its stack is there
    finally:
        ev.set()
        h.join()
        w.join()
        plain_stop.set()
        plain.join()


def test_snapshot_shows_deadline_and_pending_cancel() -> None:
    ev = threado.Event()

    def waits() -> None:
        with threado.shield():
            ev.wait()
        threado.checkpoint()  # the held-back cancel fires here

    def deadline_waits() -> None:
        with threado.timeout_after(60):
            ev.wait()

    a = threado.spawn(waits, name="shielded")
    b = threado.spawn(deadline_waits, name="timed")
    wait_parked(a)
    wait_parked(b)
    a.cancel(blocking=False)
    try:
        sa = by_name("shielded")
        assert sa.cancel_requested  # hidden by the shield
        assert sa.deadline is None
        sb = by_name("timed")
        assert sb.deadline is not None
        assert sb.deadline > threado.clock() + 50
    finally:
        ev.set()
        a.wait()
        b.join()
    assert a.cancelled


@pytest.mark.parametrize("kind", TIMED_WAITS)
def test_snapshot_deadline_is_the_waits_own_timeout(kind: str) -> None:
    """No timeout scope: the wait's own timeout is the deadline shown."""
    held, rheld = threado.Lock(), threado.RLock()
    with held, rheld:
        t = threado.spawn(timed_wait(kind, 60, held, rheld), name=f"own-{kind}")
        wait_parked(t)
        if kind == "join":  # parked in the join, not the joined thread's wait
            while by_name(f"own-{kind}").waiting_on is None:
                wait_parked(t)
        now = threado.clock()
        try:
            s = by_name(f"own-{kind}")
            out = io.StringIO()
            threado.dump(out)
        finally:
            t.cancel()
    assert s.waiting_on is not None
    assert s.deadline is not None
    assert now + 50 < s.deadline <= now + 60
    assert f"Thread 'own-{kind}'" in out.getvalue()
    text = out.getvalue()
    assert "  deadline in 59." in text or "  deadline in 60.000 s" in text, text


@pytest.mark.parametrize(
    ("scope", "own", "shown"), [(30, 60, 30), (60, 30, 30), (None, None, None)]
)
def test_snapshot_deadline_is_the_earlier_of_scope_and_wait(
    scope: float | None, own: float | None, shown: float | None
) -> None:
    ev, later = threado.Event(), threado.Event()

    def waits() -> None:
        with threado.timeout_after(scope):
            ev.wait(own)
        later.wait()  # no deadline at all: none is shown

    t = threado.spawn(waits, name="earlier")
    wait_parked(t)
    now = threado.clock()
    try:
        first = by_name("earlier").deadline
        ev.set()
        while by_name("earlier").waiting_on is not later:
            wait_parked(t)
        second = by_name("earlier").deadline
    finally:
        later.set()
        t.join()
    if shown is None:
        assert first is None
    else:
        assert first is not None
        assert now + shown - 10 < first <= now + shown
    assert second is None  # the timed wait's own deadline left with it


def test_dump_text() -> None:
    ev = threado.Event()
    t = threado.spawn(ev.wait, name="sleeper-1")
    wait_parked(t)
    out = io.StringIO()
    try:
        threado.dump(out)
    finally:
        ev.set()
        t.join()
    text = out.getvalue()
    assert "Thread 'sleeper-1' (ident " in text
    assert "  waiting on <threado.Event at 0x" in text
    assert "running (not parked in a threado wait)" in text  # this thread
    assert "Stack (most recent call last):" in text
    assert "test_introspect.py" in text


def test_dump_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    threado.dump()
    assert "Thread " in capsys.readouterr().err


def test_dump_json() -> None:
    lock = threado.RLock()
    lock.acquire()
    t = threado.spawn(lock.acquire, name="json-waiter")
    wait_parked(t)
    out = io.StringIO()
    try:
        threado.dump(out, format="json")
    finally:
        lock.release()
        t.join()
    data = json.loads(out.getvalue())
    threads = {d["name"]: d for d in data["threads"]}
    w = threads["json-waiter"]
    assert w["waiting_on"].startswith("<locked threado.RLock object owner=")
    assert w["waiting_for"] >= 0
    assert w["deadline_in"] is None
    me = threads[threading.current_thread().name]
    assert me["holds"] == [repr(lock)] or me["holds"][0].startswith("<")
    assert {"file", "line", "function", "code"} <= set(me["stack"][-1])


def test_dump_dot() -> None:
    lock = threado.RLock()
    lock.acquire()
    t = threado.spawn(lock.acquire, name='dot"waiter')
    wait_parked(t)
    out = io.StringIO()
    try:
        threado.dump(out, format="dot")
    finally:
        lock.release()
        t.join()
    dot = out.getvalue()
    assert dot.startswith("digraph threado {")
    assert dot.rstrip().endswith("}")
    assert f't{t.ident} -> o{id(lock)} [label="waits on"];' in dot
    assert f'o{id(lock)} -> t{threading.get_ident()} [label="held by"];' in dot
    assert 'dot\\"waiter' in dot  # quotes escaped


def test_dump_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        threado.dump(io.StringIO(), format="xml")


def test_reprs_hold_state_and_no_times() -> None:
    ev = threado.Event()
    t = threado.spawn(ev.wait, name="r")
    wait_parked(t)
    first = repr(t)
    assert first.startswith("<threado.Thread r waiting on <threado.Event at 0x")
    assert repr(t) == first  # the same state prints the same
    ev.set()
    t.join()
    lock = threado.RLock()
    with lock:
        me = threading.current_thread()
        assert f"owner={me.name} (ident {me.ident}) count=1" in repr(lock)


def test_threads_joining_each_other_repr_without_recursion() -> None:
    box: dict[str, threado.Thread[None]] = {}
    gate = threado.Event()

    def join(other: str) -> None:
        gate.wait()
        box[other].join()

    threado.deadlock_detection(False)
    try:
        box["a"] = threado.spawn(join, "b", name="A")
        box["b"] = threado.spawn(join, "a", name="B")
        gate.set()
        text = repr(box["a"])  # A waits on B, which waits on A
        assert text.startswith("<threado.Thread A")
    finally:
        threado.deadlock_detection(True)
        box["a"].cancel()
        box["b"].wait()
        assert box["b"].exception is not None
