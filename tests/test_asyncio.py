"""``await threado.to_thread(...)``: ``threado/_asyncio.py`` (SPEC §10)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import SLACK, forever, run_python

import threado
from threado import ThreadCancelled, _asyncio
from threado.testing import wait_parked

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


@pytest.fixture(autouse=True)
def fresh_pool() -> Iterator[None]:
    """Each test ends the to_thread pool's idle threads (no thread left behind)."""
    yield
    _asyncio._shutdown_pool()


class Job:
    """A blocking call that parks until cancelled; its cleanup can be held up."""

    def __init__(self, cleanup_blocks: bool = False) -> None:
        self.thread: threado.Thread[Any] | None = None
        self.started = threading.Event()
        self.release = threado.Event()
        self.cleanup_blocks = cleanup_blocks
        self.log: list[str] = []

    def __call__(self) -> str:
        self.thread = threado.current_thread()
        self.started.set()
        try:
            forever()
        finally:
            if self.cleanup_blocks:
                with threado.shield():
                    self.release.wait()
            self.log.append("cleanup")
        return "unreachable"  # pragma: no cover

    async def parked(self) -> None:
        """Wait (in a thread, so the loop keeps running) until the job is parked."""

        def wait() -> None:
            assert self.started.wait(SLACK)
            assert self.thread is not None
            wait_parked(self.thread)

        await asyncio.to_thread(wait)


def test_returns_the_result_and_raises_the_exception() -> None:
    async def main() -> int:
        with pytest.raises(ZeroDivisionError):
            await threado.to_thread(divmod, 1, 0)
        return await threado.to_thread(pow, 2, 5)

    assert asyncio.run(main()) == 32


def test_keyword_arguments_and_context_are_passed() -> None:
    async def main() -> tuple[str, str]:
        VAR.set("caller")

        def f(x: str, *, y: str) -> tuple[str, str]:
            return VAR.get(), x + y

        return await threado.to_thread(f, "a", y="b")

    assert asyncio.run(main()) == ("caller", "ab")


def test_the_thread_is_a_cancellable_threado_thread() -> None:
    async def main() -> bool:
        t = await threado.to_thread(threado.current_thread)
        return isinstance(t, threado.Thread)

    assert asyncio.run(main())


def test_cancelling_the_task_cancels_the_thread_and_waits_for_its_cleanup() -> None:
    job = Job(cleanup_blocks=True)

    async def main() -> None:
        task = asyncio.create_task(threado.to_thread(job))
        await job.parked()
        task.cancel()
        await job.parked()  # now parked in its shielded cleanup
        await asyncio.sleep(0)
        assert not task.done()  # the task waits for the thread to unwind
        job.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job.log == ["cleanup"]

    asyncio.run(main())


def test_asyncio_timeout_cancels_the_thread() -> None:
    job = Job()

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await threado.to_thread(job)
        assert job.log == ["cleanup"]

    asyncio.run(main())


def test_taskgroup_failure_cancels_the_thread() -> None:
    job = Job()

    async def fail() -> None:
        await job.parked()
        raise ValueError("sibling failed")

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(threado.to_thread(job))
                tg.create_task(fail())
        assert [type(e) for e in info.value.exceptions] == [ValueError]
        assert job.log == ["cleanup"]

    asyncio.run(main())


def test_the_event_loop_keeps_ticking_while_a_thread_is_cancelled() -> None:
    """A ticker counts while the thread's cleanup is held up; the cancelled
    task completes only after it."""
    job = Job(cleanup_blocks=True)

    async def main() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        tick_task = asyncio.create_task(ticker())
        task = asyncio.create_task(threado.to_thread(job))
        await job.parked()
        task.cancel()
        await job.parked()  # in its cleanup
        before = ticks
        for _ in range(20):
            await asyncio.sleep(0)
        during = ticks - before
        job.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        stop.set()
        await tick_task
        return during

    assert asyncio.run(main()) >= 10


def test_a_second_cancel_while_unwinding_still_ends_cancelled_after_cleanup() -> None:
    job = Job(cleanup_blocks=True)

    async def main() -> None:
        task = asyncio.create_task(threado.to_thread(job))
        await job.parked()
        task.cancel()
        await job.parked()
        task.cancel()
        await asyncio.sleep(0)
        assert not task.done()
        job.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert job.log == ["cleanup"]
        assert task.cancelling() == 2

    asyncio.run(main())


def test_a_cancel_that_races_the_result_ends_the_task_cancelled() -> None:
    """The thread has finished (its worker is idle again) but the task has
    not resumed yet when it is cancelled: asyncio's rule, the task ends
    cancelled and the result is dropped."""
    worker: list[threado.Thread[Any]] = []
    ran = threading.Event()

    def quick() -> str:
        worker.append(threado.current_thread())
        ran.set()
        return "result"

    async def main() -> None:
        task = asyncio.create_task(threado.to_thread(quick))
        await asyncio.sleep(0)  # the task now awaits the thread
        # Block the loop (on purpose) until the job is done and its worker idle.
        assert ran.wait(SLACK)
        wait_parked(worker[0])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_cancel_before_the_thread_starts_never_runs_it() -> None:
    ran: list[int] = []

    async def main() -> None:
        task = asyncio.create_task(threado.to_thread(ran.append, 1))
        task.cancel()  # before the coroutine even started
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ran == []


def test_to_thread_outside_a_loop_raises() -> None:
    coro = threado.to_thread(int)
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()


def test_a_thread_that_catches_its_cancellation_is_still_waited_for() -> None:
    log: list[str] = []
    started = threading.Event()

    def stubborn() -> str:
        started.set()
        try:
            forever()
        except ThreadCancelled:
            log.append("caught")
        return "returned"

    async def main() -> None:
        task = asyncio.create_task(threado.to_thread(stubborn))
        await asyncio.to_thread(started.wait, SLACK)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert log == ["caught"]

    asyncio.run(main())


@pytest.mark.slow
def test_the_loop_closing_with_a_thread_running() -> None:
    """asyncio.run cancels the leftover task at the end; the thread unwinds."""
    proc = run_python(
        """
        import asyncio, threado
        def job():
            try:
                threado.sleep(60)
            finally:
                print("cleanup ran", flush=True)
        async def main():
            asyncio.create_task(threado.to_thread(job))
            await asyncio.sleep(0.01)
        asyncio.run(main())
        print("loop closed", flush=True)
        """,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["cleanup ran", "loop closed"]


def test_a_coroutine_closed_without_its_loop_cancels_the_thread() -> None:
    """loop.close() with the task pending, then the coroutine is closed (as
    collecting the abandoned task does): the thread is cancelled."""
    job = Job()
    cleaned = threado.Event()

    def body() -> str:
        try:
            return job()
        finally:
            cleaned.set()

    loop = asyncio.new_event_loop()
    coro = threado.to_thread(body)
    task = loop.create_task(coro)
    loop.run_until_complete(job.parked())
    loop.close()
    task._log_destroy_pending = False  # type: ignore[attr-defined]  # we know
    coro.close()
    assert cleaned.wait(SLACK)
    assert job.log == ["cleanup"]
