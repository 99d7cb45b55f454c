"""``run_in`` in a thread group: the first answer cancels the other remote jobs.

Three workers of a process pool are asked the same question; two are slow.
``ThreadGroup(wait=any)`` takes the first answer and cancels the other
threads, whose ``run_in`` calls cancel their jobs in the worker processes
and return only once the jobs' cleanup has run there. Then a
``timeout_after`` around ``run_in`` stops a remote job the same way.

Run it with ``python examples/run_in_group.py``.
"""

import threado


def ask(server: str, seconds: float) -> str:
    try:
        threado.sleep(seconds)  # stands for a slow query
        return f"answer from {server}"
    finally:
        pass  # a real job would close its connection here, in the worker


def first_answer(pool: threado.ProcessPoolExecutor) -> str:
    with threado.ThreadGroup(wait=any) as g:
        g.spawn(threado.run_in, pool, ask, "server-a", 60)
        g.spawn(threado.run_in, pool, ask, "server-b", 0.1)
        g.spawn(threado.run_in, pool, ask, "server-c", 60)
    winner = next(t for t in g.threads if not t.cancelled)
    cancelled = sum(t.cancelled for t in g.threads)
    print(f"first answer: {winner.result!r}; remote jobs cancelled: {cancelled}")
    return str(winner.result)


def main() -> None:
    with threado.ProcessPoolExecutor(3) as pool:
        first_answer(pool)
        with threado.ignore_after(0.2) as scope:
            threado.run_in(pool, ask, "server-d", 60)
        print(f"timeout_after around run_in: expired={scope.expired}")
    print("run_in_group finished")


if __name__ == "__main__":
    main()
