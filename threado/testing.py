"""Helpers for testing code that uses threado.

Tests of concurrent code must order threads by their state, never by
sleeping. :func:`wait_parked` returns once a thread is parked in a threado
wait (registered where its wake-up will come from), so a test can then
release, notify or cancel it knowing exactly which path it exercises.

:func:`explore` runs a function under many interleavings of its threads
(synchronous runs, see ``threado._sync_mode``) and :func:`replay` runs one
of them again. A *schedule* is the list of choices a run made, one per
scheduling decision that had more than one option; the DFS strategy
enumerates schedules depth first (a stateless search, as CHESS does): it
re-runs the function with the recorded choices up to the deepest decision
that has an untried option within the preemption bound, takes that option,
and lets every later decision take its first option.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar, cast

from ._errors import ThreadCancelled
from ._parking import add_watcher, block, remove_watcher
from ._schedule import PCTStrategy, PrefixStrategy, RandomStrategy, Strategy, check_seed
from ._state import clock, get_state
from ._sync_mode import execute
from ._sync_run import Run
from ._threads import Thread, handle_of

__all__ = ["ExploreResult", "explore", "replay", "wait_parked"]

T = TypeVar("T")


def wait_parked(thread: Thread[Any], timeout: float = 10.0) -> None:
    """Return once ``thread`` is parked in a threado wait; a blocking point.

    "Parked" means registered with whatever will wake it (a lock's wait
    queue, a sleep's deadline, a thread's end), so any release, notify or
    cancel from now on reaches it.

    Raises:
        TimeoutError: ``thread`` did not park within ``timeout`` seconds.
        RuntimeError: ``thread`` ended without parking, or is the caller.
        ThreadCancelled: the calling thread was cancelled.
    """
    st = thread._state
    me = get_state()
    if st is me:
        raise RuntimeError("a thread cannot wait for itself to park")
    deadline = clock() + timeout
    while True:
        me.check()
        add_watcher(st, me)
        try:
            if st.waiting_on is not None:
                return
            if thread.done():
                raise RuntimeError(f"{thread!r} ended without parking")
            if not block(me, me.effective_deadline(deadline)) and clock() >= deadline:
                raise TimeoutError(f"{thread!r} did not park within {timeout} seconds")
        finally:
            remove_watcher(st, me)


# -- exploring interleavings ----------------------------------------------------

_STRATEGIES: Final = ("random", "pct", "dfs")
#: PCT's first estimate of the number of scheduling steps of a run; later
#: runs use the largest count seen so far (as Coyote and shuttle do).
_PCT_FIRST_STEPS: Final = 16


class ExploreResult:
    """What :func:`explore` did when no schedule failed.

    Attributes:
        strategy: ``"random"``, ``"pct"`` or ``"dfs"``.
        schedules: How many schedules (runs of the function) it ran.
        exhausted: ``True`` if the DFS strategy ran every schedule within the
            preemption bound (always ``False`` for the random strategies).
    """

    __slots__ = ("exhausted", "schedules", "strategy")

    def __init__(self, strategy: str, schedules: int, exhausted: bool) -> None:
        self.strategy = strategy
        self.schedules = schedules
        self.exhausted = exhausted

    def __repr__(self) -> str:
        return (
            f"ExploreResult(strategy={self.strategy!r}, schedules={self.schedules}, "
            f"exhausted={self.exhausted})"
        )


def _check_int(value: object, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < low:
        raise ValueError(f"{what} must be at least {low}, not {value}")
    return value


def _check_func(func: object) -> None:
    if not callable(func):
        raise TypeError(f"explore() needs a callable, not {type(func).__name__}")


def _failure(run: Run, exc: BaseException | None) -> BaseException | None:
    """The failure of a run: a Deadlock anywhere in it first, else ``exc``.

    The threads a deadlock left parked when the run ended (the main thread
    raised it, say) could only be woken by the run, which is over: they are
    cancelled, so that exploring leaves no thread behind.
    """
    if run.deadlock is not None:
        for st in run.stranded:
            h = handle_of(st)
            if h is not None:
                h.cancel(blocking=False)
    if isinstance(exc, (KeyboardInterrupt, SystemExit)) or (
        isinstance(exc, ThreadCancelled) and get_state().cancel is not None
    ):
        # The user stops the exploration (the exploring thread itself was
        # cancelled, from outside the run or not): not a finding.
        raise exc
    if run.deadlock is not None:
        return run.deadlock
    return exc


def _raise_with_note(exc: BaseException, note: str) -> NoReturn:
    exc.add_note(note)
    try:
        raise exc
    finally:
        del exc


def explore(
    func: Callable[[], object],
    runs: int = 100,
    seed: int = 0,
    *,
    strategy: str = "random",
    max_preemptions: int = 2,
) -> ExploreResult:
    """Run ``func()`` under many interleavings; raise the first failure.

    Each run is ``threado.run(func, synchronous=True)`` with a scheduler
    chosen by ``strategy``:

    * ``"random"``: a uniformly random choice at every switch, from seeds
      ``seed``, ``seed + 1``, ... (``runs`` of them);
    * ``"pct"``: probabilistic concurrency testing, ``max_preemptions``
      priority change points per run (it finds a bug of depth
      ``d = max_preemptions + 1`` with probability at least
      ``1 / (n * k**(d - 1))`` per run, for ``n`` threads and ``k`` steps);
    * ``"dfs"``: every interleaving with at most ``max_preemptions``
      preemptions, depth first, up to ``runs`` schedules (``seed`` is not
      used: the search is the same every time).

    A run fails if ``func`` raises, or if a :class:`~threado.Deadlock` was
    raised in any of its threads. ``func`` should join the threads it
    spawns: threads still running when it returns go on freely.

    Returns:
        An :class:`ExploreResult` once every run passed: how many schedules
        ran and whether the DFS space was exhausted.

    Raises:
        BaseException: the first failure, the very exception (its type
            kept), with a note naming the seed or the schedule that
            :func:`replay` reproduces it with.
        KeyboardInterrupt, SystemExit, ThreadCancelled: the exploration was
            stopped (the calling thread was cancelled): not a finding, no note.
        TypeError, ValueError: bad arguments.
    """
    _check_func(func)
    _check_int(runs, "runs", 1)
    seed = check_seed(seed)
    _check_int(max_preemptions, "max_preemptions", 0)
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(_STRATEGIES)}, not {strategy!r}")
    if strategy == "dfs":
        return _explore_dfs(func, runs, max_preemptions)
    steps = _PCT_FIRST_STEPS
    for i in range(runs):
        s = seed + i
        strat: Strategy
        if strategy == "pct":
            strat = PCTStrategy(s, max_preemptions + 1, steps)
        else:
            strat = RandomStrategy(s)
        run, _result, exc = execute(func, (), strat)
        failure = _failure(run, exc)
        if failure is not None:
            if strategy == "pct":
                how = (
                    f"replay(func, seed={s}, strategy='pct', max_preemptions={max_preemptions}, "
                    f"steps={steps})"
                )
            else:
                how = f"replay(func, seed={s})"
            _raise_with_note(
                failure,
                f"explore: failed with seed={s} (strategy {strategy!r}, schedule {i + 1} of "
                f"{runs}); threado.testing.{how} or replay(func, schedule={run.schedule}) "
                "reproduces it",
            )
        steps = max(steps, run.steps)
    return ExploreResult(strategy, runs, False)


def _next_prefix(decisions: list[tuple[int, int, bool]], bound: int) -> list[int] | None:
    """The next schedule of a depth-first search, or ``None`` once exhausted.

    A choice other than 0 at a yield is a preemption (the yielding thread
    could have gone on); a choice at a park is free.
    """
    before = []
    n = 0
    for choice, _options, yielding in decisions:
        before.append(n)
        if yielding and choice:
            n += 1
    for i in range(len(decisions) - 1, -1, -1):
        choice, options, yielding = decisions[i]
        if choice + 1 < options and (not yielding or before[i] + 1 <= bound):
            return [d[0] for d in decisions[:i]] + [choice + 1]
    return None


def _explore_dfs(func: Callable[[], object], runs: int, bound: int) -> ExploreResult:
    prefix: list[int] = []
    for n in range(1, runs + 1):
        strat = PrefixStrategy(prefix)
        run, _result, exc = execute(func, (), strat)
        failure = _failure(run, exc)
        if failure is None and strat.mismatch is not None:
            raise RuntimeError(f"explore(strategy='dfs'): {strat.mismatch}")
        if failure is not None:
            _raise_with_note(
                failure,
                f"explore: failed with schedule={run.schedule} (strategy 'dfs', schedule {n}, "
                f"max_preemptions={bound}); threado.testing.replay(func, "
                f"schedule={run.schedule}) reproduces it",
            )
        nxt = _next_prefix(run.decisions, bound)
        if nxt is None:
            return ExploreResult("dfs", n, True)
        prefix = nxt
    return ExploreResult("dfs", runs, False)


def replay(
    func: Callable[[], T],
    seed: int | None = None,
    *,
    strategy: str = "random",
    schedule: list[int] | None = None,
    max_preemptions: int = 2,
    steps: int = _PCT_FIRST_STEPS,
) -> T:
    """Run ``func()`` once more in the interleaving :func:`explore` reported.

    Give the ``seed`` (with ``strategy``, and for ``"pct"`` the
    ``max_preemptions`` and ``steps`` of the note), or the ``schedule``: the
    list of choices the note shows, which replays any strategy's run.

    Returns:
        What ``func`` returns.

    Raises:
        BaseException: what the run raises (a Deadlock in any of its
            threads included), with a note naming the seed or schedule.
        RuntimeError: the schedule does not fit the run (the program does
            not behave the same given the same interleaving).
        TypeError, ValueError: bad arguments, or neither or both of
            ``seed`` and ``schedule``.
    """
    _check_func(func)
    strat: Strategy
    if (seed is None) == (schedule is None):
        raise ValueError("replay() needs a seed or a schedule (one of them)")
    if schedule is not None:
        if not isinstance(schedule, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in schedule
        ):
            raise TypeError("schedule must be a list of ints, as explore() reports it")
        strat = PrefixStrategy(list(schedule))
        what = f"schedule={schedule}"
    else:
        s = check_seed(seed)
        if strategy == "pct":
            _check_int(max_preemptions, "max_preemptions", 0)
            strat = PCTStrategy(s, max_preemptions + 1, _check_int(steps, "steps", 1))
        elif strategy == "random":
            strat = RandomStrategy(s)
        else:
            raise ValueError(f"replay() by seed needs strategy 'random' or 'pct', not {strategy!r}")
        what = f"seed={s}"
    run, result, exc = execute(func, (), strat)
    failure = _failure(run, exc)
    if failure is not None:
        _raise_with_note(failure, f"replay: failed with {what}")
    if isinstance(strat, PrefixStrategy) and strat.mismatch is not None:
        raise RuntimeError(f"replay(): {strat.mismatch}")
    return cast(T, result)
