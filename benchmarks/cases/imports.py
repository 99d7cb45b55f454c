"""``import threado`` in a fresh interpreter: its time and the modules it adds.

These are absolute figures, not ratios, printed after the table. The import
time is the cumulative time ``python -X importtime`` gives the top-level
``threado`` entry (threado's modules and whatever they import that the
interpreter had not loaded at start-up), the median over the mode's repeats
after one warm-up run (which also writes the bytecode caches). Each child
interpreter imports the same threado as the benchmark (its directory goes
first on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from harness import Case, Figure, FigureCase, Mode

import threado

#: Largest acceptable import time of threado, in milliseconds.
IMPORT_LIMIT_MS = 15.0

#: Prints how many modules ``import threado`` adds, and how many of those are threado's.
_COUNT_MODULES = """\
import sys
before = set(sys.modules)
import threado
added = set(sys.modules) - before
print(len(added), sum(m == "threado" or m.startswith("threado.") for m in added))
"""


def _fresh(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this benchmark's threado."""
    env = dict(os.environ)
    # Measure an import from bytecode caches, as users get it: a session that
    # sets PYTHONDONTWRITEBYTECODE would otherwise compile threado each time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = str(Path(threado.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *options, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def import_time_us() -> int:
    """The cumulative ``-X importtime`` figure of ``threado``, in microseconds."""
    stderr = _fresh("import threado", "-X", "importtime").stderr
    # Lines read "import time: <self us> | <cumulative us> | <indent><module>".
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "threado":
            return int(parts[1])
    raise RuntimeError(f"no 'threado' entry in -X importtime's output:\n{stderr}")


def measure_import(mode: Mode) -> list[Figure]:
    import_time_us()  # warm-up
    times_ms = sorted(import_time_us() / 1000 for _ in range(mode.repeats))
    added, own = map(int, _fresh(_COUNT_MODULES).stdout.split())
    return [
        Figure(
            "import threado, fresh interpreter",
            statistics.median(times_ms),
            "ms",
            IMPORT_LIMIT_MS,
            f"-X importtime cumulative, median of {len(times_ms)},"
            f" {times_ms[0]:.1f}-{times_ms[-1]:.1f} ms",
        ),
        Figure(
            "modules import threado adds",
            added,
            "modules",
            None,
            f"{own} of them threado's, fresh interpreter",
        ),
    ]


CASES: list[Case] = [FigureCase("import threado", measure_import)]
