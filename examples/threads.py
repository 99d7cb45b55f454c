"""Threads: spawn and join, failures, CPU loops, and cleanup under a shield.

Run it with ``python examples/threads.py``.
"""

import functools

import threado
from threado.testing import wait_parked


def square(x: int, *, offset: int = 0) -> int:
    return x * x + offset


def spawn_and_join() -> None:
    print("== spawn and join")
    threads = [threado.spawn(square, n) for n in range(5)]
    print(f"results: {[t.join() for t in threads]}")
    # Keyword arguments go through functools.partial.
    t = threado.spawn(functools.partial(square, 3, offset=1))
    print(f"with a keyword argument: {t.join()}")


def fail() -> None:
    raise ValueError("no such file")


def a_failing_thread() -> None:
    print("== a failing thread")
    t = threado.spawn(fail)
    try:
        t.join()
    except threado.ThreadError as exc:
        print(f"join() raised ThreadError; its __cause__ is {exc.__cause__!r}")


def count(limit: int) -> int:
    """A CPU loop: checkpoint() makes it respond to cancels and timeouts."""
    n = 0
    while n < limit:
        n += 1
        threado.checkpoint()
    return n


def a_cpu_loop_under_a_timeout() -> None:
    print("== a CPU loop with checkpoint() under ignore_after(0.1)")
    with threado.ignore_after(0.1) as scope:
        count(10**12)
    print(f"the loop was stopped by its deadline: expired={scope.expired}")


def worker_with_cleanup() -> None:
    try:
        threado.sleep(60)  # cancelled here
    finally:
        # Cleanup that must block: shield it from the cancellation that
        # triggered it, and bound it with a timeout of its own.
        with threado.shield(), threado.timeout_after(5):
            threado.sleep(0.05)  # e.g. flush a buffer, say goodbye to a server
            print("worker: shielded cleanup finished")


def cleanup_under_a_shield() -> None:
    print("== cancelling a thread whose cleanup blocks")
    t = threado.spawn(worker_with_cleanup, name="worker")
    wait_parked(t)
    ended = t.cancel()  # returns once the cleanup has run and the thread ended
    print(f"main: cancel() returned {ended}; cancelled={t.cancelled}")


def main() -> None:
    spawn_and_join()
    a_failing_thread()
    a_cpu_loop_under_a_timeout()
    cleanup_under_a_shield()
    print("threads finished")


if __name__ == "__main__":
    threado.run(main)
