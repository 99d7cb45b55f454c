"""threado.Semaphore and threado.BoundedSemaphore: ``threado/_semaphores.py`` (SPEC §2, §4).

The tests they share with the locks (exclusion, cancels, timeouts) are in
``test_locks.py``, parametrized over every lock-like class.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from helpers import in_cancelled_thread, outcome_type, run_python, sigusr1_script, spawn_parked

import threado
from threado import _parking
from threado._state import get_state
from threado.testing import wait_parked

SEMS = [
    (threading.Semaphore, threado.Semaphore),
    (threading.BoundedSemaphore, threado.BoundedSemaphore),
]


SEM_IDS = ["Semaphore", "BoundedSemaphore"]


# -- the threading interface -----------------------------------------------------------


def test_semaphore_validation() -> None:
    with pytest.raises(ValueError, match="initial value"):
        threado.Semaphore(-1)
    sem = threado.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    with pytest.raises(ValueError, match="one or more"):
        sem.release(0)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(False, timeout=1)
    assert sem.value == 2


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
def test_semaphore_negative_initial_value_raises_value_error(std: Any, td: Any) -> None:
    with pytest.raises(ValueError):
        std(-1)
    with pytest.raises(ValueError):
        td(-1)


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
@pytest.mark.parametrize("value", [0, 1])
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((False,), {}),
        ((), {"blocking": False}),
        ((False,), {"timeout": 1}),
        ((False,), {"timeout": -1}),
        ((), {"timeout": -1}),
        ((), {"timeout": 0}),
        ((), {"timeout": 0.01}),
    ],
)
def test_semaphore_acquire_matches_threading(
    std: Any, td: Any, value: int, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    if value == 0 and not kwargs and args != (False,):
        pytest.skip("would block forever")
    assert outcome_type(lambda: td(value).acquire(*args, **kwargs)) == outcome_type(
        lambda: std(value).acquire(*args, **kwargs)
    )


@pytest.mark.parametrize(("std", "td"), SEMS, ids=SEM_IDS)
def test_semaphore_value_and_release_n(std: Any, td: Any) -> None:
    def script(make: Any) -> list[Any]:
        s = make(3)
        out = [s._value]
        out.append(s.acquire())
        out.append(s.acquire())
        out.append(outcome_type(lambda: s.release(0)))
        out.append(outcome_type(lambda: s.release(-1)))
        out.append(outcome_type(lambda: s.release(2)))
        out.append(outcome_type(lambda: s.release(2)))
        out.append(outcome_type(s.release))
        return out

    assert script(td) == script(std)
    s = td(2)
    assert s.value == 2
    s.acquire()
    assert s.value == 1


def test_bounded_semaphore_over_release_raises_value_error() -> None:
    s = threado.BoundedSemaphore(2)
    with pytest.raises(ValueError):
        s.release()
    s.acquire()
    with pytest.raises(ValueError):
        s.release(2)
    s.release()
    assert s.value == 2


def test_semaphore_release_n_wakes_n_waiters() -> None:
    s = threado.Semaphore(0)
    ts = [spawn_parked(s.acquire) for _ in range(3)]
    s.release(2)
    ts[0].join()
    ts[1].join()
    assert ts[2].is_alive()
    s.release()
    assert ts[2].join() is True
    assert s.value == 0


def test_semaphore_hands_permits_in_arrival_order() -> None:
    sem = threado.Semaphore(0)
    order: list[int] = []

    def taker(i: int) -> None:
        with sem:
            order.append(i)

    threads = []
    for i in range(4):
        threads.append(threado.spawn(taker, i))
        wait_parked(threads[-1])
    sem.release(4)
    for t in threads:
        t.join()
    assert sorted(order) == [0, 1, 2, 3]
    assert sem.value == 4


# -- cancellation ----------------------------------------------------------------------


def test_blocking_semaphore_acquire_checks_on_entry_even_with_permits() -> None:
    sem = threado.Semaphore(5)
    gate = threading.Event()

    def taker() -> None:
        gate.wait()
        sem.acquire()

    t = threado.spawn(taker)
    t.cancel(blocking=False)
    gate.set()
    t.wait()
    assert t.cancelled
    assert sem.value == 5
    assert sem.acquire(blocking=False)  # non-blocking is not a blocking point


def test_semaphore_acquire_is_a_blocking_point_even_with_a_free_permit() -> None:
    s = threado.Semaphore(1)
    assert in_cancelled_thread(s.acquire).cancelled
    assert s.value == 1
    t = in_cancelled_thread(lambda: s.acquire(False))
    assert t.result is True  # non-blocking: no ThreadCancelled
    assert s.value == 0


@pytest.mark.parametrize("td", [threado.Semaphore, threado.BoundedSemaphore], ids=SEM_IDS)
def test_cancelled_semaphore_acquire_takes_no_permit(td: Any) -> None:
    s = td(1)
    s.acquire()
    t = spawn_parked(s.acquire)
    assert t.cancel(timeout=10)
    assert t.cancelled
    s.release()
    assert s.value == 1


def test_semaphore_permit_handed_at_the_instant_of_a_cancel_is_given_back() -> None:
    sem = threado.BoundedSemaphore(1)
    sem.acquire()
    log: list[str] = []

    def taker() -> None:
        with sem:
            log.append("got it")
            threado.checkpoint()

    t = threado.spawn(taker)
    wait_parked(t)
    sem.release()  # the permit is handed to the taker...
    t.cancel()  # ...and the cancel arrives before it could run
    assert log == ["got it"]
    assert sem.value == 1  # given back by `with` on the way out


@pytest.mark.parametrize("td", [threado.Semaphore, threado.BoundedSemaphore], ids=SEM_IDS)
def test_semaphore_permit_handed_at_the_instant_of_cancel_is_not_lost(td: Any) -> None:
    s = td(1)
    s.acquire()
    t = spawn_parked(s.acquire)
    s.release()  # handed to t...
    t.cancel(blocking=False)  # ...cancelled at the same instant
    t.wait(10)
    if t.cancelled:
        assert s.value == 1  # the permit was given back
    else:
        assert t.result is True
        assert s.value == 0
        s.release()


def test_semaphore_permit_caught_by_an_abandoning_waiter_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sem = threado.Semaphore(0)
    st = get_state()
    real_block = _parking.block

    def permit_then_interrupt(state: Any, deadline: float | None) -> bool:
        if state is st:
            sem.release()  # handed to us, the only waiter
            raise KeyboardInterrupt
        return real_block(state, deadline)

    monkeypatch.setattr(_parking, "block", permit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        sem.acquire()
    assert sem.value == 1


def test_keyboard_interrupt_abandon_passes_a_handed_permit_on() -> None:
    code = sigusr1_script(
        """
        sem = threado.Semaphore(0)
        @Once
        def handler(*_):
            sem.release()
            raise Boom
        signal.signal(signal.SIGUSR1, handler)
        threado.spawn(poke, handler)
        try:
            sem.acquire()
        except Boom:
            print("value", sem.value, flush=True)
        """
    )
    proc = run_python(code, timeout=30)
    assert proc.stdout.strip() == "value 1", proc.stderr
