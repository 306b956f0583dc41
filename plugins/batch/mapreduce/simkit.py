"""Run MapReduce in-process on the simulated backend, without Hydra (tests, benchmarks).

``run("wordcount", hardware="rpi3", cluster="small_rack", overrides={"system.M": 8})``
composes the same YAML the CLI would (the harness's ``conf/`` plus this plugin's), types
the groups with their schemas and Params, and executes one run. It returns the metrics
as ``{name: value}`` plus the system instance, so tests can look inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

HERE = Path(__file__).resolve()
PLUGIN_CONF = HERE.parent.parent / "conf"
REPO_CONF = HERE.parent.parent.parent.parent / "conf"


@dataclass
class Result:
    metrics: dict[str, float]
    units: dict[str, str]
    system: Any
    outcome: Any


def _yaml(group: str, name: str, extra_dirs: tuple[Path, ...] = ()) -> DictConfig:
    for root in (*extra_dirs, PLUGIN_CONF, REPO_CONF):
        path = root / group / f"{name}.yaml"
        if path.exists():
            return _with_defaults(OmegaConf.load(path), extra_dirs)
    raise FileNotFoundError(f"no {group}/{name}.yaml under {PLUGIN_CONF} or {REPO_CONF}")


def _with_defaults(node: DictConfig, extra_dirs: tuple[Path, ...]) -> DictConfig:
    """Resolve the one defaults-list form the presets use: ``/group@key.path: name``."""
    defaults = node.pop("defaults", None) or []
    for entry in defaults:
        if entry == "_self_" or not isinstance(entry, DictConfig):
            continue
        for target, name in entry.items():
            group, _, key = str(target).lstrip("/").partition("@")
            OmegaConf.update(node, key, _yaml(group, str(name), extra_dirs), merge=True)
    return node


def compose(workload: str = "wordcount", hardware: str | dict[str, Any] = "rpi3",
            cluster: str | dict[str, Any] = "small_rack", faults: str | dict[str, Any] = "none", seed: int = 0, overrides: dict[str, Any] | None = None,
            conf_dirs: tuple[Path, ...] = ()) -> DictConfig:
    from harness.config.schema import BackendConfig, ClusterConfig, FaultsConfig, HardwareProfile

    def group(name: str, value: str | dict[str, Any]) -> Any:
        return OmegaConf.create(value) if isinstance(value, dict) else _yaml(name, value, conf_dirs)

    fault_cfg = group("faults", faults)
    config = OmegaConf.create({
        "seed": seed,
        "system": _yaml("system", "mapreduce", conf_dirs),
        "workload": _yaml("workload", workload, conf_dirs),
        "hardware": OmegaConf.merge(OmegaConf.structured(HardwareProfile), group("hardware", hardware)),
        "cluster": OmegaConf.merge(OmegaConf.structured(ClusterConfig), group("cluster", cluster)),
        "faults": OmegaConf.merge(OmegaConf.structured(FaultsConfig), fault_cfg),
        "backend": OmegaConf.structured(BackendConfig),
    })
    for key, value in (overrides or {}).items():
        OmegaConf.update(config, key, value, merge=False)
    return config


def run(workload: str = "wordcount", **kwargs: Any) -> Result:
    config = compose(workload, **kwargs)
    return run_config(config)


def run_config(config: DictConfig) -> Result:
    from harness.builtin import harness_run_metrics
    from harness.config.validate import typed_params
    from harness.sim.backend import SimBackend
    from plugins.batch.mapreduce.system import MapReduce
    from plugins.batch.workloads import WORKLOADS

    workload_cls = next(w for w in WORKLOADS if w.name == config.workload.name)
    system_params = typed_params(MapReduce.Params, config.system, "system")
    workload_params = typed_params(workload_cls.Params, config.workload, "workload")
    issues = MapReduce.check(system_params, config) + workload_cls.check(workload_params)
    if issues:
        raise ValueError(str(issues[0]))
    captured: dict[str, Any] = {}

    class Captured(MapReduce):
        def __init__(self, params: Any, runtime: Any) -> None:
            super().__init__(params, runtime)
            captured["system"] = self

    outcome = SimBackend().execute(config, Captured, system_params, workload_cls, workload_params)
    outcome.metrics.extend(harness_run_metrics(config=config, outcome=outcome))
    metrics = {m.name: m.value for m in outcome.metrics}
    units = {m.name: m.unit for m in outcome.metrics}
    return Result(metrics, units, captured.get("system"), outcome)
