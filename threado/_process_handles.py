"""The manager's handles on the worker processes of :class:`threado.ProcessPoolExecutor`.

Theory of operation
-------------------

A :class:`Worker` is the manager thread's view of one worker process: its
process, its end of the pipe, the descriptors the manager polls, and
``sent``, the jobs sent to it and not answered yet, in the order sent (the
worker answers them in that order). At most :data:`DEPTH` jobs are in
flight on a worker: the one it runs and one *queued ahead*, as the
standard library keeps one extra call queued per worker
(``EXTRA_QUEUED_CALLS``), so that a worker that ends a job starts the next
one at once instead of idling for the manager's round trip.

Each worker has :data:`DEPTH` ticket semaphores (see ``_process_future``),
one per job in flight: a job is sent with the ticket of a slot that no job
in flight holds, so the parent and the worker always agree on which job a
ticket belongs to. A slot is free again only once its job's answer came
(a job that never started is answered too), so a ticket is never released
twice before it was taken.

Only the manager thread touches these handles.
"""

from __future__ import annotations

import select
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final

from ._process_future import JobFuture, Ticket
from ._process_worker import worker_main

#: The most jobs in flight on one worker: the running one and one queued ahead.
DEPTH: Final = 2


@dataclass(eq=False)
class Item:
    """A job of the pool: its future and its pickled ``(fn, args, kwargs)``."""

    future: JobFuture
    payload: bytes


@dataclass(eq=False)
class Sent:
    """One job in flight on a worker; ``id`` names this sending of it (a job
    taken back from a worker is sent again under a new id)."""

    id: int
    item: Item
    slot: int
    kill_at: float | None = None  # its cancel was sent: the worker's deadline
    moved: bool = False  # taken back, to run elsewhere: its answer is dropped
    started: bool = False  # queued ahead, and its worker took the ticket


@dataclass(eq=False)
class Worker:
    process: Any
    pid: int
    conn: Connection
    tickets: tuple[Ticket, ...]
    fd: int  # conn's
    sentinel: int  # readable once the process has ended
    poller: Any  # a select.poll() of conn
    sent: list[Sent] = field(default_factory=list)
    jobs: int = 0  # sent to it in all
    tasks: int = 0  # ended by it
    kill_at: float | None = None  # terminate, kill, or an exit's deadline
    terminated: bool = False
    exiting: bool = False
    eof: bool = False

    def free_slot(self) -> int:
        taken = {s.slot for s in self.sent}
        return next(i for i in range(DEPTH) if i not in taken)

    def send(self, message: object) -> None:
        try:
            self.conn.send(message)
        except OSError:  # it died: its sentinel tells
            pass


def start_worker(
    ctx: Any, initializer: Any, initargs: tuple[Any, ...], workers: list[Worker]
) -> Worker:
    """Start one worker process and add its handle to ``workers``."""
    parent, child = ctx.Pipe()
    tickets = tuple(ctx.Semaphore(0) for _ in range(DEPTH))
    process = ctx.Process(target=worker_main, args=(child, initializer, initargs, tickets))
    try:
        process.start()
    except BaseException:
        parent.close()  # now: the error's traceback keeps this frame alive
        raise
    finally:
        child.close()
    poller = select.poll()
    poller.register(parent.fileno(), select.POLLIN)
    w = Worker(
        process,
        process.pid,
        parent,
        tickets,
        parent.fileno(),
        process.sentinel,
        poller,
    )
    workers.append(w)
    return w


def close(w: Worker) -> int | None:
    """Reap ``w`` (it has exited or been killed), close what it held; its exit code."""
    w.process.join()
    code: int | None = w.process.exitcode
    w.conn.close()
    w.process.close()  # its sentinel now, not at a later garbage collection
    return code


def kill_all(workers: list[Worker]) -> None:
    """Kill and reap every worker (the pool broke, or its manager stopped)."""
    for w in workers:
        w.process.kill()
    for w in workers:
        close(w)
    workers.clear()
