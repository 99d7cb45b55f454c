"""The benchmark harness: case kinds, calibration, the runner and the report.

It knows nothing of threado: a case is a pair of functions (the standard
library's side and threado's) that the harness runs alternately, stdlib,
threado, stdlib, threado, ..., and compares as a ratio threado/stdlib. Only
ratios measured in the same run count; absolute times on a shared machine are
noise. Nothing global is switched off (the garbage collector stays on);
``gc.collect()`` runs before each side's repeat, outside the timed region, so
neither side pays for the other's garbage.

The kinds of case:

* :class:`TimeCase`: a *runner* ``(n) -> ns`` performs the operation ``n``
  times in its own loop and returns the elapsed time. Each side's ``n`` is
  calibrated so that one repeat takes about ``Mode.budget_s``; the row reports
  the median time per operation over the repeats.
* :class:`LatencyCase`: a *sampler* ``(n) -> [ns, ...]`` returns ``n``
  individual measurements (set-up excluded). Samples are pooled per side over
  all the repeats; the row reports p50 and p99 and the ratio of each.
* :class:`FigureCase`: absolute figures that are not ratios (an import time,
  a module count); they are printed after the table.

The harness only reports: a figure over its target is marked ``OVER``, never
an error.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Runner = Callable[[int], int]
"""Perform an operation ``n`` times; return the elapsed nanoseconds."""

Sampler = Callable[[int], list[int]]
"""Take ``n`` measurements; return each one in nanoseconds."""


@dataclass(frozen=True)
class Mode:
    """How long and how often each case runs."""

    name: str
    repeats: int
    """Interleaved repeats per side (a case's ``max_repeats`` may lower it)."""
    budget_s: float
    """Target duration of one repeat of one side of a TimeCase."""
    sample_fraction: float
    """Fraction of ``LatencyCase.samples`` taken per repeat."""
    quick: bool
    """Cases marked ``full_only`` are skipped."""


QUICK = Mode("quick", repeats=9, budget_s=0.08, sample_fraction=0.4, quick=True)
FULL = Mode("full", repeats=15, budget_s=0.4, sample_fraction=1.0, quick=False)


@dataclass(frozen=True)
class TimeCase:
    """A row reporting the median time per operation."""

    name: str
    stdlib: Runner
    threado: Runner
    target: float | None
    """Largest acceptable ratio threado/stdlib; ``None``: no target, the row only reports."""
    control: bool = False
    """The control row: the same stdlib case on both sides, to show the run's noise."""
    batch: int = 1
    """Operations per unit of ``n``: a runner given ``n`` performs ``n * batch``
    operations (``n`` blocks of ``batch`` threads, say), and the row reports
    the time per operation."""
    max_repeats: int | None = None
    """At most this many repeats, for a row whose repeat is expensive."""
    full_only: bool = False
    """Skipped in quick mode."""


@dataclass(frozen=True)
class LatencyCase:
    """A row reporting p50 and p99 of pooled per-sample latencies."""

    name: str
    stdlib: Sampler
    threado: Sampler
    target: float | None
    """Largest acceptable ratio threado/stdlib for p50 (and for p99 unless ``p99_target``);
    ``None``: no target, the row only reports."""
    samples: int
    """Samples per side and per repeat in the full mode (quick mode takes fewer,
    but at least 20, or ``samples`` if that is smaller)."""
    p99_target: float | None = None
    """Largest acceptable p99 ratio, where it differs from ``target``."""
    max_repeats: int | None = None
    """At most this many repeats, for a row whose samples are expensive."""
    full_only: bool = False
    """Skipped in quick mode."""


@dataclass(frozen=True)
class Figure:
    """One absolute figure, printed after the table."""

    label: str
    value: float
    unit: str
    """Printed after the value: ``"ms"``, ``"modules"``."""
    limit: float | None = None
    """Largest acceptable value; ``None``: the figure only reports."""
    detail: str = ""
    """How it was measured, printed in parentheses (``"median of 9, 80-95 ms"``)."""


@dataclass(frozen=True)
class FigureCase:
    """Figures that are not ratios; ``measure(mode)`` takes them."""

    name: str
    measure: Callable[[Mode], list[Figure]]
    full_only: bool = False
    """Skipped in quick mode."""


Case = TimeCase | LatencyCase | FigureCase


def select(cases: Sequence[Case], mode: Mode, only: str | None = None) -> list[Case]:
    """The cases that run in ``mode``, and whose name contains ``only`` (any case)."""
    return [
        c
        for c in cases
        if not (mode.quick and c.full_only) and (only is None or only.lower() in c.name.lower())
    ]


# -- measuring ------------------------------------------------------------------


@dataclass
class Row:
    """One printed line of the table."""

    case: str
    stat: str
    stdlib_ns: float
    threado_ns: float
    target: float | None
    spread: tuple[float, float] | None = None
    """Min and max of the per-repeat ratios, where that is meaningful."""
    control: bool = False

    @property
    def ratio(self) -> float:
        return self.threado_ns / self.stdlib_ns if self.stdlib_ns > 0 else math.inf


@dataclass
class Result:
    """What one case measured: table rows, or figures."""

    case: str
    kind: str
    rows: list[Row] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def calibrate(runner: Runner, budget_s: float) -> int:
    """Return how many operations take about ``budget_s``; warms the runner up too."""
    n = 1
    while True:
        elapsed = runner(n)
        if elapsed >= budget_s * 1e9 / 10 or n >= 1 << 30:
            break
        n *= 4 if elapsed < budget_s * 1e9 / 100 else 2
    per_op = max(elapsed / n, 1.0)
    return max(1, round(budget_s * 1e9 / per_op))


def percentile(sorted_data: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; data must be sorted."""
    if not sorted_data:
        return math.nan
    pos = (len(sorted_data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_data) - 1)
    return sorted_data[lo] + (sorted_data[hi] - sorted_data[lo]) * (pos - lo)


def _ratio_range(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    ratios = [y / x for x, y in zip(a, b, strict=True) if x > 0]
    return (min(ratios), max(ratios)) if ratios else (math.nan, math.nan)


def _repeats(mode: Mode, max_repeats: int | None) -> int:
    return mode.repeats if max_repeats is None else max(1, min(mode.repeats, max_repeats))


def measure_time(case: TimeCase, mode: Mode) -> Result:
    n_std = calibrate(case.stdlib, mode.budget_s)
    n_thr = calibrate(case.threado, mode.budget_s)
    ops_std = n_std * case.batch
    ops_thr = n_thr * case.batch
    std: list[float] = []
    thr: list[float] = []
    for _ in range(_repeats(mode, case.max_repeats)):
        gc.collect()
        std.append(case.stdlib(n_std) / ops_std)
        gc.collect()
        thr.append(case.threado(n_thr) / ops_thr)
    row = Row(
        case.name,
        "per op",
        statistics.median(std),
        statistics.median(thr),
        case.target,
        _ratio_range(std, thr),
        case.control,
    )
    raw = {"n_stdlib": ops_std, "n_threado": ops_thr, "stdlib_ns": std, "threado_ns": thr}
    return Result(case.name, "time", [row], raw=raw)


def measure_latency(case: LatencyCase, mode: Mode) -> Result:
    n = max(min(20, case.samples), round(case.samples * mode.sample_fraction))
    warm = max(1, n // 10)
    case.stdlib(warm)
    case.threado(warm)
    std: list[int] = []
    thr: list[int] = []
    std_p50: list[float] = []
    thr_p50: list[float] = []
    for _ in range(_repeats(mode, case.max_repeats)):
        gc.collect()
        s = case.stdlib(n)
        gc.collect()
        t = case.threado(n)
        std += s
        thr += t
        std_p50.append(statistics.median(s))
        thr_p50.append(statistics.median(t))
    std.sort()
    thr.sort()
    rows = [
        Row(
            case.name,
            "p50",
            percentile(std, 50),
            percentile(thr, 50),
            case.target,
            _ratio_range(std_p50, thr_p50),
        ),
        Row(
            case.name,
            "p99",
            percentile(std, 99),
            percentile(thr, 99),
            case.target if case.p99_target is None else case.p99_target,
        ),
    ]
    raw = {
        "samples_per_repeat": n,
        "stdlib_pcts_ns": {q: percentile(std, q) for q in (0, 10, 50, 90, 99, 100)},
        "threado_pcts_ns": {q: percentile(thr, q) for q in (0, 10, 50, 90, 99, 100)},
    }
    return Result(case.name, "latency", rows, raw=raw)


def measure(case: Case, mode: Mode) -> Result:
    if isinstance(case, TimeCase):
        return measure_time(case, mode)
    if isinstance(case, LatencyCase):
        return measure_latency(case, mode)
    return Result(case.name, "figure", figures=case.measure(mode))


def run(cases: Sequence[Case], mode: Mode) -> list[Result]:
    """Measure each case in turn; log each one's duration to stderr."""
    results: list[Result] = []
    for case in cases:
        t0 = time.monotonic()
        results.append(measure(case, mode))
        print(f"  measured {case.name!r} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return results


# -- reporting ------------------------------------------------------------------


def fmt_ns(ns: float) -> str:
    if math.isnan(ns):
        return "-"
    a = abs(ns)
    if a >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if a >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def fmt_target(row: Row) -> str:
    if row.control:
        return "(noise)"
    return "report" if row.target is None else f"<= {row.target:g}x"


def fmt_verdict(value: float, limit: float | None) -> str:
    if limit is None:
        return ""
    return "ok" if value <= limit else "OVER"


def fmt_value(x: float) -> str:
    """A whole number as such, anything else with one decimal."""
    return f"{x:.0f}" if math.isfinite(x) and x == round(x) else f"{x:.1f}"


def _table(header: list[str], lines: list[list[str]], left: set[int]) -> list[str]:
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]

    def fmt(cols: list[str]) -> str:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(x) for x in lines)]


def render(rows: Sequence[Row]) -> str:
    """The ratio table."""
    header = ["case", "stat", "stdlib", "threado", "ratio", "pair min-max", "target", ""]
    lines: list[list[str]] = []
    last = None
    for r in rows:
        spread = "-" if r.spread is None else f"{r.spread[0]:.2f}-{r.spread[1]:.2f}"
        lines.append(
            [
                r.case if r.case != last else "",
                r.stat,
                fmt_ns(r.stdlib_ns),
                fmt_ns(r.threado_ns),
                f"{r.ratio:.2f}x",
                spread,
                fmt_target(r),
                fmt_verdict(r.ratio, r.target),
            ]
        )
        last = r.case
    return "\n".join(_table(header, lines, {0, 1}))


def render_figures(figures: Sequence[Figure]) -> str:
    """The absolute figures, one a line, in a table of their own."""
    header = ["figure", "value", "target", "", "measured"]
    lines = [
        [
            f.label,
            f"{fmt_value(f.value)} {f.unit}",
            "report" if f.limit is None else f"<= {fmt_value(f.limit)} {f.unit}",
            fmt_verdict(f.value, f.limit),
            f.detail,
        ]
        for f in figures
    ]
    return "\n".join(_table(header, lines, {0, 4}))
