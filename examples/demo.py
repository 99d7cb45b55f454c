"""A two-second tour of threado.

1. A thread blocked in ``threado.sleep(60)`` is cancelled mid-wait: its
   ``finally`` block runs and ``cancel()`` returns once the thread has ended.
2. ``timeout_after`` cuts a slow call short and raises ``ThreadTimeout``.
3. ``ignore_after`` does the same quietly; its ``expired`` attribute tells.

Run it with ``python examples/demo.py``.
"""

import time

import threado
from threado.testing import wait_parked


def sleeper() -> None:
    """Sleep for a minute, unless cancelled; clean up either way."""
    try:
        print("worker: going to sleep for 60 seconds")
        threado.sleep(60)
        print("worker: woke up by itself (not expected)")
    finally:
        print("worker: finally block ran")


def cancel_a_sleeping_thread() -> None:
    print("== 1. cancel a thread blocked in threado.sleep(60)")
    worker = threado.spawn(sleeper, name="worker")
    # Order threads by state, not by sleeping: return once it is parked.
    wait_parked(worker)
    print(f"main: {worker!r}")
    start = time.perf_counter()
    ended = worker.cancel()  # blocks until the worker has ended
    elapsed = time.perf_counter() - start
    print(f"main: cancel() returned {ended} after {elapsed * 1000:.2f} ms")
    print(f"main: {worker!r}, cancelled={worker.cancelled}")
    try:
        worker.join()
    except threado.ThreadError as exc:
        print(f"main: join() raised ThreadError caused by {exc.__cause__!r}")


def slow_operation() -> str:
    """Stand in for something slow: ten seconds of waiting."""
    threado.sleep(10)
    return "finished"


def timeout_that_raises() -> None:
    print("== 2. timeout_after: the block raises ThreadTimeout")
    start = threado.clock()
    try:
        with threado.timeout_after(0.2):
            slow_operation()
    except threado.ThreadTimeout:
        elapsed = threado.clock() - start
        print(f"main: caught ThreadTimeout after {elapsed:.1f} s")


def timeout_that_ends_quietly() -> None:
    print("== 3. ignore_after: the block ends quietly")
    with threado.ignore_after(0.2) as scope:
        slow_operation()
        print("main: not printed, the deadline cut the block short")
    print(f"main: ignore_after block left, expired={scope.expired}")
    with threado.ignore_after(5) as scope:
        threado.sleep(0)
    print(f"main: a block that finished in time has expired={scope.expired}")


def main() -> None:
    cancel_a_sleeping_thread()
    timeout_that_raises()
    timeout_that_ends_quietly()
    print("demo finished")


if __name__ == "__main__":
    threado.run(main)
