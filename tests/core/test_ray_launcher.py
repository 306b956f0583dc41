"""The ray launcher (for users who outgrow one machine), run on a local Ray instance.

Ray's launcher pins cloudpickle<3, which joblib>=1.5 cannot use, so it lives in its own
environment: `pip install -e ".[ray,dev]" -e examples/harness-example-rpc`, then
`python -m pytest tests/core/test_ray_launcher.py`. Skipped where it is not installed.
"""

from __future__ import annotations

import importlib.util

import pytest

from conftest import FAST, harness, records

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
    reason="hydra-ray-launcher not installed (pip install -e '.[ray]' in its own venv)",
)


def test_ray_sweep_matches_a_single_run_bit_for_bit(workdir):
    swept = harness("-m", "hydra/launcher=ray", *FAST, "seed=1,2", "results_dir=ray", cwd=workdir, timeout=600)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    single = harness(*FAST, "seed=1", "results_dir=one", cwd=workdir)
    assert single.returncode == 0
    by_seed = {r["seed"]: r for r in records(workdir / "ray")}
    assert by_seed[1]["metrics"] == records(workdir / "one")[0]["metrics"]
