"""Randomized stress tests of Semaphore and BoundedSemaphore, under a chaos thread (``chaos.py``).

Many workers use one primitive at random while a chaos thread cancels random
workers at random times (``cancel(blocking=False)``) and replaces each victim
with a fresh worker. At the end every worker is cancelled (blocking) and
joined, and the invariants are checked: nothing held, nothing lost, nobody
still queued, every thread ended by its cancellation and nothing else.

Workers never assert: they record violations in a :class:`chaos.Tally`. The
random choices are seeded (``chaos.SEED``); thread scheduling is not
reproducible, so each test prints its counters (``pytest -s`` shows them).
``THREADO_STRESS_SECONDS`` sets how long each test runs (default 1.5 s); for
a long run, switch off the global faulthandler dump, which would fire at 45 s::

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_semaphores_stress.py -s \\
        -o faulthandler_timeout=0
"""

from __future__ import annotations

import random
import threading

import pytest
from chaos import DURATION, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, queued, work

import threado
from threado import ThreadCancelled

# The run, plus joining, plus checking; above the global 60 s timeout when
# THREADO_STRESS_SECONDS is large. Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * DURATION + 60)]


@pytest.mark.parametrize("factory", [threado.Semaphore, threado.BoundedSemaphore])
def test_semaphore_permits_survive_random_cancels(factory: type[threado.Semaphore]) -> None:
    """Holders never exceed the permits, no permit is created or lost, and a
    correct acquire/release pairing never over-releases a bounded one."""
    permits = 3
    sem = factory(permits)
    tally = Tally(f"{factory.__name__}")
    guard = threading.Lock()
    holders = 0  # threads between a successful acquire and their release

    def took(n: int) -> None:
        nonlocal holders
        with guard:
            holders += n
            # Permits are free (value), held (holders) or in between; a free
            # one counted as held as well would be a permit made from nothing.
            seen = (holders, sem.value)
        if seen[0] > permits or seen[0] + seen[1] > permits:
            tally.violation(f"holders={seen[0]}, value={seen[1]}, permits={permits}")
        tally.add("ops")

    def gave(n: int) -> None:
        nonlocal holders
        with guard:
            holders -= n

    def release(n: int) -> None:
        try:
            sem.release(n)
        except ValueError as exc:
            tally.violation(f"release({n}) of held permits raised {exc!r}")

    def acquire(rng: random.Random) -> bool:
        mode = rng.randrange(3)
        if mode == 0:
            return sem.acquire()
        if mode == 1:
            ok = sem.acquire(timeout=rng.choice((0, 0.0001, 0.001, 0.005)))
        else:
            ok = sem.acquire(blocking=False)
        if not ok:
            tally.add("timed out")
        return ok

    def worker(rng: random.Random) -> None:
        while True:
            mode = rng.randrange(3)
            if mode == 0:
                entered = False
                try:
                    with sem:
                        entered = True
                        took(1)
                        try:
                            work(rng)
                        finally:
                            gave(1)
                except ThreadCancelled:
                    if not entered:
                        tally.add("cancelled in acquire")
                    raise
                continue
            held = 0
            try:
                if not acquire(rng):
                    continue
                held = 1
                # A second permit, released together; never waiting for it
                # for ever while holding one (the test's own deadlock).
                if mode == 2 and sem.acquire(timeout=rng.choice((0, 0.0001, 0.001))):
                    held = 2
            except ThreadCancelled:
                tally.add("cancelled in acquire")
                if held:
                    release(held)
                raise
            took(held)
            try:
                work(rng)
            finally:
                gave(held)
                release(held)

    crew = Crew(tally, [worker] * 10)
    crew.run_chaos()
    crew.stop()

    tally.check(
        ops=MIN_OPS, **{"cancels delivered": MIN_CANCELS, "cancelled in acquire": MIN_IN_WAIT}
    )
    assert holders == 0
    assert sem.value == permits
    assert queued(sem) == 0
    if factory is threado.BoundedSemaphore:
        with pytest.raises(ValueError, match="too many"):
            sem.release()  # the bound is intact
