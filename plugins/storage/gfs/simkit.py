"""Run GFS in-process on the simulated backend, without Hydra (tests, benchmarks).

``run("gfs_appends", cluster={...dict...}, faults={...}, overrides={"system.lease_s": 5})``
composes the same YAML the CLI would (this plugin's ``conf/`` plus the harness's), types
it with the schemas and Params, checks it, runs it and returns the metrics and the GFS
instance, so tests can look inside (the master's namespace, the replicas).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

HERE = Path(__file__).resolve().parent
CONF_DIRS = (HERE / "conf", HERE.parents[2] / "conf")


@dataclass
class Result:
    metrics: dict[str, float]
    units: dict[str, str]
    system: Any


def _yaml(group: str, name: str) -> DictConfig:
    for root in CONF_DIRS:
        path = root / group / f"{name}.yaml"
        if path.exists():
            node = OmegaConf.load(path)
            for entry in node.pop("defaults", None) or []:  # the `/group@key: name` form only
                if isinstance(entry, DictConfig):
                    for target, sub in entry.items():
                        sub_group, _, key = str(target).lstrip("/").partition("@")
                        OmegaConf.update(node, key, _yaml(sub_group, str(sub)), merge=True)
            return node
    raise FileNotFoundError(f"no {group}/{name}.yaml under {CONF_DIRS}")


def compose(workload: str, hardware: str | dict = "rpi3", cluster: str | dict = "small_rack",
            faults: str | dict = "none", seed: int = 0, overrides: dict[str, Any] | None = None) -> DictConfig:
    from harness.config.schema import BackendConfig, ClusterConfig, FaultsConfig, HardwareProfile

    def group(name: str, value: str | dict) -> DictConfig:
        return OmegaConf.create(value) if isinstance(value, dict) else _yaml(name, value)

    config = OmegaConf.create({
        "seed": seed,
        "system": _yaml("system", "gfs"),
        "workload": _yaml("workload", workload),
        "hardware": OmegaConf.merge(OmegaConf.structured(HardwareProfile), group("hardware", hardware)),
        "cluster": OmegaConf.merge(OmegaConf.structured(ClusterConfig), group("cluster", cluster)),
        "faults": OmegaConf.merge(OmegaConf.structured(FaultsConfig), group("faults", faults)),
        "backend": OmegaConf.structured(BackendConfig),
    })
    for key, value in (overrides or {}).items():
        OmegaConf.update(config, key, value, merge=False)
    return config


def run(workload: str = "gfs_appends", **kwargs: Any) -> Result:
    from harness.builtin import harness_run_metrics
    from harness.config.validate import typed_params
    from harness.sim.backend import SimBackend
    from plugins.storage.gfs.system import GFS
    from plugins.storage.gfs.workloads import WORKLOADS

    config = compose(workload, **kwargs)
    workload_cls = next(w for w in WORKLOADS if w.name == config.workload.name)
    system_params = typed_params(GFS.Params, config.system, "system")
    workload_params = typed_params(workload_cls.Params, config.workload, "workload")
    issues = GFS.check(system_params, config) + workload_cls.check(workload_params)
    if issues:
        raise ValueError(str(issues[0]))
    captured: dict[str, Any] = {}

    class Captured(GFS):
        def __init__(self, params: Any, runtime: Any) -> None:
            super().__init__(params, runtime)
            captured["system"] = self

    outcome = SimBackend().execute(config, Captured, system_params, workload_cls, workload_params)
    outcome.metrics.extend(harness_run_metrics(config=config, outcome=outcome))
    return Result({m.name: m.value for m in outcome.metrics}, {m.name: m.unit for m in outcome.metrics},
                  captured.get("system"))
