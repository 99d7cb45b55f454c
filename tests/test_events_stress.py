"""Randomized stress tests of Event and Barrier, under a chaos thread (``chaos.py``).

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

    THREADO_STRESS_SECONDS=60 python -m pytest tests/test_events_stress.py -s \\
        -o faulthandler_timeout=0
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from chaos import DURATION, HANG, MIN_CANCELS, MIN_IN_WAIT, MIN_OPS, Crew, Tally, queued, work

import threado
from threado import ThreadCancelled

# The run, plus joining, plus checking; above the global 60 s timeout when
# THREADO_STRESS_SECONDS is large. Stress tests are slow: ``-m "not slow"`` skips them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * DURATION + 60)]


def test_event_waiters_survive_random_cancels_while_it_flips() -> None:
    """Waiters are cancelled while setters set and clear the event: a wait
    without timeout only returns True, a timed wait returns False only after
    its timeout, and once the event stays set every waiter wakes up."""
    ev = threado.Event()
    tally = Tally("Event")
    progress = threading.Condition()  # plain: the test's own view of the waiters
    woken: Counter[str] = Counter()  # successful waits, by thread name (unique)

    def waiter(rng: random.Random) -> None:
        me = threado.current_thread().name
        while True:
            timeout = rng.choice((None, None, 0, 0.0001, 0.001))
            start = threado.clock()
            try:
                ok = ev.wait(timeout)
            except ThreadCancelled:
                tally.add("cancelled in wait")
                raise
            if ok:
                tally.add("ops")
                with progress:
                    woken[me] += 1
                    progress.notify_all()
            elif timeout is None:
                tally.violation("wait() without a timeout returned False")
            elif threado.clock() - start < timeout:
                tally.violation(f"wait({timeout}) returned False early")
            else:
                tally.add("timed out")
            work(rng)

    def setter(rng: random.Random) -> None:
        while True:
            ev.set()
            tally.add("sets")
            work(rng)
            ev.clear()
            work(rng)

    waiters = 6
    crew = Crew(tally, [waiter] * waiters + [setter] * 2)
    crew.run_chaos()
    crew.stop(list(range(waiters, len(crew.roles))))  # the setters
    ev.set()
    live = [t.name for t in crew.threads[:waiters]]
    with progress:
        before = {ident: woken[ident] for ident in live}
        # Ordered by state: each waiter counts a wake-up after the final set.
        all_woke = progress.wait_for(lambda: all(woken[i] > before[i] for i in live), timeout=HANG)
    if not all_woke:
        tally.violation(f"waiters did not wake after the final set: {crew.threads[:waiters]}")
    crew.stop()

    tally.check(ops=MIN_OPS, **{"cancels delivered": MIN_CANCELS, "cancelled in wait": MIN_IN_WAIT})
    assert queued(ev) == 0


@pytest.mark.parametrize("with_action", [False, True], ids=["no action", "action"])
def test_barrier_survives_random_cancels(with_action: bool) -> None:
    """Cancelled waiters break the barrier, the others get BrokenBarrierError,
    somebody resets it and the crew carries on.

    A generation is passed by all its parties or by none, and by no other
    thread (as in ``threading``, where the last arrival runs the action and
    releases everybody under one lock, and later arrivals wait for the next
    generation): each index in ``range(parties)`` is returned once per trip.
    """
    parties = 3
    tally = Tally(f"Barrier({'action' if with_action else 'no action'})")

    def action() -> None:
        threado.sleep(0)  # a blocking point: a cancel here breaks the barrier
        tally.add("actions")

    barrier = threado.Barrier(parties, action=action if with_action else None)

    def waiter(rng: random.Random) -> None:
        while True:
            try:
                index = barrier.wait(rng.choice((None, None, None, 0.001, 0.005)))
            except threading.BrokenBarrierError:
                tally.add("broken")
                if barrier.broken:
                    barrier.reset()
                    tally.add("resets")
            except ThreadCancelled:
                tally.add("cancelled in wait")
                raise
            else:
                tally.add("ops")
                tally.add(f"index {index}")
            work(rng)

    crew = Crew(tally, [waiter] * (2 * parties + 1))
    crew.run_chaos()
    crew.stop()

    tally.check(
        ops=MIN_OPS,
        broken=MIN_IN_WAIT,
        **{"cancels delivered": MIN_CANCELS, "cancelled in wait": MIN_IN_WAIT},
    )
    assert queued(barrier) == 0
    # The last arrival gets index parties - 1 and runs the action.
    trips = tally.counts["actions"] if with_action else tally.counts[f"index {parties - 1}"]
    returned = {int(k.split()[1]): v for k, v in tally.counts.items() if k.startswith("index ")}
    assert returned == dict.fromkeys(range(parties), trips), (
        f"{trips} trips of a {parties}-party barrier, but returns by index: "
        f"{dict(sorted(returned.items()))}"
    )
