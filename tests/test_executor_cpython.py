"""CPython's own thread-pool executor tests run against ``threado.ThreadPoolExecutor``.

The standard library's ``test.test_concurrent_futures`` package (3.13 and
newer ship it as a package; the interpreters this project tests 3.11 and
3.12 with were installed without it, and everything here is then skipped)
takes the executor class under test as the ``executor_type`` attribute of
its thread-pool test classes; each class here is one of them with threado's
executor substituted. Tests that build ``concurrent.futures.ThreadPoolExecutor``
by name test the standard library, so they see threado's class instead
while this module's tests run (see ``_substituted``).
"""

from __future__ import annotations

import concurrent.futures
import unittest

import pytest

import threado

pytest.importorskip("test.test_concurrent_futures.test_thread_pool")
# CPython's suites take seconds: ``-m "not slow"`` skips them.
pytestmark = pytest.mark.slow

from test.test_concurrent_futures import (  # type: ignore[import-not-found]  # noqa: E402
    test_as_completed,
    test_init,
    test_shutdown,
    test_thread_pool,
    test_wait,
)


@pytest.fixture(autouse=True)
def _substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    """``concurrent.futures.ThreadPoolExecutor`` is threado's during each test."""
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", threado.ThreadPoolExecutor)


class TestThreadPoolExecutor(test_thread_pool.ThreadPoolExecutorTest):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor

    @unittest.skip(
        "for time: it sleeps 6 s; a timed-out map() is covered by "
        "tests/test_executor.py::test_map_timeout_cancels_the_running_calls"
    )
    def test_map_timeout(self) -> None:  # pragma: no cover
        pass


class TestThreadPoolShutdown(test_shutdown.ThreadPoolShutdownTest):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor

    @unittest.skip(
        "asserts the limit threado lifts: shutdown(cancel_futures=True) leaves the "
        "running jobs running (threado cancels them, so none ends finished)"
    )
    def test_cancel_futures(self) -> None:  # pragma: no cover
        pass


class TestThreadPoolWait(test_wait.ThreadPoolWaitTests):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor


class TestThreadPoolAsCompleted(test_as_completed.ThreadPoolAsCompletedTest):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor


class TestThreadPoolInitializer(test_init.ThreadPoolInitializerTest):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor


class TestThreadPoolFailingInitializer(test_init.ThreadPoolFailingInitializerTest):  # type: ignore[misc]
    executor_type = threado.ThreadPoolExecutor
