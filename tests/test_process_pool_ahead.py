"""``threado.ProcessPoolExecutor``: jobs queued ahead on busy workers.

When every worker is busy, the pool sends one more job to each, so that a
worker starts it the moment its job ends. Such a job is still pending: a
cancel takes its ticket and it never runs; a worker that dies or is
terminated hands the jobs it never started to another worker; a worker
that goes idle takes over a job queued ahead elsewhere. The tests learn
that a job was queued ahead from the pool itself (an event set when its
future gets its ticket), and order everything else by the jobs' messages.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any

import proc_jobs
import pytest
from proc_jobs import Listener

import threado
from threado._process_future import JobFuture, Ticket

pytestmark = pytest.mark.slow  # worker processes take a while to start


@pytest.fixture
def queued_ahead(monkeypatch: pytest.MonkeyPatch) -> Callable[[Future[Any]], None]:
    """``queued_ahead(f)`` returns once ``f`` has been queued ahead on a worker."""
    events: dict[int, threado.Event] = {}

    def event(f: object) -> threado.Event:
        return events.setdefault(id(f), threado.Event())

    original = JobFuture._queue_ahead

    def _queue_ahead(self: JobFuture, ticket: Ticket) -> bool:
        queued = original(self, ticket)
        if queued:
            event(self).set()
        return queued

    monkeypatch.setattr(JobFuture, "_queue_ahead", _queue_ahead)

    def wait_for(f: Future[Any]) -> None:
        assert event(f).wait(60), "never queued ahead"

    return wait_for


def nobody_connected(listener: Listener) -> bool:
    return not select.select([listener.sock], [], [], 0)[0]


def test_a_job_queued_ahead_is_cancelled_as_pending_and_never_runs(
    listener: Listener, queued_ahead: Callable[[Future[Any]], None]
) -> None:
    with threado.ProcessPoolExecutor(1) as p:
        first = p.submit(proc_jobs.hold, listener.address)
        i, pid = listener.started()
        ahead = p.submit(proc_jobs.say, listener.address)
        queued_ahead(ahead)
        assert not ahead.running()
        assert ahead.cancel() is True
        assert ahead.cancelled()  # at once, as a pending job: no round trip to the worker
        listener.conns[i].sendall(b"x")
        assert first.result(timeout=60) == pid
        # The worker skipped it, and goes on with the next job.
        assert p.submit(proc_jobs.getpid).result(timeout=60) == pid
        assert nobody_connected(listener)  # it never ran


def test_a_job_queued_ahead_runs_after_a_cancelled_one(
    listener: Listener, queued_ahead: Callable[[Future[Any]], None]
) -> None:
    with threado.ProcessPoolExecutor(1) as p:
        first = p.submit(proc_jobs.block, listener.address)
        i, pid = listener.started()
        ahead = p.submit(proc_jobs.getpid)
        queued_ahead(ahead)
        assert first.cancel()
        # Once, the worker's runner ended with the cancelled job, and the
        # job queued behind it waited forever for a runner.
        assert ahead.result(timeout=60) == pid
        assert first.cancelled()
        assert listener.line(i) == b"cleanup"


def test_a_job_queued_ahead_that_just_started_is_cancelled_as_running(
    listener: Listener,
    queued_ahead: Callable[[Future[Any]], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker took the ticket (it started the job) before the parent
    learned that the job before it ended: the cancel is a running job's."""
    from threado._process_manager import _Pool

    original = _Pool._answer
    hold = threado.Event()
    held = threado.Event()

    def _answer(self: _Pool, *args: object) -> None:
        if not held.is_set():
            held.set()
            hold.wait()  # the manager, before it reads the first answer
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_Pool, "_answer", _answer)
    with threado.ProcessPoolExecutor(1) as p:
        first = p.submit(proc_jobs.hold, listener.address)
        i, pid = listener.started()
        ahead = p.submit(proc_jobs.block, listener.address)
        queued_ahead(ahead)
        try:
            listener.conns[i].sendall(b"x")
            j, _ = listener.started()  # it runs: the worker took its ticket
            assert held.wait(60)
            assert not ahead.done()
            assert ahead.cancel() is True
            assert ahead.running()
            assert not ahead.done()
        finally:
            hold.set()
        assert listener.line(j) == b"cleanup"
        assert wait([ahead], timeout=60).done == {ahead}
        assert ahead.cancelled()
        assert first.result(timeout=0) == pid
        assert p.submit(proc_jobs.getpid).result(timeout=60) == pid


def test_a_dead_workers_jobs_queued_ahead_run_once_elsewhere(
    listener: Listener, queued_ahead: Callable[[Future[Any]], None]
) -> None:
    with threado.ProcessPoolExecutor(1) as p:
        dying = p.submit(proc_jobs.hold, listener.address, "die")
        i, pid = listener.started()
        ahead = p.submit(proc_jobs.hold, listener.address)
        queued_ahead(ahead)
        listener.conns[i].sendall(b"x")
        with pytest.raises(threado.WorkerDied, match="exit code 3"):
            dying.result(timeout=60)
        j, other = listener.started()  # on the new worker, once
        assert other != pid
        listener.conns[j].sendall(b"x")
        assert ahead.result(timeout=60) == other
        assert nobody_connected(listener)


def test_a_job_queued_ahead_moves_to_a_worker_that_went_idle(
    listener: Listener, queued_ahead: Callable[[Future[Any]], None]
) -> None:
    with threado.ProcessPoolExecutor(2) as p:
        long = p.submit(proc_jobs.block, listener.address)
        short = p.submit(proc_jobs.hold, listener.address)
        started = [listener.started()[0] for _ in range(2)]
        ahead = p.submit(proc_jobs.getpid)
        queued_ahead(ahead)  # behind the long one (the first worker with room)
        for i in started:  # (the long job ignores its byte)
            listener.conns[i].sendall(b"x")
        short_pid = short.result(timeout=60)
        # The idle worker takes it over, while the long job goes on.
        assert ahead.result(timeout=60) == short_pid
        assert not long.done()
        assert long.cancel()
        assert wait([long], timeout=60).done == {long}


def test_shutdown_cancel_futures_cancels_a_job_queued_ahead_before_it_starts(
    listener: Listener, queued_ahead: Callable[[Future[Any]], None]
) -> None:
    p = threado.ProcessPoolExecutor(1)
    first = p.submit(proc_jobs.block, listener.address)
    i, _ = listener.started()
    ahead = p.submit(proc_jobs.say, listener.address)
    queued_ahead(ahead)
    p.shutdown(wait=True, cancel_futures=True)
    assert first.cancelled()
    assert ahead.cancelled()
    assert listener.line(i) == b"cleanup"
    assert nobody_connected(listener)  # the worker freed by the cancel never started it
