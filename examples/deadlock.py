"""The dining philosophers without a timeout: threado explains the deadlock.

Five philosophers sit at a round table with one fork (a ``threado.RLock``:
a fork belongs to whoever picked it up) between each pair. Each picks up the
fork on the left, waits until everybody is seated, then reaches for the fork
on the right, which the neighbour holds. Nobody set a timeout, so this would
hang forever. Instead, the philosopher whose reach closes the circle gets a
``threado.Deadlock`` at once (the cycle rule: each waits for an RLock owned
by the next), with a report naming every philosopher, the fork each waits
for, who holds it, and their stacks. Its ``with`` block puts its left fork
down, so its neighbour can eat, and then the next one: the table empties.

Run it with ``python examples/deadlock.py``.
"""

import threado
from threado.testing import wait_parked

SEATS = 5


def philosopher(i: int, forks: list[threado.RLock], seated: threado.Event, log: list[str]) -> None:
    left, right = forks[i], forks[(i + 1) % SEATS]
    with left:
        seated.wait()  # everybody holds a left fork before anyone reaches right
        with right:  # no timeout: without detection, this waits forever
            log.append(f"philosopher {i}: ate")


def main() -> None:
    forks = [threado.RLock() for _ in range(SEATS)]
    seated = threado.Event()
    log: list[str] = []
    table = []
    for i in range(SEATS):
        p = threado.spawn(philosopher, i, forks, seated, log, name=f"philosopher-{i}")
        wait_parked(p)  # it holds its left fork
        table.append(p)
    seated.set()  # every right fork is now held by a neighbour

    deadlocks: list[threado.Deadlock] = []
    for p in table:
        try:
            p.join()
        except threado.ThreadError as e:
            if not isinstance(e.__cause__, threado.Deadlock):
                raise
            deadlocks.append(e.__cause__)
            print(f"main: {p.name} raised Deadlock at its right fork; the report:")
            print(e.__cause__)
    print(f"main: exactly one philosopher raised Deadlock: {len(deadlocks) == 1}")
    names = {s.name for s in deadlocks[0].threads}
    print(f"main: the report names all five: {names == {p.name for p in table}}")
    print(f"main: the others ate: {len(log) == SEATS - 1}")
    print(f"main: forks still taken: {[i for i, f in enumerate(forks) if f.locked()]}")
    print("deadlock finished")


if __name__ == "__main__":
    main()
