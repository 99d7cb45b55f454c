"""``threado.dask``: run jobs on a Dask cluster as cancellable threado threads.

Install with ``pip install threado[dask]``. ``import threado`` never imports
this module (nor Dask).

Theory of operation
-------------------

:class:`Executor` submits each job as a Dask task (``pure=False``) that runs
the job in a threado thread on the worker (see ``threado._remote_job``). The
job's cancel signal is a threado ``Event`` in the worker process that runs
it, which the task waits on (the job's thread sets it too as it ends), kept
in ``_running`` under the job's token while the task runs. A cancel reaches
it through ``Client.run``: the parent runs :func:`_cancel_here` on every
worker process (one broadcast through the scheduler, on the cancel's path
only), which adds the token to the process's ``_cancelled`` set and sets the
signal of the job if it runs there; a job that starts later finds its token
in the set and starts cancelled (both under ``_local_lock``). Once a
cancelled job's future has ended, a second broadcast (:func:`_forget_here`)
drops the token, sent once every worker has answered the first (so that it
never comes first). The client's event loop sends them; ``cancel()`` does
not wait for the answers (a worker whose job holds the GIL, in C code,
answers only when that ends, and each cancel would wait for it). So a job's
own path costs no scheduler request and no coroutine on the worker's event
loop: the task is the job's run and nothing else. A worker process that
joins the cluster after a cancel was sent does not know of it: a job that
had not started when it was cancelled and then starts there runs on (its
future still ends cancelled, once it has ended).

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
import threading
import uuid
from concurrent.futures import Future as ConcurrentFuture
from typing import Any

from ._events import Event
from ._process_future import JobFuture
from ._remote_executor import Job, RemoteExecutor
from ._remote_job import STUCK, run_job

__all__ = ["Executor"]


# In a worker process, under _local_lock: the signals of the jobs running
# here, and the tokens of the jobs cancelled whose futures have not ended.
_local_lock = threading.Lock()
_running: dict[str, Event] = {}
_cancelled: set[str] = set()


def _task(token: str, job: Job, grace: float) -> tuple[str, Any, str]:
    """The Dask task: run the job, cancellable through its token (see ``_cancel_here``)."""
    from distributed import get_worker

    signal = Event()
    with _local_lock:
        _running[token] = signal
        if token in _cancelled:  # cancelled before it started
            signal.set()
    try:
        kind, value = run_job(*job, signal.wait, signal.set, grace)
    finally:
        with _local_lock:
            del _running[token]
    return kind, value, get_worker().address


def _cancel_here(token: str) -> bool:
    """Run on each worker by ``Client.run``: cancel the job ``token``, now or
    when it starts; whether it runs here."""
    with _local_lock:
        _cancelled.add(token)
        signal = _running.get(token)
    if signal is None:
        return False
    signal.set()
    return True


def _forget_here(token: str) -> None:
    """Run on each worker by ``Client.run`` once a cancelled job's future has ended."""
    with _local_lock:
        _cancelled.discard(token)


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
        # Tasks whose futures have not ended, by key (see _ended).
        self._in_flight: dict[Any, tuple[JobFuture, Any]] = {}
        # The cancels sent whose forgets are not (see _forget), by token.
        self._cancels: dict[str, ConcurrentFuture[None] | None] = {}

    def _launch(self, job: Job, future: JobFuture) -> str:
        token = f"threado-{uuid.uuid4().hex}"
        task = self._client.submit(_task, token, job, self._grace, pure=False)
        with self._lock:
            self._in_flight[task.key] = (future, task)
        task.add_done_callback(self._ended)
        return token

    def _ended(self, task: Any) -> None:
        """A task's done-callback (Dask's callback thread, one at a time).

        It settles the futures of every task finished by now, with one
        ``gather`` (one request for many answers, as ``client.gather`` does);
        the later callbacks of those find their task settled already.
        """
        with self._lock:
            entry = self._in_flight.pop(task.key, None)
            if entry is None:
                return  # settled with an earlier one's batch
            batch = [entry]
            if task.status == "finished":
                for key, other in list(self._in_flight.items()):
                    if other[1].status == "finished":
                        del self._in_flight[key]
                        batch.append(other)
        if task.status != "finished":
            self._settle(entry[0], task, None)
            return
        try:
            answers = self._client.gather([t for _, t in batch])
        except Exception:  # one could not be fetched: each on its own says why
            answers = [None] * len(batch)
        for (future, t), answer in zip(batch, answers, strict=True):
            self._settle(future, t, answer)

    def _settle(self, future: JobFuture, task: Any, answer: Any) -> None:
        """End ``future`` with its task's outcome (``answer``: the task's return, if fetched)."""
        status = task.status
        if status == "finished":
            try:
                kind, value, address = task.result() if answer is None else answer
            except Exception as e:  # the result could not be fetched or deserialized
                kind, value, address = "", e, None
            if kind == STUCK:
                # Forget the task first (a synchronous request), so that the
                # restart does not make the scheduler run it again elsewhere.
                try:
                    self._client.cancel([task])
                    self._client.restart_workers([address], raise_for_error=False)
                except Exception:  # no nanny (the stuck thread stays there), or closing
                    pass
            if kind:
                self._outcome(future, kind, value)
            else:
                self._finish(future, False, value)
        elif status == "error":
            self._finish(future, False, task.exception())
        else:  # Dask cancelled or lost it (the client closed, the cluster went away)
            self._finish(future, False, RuntimeError(f"the Dask task ended {status}"))
        # Once it has ended, no cancel comes any more: the workers drop its
        # token (a cancel on its way, see _signal, drops it itself).
        if future._cancelling and future._token is not None:
            self._forget(future._token)

    def _signal(self, token: str, future: JobFuture) -> None:
        sent = self._broadcast(_cancel_here, token)
        with self._lock:
            self._cancels[token] = sent
        if future.done():  # _settle may have looked before this cancel was sent
            self._forget(token)

    def _forget(self, token: str) -> None:
        """Drop a cancelled job's token on every worker, once its cancel got there.

        Whoever takes the cancel's entry (``_settle`` or ``_signal``) sends it.
        """
        with self._lock:
            if token not in self._cancels:
                return  # not sent yet (its _signal forgets it), or forgotten already
            cancel = self._cancels.pop(token)
        self._broadcast(_forget_here, token, after=cancel)

    def _broadcast(
        self, function: Any, token: str, after: ConcurrentFuture[None] | None = None
    ) -> ConcurrentFuture[None] | None:
        """Run ``function(token)`` on every worker process (those that answer),
        once the broadcast ``after`` is done; the broadcast (or ``None``).

        Not waited for: ``Client.run`` returns when every worker has answered,
        and a worker whose job holds the GIL (C code) answers when it ends.
        The client's event loop sends it.
        """

        async def broadcast() -> None:
            try:
                if after is not None:
                    await asyncio.wrap_future(after)
                await self._client.run(function, token, on_error="ignore", asynchronous=True)
            except Exception:  # the client or the cluster is closing: no job runs on
                pass

        try:
            return asyncio.run_coroutine_threadsafe(broadcast(), self._client.loop.asyncio_loop)
        except Exception:  # the client is closed
            return None


Executor.__module__ = "threado.dask"
