"""CPython's own queue test suite (``test.test_queue``) run against threado.

These are the standard library's behaviour checks for the :mod:`queue`
module. Its mixins take the module under test as a ``queue`` class
attribute; here that is a namespace holding threado's classes and the
exceptions they raise. On Python 3.13 and newer the mixins include the
``shutdown()`` tests too. If the interpreter was installed without its
``test`` package, everything here is skipped.
"""

from __future__ import annotations

import queue
import types

import pytest

import threado

test_queue = pytest.importorskip("test.test_queue")
# CPython's suites take seconds: ``-m "not slow"`` skips them.
pytestmark = pytest.mark.slow

#: What ``test.test_queue`` calls ``self.queue``: threado in the stdlib's shape.
threado_queue = types.SimpleNamespace(
    Queue=threado.Queue,
    LifoQueue=threado.LifoQueue,
    PriorityQueue=threado.PriorityQueue,
    SimpleQueue=threado.SimpleQueue,
    Empty=queue.Empty,
    Full=queue.Full,
    ShutDown=threado.ShutDown,
)


class TestQueue(test_queue.QueueTest, test_queue.unittest.TestCase):  # type: ignore[misc,name-defined]
    queue = threado_queue


class TestLifoQueue(test_queue.LifoQueueTest, test_queue.unittest.TestCase):  # type: ignore[misc,name-defined]
    queue = threado_queue


class TestPriorityQueue(test_queue.PriorityQueueTest, test_queue.unittest.TestCase):  # type: ignore[misc,name-defined]
    queue = threado_queue


# The C SimpleQueue's suite: the generic SimpleQueue tests, plus reentrancy
# (``put`` from ``__del__`` while the same thread is inside ``put``/``get``)
# and ``SimpleQueue is queue.SimpleQueue``, true of the namespace above.
class TestSimpleQueue(test_queue.CSimpleQueueTest):  # type: ignore[misc,name-defined]
    queue = threado_queue


# A Queue subclass whose _put/_get raise on demand: the exception must reach
# the waiting putter/getter the hook was serving, as in the standard library.
class TestFailingQueue(test_queue.FailingQueueTest, test_queue.unittest.TestCase):  # type: ignore[misc,name-defined]
    queue = threado_queue
