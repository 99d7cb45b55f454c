"""Worker pools: cancel the workers mid-``get``, and account for every job.

A cancelled ``get`` never takes an item, and an item handed to a worker at the
instant it is cancelled is returned to it (the cancellation then waits for the
worker's next blocking point). So after a pool is cancelled every job is in
exactly one place, processed by one worker or still in the queue, and the
queue's ``task_done`` count is exact: a new pool can take over, and ``join()``
returns once it has processed the rest.

Run it with ``python examples/worker_pool.py``.
"""

import threado
from threado.testing import wait_parked

JOBS = 1000
WORKERS = 4


def worker(jobs: threado.Queue[int], done: list[int]) -> None:
    """Process jobs until the queue is shut down; record each one in ``done``.

    ``done`` belongs to this worker alone: read it once the worker has ended.
    """
    for job in jobs:  # get() is a blocking point: a cancel lands here
        done.append(job)  # "process" the job: no blocking point in here
        jobs.task_done()


def start_pool(jobs: threado.Queue[int]) -> tuple[list[threado.Thread[None]], list[list[int]]]:
    """Start WORKERS workers on ``jobs``; return them and their ``done`` lists."""
    done: list[list[int]] = [[] for _ in range(WORKERS)]
    pool = [threado.spawn(worker, jobs, mine, name=f"worker-{i}") for i, mine in enumerate(done)]
    return pool, done


def cancel_a_busy_pool() -> None:
    print(f"== {WORKERS} workers, {JOBS} jobs: cancel the pool while it works")
    jobs: threado.Queue[int] = threado.Queue()
    pool, done = start_pool(jobs)
    for t in pool:
        wait_parked(t)  # every worker is parked in get(), waiting for work
    for job in range(JOBS):
        jobs.put(job)  # handed straight to a parked worker, or queued
    for t in pool:
        t.cancel(blocking=False)  # cancel them all at once, mid-get
    for t in pool:
        t.wait()
    print(f"workers cancelled: {sum(t.cancelled for t in pool)} of {WORKERS}")

    processed = [job for mine in done for job in mine]
    print(
        "each job processed once or still queued: "
        f"{len(set(processed)) == len(processed) and len(processed) + jobs.qsize() == JOBS}"
    )

    # A new pool takes over. join() returns once every job put has been
    # marked done: the count is exact, whatever the cancel interrupted.
    pool, done_after = start_pool(jobs)
    jobs.join()
    jobs.shutdown()  # the workers' loops end: the queue is shut down and empty
    for t in pool:
        t.join()
    processed += [job for mine in done_after for job in mine]
    print(
        f"join() returned; every job processed exactly once: {sorted(processed) == [*range(JOBS)]}"
    )


def main() -> None:
    cancel_a_busy_pool()
    print("worker_pool finished")


if __name__ == "__main__":
    main()
