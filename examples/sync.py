"""Locks, conditions, semaphores and barriers, cancelled mid-wait.

1. A worker holding a lock in ``with`` is cancelled: the lock is released on
   the way out. A thread cancelled while it waits for the lock never gets it.
2. A consumer waiting on a condition is cancelled: the lock is held again
   when ``ThreadCancelled`` propagates. An item handed over at the same
   instant as a cancel is not lost: the consumer gets it, and the cancel
   fires at its next blocking point.
3. A bounded semaphore lets at most two jobs run at once; an ``acquire``
   with a timeout gives up; a cancelled waiter takes no permit.
4. A barrier party cancelled before everybody arrived breaks the barrier.

Run it with ``python examples/sync.py``.
"""

import threading

import threado
from threado.testing import wait_parked

# -- 1. locks ---------------------------------------------------------------


def hold_lock(lock: threado.Lock) -> None:
    with lock:  # released on the way out, also when cancelled
        print("holder: got the lock, working for 60 seconds")
        threado.sleep(60)


def wait_for_lock(lock: threado.Lock) -> None:
    try:
        with lock:  # the acquire is a blocking point: it waits here
            print("not printed: a cancelled acquire never takes the lock")
    except threado.ThreadCancelled:
        print("waiter: cancelled while waiting; the with block never ran")
        raise


def cancel_a_lock_holder_and_a_waiter() -> None:
    print("== 1. locks: cancel a thread waiting for a lock, then its holder")
    lock = threado.Lock()
    holder = threado.spawn(hold_lock, lock, name="holder")
    wait_parked(holder)  # it holds the lock and sleeps
    waiter = threado.spawn(wait_for_lock, lock, name="waiter")
    wait_parked(waiter)  # it is queued for the lock
    print(f"main: {lock!r}")
    waiter.cancel()
    print(f"main: waiter cancelled, the holder still has the lock: locked={lock.locked()}")
    holder.cancel()
    print(f"main: holder cancelled, its with block released the lock: locked={lock.locked()}")


# -- 2. conditions ----------------------------------------------------------


class Mailbox:
    """Items handed from producers to consumers under a condition."""

    def __init__(self) -> None:
        self.lock = threado.RLock()
        self.ready = threado.Condition(self.lock)
        self.items: list[str] = []

    def put(self, item: str) -> None:
        with self.ready:
            self.items.append(item)
            self.ready.notify()

    def get(self) -> str:
        with self.ready:
            try:
                self.ready.wait_for(lambda: self.items)
            except threado.ThreadCancelled:
                # The wait re-acquired the lock before raising, so this runs
                # under the lock and the with block releases it.
                print(f"consumer: cancelled mid-wait, lock held again: {self.lock.locked()}")
                raise
            return self.items.pop(0)


def consume(box: Mailbox) -> None:
    item = box.get()
    print(f"consumer: got {item!r}")
    try:
        threado.checkpoint()  # the next blocking point
    except threado.ThreadCancelled:
        print("consumer: the cancel fired at the next blocking point")
        raise


def cancel_a_condition_wait() -> None:
    print("== 2. conditions: cancel a consumer waiting for an item")
    box = Mailbox()
    consumer = threado.spawn(consume, box, name="consumer")
    wait_parked(consumer)  # parked in wait_for, the lock released
    consumer.cancel()
    print(f"main: consumer ended, cancelled={consumer.cancelled}, locked={box.lock.locked()}")


def notify_at_the_instant_of_a_cancel() -> None:
    print("== 2b. an item handed over at the same instant as a cancel is not lost")
    box = Mailbox()
    consumer = threado.spawn(consume, box, name="consumer")
    wait_parked(consumer)
    with box.lock:  # an RLock: put() can take it again
        box.put("job-1")  # the item is handed to the waiting consumer...
        consumer.cancel(blocking=False)  # ...and the cancel reaches it at once
    consumer.wait()
    print(f"main: consumer cancelled={consumer.cancelled}, items left={box.items}")


# -- 3. semaphores ----------------------------------------------------------


def job(slots: threado.BoundedSemaphore, n: int, finish: threado.Event) -> None:
    with slots:  # at most two jobs get past this line at once
        print(f"job {n}: running")
        finish.wait()


def limit_concurrency() -> None:
    print("== 3. a bounded semaphore: at most two jobs at once")
    slots = threado.BoundedSemaphore(2)
    finish = threado.Event()
    jobs = []
    for n in range(3):
        jobs.append(threado.spawn(job, slots, n, finish, name=f"job-{n}"))
        wait_parked(jobs[-1])  # jobs 0 and 1 wait for `finish`, job 2 for a slot
    got = slots.acquire(timeout=0.1)
    print(f"main: acquire(timeout=0.1) returned {got}: both slots are busy")
    jobs[2].cancel()
    print(f"main: job 2 cancelled while waiting for a slot: cancelled={jobs[2].cancelled}")
    finish.set()
    for t in jobs[:2]:
        t.join()
    print(f"main: every permit is back: value={slots.value}")
    try:
        slots.release()
    except ValueError as exc:
        print(f"main: one release too many raised ValueError: {exc}")


# -- 4. barriers ------------------------------------------------------------


def party(barrier: threado.Barrier, name: str) -> int | None:
    try:
        return barrier.wait()
    except threading.BrokenBarrierError:
        print(f"{name}: BrokenBarrierError, a party left before everybody arrived")
        return None


def break_a_barrier() -> None:
    print("== 4. a barrier: a party cancelled before everybody arrived breaks it")
    barrier = threado.Barrier(3)
    a = threado.spawn(party, barrier, "a", name="a")
    wait_parked(a)
    b = threado.spawn(party, barrier, "b", name="b")
    wait_parked(b)
    a.cancel()  # two of the three parties have arrived
    b.join()
    print(f"main: a cancelled={a.cancelled}, barrier broken={barrier.broken}")
    barrier.reset()
    others = [threado.spawn(barrier.wait) for _ in range(2)]
    indices = sorted([barrier.wait(), *(t.join() for t in others)])
    print(f"main: after reset(), three parties passed with indices {indices}")


def main() -> None:
    cancel_a_lock_holder_and_a_waiter()
    cancel_a_condition_wait()
    notify_at_the_instant_of_a_cancel()
    limit_concurrency()
    break_a_barrier()
    print("sync finished")


if __name__ == "__main__":
    threado.run(main)
