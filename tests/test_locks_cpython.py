"""CPython's own lock test suite (``test.lock_tests``) run against threado.Lock and threado.RLock.

These are the standard library's behaviour checks for ``threading``; the
classes below only name which threado type each suite exercises. If the
interpreter was installed without its ``test`` package, they are skipped.
The suites take seconds: they are marked ``slow``.
"""

from __future__ import annotations

import pytest

import threado

lock_tests = pytest.importorskip("test.lock_tests")
pytestmark = pytest.mark.slow


class TestLock(lock_tests.LockTests):  # type: ignore[misc,name-defined]
    locktype = staticmethod(threado.Lock)


class TestRLock(lock_tests.RLockTests):  # type: ignore[misc,name-defined]
    locktype = staticmethod(threado.RLock)
