"""A process pool whose running jobs can be cancelled.

1. A job blocked in ``threado.sleep`` in a worker process is cancelled: its
   ``finally`` runs there, the future ends cancelled, and the same worker
   takes the next job.
2. A job stuck in a loop without a blocking point ignores the cancel; after
   the pool's ``grace`` its worker is terminated and replaced, and the pool
   goes on.
3. A worker that dies fails only its own job, with an error naming the exit code.

The jobs tell the main process they started through a ``multiprocessing``
queue, so nothing depends on timing. Run it with
``python examples/process_pool.py``.
"""

import multiprocessing
import os
from typing import Any

import threado


def slow_job(started: Any) -> str:
    started.put(os.getpid())
    try:
        threado.sleep(60)  # stands for a slow download in the worker
        return "done"
    finally:
        started.put("cleanup ran in the worker")


def stuck_job(started: Any) -> None:
    started.put(os.getpid())
    while True:  # no blocking point: only terminating the worker stops it
        pass


def crash() -> None:
    os._exit(3)


def main() -> None:
    with multiprocessing.Manager() as manager:
        started = manager.Queue()
        with threado.ProcessPoolExecutor(1, grace=0.5) as pool:
            future = pool.submit(slow_job, started)
            pid = started.get()
            print(f"1. cancel() of the running job: {future.cancel()}")
            print(f"   worker says: {started.get()}")
            print(f"   future.cancelled(): {threado.wait([future]) and future.cancelled()}")
            print(f"   same worker takes the next job: {pool.submit(os.getpid).result() == pid}")

            stuck = pool.submit(stuck_job, started)
            pid = started.get()
            stuck.cancel()
            threado.wait([stuck])
            print(f"2. stuck job ended cancelled after the grace: {stuck.cancelled()}")
            print(f"   a new worker took over: {pool.submit(os.getpid).result() != pid}")

            print(f"3. {pool.submit(crash).exception()}")
            print(f"   the pool goes on: 2 + 2 = {pool.submit(int.__add__, 2, 2).result()}")
    print("process_pool finished")


if __name__ == "__main__":
    main()
