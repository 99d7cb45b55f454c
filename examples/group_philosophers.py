"""The dining philosophers: a deadlock, broken by a timeout and by a cancel.

Five philosophers sit at a round table with one fork (a ``threado.Lock``)
between each pair. Each picks up the fork on the left, then the one on the
right. Here every philosopher picks up the left fork and sits down, and only
when all five are seated do they reach for the right fork, which the
neighbour holds: a deadlock, certainly, not by bad luck.

1. An ``ignore_after`` around the group breaks it: at the deadline the group
   cancels the philosophers, and their ``with`` blocks put the forks they
   hold back on the table.
2. Cancelling one philosopher breaks it too: the fork it puts down lets its
   neighbour eat, who then frees the next fork, and so on round the table.

Either way every fork is free afterwards.

Run it with ``python examples/group_philosophers.py``.
"""

import threado
from threado.testing import wait_parked

SEATS = 5


def philosopher(
    i: int, forks: list[threado.Lock], seated: threado.Event, meal: float, log: list[str]
) -> None:
    left, right = forks[i], forks[(i + 1) % SEATS]
    try:
        with left:
            seated.wait()  # everybody holds a left fork before anyone reaches right
            with right:  # a blocking point: the deadlock happens here
                threado.sleep(meal)  # eating: a blocking point too
                log.append(f"philosopher {i}: ate")
    except threado.ThreadCancelled:
        # The with blocks have put down the forks it held.
        log.append(f"philosopher {i}: cancelled")
        raise


def seat_everybody(
    g: threado.ThreadGroup, forks: list[threado.Lock], meal: float, log: list[str]
) -> None:
    """Start the philosophers; return once all five hold a left fork and sit."""
    seated = threado.Event()
    for i in range(SEATS):
        p = g.spawn(philosopher, i, forks, seated, meal, log, name=f"philosopher-{i}")
        wait_parked(p)  # it holds its left fork and waits for the others
    seated.set()  # now every right fork is held by a neighbour: deadlock


def broken_by_a_timeout() -> None:
    print("== 1. a deadlock broken by ignore_after(0.2)")
    forks = [threado.Lock() for _ in range(SEATS)]
    log: list[str] = []
    with threado.ignore_after(0.2) as scope, threado.ThreadGroup() as g:
        # Long meals: a philosopher handed a fork by a neighbour that is
        # being cancelled is cancelled mid-meal, so every one ends cancelled.
        seat_everybody(g, forks, 60, log)
    # At the deadline, the wait for the group at the end of the block was
    # cancelled; the group cancelled the philosophers and waited for them.
    for line in sorted(log):
        print(line)
    print(f"main: the timeout expired: {scope.expired}")
    print(f"main: philosophers still at the table: {[t.name for t in g.threads if t.is_alive()]}")
    print(f"main: forks still taken: {[i for i, f in enumerate(forks) if f.locked()]}")


def broken_by_a_cancel() -> None:
    print("== 2. a deadlock broken by cancelling philosopher 0")
    forks = [threado.Lock() for _ in range(SEATS)]
    log: list[str] = []
    with threado.ThreadGroup() as g:
        seat_everybody(g, forks, 0.001, log)
        g.threads[0].cancel()  # puts down fork 0: philosopher 4 can eat, then 3...
    # A thread ended by cancellation is not a failure: the group ended normally.
    for line in sorted(log):
        print(line)
    print(f"main: failures: {g.exceptions}")
    print(f"main: forks still taken: {[i for i, f in enumerate(forks) if f.locked()]}")


def main() -> None:
    broken_by_a_timeout()
    broken_by_a_cancel()
    print("group_philosophers finished")


if __name__ == "__main__":
    threado.run(main)
