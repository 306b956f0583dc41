"""One run: validate, reuse or execute, and record the outcome atomically.

The task function never raises: every outcome (ok, failed, timeout) is a record, so
one bad run cannot take a sweep down. A record is first written as ``running``; a run
killed mid-way leaves it so, and it is reported as incomplete, never as ok.
"""

from __future__ import annotations

import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import harness
from harness.config.schema import BACKEND_RUN_CONTROL_KEYS, RUN_CONTROL_KEYS
from harness.config.validate import ConfigError, validate
from harness.plugin_manager import PluginError, call_each, plugin_manager, registry
from harness.provenance import canonical_json, code_version, git_revision, host_facts, plugin_versions, sha256
from harness.results.record import write_record
from harness.results.store import ResultsStore
from harness.sim.kernel import RunTimeout

PROSE_KEYS = ("description", "sources")
GROUPS = ("system", "workload", "hardware", "cluster", "faults", "backend")


def identity(config: DictConfig) -> tuple[str, str]:
    """(config_hash, key): what the run computes, and that plus the code that computes it."""
    digest = config_hash(OmegaConf.to_container(config, resolve=True))
    return digest, sha256(digest + run_code_version(config))


def config_hash(resolved: dict[str, Any]) -> str:
    """The hash of a resolved config without run-control keys (results_dir, rerun,
    timeout...) and prose (description, sources): neither changes a metric. Sweep order
    cannot matter: the hash is of the resolved config, canonically sorted.
    """
    kept = _without_prose({k: v for k, v in resolved.items() if k not in RUN_CONTROL_KEYS})
    if "backend" in kept:
        kept["backend"] = {k: v for k, v in kept["backend"].items() if k not in BACKEND_RUN_CONTROL_KEYS}
    return sha256(canonical_json(kept))


def _without_prose(value: Any) -> Any:
    """Drop ``description`` and ``sources`` at any depth: rewording them changes no metric."""
    if isinstance(value, dict):
        return {k: _without_prose(v) for k, v in value.items() if k not in PROSE_KEYS}
    if isinstance(value, list):
        return [_without_prose(v) for v in value]
    return value


def run_code_version(config: DictConfig) -> str:
    """The code that computes this run: the core plus its system's and workload's plugins."""
    reg = registry()
    modules = tuple(
        sorted({p.plugin.module for p in (reg.systems.get(str(config.system.name)), reg.workloads.get(str(config.workload.name))) if p})
    )
    return code_version(modules)


def new_record(config: DictConfig, job_dir: Path, overrides: list[str], choices: dict[str, Any], sweep_dir: str | None) -> dict[str, Any]:
    config_hash, key = identity(config)
    return {
        "schema": 1,
        "run_id": f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:4]}",
        "key": key,
        "config_hash": config_hash,
        "code_version": run_code_version(config),
        "config": OmegaConf.to_container(config, resolve=True),
        "choices": {g: choices.get(g) for g in GROUPS},
        "overrides": list(overrides),
        "seed": int(config.seed),
        "versions": {"harness": harness.__version__, "python": host_facts()["python"], "plugins": plugin_versions()},
        "git_revision": git_revision(),
        "host": host_facts(),
        "backend": str(config.backend.name),
        "simulated": None,
        "status": "running",
        "error": None,
        "reused_from": None,
        "started_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s": None,
        "job_dir": str(job_dir),
        "sweep_dir": sweep_dir,
        "metrics": [],
        "distributions": {},
    }


def execute(config: DictConfig, job_dir: Path, overrides: list[str], choices: dict[str, Any], sweep_dir: str | None) -> dict[str, Any]:
    """Run one fully composed config and return its (already written) record."""
    job_dir.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(Path(config.results_dir) / "results.sqlite")
    record = new_record(config, job_dir, overrides, choices, sweep_dir)
    if not config.rerun:
        reused = _reuse(store, record)
        if reused is not None:
            return reused
    _save(store, record, job_dir)
    started = time.perf_counter()
    try:
        _measure(config, record)
        record["status"] = "ok"
    except ConfigError as exc:
        record.update(status="failed", error=str(exc))
    except RunTimeout as exc:
        record.update(status="timeout", error=str(exc))
    except PluginError as exc:
        record.update(status="failed", error=str(exc))
    except Exception as exc:  # a plugin's bug: named, recorded, never fatal to the sweep
        record.update(status="failed", error=_blame(record, exc))
    record["wall_time_s"] = time.perf_counter() - started
    _save(store, record, job_dir)
    return record


def _measure(config: DictConfig, record: dict[str, Any]) -> None:
    run = validate(config)
    record["versions"]["plugins"] = {**record["versions"]["plugins"], **run.plugins}
    backend = plugin_manager().hook.harness_make_backend(name=str(config.backend.name))
    if backend is None:
        raise ConfigError(f"backend.name={config.backend.name!r}: no plugin provides this backend; allowed: sim")
    record["simulated"] = bool(backend.simulated)
    outcome = backend.execute(config, run.system, run.system_params, run.workload, run.workload_params)
    for _plugin, extra in call_each("harness_run_metrics", config=config, outcome=outcome):
        outcome.metrics.extend(extra)
    record["metrics"] = [m.as_dict() for m in outcome.metrics]
    record["distributions"] = outcome.distributions


def _blame(record: dict[str, Any], exc: Exception) -> str:
    where = traceback.extract_tb(exc.__traceback__)
    culprit = next((f for f in reversed(where) if "/harness/" not in f.filename), where[-1] if where else None)
    location = f" at {Path(culprit.filename).name}:{culprit.lineno}" if culprit else ""
    system = record["choices"].get("system")
    plugin = record["versions"]["plugins"].get(_plugin_of(system), "")
    return f"system {system!r} ({plugin}) raised {type(exc).__name__}: {exc}{location}".replace("\n", " ")


def _plugin_of(system: str | None) -> str:
    provided = registry().systems.get(system or "")
    return provided.plugin.name if provided else ""


def _reuse(store: ResultsStore, record: dict[str, Any]) -> dict[str, Any] | None:
    found = store.find_ok(record["key"])
    if not found:
        return None
    from harness.results.record import read_record

    try:
        original = read_record(found["record_path"])
    except (OSError, ValueError):
        return None  # the original record is gone: run again
    reused = {**original, **{k: record[k] for k in ("run_id", "job_dir", "sweep_dir", "overrides", "started_at")}}
    reused["reused_from"] = original.get("reused_from") or original["run_id"]
    _save(store, reused, Path(record["job_dir"]))
    return reused


def _save(store: ResultsStore, record: dict[str, Any], job_dir: Path) -> None:
    path = job_dir / "record.json"
    write_record(path, record)
    store.index(record, str(path))
