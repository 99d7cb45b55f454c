"""``threado.dask``: cancellable jobs on a real Dask runtime (SPEC §13).

The cases are in ``cluster_dask_cases.py``; they run in a fresh interpreter
(see there why), and only where ``threado[dask]`` is installed.
"""

from __future__ import annotations

import pytest
import remote_checks

pytest.importorskip("distributed", reason="threado[dask] is not installed")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_dask_cases_pass_in_a_fresh_interpreter() -> None:
    remote_checks.run_cases_in_a_fresh_interpreter("cluster_dask_cases.py")
