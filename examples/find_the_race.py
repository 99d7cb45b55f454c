"""A bank transfer race, found by ``threado.testing.explore`` and replayed.

Two clerks move money between the same two accounts at once. Each checks the
balance, then debits and credits it, with a (threado) audit call in between,
a blocking point. Run freely, the bug hides: each transfer takes microseconds
and the threads rarely overlap. ``explore`` runs the transfers under many
interleavings, one thread at a time, switching only at blocking points,
and fails on the first that loses money, naming its seed; ``replay`` runs
that very interleaving again, as often as you like. With a lock around the
whole transfer, ``explore(strategy="dfs")`` checks every interleaving within
two preemptions and reports that it exhausted them.

Run it with ``python examples/find_the_race.py``.
"""

import re

import threado
import threado.testing


class Bank:
    def __init__(self, locked: bool) -> None:
        self.balances = {"alice": 100, "bob": 100}
        self.lock = threado.Lock() if locked else None

    def audit(self, what: str) -> None:
        threado.checkpoint()  # stands for a call that blocks: a log write, a query

    def transfer(self, src: str, dst: str, amount: int) -> None:
        if self.lock is not None:
            with self.lock:
                self._transfer(src, dst, amount)
        else:
            self._transfer(src, dst, amount)

    def _transfer(self, src: str, dst: str, amount: int) -> None:
        balance = self.balances[src]
        if balance < amount:
            return
        self.audit(f"{src} -> {dst}: {amount}")
        self.balances[src] = balance - amount  # a stale balance if someone came between
        self.balances[dst] += amount


def two_clerks(locked: bool = False) -> None:
    bank = Bank(locked)
    clerks = [
        threado.spawn(bank.transfer, "alice", "bob", 30),
        threado.spawn(bank.transfer, "bob", "alice", 50),
    ]
    for clerk in clerks:
        clerk.join()
    total = sum(bank.balances.values())
    assert total == 200, f"money appeared or vanished: {bank.balances} (total {total})"


def main() -> None:
    try:
        threado.testing.explore(two_clerks, runs=100)
    except AssertionError as exc:
        print(f"explore: {exc}")
        note = exc.__notes__[0]
        print(f"  note: {note}")
        m = re.search(r"seed=(\d+)", note)
        assert m is not None
        seed = int(m.group(1))
    else:
        raise SystemExit("explore did not find the race")

    for attempt in range(3):
        try:
            threado.testing.replay(two_clerks, seed)
        except AssertionError:
            print(f"replay {attempt + 1} with seed={seed}: the same failure")

    result = threado.testing.explore(
        lambda: two_clerks(locked=True), runs=1000, strategy="dfs", max_preemptions=2
    )
    print(
        f"with the lock, every schedule passed: exhausted={result.exhausted} "
        f"after {result.schedules} schedules"
    )
    print("find_the_race finished")


if __name__ == "__main__":
    main()
