"""A batch of jobs, at most three at a time, under one deadline.

``ThreadGroup(limit=3)`` runs at most three jobs at once: ``g.spawn`` waits
for a free slot. ``timeout_after`` around the group bounds the whole batch.
Three of the ten jobs hang; once they hold every slot, the next ``spawn``
waits until the deadline passes. Then the group cancels the running jobs,
waits for their cleanup, and the block raises ``ThreadTimeout``. The report
says which jobs finished, which were cancelled and which never started.

The quick jobs take about a millisecond and the deadline is half a second,
so the outcome is the same on any machine.

Run it with ``python examples/group_batch_timeout.py``.
"""

import threado

HANGS = {2, 5, 7}  # these jobs wait for a server that never answers


def job(n: int) -> int:
    threado.sleep(60 if n in HANGS else 0.001)
    return n * 10


def batch_under_a_deadline() -> None:
    print("== ten jobs, at most three at once, under timeout_after(0.5)")
    start = threado.clock()
    try:
        with threado.timeout_after(0.5), threado.ThreadGroup(limit=3) as g:
            for n in range(10):
                g.spawn(job, n, name=f"job-{n}")  # waits while three jobs run
    except threado.ThreadTimeout:
        print(f"main: the batch raised ThreadTimeout after {threado.clock() - start:.1f} s")
    # The group waited for the cancelled jobs: none is left running.
    finished = {t.name: t.result for t in g.threads if not t.cancelled}
    cancelled = [t.name for t in g.threads if t.cancelled]
    never_started = [f"job-{n}" for n in range(len(g.threads), 10)]
    print(f"main: finished: {finished}")
    print(f"main: cancelled: {cancelled}")
    print(f"main: never started: {never_started}")
    print(f"main: still running: {[t.name for t in g.threads if t.is_alive()]}")


def main() -> None:
    batch_under_a_deadline()
    print("group_batch_timeout finished")


if __name__ == "__main__":
    threado.run(main)
