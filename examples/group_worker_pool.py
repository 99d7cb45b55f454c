"""A pool of worker threads fed by a queue, shut down by leaving the block.

The workers run in a ``ThreadGroup(wait=None)``: when the block ends, the
group cancels them. ``q.join()`` at the end of the block waits until every
item has been processed, so the cancellation finds each worker idle in
``q.get()`` (a blocking point) and nothing is lost. Each worker's ``finally``
block runs before the block is left.

Run it with ``python examples/group_worker_pool.py``.
"""

import threado


def worker(n: int, q: threado.Queue[int], results: dict[int, int], stopped: list[int]) -> None:
    try:
        for item in q:  # each get() is a blocking point: the cancel lands here
            try:
                threado.sleep(0.001)  # stands for real work
                results[item] = item * item
            finally:
                q.task_done()  # even if the work failed: q.join() must not hang
    finally:
        stopped.append(n)  # cleanup: close a connection, flush a buffer...


def worker_pool() -> None:
    print("== a pool of 4 workers fed by a queue")
    q: threado.Queue[int] = threado.Queue(maxsize=8)
    results: dict[int, int] = {}
    stopped: list[int] = []
    with threado.ThreadGroup(wait=None) as g:
        for n in range(4):
            g.spawn(worker, n, q, results, stopped, name=f"worker-{n}")
        for item in range(40):
            q.put(item)  # blocks while 8 items wait: the workers set the pace
        q.join()  # every item processed; the workers now wait in get()
    # Leaving the block cancelled the workers and waited for their cleanup.
    print(f"main: all 40 items processed: {sorted(results) == list(range(40))}")
    print(f"main: sum of the squares: {sum(results.values())}")
    print(f"main: every worker ran its cleanup: {sorted(stopped)}")
    print(f"main: every worker ended by cancellation: {all(t.cancelled for t in g.threads)}")
    print(f"main: no failures: {g.exceptions}")


def main() -> None:
    worker_pool()
    print("group_worker_pool finished")


if __name__ == "__main__":
    threado.run(main)
