"""Shared fixtures: every test must leave no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves a thread it started running."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before]
    for t in leftover:
        t.join(timeout=5.0)
    alive = [t for t in leftover if t.is_alive()]
    assert not alive, f"threads left running: {alive}"
