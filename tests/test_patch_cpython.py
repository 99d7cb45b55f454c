"""CPython's own regression tests, run with the standard library patched.

``threado.patch()`` promises that patched calls behave exactly as the
originals. Each case below runs a few of CPython's own test classes (from the
interpreter's ``test`` package) in a fresh interpreter where ``threado.patch()``
ran first, and asserts that they pass. Every test named here passes without
the patch; the ones marked ``xfail`` fail only under it (known threado bugs:
each reason says where). If the interpreter was installed without its
``test`` package, everything here is skipped; so is a case whose tests this
interpreter's ``test`` package does not have.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import unittest

import pytest

pytest.importorskip("test.support")
# CPython's suites take seconds: ``-m "not slow"`` skips them.
pytestmark = pytest.mark.slow

RUNNER = """\
import sys
import threado
threado.patch()
# Give the main thread a threado handle, as every thread started after
# patch() has: then patched calls take threado's paths, not the stdlib's.
threado.current_thread()
import unittest
unittest.main(module=None, argv=["cpython-tests", *sys.argv[1:]])
"""


def run_cpython_tests(*names: str, timeout: float = 240) -> None:
    """Run CPython test ids (``test.test_x.Class[.method]``) under patch; assert success.

    The main thread that runs them has a threado handle (see ``RUNNER``).
    """
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, *names],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]


def _ids(module: str, *classes: str) -> list[str]:
    return [f"test.{module}.{name}" for name in classes]


# Groups that pass under patch; each takes a few seconds at most.
PASSING = {
    # A finished thread must be freed by reference counting under patch (it
    # was kept in a cycle with its handle): the executor's manager thread holds
    # a multiprocessing queue whose semaphores the test counts.
    "concurrent-futures-resources": [
        "test.test_concurrent_futures.test_init.FailingInitializerResourcesTest.test_spawn"
    ],
    "threading-primitives": _ids(
        "test_threading",
        "LockTests",
        "PyRLockTests",
        "CRLockTests",
        "EventTests",
        "ConditionAsRLockTests",
        "ConditionTests",
        "SemaphoreTests",
        "BoundedSemaphoreTests",
        "BarrierTests",
        "TimerTests",
    ),
    "threading-threads": _ids(
        "test_threading",
        "ThreadingExceptionTests",
        "ThreadJoinOnShutdown",
        "InterruptMainTests",
        "AtexitTests",
    ),
    "queue": _ids("test_queue", "PyQueueTest", "PyLifoQueueTest", "PyPriorityQueueTest"),
    "socket": _ids(
        "test_socket",
        "BasicTCPTest",
        "BasicUDPTest",
        "TCPCloserTest",
        "BasicSocketPairTest",
        "NonBlockingTCPTests",
        "FileObjectClassTestCase",
        "UnbufferedFileObjectClassTestCase",
        "NetworkConnectionAttributesTest",
        "TCPTimeoutTest",
        "UDPTimeoutTest",
    ),
    "selectors": _ids("test_selectors", "DefaultSelectorTestCase", "EpollSelectorTestCase"),
    "select": _ids(
        "test_select",
        "SelectTestCase.test_returned_list_identity",
        "SelectTestCase.test_select",
    ),
    "subprocess": _ids("test_subprocess", "RunFuncTestCase", "ContextManagerTests"),
    "servers": _ids("test_socketserver", "SocketServerTest")
    + _ids("test_httplib", "BasicTest", "TimeoutTest"),
    "asyncio": ["test.test_asyncio.test_threads"],
    # Thread pools and the executor-independent futures (not the process
    # pools: they start worker processes). Run where they exist: see
    # _concurrent_futures_ids.
    "concurrent-futures": [
        "test.test_concurrent_futures.test_future.FutureTests",
        "test.test_concurrent_futures.test_wait.ThreadPoolWaitTests",
        "test.test_concurrent_futures.test_as_completed.ThreadPoolAsCompletedTest",
        "test.test_concurrent_futures.test_shutdown.ThreadPoolShutdownTest",
        "test.test_concurrent_futures.test_thread_pool.ThreadPoolExecutorTest",
        "test.test_concurrent_futures.test_init.ThreadPoolInitializerTest",
        "test.test_concurrent_futures.test_init.ThreadPoolFailingInitializerTest",
    ],
    # Each of these failed under patch once; fixed, they guard the fix.
    "former-failures": [
        "test.test_subprocess.POSIXProcessTestCase.test_communicate_BrokenPipeError_stdin_write",
        "test.test_threading.ThreadTests.test_no_refcycle_through_target",
        "test.test_socket.SendmsgUnixStreamTest.testSendmsgDontWait",
        "test.test_socket.NetworkConnectionNoServer.test_create_connection_timeout",
        "test.test_select.SelectTestCase.test_error_conditions",
        "test.test_select.SelectTestCase.test_select_mutated",
        "test.test_ssl.ThreadedTests.test_read_write_after_close_raises_valuerror",
    ],
}

# Tests that fail only under patch.
XFAIL = {
    "threading-all": (
        "test.test_threading.MiscTestCase.test__all__",
        "threado difference: patched threading classes live in threado._locks and its siblings",
    ),
    "lock-instantiation": (
        "test.test_threading.ThreadTests.test_disallow_instantiation",
        "threado difference: type(threading.Lock()) is a Python class that can be instantiated",
    ),
    "poll-instantiation": (
        "test.test_select.SelectTestCase.test_disallow_instantiation",
        "threado difference: type(select.poll()) is a Python class that can be instantiated",
    ),
}

# Tests left out of their class in a group, for time: test_map_timeout
# sleeps 6 s (the timeouts it needs are covered by FutureTests and wait()).
LEAVE_OUT = {
    "test.test_concurrent_futures.test_thread_pool.ThreadPoolExecutorTest.test_map_timeout",
}

_CONCURRENT_FUTURES = "test.test_concurrent_futures"


def _concurrent_futures_ids(test_id: str) -> list[str]:
    """This interpreter's ids for ``test_id``, a 3.13 ``test.test_concurrent_futures`` id.

    The tests are a package from 3.12 on (``test_concurrent_futures.test_wait``,
    ...) and a single module before, with the same class names; the package
    may also be missing. Returns ``[]`` for a class or test this interpreter
    lacks, and a class's tests one by one when ``LEAVE_OUT`` names some of them.
    """
    submodule, *rest = test_id.removeprefix(_CONCURRENT_FUTURES + ".").split(".")
    try:
        module = importlib.import_module(_CONCURRENT_FUTURES)
        if hasattr(module, "__path__"):
            module = importlib.import_module(f"{_CONCURRENT_FUTURES}.{submodule}")
    except (ImportError, unittest.SkipTest):
        return []
    cls = getattr(module, rest[0], None)
    if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
        return []
    prefix = f"{module.__name__}.{rest[0]}"
    if len(rest) > 1:
        return [f"{prefix}.{rest[1]}"] if hasattr(cls, rest[1]) else []
    names = unittest.TestLoader().getTestCaseNames(cls)
    if not any(f"{test_id}.{name}" in LEAVE_OUT for name in names):
        return [prefix]
    return [f"{prefix}.{name}" for name in names if f"{test_id}.{name}" not in LEAVE_OUT]


def _this_pythons_ids(test_ids: list[str]) -> list[str]:
    """``test_ids`` as this interpreter names them; skip the test if none exists."""
    ids: list[str] = []
    for test_id in test_ids:
        if test_id.startswith(_CONCURRENT_FUTURES + "."):
            ids += _concurrent_futures_ids(test_id)
        else:
            ids.append(test_id)
    if not ids:
        pytest.skip(f"this Python's test package has none of {test_ids}")
    return ids


# The suites take ~20 s each on an idle machine; the subprocess has its own
# timeout, so pytest's global 60 s must not cut them short under load.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("group", sorted(PASSING))
def test_cpython_suite_passes_under_patch(group: str) -> None:
    run_cpython_tests(*_this_pythons_ids(PASSING[group]))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(test_id, id=key, marks=pytest.mark.xfail(strict=True, reason=reason))
        for key, (test_id, reason) in sorted(XFAIL.items())
    ],
)
def test_cpython_known_failures_under_patch(name: str) -> None:
    run_cpython_tests(*_this_pythons_ids([name]))


def test_multiprocessing_barrier_under_patch() -> None:
    # The case CPython's WithProcessesTestBarrier exercises (it hangs there).
    code = """\
import threado
threado.patch()
import multiprocessing

def child(barrier):
    barrier.wait(timeout=10)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    proc = ctx.Process(target=child, args=(barrier,))
    proc.start()
    try:
        barrier.wait(timeout=10)
    finally:
        proc.join(10)
    assert proc.exitcode == 0, proc.exitcode
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
