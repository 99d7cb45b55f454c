"""``threado.dask``: run jobs on a Dask cluster as cancellable threado threads.

Install with ``pip install threado[dask]``. ``import threado`` never imports
this module (nor Dask).

Theory of operation
-------------------

:class:`Executor` submits each job as a Dask task (``pure=False``) that runs
the job in a threado thread on the worker (see ``threado._remote_job``).
The job's cancel signal is a ``distributed.Event`` named by the job's token,
kept by the scheduler. On the worker's event loop, the task keeps a wait on
it (``event_wait``: a request the scheduler answers when the event is set,
not a poll) whose answer sets a threado ``Event`` in the worker, which the
task waits on; the job's thread sets that one too as it ends. So a job's
end takes no scheduler request on its path: the task returns at once, and
the event is cleaned up behind it, on the loop: set (which ends the wait),
then, once the wait has ended, cleared (the scheduler forgets an event that
is clear and awaited by nobody). Set before clear, in one coroutine,
whatever order the wait and the parent's set reached the scheduler in: a
clear that came first would leave an event set forever. Three scheduler
requests per job, none on the job's path.

A job still running ``grace`` seconds after its cancel (C code, a loop
without a blocking point) makes the task return; the parent then restarts
that worker (``Client.restart_workers``, which needs a nanny, as a
``LocalCluster(processes=True)`` and ``dask worker`` have), after
cancelling the task's key so that the scheduler does not run the job again
on another worker, and the future ends cancelled. Without a nanny the stuck
thread stays in the worker until it reaches a blocking point; the future
ends cancelled all the same.

Dask's own ``Future.cancel()`` does not stop a running task (it forgets
its result); this executor's ``cancel()`` does, and the worker goes on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._events import Event
from ._process_future import JobFuture
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import STUCK, run_job

__all__ = ["Executor"]


def _task(token: str, job: Job, grace: float) -> tuple[str, Any, str]:
    """The Dask task: run the job, cancellable through the event ``token``."""
    from distributed import get_client, get_worker

    client = get_client()  # the worker's own client, on the worker's event loop
    scheduler = client.scheduler
    signal = Event()
    waiting: list[asyncio.Future[Any]] = []

    async def wait_remote() -> None:
        try:
            await scheduler.event_wait(name=token)
        except Exception:  # the scheduler went away: no cancel can come
            return
        signal.set()  # the parent cancelled the job, or the task has ended

    def start() -> None:
        waiting.append(asyncio.ensure_future(wait_remote()))

    async def clean_up() -> None:
        # Set it, so that the wait ends, however it raced with the set; clear
        # it once the wait has ended (the scheduler then forgets it).
        try:
            await scheduler.event_set(name=token)
            await waiting[0]
            await scheduler.event_clear(name=token)
        except Exception:  # the scheduler went away, and the event with it
            pass

    client.loop.add_callback(start)
    try:
        kind, value = run_job(*job, signal.wait, signal.set, grace)
    finally:
        client.loop.add_callback(clean_up)  # after start: the loop keeps their order
    return kind, value, get_worker().address


class Executor(RemoteExecutor):
    """A ``concurrent.futures.Executor`` over a ``dask.distributed.Client``.

    Jobs run as threado threads on the workers: ``future.cancel()`` on a
    running job raises ``ThreadCancelled`` at its next blocking point there,
    its cleanup runs there, the future ends cancelled, and the worker takes
    the next job. ``grace``: seconds a cancelled job gets to unwind before its
    worker is restarted.

    Raises:
        TypeError: ``client`` is not a ``distributed.Client``.
        ValueError: ``grace`` is negative or not a number.
    """

    def __init__(self, client: Any, *, grace: float = 1.0) -> None:
        from distributed import Client

        if not isinstance(client, Client):
            raise TypeError(f"Executor() needs a distributed.Client, not {type(client).__name__}")
        super().__init__(grace)
        self._client = client

    def _launch(self, token: str, job: Job, future: JobFuture) -> None:
        task = self._client.submit(_task, token, job, self._grace, pure=False)
        task.add_done_callback(lambda t: self._ended(future, t))

    def _ended(self, future: JobFuture, task: Any) -> None:
        status = task.status
        if status == "finished":
            try:
                kind, value, address = task.result()
            except Exception as e:  # the result could not be fetched or deserialized
                self._finish(future, False, e)
                return
            if kind == STUCK:
                # Forget the task first (a synchronous request), so that the
                # restart does not make the scheduler run it again elsewhere.
                self._client.cancel([task])
                try:
                    self._client.restart_workers([address], raise_for_error=False)
                except Exception:  # no nanny: the stuck thread stays there
                    pass
            self._outcome(future, kind, value)
        elif status == "error":
            self._finish(future, False, task.exception())
        else:  # Dask cancelled or lost it (the client closed, the cluster went away)
            self._finish(future, False, RuntimeError(f"the Dask task ended {status}"))

    def _signal(self, token: str, future: JobFuture) -> None:
        from distributed import Event as DaskEvent

        DaskEvent(token, client=self._client).set()


Executor.__module__ = "threado.dask"
