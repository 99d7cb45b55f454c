"""A pure-Python computation stopped by a timeout, by cancel() and by a group.

The search below never blocks, so without ``threado.interruptible()`` no
cancellation could reach it before it finishes (in about a minute).
"""

from __future__ import annotations

import threado


def count_primes(limit: int) -> int:
    """Count primes below ``limit`` the slow way: pure Python, no blocking point."""
    found = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


def crunch(limit: int) -> int:
    with threado.interruptible():
        return count_primes(limit)


def main() -> None:
    # A timeout stops the computation on its own, at its deadline.
    start = threado.clock()
    with threado.ignore_after(0.2) as scope:
        crunch(10**9)
    print(f"timeout: expired={scope.expired} after {threado.clock() - start:.2f} s")

    # cancel() stops it in another thread, which cleans up on the way out.
    lock = threado.Lock()
    started = threado.Event()

    def worker() -> None:
        with threado.interruptible(), lock:
            started.set()
            count_primes(10**9)

    t = threado.spawn(worker)
    started.wait()
    print(f"cancel: ended={t.cancel(timeout=5)}, cancelled={t.cancelled}, locked={lock.locked()}")

    # A group cancels the losers of a race once one answer is in.
    with threado.ThreadGroup(wait=any) as g:
        slow = g.spawn(crunch, 10**9)
        fast = g.spawn(crunch, 1000)
    print(f"group: answer={fast.result}, slow one cancelled={slow.cancelled}")

    print("cpu_timeout finished")


if __name__ == "__main__":
    main()
