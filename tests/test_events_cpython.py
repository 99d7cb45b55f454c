"""CPython's own lock test suite (``test.lock_tests``) against threado.Event and threado.Barrier.

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


class TestEvent(lock_tests.EventTests):  # type: ignore[misc,name-defined]
    eventtype = staticmethod(threado.Event)


class TestBarrier(lock_tests.BarrierTests):  # type: ignore[misc,name-defined]
    barriertype = staticmethod(threado.Barrier)
