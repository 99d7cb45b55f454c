"""threado against the standard library, side by side in one process.

Usage::

    python benchmarks/bench.py            # full run, about five minutes
    python benchmarks/bench.py --quick    # CI: a minute or two
    python benchmarks/bench.py --json out.json --only sleep

Every row runs a standard-library case and the matching threado case in the
same process, alternating their repeats (stdlib, threado, stdlib, threado,
...), and reports the ratio threado/stdlib next to its target, the
performance contract's. Absolute times on a shared machine are noise; ratios
measured in the same run are what counts. The control row runs one stdlib
case against itself in the same way, so its distance from 1.00x shows how
noisy the run was. A row whose target is ``None`` only reports its ratio
(marked ``report``). Figures that are not ratios (the import time) follow
the table. The script only reports: it never fails because of a number.

This file is the entry point: it puts the rows together and prints the
report. ``harness.py`` measures (the kinds of case, calibration, the runner,
the table); the rows live in the ``cases`` package, one module per family.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # ``python -P`` does not put the script's directory first
    sys.path.insert(0, str(_HERE))
try:
    import threado
except ModuleNotFoundError:  # run from a checkout that is not installed
    sys.path.insert(0, str(_HERE.parent))
    import threado

# After the path set-up above: the cases import threado, and harness and cases live here.
from cases import (  # noqa: E402
    cancel,
    deadlock,
    events,
    executors,
    groups,
    imports,
    interrupt,
    locks,
    processes,
    queues,
    sockets,
    synchronous,
    threads,
    wait,
)
from harness import FULL, QUICK, Case, Mode, render, render_figures, run, select  # noqa: E402

#: Every row in the order printed: one family after another, the control row last.
CASES: list[Case] = [
    *threads.CASES,
    *cancel.CASES,
    *locks.CASES,
    *events.CASES,
    *deadlock.CASES,
    *queues.CASES,
    *groups.CASES,
    *sockets.CASES,
    *wait.CASES,
    *synchronous.CASES,
    *processes.CASES,
    *executors.CASES,
    *imports.CASES,
    *interrupt.CASES,
    threads.CONTROL,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run for CI (a minute or two)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the results here")
    parser.add_argument("--only", metavar="TEXT", help="run only cases whose name contains TEXT")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    args = parser.parse_args(argv)

    mode = QUICK if args.quick else FULL
    if args.repeats is not None:
        mode = Mode(
            mode.name, max(1, args.repeats), mode.budget_s, mode.sample_fraction, mode.quick
        )
    cases = select(CASES, mode, args.only)
    if not cases:
        parser.error(f"no case name contains {args.only!r} (in {mode.name} mode)")

    print(f"threado {threado.__version__} benchmark, threado/stdlib ratios (lower is better)")
    print(
        f"python   {sys.version.split()[0]} ({platform.python_implementation()}) {sys.executable}"
    )
    print(f"platform {platform.platform()}, {_cpus()} CPUs")
    print(
        f"mode     {mode.name}: {mode.repeats} interleaved repeats per side, "
        f"{mode.budget_s:g} s per repeat (per-op rows), medians; latency rows pool samples"
    )
    print()
    sys.stdout.flush()

    start = time.monotonic()
    results = run(cases, mode)
    elapsed = time.monotonic() - start

    rows = [r for res in results for r in res.rows]
    figures = [f for res in results for f in res.figures]
    if rows:
        print(render(rows))
        print()
        print(
            "ratio: threado/stdlib of the medians (latency: of the pooled p50 / p99); "
            "pair min-max: range of the per-repeat ratios."
        )
    if figures:
        if rows:
            print()
        print(render_figures(figures))
    print(f"total {elapsed:.1f} s")

    if args.json is not None:
        doc = {
            "python": sys.version,
            "platform": platform.platform(),
            "cpus": _cpus(),
            "mode": asdict(mode),
            "threado_version": threado.__version__,
            "elapsed_s": elapsed,
            "results": [
                {
                    "case": res.case,
                    "kind": res.kind,
                    "rows": [{**asdict(r), "ratio": r.ratio} for r in res.rows],
                    "figures": [asdict(f) for f in res.figures],
                    "raw": res.raw,
                }
                for res in results
            ],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
