"""CPython's own lock test suite (``test.lock_tests``) against the semaphores.

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


class TestSemaphore(lock_tests.SemaphoreTests):  # type: ignore[misc,name-defined]
    semtype = staticmethod(threado.Semaphore)


class TestBoundedSemaphore(lock_tests.BoundedSemaphoreTests):  # type: ignore[misc,name-defined]
    semtype = staticmethod(threado.BoundedSemaphore)
