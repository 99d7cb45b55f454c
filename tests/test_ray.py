"""``threado.ray``: cancellable jobs on a real Ray runtime (SPEC §13).

The cases are in ``cluster_ray_cases.py``; they run in a fresh interpreter
(see there why), and only where ``threado[ray]`` is installed.
"""

from __future__ import annotations

import pytest
import remote_checks

pytest.importorskip("ray", reason="threado[ray] is not installed")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_ray_cases_pass_in_a_fresh_interpreter() -> None:
    remote_checks.run_cases_in_a_fresh_interpreter("cluster_ray_cases.py")
