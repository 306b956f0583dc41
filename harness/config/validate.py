"""Semantic checks after Hydra composition: one clear line per problem.

Hydra has already type-checked the core groups against ``harness.config.schema``. Here
the chosen system's and workload's own ``Params`` dataclasses type their groups, and
every plugin's ``harness_validate`` hook and the classes' ``check`` methods judge
values that are well-typed but not allowed (a quorum larger than the replica count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from harness.api import ConfigIssue, System, Workload
from harness.plugin_manager import PluginError, call_each, registry

# In any group YAML, never in a plugin's Params: its name and the prose around its figures.
IDENTITY_KEYS = ("name", "description", "sources")


class ConfigError(Exception):
    """Bad input: the message is one line naming the key, the value and what is allowed."""


@dataclass
class ValidRun:
    system: type[System]
    system_params: Any
    workload: type[Workload]
    workload_params: Any
    plugins: dict[str, str]  # entry-point name -> "dist version", for the record


def validate(config: DictConfig) -> ValidRun:
    reg = registry()
    try:
        system = reg.system(str(config.system.name))
        workload = reg.workload(str(config.workload.name))
    except PluginError as exc:
        raise ConfigError(str(exc)) from None
    system_params = typed_params(system.cls.Params, config.system, "system")
    workload_params = typed_params(workload.cls.Params, config.workload, "workload")
    if workload.cls.kind not in system.cls.serves:
        servable = sorted(n for n, p in reg.workloads.items() if p.cls.kind in system.cls.serves)
        raise ConfigError(
            f"workload={workload.cls.name!r}: system {system.cls.name!r} cannot serve "
            f"{workload.cls.kind!r} workloads; allowed: {', '.join(servable) or 'none installed'}"
        )
    issues = list(_hook_issues(config))
    issues += _class_issues(system, lambda: system.cls.check(system_params, config))
    issues += _class_issues(workload, lambda: workload.cls.check(workload_params))
    if issues:
        raise ConfigError(str(issues[0]))
    plugins = {p.plugin.name: f"{p.plugin.dist} {p.plugin.version}" for p in (system, workload)}
    return ValidRun(system.cls, system_params, workload.cls, workload_params, plugins)


def typed_params(params_cls: type, node: DictConfig, prefix: str) -> Any:
    """Merge a group's YAML onto the plugin's dataclass: unknown keys and bad types fail here."""
    values = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in IDENTITY_KEYS}
    try:
        merged = OmegaConf.merge(OmegaConf.structured(params_cls), values)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(omegaconf_line(exc, prefix)) from None


def omegaconf_line(exc: OmegaConfBaseException, prefix: str = "") -> str:
    """One line from an OmegaConf error: ``key=value: what is wrong``."""
    key = getattr(exc, "full_key", None) or ""
    full_key = f"{prefix}.{key}" if prefix and key else (key or prefix)
    message = str(exc).splitlines()[0].strip()
    value = getattr(exc, "value", None)
    if value is not None and "not in" not in message:
        return f"{full_key}={value!r}: {message}"
    return f"{full_key}: {message}"


def _hook_issues(config: DictConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    try:
        for _info, found in call_each("harness_validate", config=config):
            issues.extend(found)
    except PluginError as exc:
        raise ConfigError(str(exc)) from None
    return issues


def _class_issues(provided: Any, check: Any) -> list[ConfigIssue]:
    try:
        return list(check())
    except Exception as exc:
        raise ConfigError(f"plugin {provided.plugin.label}: check() raised {type(exc).__name__}: {exc}") from None
