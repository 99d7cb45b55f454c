"""Cancellable select, poll and epoll: ``threado/select.py`` (SPEC §6).

Results and errors are compared with the standard library's ``select``.
"""

from __future__ import annotations

import functools
import os
import select as stdselect
import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers import SLACK, in_thread, outcome

import threado
import threado.select as tselect
import threado.socket as tsocket
from threado.testing import wait_parked


def test_select_with_empty_lists_waits_its_timeout_and_is_cancellable() -> None:
    start = time.monotonic()
    assert in_thread(tselect.select, [], [], [], 0.2) == ([], [], [])
    assert 0.19 <= time.monotonic() - start < SLACK
    t = threado.spawn(tselect.select, [], [], [])
    wait_parked(t)
    assert t.cancel(timeout=5)


def test_select_errors_match_the_stdlib() -> None:
    def scenario() -> list[Any]:
        tselect.select([], [], [], 0.001)  # the thread's wake-up descriptor exists now
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        cases: list[Callable[[Any], Any]] = [
            lambda sel: sel([r], [], [], 0.1),
            lambda sel: sel([], [], [], -1),
            lambda sel: sel([-1], [], [], 0.1),
            lambda sel: sel(None, [], [], 0.1),
        ]
        pairs = []
        for case in cases:
            expected = outcome(functools.partial(case, stdselect.select))
            got = outcome(functools.partial(case, tselect.select))
            pairs.append((got[:2], expected[:2]))  # same exception type (and errno)
        return pairs

    for got, expected in in_thread(scenario):
        assert expected[0] == "err"
        assert got == expected


def test_select_write_set_ignores_hangup() -> None:
    r, w = os.pipe()
    os.close(w)
    try:
        expected = stdselect.select([], [r], [], 0.1)
        assert expected == ([], [], [])
        assert in_thread(tselect.select, [], [r], [], 0.1) == expected
    finally:
        os.close(r)


def test_a_failed_select_leaves_no_stale_registration() -> None:
    def scenario() -> float:
        x, y = tsocket.socketpair()
        try:
            y.sendall(b"ready")
            with pytest.raises(OverflowError):
                tselect.select([x, 2**40], [], [], 0.1)
            start = time.monotonic()
            assert tselect.select([], [], [], 0.3) == ([], [], [])
            return time.monotonic() - start
        finally:
            x.close()
            y.close()

    assert in_thread(scenario) >= 0.29


def test_poll_matches_the_stdlib_and_is_cancellable(pair: Any) -> None:
    a, b = pair
    b.sendall(b"x")

    def scenario(mod: Any) -> list[Any]:
        p = mod.poll()
        p.register(a, stdselect.POLLIN)
        p.register(b.fileno(), stdselect.POLLIN)
        out: list[Any] = [sorted(p.poll(100))]
        p.modify(b, stdselect.POLLOUT)
        out.append(sorted(p.poll(-1)))
        out.append(outcome(lambda: p.unregister(12345)))
        out.append(outcome(lambda: p.modify(12345, 1)))
        p.unregister(a)
        p.unregister(b)
        start = time.monotonic()
        out.append(p.poll(150))
        out.append(time.monotonic() - start >= 0.14)
        return out

    assert in_thread(scenario, tselect) == scenario(stdselect)
    p = tselect.poll()
    p.register(a, stdselect.POLLOUT)
    p.modify(a, stdselect.POLLPRI)
    a.recv(1)
    for forever in (None, -1):
        t = threado.spawn(p.poll, forever)
        wait_parked(t)
        assert t.cancel(timeout=5)


def test_epoll_maxevents_zero_raises() -> None:
    with stdselect.epoll() as ep:
        expected = outcome(lambda: ep.poll(0.1, maxevents=0))
    assert expected[1] is ValueError
    with tselect.epoll() as tep:
        assert in_thread(outcome, lambda: tep.poll(0.1, maxevents=0)) == expected


def test_epoll_fromfd_exists() -> None:
    with stdselect.epoll() as ep:
        other = stdselect.epoll.fromfd(os.dup(ep.fileno()))
        other.close()
        fd = os.dup(ep.fileno())
        try:
            t = tselect.epoll.fromfd(fd)
        except AttributeError:
            os.close(fd)
            raise
        t.close()


def test_epoll_results_and_cancellation(pair: Any) -> None:
    a, b = pair
    with tselect.epoll() as ep:
        ep.register(a.fileno(), stdselect.EPOLLIN)
        t = threado.spawn(ep.poll)
        wait_parked(t)
        assert t.cancel(timeout=5)
        t2 = threado.spawn(ep.poll, -1.0, 4)
        wait_parked(t2)
        b.sendall(b"x")
        assert t2.join(timeout=5) == [(a.fileno(), stdselect.EPOLLIN)]
        assert a.recv(1) == b"x"
        with pytest.raises(threado.ThreadTimeout):
            with threado.timeout_after(0.05):
                ep.poll(3, 1)
