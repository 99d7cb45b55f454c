"""Scheduling strategies of synchronous runs: who runs next at each decision.

``threado._sync_run`` asks its run's strategy at every scheduling decision:
when the thread holding the turn parks (``yielding`` false: the options are
the ready threads, in the order they became ready) and at a possible switch
(``yielding`` true: the yielding thread first, choosing it means no switch).
A strategy returns an index into the options; it must depend only on its own
state (a seed) and on the options, so that a run is reproducible.
"""

from __future__ import annotations

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from random import Random

    from ._sync_run import Member

__all__ = [
    "FIFOStrategy",
    "PCTStrategy",
    "PrefixStrategy",
    "RandomStrategy",
    "Strategy",
    "check_seed",
]


def check_seed(seed: object) -> int:
    """Validate a seed.

    Raises:
        TypeError: ``seed`` is not an integer (``bool`` is refused).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    return seed


class Strategy:
    """Chooses which thread runs next at every scheduling decision."""

    #: Whether checkpoint() and lock acquisitions are possible switches.
    preempts = True
    #: First come, first served: the run takes the first option without asking
    #: (and records no schedule).
    fifo = False
    name = "fifo"

    def on_join(self, m: Member) -> None:
        """A thread joined the run."""

    def pick(self, options: list[Member], yielding: bool, step: int, decider: Member | None) -> int:
        """Return the index of the next thread in ``options``.

        ``yielding``: ``options[0]`` is the thread at a yield (choosing it
        continues without a switch). ``decider`` is the thread giving up or
        yielding the turn (``None`` when the run was idle).
        """
        return 0


class FIFOStrategy(Strategy):
    """No seed: first come, first served; only ``sleep(0)`` yields."""

    preempts = False
    fifo = True

    def pick(self, options: list[Member], yielding: bool, step: int, decider: Member | None) -> int:
        return 1 if yielding and len(options) > 1 else 0


def _rng(seed: int) -> Random:
    import random  # lazily: only seeded runs need it

    return random.Random(seed)


class RandomStrategy(Strategy):
    """A uniform pseudo-random choice at every decision."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self.rng = _rng(seed)

    def pick(self, options: list[Member], yielding: bool, step: int, decider: Member | None) -> int:
        return self.rng.randrange(len(options)) if len(options) > 1 else 0


class PCTStrategy(Strategy):
    """Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010).

    Each thread gets a random initial priority above ``depth``; ``depth - 1``
    change points are drawn among the first ``steps`` scheduling steps; at
    the ``i``-th the deciding thread's priority drops to ``depth - i``. The
    highest-priority ready thread always runs. For a program of ``n``
    threads and ``k`` steps, a bug of depth ``d`` is found with probability
    at least ``1 / (n * k**(d - 1))`` per run.
    """

    name = "pct"

    def __init__(self, seed: int, depth: int, steps: int) -> None:
        self.rng = _rng(seed)
        self.depth = depth
        self.steps = steps
        points = self.rng.sample(range(1, steps + 1), min(depth - 1, steps))
        self.change: dict[int, int] = {p: i + 1 for i, p in enumerate(sorted(points))}

    def on_join(self, m: Member) -> None:
        m.prio = self.depth + self.rng.random()

    def pick(self, options: list[Member], yielding: bool, step: int, decider: Member | None) -> int:
        i = self.change.get(step)
        if i is not None and decider is not None:
            decider.prio = float(self.depth - i)
        best = 0
        for k in range(1, len(options)):
            if options[k].prio > options[best].prio:
                best = k
        return best


class PrefixStrategy(Strategy):
    """Follow ``schedule`` (one choice per decision with several options), then take 0.

    A choice that does not fit (the run took another path than the one the
    schedule was recorded on) is not raised here, in the middle of passing
    the turn: it is kept in ``mismatch`` and the first option taken; the
    caller reports it after the run.
    """

    name = "dfs"

    def __init__(self, schedule: list[int]) -> None:
        self.schedule = schedule
        self.pos = 0
        self.mismatch: str | None = None

    def pick(self, options: list[Member], yielding: bool, step: int, decider: Member | None) -> int:
        if len(options) < 2:
            return 0
        pos = self.pos
        self.pos += 1
        if pos < len(self.schedule):
            c = self.schedule[pos]
            if 0 <= c < len(options):
                return c
            if self.mismatch is None:
                self.mismatch = (
                    f"the schedule does not fit this run: decision {pos} has {len(options)} "
                    f"options, the schedule chose {c} (is the program deterministic?)"
                )
        return 0
