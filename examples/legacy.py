"""A "legacy" program: plain threading, time.sleep and queue, nothing of threado.

Run as it is, three worker threads square ten numbers and the program ends::

    python examples/legacy.py

With ``--forever`` the workers stay, waiting for more jobs, after the main
thread is done: a plain Python then waits for them for ever, and neither
Ctrl-C nor SIGTERM runs their ``finally`` blocks. Under threado's runner,
unmodified, they become cancellable (docs/running.rst)::

    python -m threado --patch examples/legacy.py --forever

and Ctrl-C (or ``kill -TERM``) stops the program cleanly: every worker
prints that it cleaned up, then the process ends by the signal.
"""

import queue
import sys
import threading
import time


def worker(n: int, jobs: "queue.Queue[int | None]", results: "queue.Queue[int]") -> None:
    try:
        while (job := jobs.get()) is not None:
            time.sleep(0.01)  # the work
            results.put(job * job)
    finally:
        print(f"worker {n}: cleaned up", flush=True)


def main() -> None:
    forever = "--forever" in sys.argv[1:]
    jobs: queue.Queue[int | None] = queue.Queue()
    results: queue.Queue[int] = queue.Queue()
    workers = [
        threading.Thread(target=worker, args=(n, jobs, results), name=f"worker-{n}")
        for n in range(3)
    ]
    for t in workers:
        t.start()
    for job in range(10):
        jobs.put(job)
    total = sum(results.get() for _ in range(10))
    print(f"legacy: the sum of the squares is {total}", flush=True)
    if forever:
        print("legacy: the workers wait for more jobs; stop them with Ctrl-C", flush=True)
        return
    for _ in workers:
        jobs.put(None)
    for t in workers:
        t.join()
    print("legacy finished")


if __name__ == "__main__":
    main()
