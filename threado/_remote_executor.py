"""The parent half of ``threado.dask`` and ``threado.ray``: futures for remote jobs.

Theory of operation
-------------------

:class:`RemoteExecutor` turns an engine's task into a
``concurrent.futures.Future`` whose ``cancel()`` reaches a running job (the
process pool's future, see ``_process_pool``). Each job has a token naming
its cancel signal (see ``_remote_job``): the engine subclass submits the
task and returns the token (``_launch``: Dask's is a fresh uuid, Ray's the
task's id), sets the signal to cancel (``_signal``), and calls
:meth:`RemoteExecutor._finish` with the task's outcome. The future is
``RUNNING`` from ``submit`` on, since the engine, not threado, decides when
the task starts: a cancel before it starts reaches the job at its first
blocking point (its function still starts, as a threado thread cancelled
before it begins does). As in the process pool, a ``True`` from ``cancel()``
always means the future ends cancelled, once the remote job has unwound or
its grace has passed. A cancel that comes while ``_launch`` runs (only
``shutdown(cancel_futures=True)`` from another thread can: the future is
not returned yet) is sent by ``submit`` once the token is known.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from ._process_future import JobFuture
from ._remote_job import CANCELLED, OK, STUCK
from ._wait import ALL_COMPLETED
from ._wait import wait as wait_for

T = TypeVar("T")
#: A job: ``(fn, args, kwargs)``.
Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class RemoteExecutor(Executor):
    """Common parts of the cluster executors (see the module docstring)."""

    def __init__(self, grace: float) -> None:
        if not isinstance(grace, int | float) or not grace >= 0:
            raise ValueError(f"grace must be a number >= 0, not {grace!r}")
        self._grace = float(grace)
        self._lock = threading.Lock()
        self._futures: set[JobFuture] = set()
        self._shutdown = False

    @property
    def grace(self) -> float:
        """Seconds a cancelled job gets to unwind before it is given up (see the engine)."""
        return self._grace

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` as a threado thread on the engine; return its future.

        Raises:
            TypeError: ``fn`` is not callable.
            RuntimeError: the executor was shut down.
        """
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        future = JobFuture(self._request_cancel)
        future._start(None)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._futures.add(future)
        try:
            token = self._launch((fn, args, kwargs), future)
        except Exception as e:  # e.g. a function or argument the engine cannot serialize
            err = TypeError(f"could not submit {fn!r} to the engine: {type(e).__name__}: {e}")
            err.__cause__ = e
            self._finish(future, False, err)
            return future
        with self._lock:
            future._token = token
            early = future._cancel_early
        if early:  # shutdown(cancel_futures=True) from another thread, during _launch
            self._signal(token, future)
        return future

    def _request_cancel(self, future: JobFuture) -> None:
        """A running job's ``cancel()``: set its signal (once it is launched)."""
        with self._lock:
            token = future._token
            if token is None:
                future._cancel_early = True  # submit sends it once launched
                return
        self._signal(token, future)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; ``cancel_futures`` cancels the running ones.

        With ``wait``, a blocking point that returns once every job has
        ended. The engine's client or runtime is left running (it is the
        caller's).
        """
        with self._lock:
            self._shutdown = True
            futures = list(self._futures)
        if cancel_futures:
            for f in futures:
                f.cancel()
        if wait and futures:
            wait_for(futures, return_when=ALL_COMPLETED)

    def _finish(self, future: JobFuture, ok: bool, value: Any) -> None:
        with self._lock:
            self._futures.discard(future)
        future._end(ok, value)

    def _outcome(self, future: JobFuture, kind: str, value: Any) -> None:
        """End ``future`` with a task's ``(kind, value)`` (see ``_remote_job``)."""
        if kind == OK:
            self._finish(future, True, value)
        elif kind in (CANCELLED, STUCK):  # only after a cancel: the future ends cancelled
            self._finish(future, False, RuntimeError(f"the job ended {kind} without a cancel"))
        else:  # pragma: no cover - run_job returns one of the three
            self._finish(future, False, RuntimeError(f"unknown outcome {kind!r}"))

    # -- for the engines ------------------------------------------------------------------

    def _launch(self, job: Job, future: JobFuture) -> str:
        """Submit ``job`` (``(fn, args, kwargs)``) as a task; return its token,
        the name of its cancel signal (see ``_remote_job``)."""
        raise NotImplementedError

    def _signal(self, token: str, future: JobFuture) -> None:
        """Set the signal of the job ``token`` (the job of ``future``) to cancel it."""
        raise NotImplementedError
