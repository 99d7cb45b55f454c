"""The chaos harness shared by the randomized stress tests.

A :class:`Crew` runs workers, one per slot, while a chaos thread cancels
random ones at random times (``cancel(blocking=False)``) and replaces each
victim; workers record what they see in a :class:`Tally` and never assert
(a failed assertion would only end one worker, and the chaos would replace
it). The test then stops the crew and asserts zero violations.
"""

from __future__ import annotations

import os
import random
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Sequence

import threado
from threado import ThreadCancelled

#: Seed of every random choice (workers and chaos draw from generators
#: derived from it).
SEED = 20_240_611
#: How long each test runs its workers, in seconds.
DURATION = float(os.environ.get("THREADO_STRESS_SECONDS", "1.5"))
#: A worker that has not ended this long after its cancel is hung. Generous:
#: a cancelled worker needs one wake-up and its cleanup, microseconds.
HANG = 10.0
#: Longest pause of the chaos thread between two cancels, in seconds.
CHAOS_PAUSE = 0.002
#: Minimums that show a test exercised what it claims. The chaos thread
#: delivers hundreds of cancels a second; these leave a wide margin for slow,
#: loaded machines.
MIN_CANCELS = 20
MIN_IN_WAIT = 5
MIN_OPS = 50

Worker = Callable[[random.Random], None]


class Tally:
    """Counters and violations shared by the threads of one test.

    Guarded by a plain ``threading.Lock``: taking it is not a blocking point,
    so a cancellation can never interrupt the recording of an event.
    """

    MAX_KEPT = 20  # violation messages kept; all are counted

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.violations = 0
        self.messages: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def violation(self, what: str) -> None:
        message = f"{threading.current_thread().name}: {what}"
        with self.lock:
            self.violations += 1
            if len(self.messages) < self.MAX_KEPT:
                self.messages.append(message)

    def check(self, **minimums: int) -> None:
        """Print the counters; assert no violation and each ``key >= minimum``."""
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        print(
            f"\n[stress] {self.name}: seconds={DURATION:g} seed={SEED} "
            f"{counts}, violations={self.violations}"
        )
        assert self.violations == 0, "\n".join(self.messages)
        for key, low in minimums.items():
            assert self.counts[key] >= low, f"{key}={self.counts[key]} < {low}: {self.counts}"


class Crew:
    """Workers, one per slot, that a chaos thread cancels and replaces.

    Only the thread that builds the crew and then the chaos thread touch the
    slots and the seeding generator, one after the other.
    """

    def __init__(self, tally: Tally, roles: Sequence[Worker], seed: int = SEED) -> None:
        self.tally = tally
        self.roles = roles
        self._rng = random.Random(seed)
        self._serial = 0
        self.threads = [self._spawn(slot) for slot in range(len(roles))]
        # Cancelled by the chaos thread; checked once they have ended.
        self._retired: list[threado.Thread[None]] = []
        # Stopped and checked by stop(slots) already.
        self._stopped: set[threado.Thread[None]] = set()

    def _spawn(self, slot: int) -> threado.Thread[None]:
        self._serial += 1
        role = self.roles[slot]
        rng = random.Random(self._rng.getrandbits(64))
        return threado.spawn(role, rng, name=f"{role.__name__}-{self._serial}")

    def run_chaos(self, duration: float = DURATION) -> None:
        """Cancel random workers at random times for ``duration`` seconds."""
        chaos = threado.spawn(self._chaos, duration, name="chaos")
        chaos.join()

    def _chaos(self, duration: float) -> None:
        end = threado.clock() + duration
        while threado.clock() < end:
            slot = self._rng.randrange(len(self.threads))
            victim = self.threads[slot]
            victim.cancel(blocking=False)
            self.tally.add("cancels")
            self._retired.append(victim)
            self.threads[slot] = self._spawn(slot)
            self._reap()
            # Load, not ordering: vary the moment of the next cancel.
            threado.sleep(self._rng.random() * CHAOS_PAUSE)

    def _reap(self) -> None:
        running = []
        for t in self._retired:
            if t.done():
                self._check_end(t, "cancels delivered")
            else:
                running.append(t)
        self._retired = running

    def _check_end(self, t: threado.Thread[None], key: str) -> None:
        exc = t.exception
        if isinstance(exc, ThreadCancelled):
            self.tally.add(key)
        elif exc is None:
            self.tally.violation(f"{t.name} returned instead of running until cancelled")
        else:
            tb = "".join(traceback.format_exception(exc))
            self.tally.violation(f"{t.name} failed:\n{tb}")

    def stop(self, slots: list[int] | None = None) -> None:
        """Cancel the workers in ``slots`` (default: all, and the retired ones),
        wait for each to end, and check that each ended by its cancellation."""
        if slots is None:
            threads = [(t, "final cancels") for t in self.threads if t not in self._stopped]
            threads += [(t, "cancels delivered") for t in self._retired]
            self._retired = []
        else:
            threads = [(self.threads[s], "final cancels") for s in slots]
            self._stopped.update(t for t, _ in threads)
        for t, key in threads:
            if t.cancel(timeout=HANG):
                self._check_end(t, key)
            else:
                self.tally.violation(f"{t!r} still running {HANG}s after its cancel")


def work(rng: random.Random) -> None:
    """Simulate a little work: a blocking point that may or may not wait."""
    threado.sleep(rng.choice((0, 0, 0.0001, 0.0005)))


def queued(primitive: object) -> int:
    """Waiter records still in a primitive's wait queue (private state).

    After every thread has ended it must be zero: a record left behind by an
    abandoned wait would swallow the next hand-off.
    """
    if isinstance(primitive, threado.Barrier):
        return len(primitive._gen.queue)
    return len(primitive._queue)  # type: ignore[attr-defined]
