"""First answer wins: race slow sources, cancel the losers mid-wait.

1. ``wait=any``: four mirrors are asked for the same file. Two are slow,
   one fails, one answers; the first *successful* answer decides the race,
   and the group cancels the others in the middle of their wait. Their
   cleanup runs before the block is left. The failure does not stop the
   race: it is collected in ``g.exceptions``, not raised.
2. ``wait=object``: the first result that is not ``None`` wins, so a cache
   miss (``None``) does not end the race; the database's answer does.

The losers wait for 60 seconds, so nothing here depends on timing:
``wait_parked`` makes sure they are waiting before the winner answers.

Run it with ``python examples/group_first_answer.py``.
"""

import threado
from threado.testing import wait_parked


def fetch(mirror: str, seconds: float, cleaned_up: list[str]) -> str:
    try:
        threado.sleep(seconds)  # stands for a slow download
        return f"file from {mirror}"
    finally:
        cleaned_up.append(mirror)  # runs for the losers too: close the connection


def broken_mirror() -> str:
    raise ConnectionError("mirror-c: connection refused")


def first_answer_wins() -> None:
    print("== 1. wait=any: the first successful answer wins")
    cleaned_up: list[str] = []
    with threado.ThreadGroup(wait=any) as g:
        for mirror in ("mirror-a", "mirror-b"):
            wait_parked(g.spawn(fetch, mirror, 60, cleaned_up, name=mirror))
        g.spawn(broken_mirror, name="mirror-c")  # fails: the race goes on
        g.spawn(fetch, "mirror-d", 0.01, cleaned_up, name="mirror-d")
    # The block was left as soon as mirror-d answered and the losers ended.
    winner = g.completed
    assert winner is not None
    print(f"main: g.completed is {winner.name}: {winner.result!r}")
    losers = [t.name for t in g.threads if t.cancelled]
    print(f"main: cancelled mid-wait: {losers}")
    print(f"main: cleanup ran for: {sorted(cleaned_up)}")
    # Read the failures that did not matter; a failure nobody looks at is
    # logged at exit (failures are never silent).
    print(f"main: collected, not raised: {g.exceptions!r}")


def cache_lookup(key: str) -> str | None:
    return None  # a miss


def database_query(key: str, ready: threado.Event) -> str | None:
    ready.wait()  # stands for a query that takes a while
    return f"{key} from the database"


def first_non_none_wins() -> None:
    print("== 2. wait=object: the first result that is not None wins")
    ready = threado.Event()
    with threado.ThreadGroup(wait=object) as g:
        cache = g.spawn(cache_lookup, "user:42", name="cache")
        db = g.spawn(database_query, "user:42", ready, name="database")
        wait_parked(db)
        cache.wait()  # the miss has ended, and the race goes on
        print(f"main: the cache returned {cache.result!r}; still racing: {g.completed is None}")
        ready.set()
    assert g.completed is not None
    print(f"main: g.completed is {g.completed.name}: {g.completed.result!r}")


def main() -> None:
    first_answer_wins()
    first_non_none_wins()
    print("group_first_answer finished")


if __name__ == "__main__":
    threado.run(main)
