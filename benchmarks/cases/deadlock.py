"""The cost of deadlock detection on parking: the same ping-pong with it on and off.

Both sides run threado: the "stdlib" column is the run with detection off
(``threado.deadlock_detection(False)``), the "threado" column the run with it
on (the default), so the ratio is the price of detection on a park + unpark
round trip. Every park in these rows has no deadline, so each registers and
unregisters itself with the detector; the Condition row also re-acquires its
RLock, which runs the cycle rule's quick check whenever it has to wait. The
target is the noise of the run: detection must cost nothing measurable.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from harness import Case, LatencyCase

import threado

from ._common import start_threado
from .events import _condition_ping_pong, _event_ping_pong


def _with_detection(enabled: bool, sampler: Callable[[int], list[int]], n: int) -> list[int]:
    """Run ``sampler(n)`` with detection ``enabled``, then turn it back on."""
    threado.deadlock_detection(enabled)
    try:
        return sampler(n)
    finally:
        threado.deadlock_detection(True)


_EVENT = partial(_event_ping_pong, threado.Event, start_threado)
_CONDITION = partial(_condition_ping_pong, threado.Condition, start_threado)

CASES: list[Case] = [
    LatencyCase(
        "park + unpark, detection on vs off (Event ping-pong)",
        partial(_with_detection, False, _EVENT),
        partial(_with_detection, True, _EVENT),
        1.1,
        samples=5000,
        p99_target=1.5,
    ),
    LatencyCase(
        "park + unpark, detection on vs off (Condition ping-pong)",
        partial(_with_detection, False, _CONDITION),
        partial(_with_detection, True, _CONDITION),
        1.1,
        samples=5000,
        p99_target=1.5,
    ),
]
