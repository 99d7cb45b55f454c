"""CPython's own lock test suite (``test.lock_tests``) run against threado.

These are the standard library's behaviour checks for ``threading``; the
classes below only name which threado type each suite exercises. If the
interpreter was installed without its ``test`` package, they are skipped.
"""

from __future__ import annotations

import pytest

import threado

lock_tests = pytest.importorskip("test.lock_tests")


class TestLock(lock_tests.LockTests):  # type: ignore[misc,name-defined]
    locktype = staticmethod(threado.Lock)


class TestRLock(lock_tests.RLockTests):  # type: ignore[misc,name-defined]
    locktype = staticmethod(threado.RLock)


class TestEvent(lock_tests.EventTests):  # type: ignore[misc,name-defined]
    eventtype = staticmethod(threado.Event)


class TestCondition(lock_tests.ConditionTests):  # type: ignore[misc,name-defined]
    condtype = staticmethod(threado.Condition)


class TestSemaphore(lock_tests.SemaphoreTests):  # type: ignore[misc,name-defined]
    semtype = staticmethod(threado.Semaphore)


class TestBoundedSemaphore(lock_tests.BoundedSemaphoreTests):  # type: ignore[misc,name-defined]
    semtype = staticmethod(threado.BoundedSemaphore)


class TestBarrier(lock_tests.BarrierTests):  # type: ignore[misc,name-defined]
    barriertype = staticmethod(threado.Barrier)
