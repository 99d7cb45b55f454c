"""``threado.ThreadPoolExecutor``: ``threado/_executor.py`` (SPEC §10).

The standard library's behaviour is checked by CPython's own suite
(``test_executor_cpython.py``); here, what threado adds, each rule ordered
by thread state.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import SLACK, forever, run_python
from signals import CHILD_PREAMBLE

import threado
from threado import ThreadCancelled
from threado.testing import wait_parked

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


@pytest.fixture
def pool() -> Iterator[threado.ThreadPoolExecutor]:
    ex = threado.ThreadPoolExecutor(max_workers=2)
    yield ex
    ex.shutdown(wait=True, cancel_futures=True)


class Started:
    """A job that reports its thread, parks until cancelled, and logs its cleanup."""

    def __init__(self) -> None:
        self.thread: threado.Thread[Any] | None = None
        self.started = threading.Event()
        self.log: list[str] = []

    def __call__(self) -> str:
        self.thread = threado.current_thread()
        self.started.set()
        try:
            forever()
        finally:
            self.log.append("cleanup")
        return "unreachable"  # pragma: no cover

    def wait_parked(self) -> None:
        assert self.started.wait(SLACK)
        assert self.thread is not None
        wait_parked(self.thread)


def test_submit_returns_a_concurrent_futures_future(pool: threado.ThreadPoolExecutor) -> None:
    f = pool.submit(pow, 2, 10)
    assert isinstance(f, cf.Future)
    assert f.result(SLACK) == 1024
    assert isinstance(pool, cf.Executor)


def test_cancel_of_a_running_job_cancels_it_and_the_worker_survives(
    pool: threado.ThreadPoolExecutor,
) -> None:
    job = Started()
    f = pool.submit(job)
    job.wait_parked()
    assert f.running()
    assert f.cancel() is True
    with pytest.raises(cf.CancelledError):
        f.result(SLACK)
    assert f.cancelled()
    assert f.done()
    assert job.log == ["cleanup"]
    assert job.thread is not None
    worker = job.thread
    assert worker.is_alive()  # the worker carries on
    assert pool.submit(threado.current_thread).result(SLACK) in (worker, *pool._threads)


def test_the_future_ends_cancelled_only_once_the_job_unwound(
    pool: threado.ThreadPoolExecutor,
) -> None:
    """While the job's cleanup blocks, the future is running and not done;
    done-callbacks run after the cleanup, exactly once."""
    in_cleanup = threading.Event()
    release = threado.Event()
    seen: list[str] = []
    thread: list[threado.Thread[Any]] = []
    published = threado.Event()  # set once the job has published its thread

    def job() -> None:
        thread.append(threado.current_thread())
        published.set()
        try:
            forever()
        finally:
            with threado.shield():
                in_cleanup.set()
                release.wait()
                seen.append("cleanup done")

    f = pool.submit(job)
    f.add_done_callback(lambda fut: seen.append(f"callback cancelled={fut.cancelled()}"))
    published.wait()
    wait_parked(thread[0])
    assert f.cancel()
    assert in_cleanup.wait(SLACK)
    wait_parked(thread[0])  # parked in its shielded cleanup
    assert f.running()
    assert not f.done()
    assert not f.cancelled()
    assert f.cancel()  # a second cancel while it unwinds: still True
    done, _not_done = cf.wait([f], timeout=0)
    assert not done
    release.set()
    with pytest.raises(cf.CancelledError):
        f.result(SLACK)
    assert seen == ["cleanup done", "callback cancelled=True"]


def test_a_job_that_finishes_after_a_cancel_is_discarded(
    pool: threado.ThreadPoolExecutor,
) -> None:
    """The job swallows its cancellation and returns: cancel() said True,
    so the future ends cancelled."""
    thread: list[threado.Thread[Any]] = []
    published = threado.Event()  # set once the job has published its thread

    def job() -> str:
        thread.append(threado.current_thread())
        published.set()
        try:
            forever()
        except ThreadCancelled:
            pass
        return "finished anyway"

    f = pool.submit(job)
    published.wait()
    wait_parked(thread[0])
    assert f.cancel()
    with pytest.raises(cf.CancelledError):
        f.result(SLACK)


def test_cancel_of_a_finished_job_returns_false(pool: threado.ThreadPoolExecutor) -> None:
    f = pool.submit(int, "7")
    assert f.result(SLACK) == 7
    assert f.cancel() is False
    assert f.result() == 7


def test_cancel_of_a_queued_job_never_starts_it() -> None:
    with threado.ThreadPoolExecutor(max_workers=1) as ex:
        blocker = Started()
        first = ex.submit(blocker)
        ran: list[int] = []
        second = ex.submit(ran.append, 1)
        blocker.wait_parked()
        assert second.cancel()
        assert second.cancelled()
        assert first.cancel()
    assert ran == []


def test_wait_and_as_completed_see_a_running_job_cancelled(
    pool: threado.ThreadPoolExecutor,
) -> None:
    job = Started()
    f: cf.Future[Any] = pool.submit(job)
    other: cf.Future[Any] = pool.submit(forever)
    job.wait_parked()
    results: list[set[cf.Future[Any]]] = []

    def waiter() -> None:
        done, _ = cf.wait([f, other], return_when=cf.FIRST_COMPLETED)
        results.append(done)

    w = threado.spawn(waiter)
    while not f._waiters:  # cf.wait parks on a threading.Event
        threado.sleep(0.001)
    f.cancel()
    w.join(SLACK)
    assert results == [{f}]
    assert list(cf.as_completed([f], timeout=SLACK)) == [f]
    ready = threado.wait([f], timeout=SLACK)
    assert f in ready
    other.cancel()


def test_threado_wait_on_a_running_job_wakes_when_it_is_cancelled(
    pool: threado.ThreadPoolExecutor,
) -> None:
    job = Started()
    f = pool.submit(job)
    job.wait_parked()
    w = threado.spawn(threado.wait, [f])
    wait_parked(w)
    f.cancel()
    assert f in w.join(SLACK)


def test_result_is_a_blocking_point(pool: threado.ThreadPoolExecutor) -> None:
    job = Started()
    f = pool.submit(job)
    job.wait_parked()
    waiter = threado.spawn(f.result)
    wait_parked(waiter)
    assert waiter.cancel(timeout=SLACK)
    assert waiter.cancelled
    assert f.running()  # the job is untouched
    f.cancel()


def test_shutdown_cancel_futures_cancels_running_and_queued_jobs() -> None:
    ex = threado.ThreadPoolExecutor(max_workers=2)
    jobs = [Started(), Started()]
    running = [ex.submit(j) for j in jobs]
    queued = [ex.submit(forever) for _ in range(3)]
    for j in jobs:
        j.wait_parked()
    ex.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in running + queued)
    assert [j.log for j in jobs] == [["cleanup"], ["cleanup"]]
    assert not any(t.is_alive() for t in ex._threads)
    with pytest.raises(RuntimeError):
        ex.submit(int)


def test_map_timeout_cancels_the_running_calls() -> None:
    with threado.ThreadPoolExecutor(max_workers=2) as ex:
        jobs = [Started(), Started()]
        results = ex.map(lambda j: j(), jobs, timeout=0.05)
        for j in jobs:
            j.wait_parked()
        with pytest.raises(TimeoutError):
            next(results)
    assert [j.log for j in jobs] == [["cleanup"], ["cleanup"]]


def test_jobs_run_in_a_copy_of_the_submitters_context(
    pool: threado.ThreadPoolExecutor,
) -> None:
    token = VAR.set("submitter")
    try:
        f = pool.submit(VAR.get)
        g = pool.submit(lambda: (VAR.set("job"), VAR.get())[1])
        assert f.result(SLACK) == "submitter"
        assert g.result(SLACK) == "job"
        assert VAR.get() == "submitter"
    finally:
        VAR.reset(token)
    assert pool.submit(VAR.get).result(SLACK) == "unset"


def test_a_job_can_cancel_its_own_worker_thread_and_the_pool_carries_on() -> None:
    with threado.ThreadPoolExecutor(max_workers=1) as ex:

        def suicide() -> None:
            threado.current_thread().cancel(blocking=False)
            threado.sleep(1)

        gate = threado.Event()
        first = ex.submit(gate.wait)
        f = ex.submit(suicide)
        queued = [ex.submit(threado.sleep, 0) for _ in range(3)]  # behind it
        gate.set()
        assert first.result(SLACK) is True
        assert isinstance(f.exception(SLACK), ThreadCancelled)
        # The cancelled worker took no more jobs: a new one ran them.
        assert [q.exception(SLACK) for q in queued] == [None, None, None]
        assert ex.submit(lambda: 5).result(SLACK) == 5


def test_workers_are_threado_threads_and_idle_ones_are_reused() -> None:
    with threado.ThreadPoolExecutor(max_workers=4, thread_name_prefix="pool") as ex:
        for _ in range(3):
            ex.submit(int).result(SLACK)
        assert len(ex._threads) == 1
        (t,) = ex._threads
        assert t.name == "pool_0"
        assert any(s.name == "pool_0" for s in threado.threads())


def test_an_idle_pool_does_not_make_the_detector_report_a_deadlock() -> None:
    """The main thread waits (no timeout) on a job that waits on an event a
    second job sets later, with idle workers parked on the queue."""
    with threado.ThreadPoolExecutor(max_workers=4) as ex:  # detection is on by default
        ex.submit(int).result(SLACK)  # a worker now idles
        ev = threado.Event()
        gate = threado.Event()
        first = ex.submit(ev.wait)

        def second_job() -> None:
            gate.wait()
            ev.set()

        second = ex.submit(second_job)
        threado.spawn(gate.set)
        assert first.result() is True
        second.result()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        threado.ThreadPoolExecutor(0)
    with pytest.raises(TypeError, match="initializer"):
        threado.ThreadPoolExecutor(initializer=42)  # type: ignore[arg-type]


def test_a_failing_initializer_breaks_the_pool() -> None:
    def bad() -> None:
        raise ValueError("no")

    ex = threado.ThreadPoolExecutor(max_workers=1, initializer=bad)
    f = ex.submit(int)
    with pytest.raises(cf.thread.BrokenThreadPool):
        f.result(SLACK)
    with pytest.raises(cf.thread.BrokenThreadPool):
        ex.submit(int)
    ex.shutdown()


@pytest.mark.slow
def test_interpreter_exit_cancels_running_jobs() -> None:
    proc = run_python(
        """
        import threado, sys
        from threado.testing import wait_parked
        ex = threado.ThreadPoolExecutor(max_workers=1)
        box = []
        published = threado.Event()
        def job():
            box.append(threado.current_thread())
            published.set()
            try:
                threado.sleep(60)
            finally:
                print("cleanup ran", flush=True)
        f = ex.submit(job)
        published.wait()
        wait_parked(box[0])
        print("main ends", flush=True)
        """,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["main ends", "cleanup ran"]


@pytest.mark.slow
def test_ctrl_c_in_shutdown_cancels_running_jobs() -> None:
    proc = run_python(
        CHILD_PREAMBLE
        + """
import os, signal, sys, threading, threado
from threado.testing import wait_parked
from signals import interrupt_once, resend_until, Once
interrupt_once()  # the first SIGINT raises KeyboardInterrupt, later ones are ignored
handled = Once(lambda signum, frame: None)
box = []
published = threado.Event()
def job():
    box.append(threado.current_thread())
    published.set()
    try:
        threado.sleep(60)
    finally:
        sys.stdout.write("cleanup ran" + chr(10))
main = threado.current_thread()
def interrupter():
    published.wait()
    wait_parked(box[0])
    wait_parked(main)  # main is parked in shutdown's join
    # A signal can land just before the wait really starts (a CPython
    # limit, see tests/signals.py): send again until main has reacted.
    resend_until(lambda: os.kill(os.getpid(), signal.SIGINT), handled)
threading.Thread(target=interrupter, daemon=True).start()
try:
    with threado.ThreadPoolExecutor(max_workers=1) as ex:
        ex.submit(job)
except KeyboardInterrupt:
    handled.ran = True
    sys.stdout.write("interrupted" + chr(10))
    raise
""",
        timeout=30,
    )
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["cleanup ran", "interrupted"]
