"""The plugin conformance kit: a pytest base class every plugin's tests subclass.

    from harness.testing import PluginConformance

    class TestMySystem(PluginConformance):
        system = "my_system"
        workload = "my_workload"
        overrides = ["workload.records=100"]   # keep it tiny

Each test composes and runs real configs through the same path as the CLI.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import OmegaConf

from harness.config.validate import validate
from harness.plugin_manager import registry
from harness.preflight import compose_config


def run_config(overrides: list[str], results_dir: Path, job: str = "run") -> dict[str, Any]:
    """Compose and execute one run exactly as ``harness key=value ...`` would."""
    from harness.run import execute

    config = compose_config([*overrides, f"results_dir={results_dir}"], with_hydra=True)
    choices = dict(config.hydra.runtime.choices)
    with_hydra = OmegaConf.to_container(config, resolve=False)
    with_hydra.pop("hydra")
    plain = OmegaConf.create(with_hydra)
    return execute(plain, results_dir / job, list(overrides), choices, None)


def metrics_of(record: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {m["name"]: (m["value"], m["unit"]) for m in record["metrics"]}


class PluginConformance:
    """Subclass with ``system``, ``workload`` and tiny ``overrides``; pytest collects the tests."""

    system: ClassVar[str] = ""
    workload: ClassVar[str] = ""
    overrides: ClassVar[list[str]] = []
    cluster: ClassVar[str] = "small_rack"

    def _overrides(self, *extra: str) -> list[str]:
        return [f"system={self.system}", f"workload={self.workload}", f"cluster={self.cluster}", *self.overrides, *extra]

    def test_discovered(self) -> None:
        reg = registry()
        assert self.system in reg.systems, f"system {self.system!r} not registered; have {sorted(reg.systems)}"
        assert self.workload in reg.workloads, f"workload {self.workload!r} not registered"
        assert reg.systems[self.system].cls.description, "a system needs a one-line description"

    def test_configs_compose_and_validate(self) -> None:
        validate(compose_config(self._overrides()))

    def test_runs_on_a_tiny_cluster(self, tmp_path: Path) -> None:
        record = run_config(self._overrides(), tmp_path)
        assert record["status"] == "ok", record["error"]

    def test_same_seed_same_metrics(self, tmp_path: Path) -> None:
        first = run_config(self._overrides("seed=7", "rerun=true"), tmp_path, "a")
        second = run_config(self._overrides("seed=7", "rerun=true"), tmp_path, "b")
        assert first["status"] == second["status"] == "ok"
        assert first["metrics"] == second["metrics"]

    def test_metrics_have_units_and_sane_values(self, tmp_path: Path) -> None:
        record = run_config(self._overrides(), tmp_path)
        found = metrics_of(record)
        for name in ("makespan", "cost", "energy"):
            assert name in found, f"missing {name}"
        for name, (value, unit) in found.items():
            assert unit is not None, f"{name} has no unit"
            if value is not None and not math.isnan(value):
                assert value >= 0 or name.startswith("delta"), f"{name}={value} is negative"
        assert found["makespan"][0] > 0

    def test_survives_the_standard_fault_schedule(self, tmp_path: Path) -> None:
        record = run_config(self._overrides("faults=standard"), tmp_path)
        assert record["status"] in ("ok", "failed"), record
        if record["status"] == "failed":
            assert record["error"], "a failed run must say why"

    def test_leaves_no_state_behind(self, tmp_path: Path) -> None:
        before = run_config(self._overrides("seed=3", "rerun=true"), tmp_path, "a")
        run_config(self._overrides("seed=4", "rerun=true", "faults=standard"), tmp_path, "b")
        after = run_config(self._overrides("seed=3", "rerun=true"), tmp_path, "c")
        assert before["metrics"] == after["metrics"]
