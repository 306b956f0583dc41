"""Discovers plugins through the ``harness`` entry-point group and indexes what they offer.

Built-in plugins are listed in this distribution's own entry points and loaded by the
same loop as third-party ones. A plugin that fails to import or whose hook raises is
recorded as broken, named in any error it causes, and never takes the harness down.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import pluggy

from harness import hookspecs

ENTRY_POINT_GROUP = "harness"
DISABLE_AUTOLOAD_ENV = "HARNESS_DISABLE_PLUGIN_AUTOLOAD"
HARNESS_DIST = "dsbench-harness"


class PluginError(Exception):
    """A plugin failed; the message names the plugin."""


@dataclass
class PluginInfo:
    name: str  # entry-point name
    module: str
    dist: str
    version: str
    builtin: bool
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.dist} {self.version})"


@dataclass
class Provided:
    cls: Any
    plugin: PluginInfo


@dataclass
class Registry:
    plugins: list[PluginInfo] = field(default_factory=list)
    systems: dict[str, Provided] = field(default_factory=dict)
    workloads: dict[str, Provided] = field(default_factory=dict)
    config_dirs: list[tuple[Path, PluginInfo]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]

    def system(self, name: str) -> Provided:
        return _lookup(self.systems, name, "system", self)

    def workload(self, name: str) -> Provided:
        return _lookup(self.workloads, name, "workload", self)


def _lookup(table: dict[str, Provided], name: str, group: str, reg: Registry) -> Provided:
    if name in table:
        return table[name]
    hint = "".join(f"; plugin {p.label} failed to load: {p.error}" for p in reg.broken)
    raise PluginError(
        f"{group}={name!r}: no plugin provides it; available: {', '.join(sorted(table))}{hint}"
    )


_manager: pluggy.PluginManager | None = None
_registry: Registry | None = None
_infos: dict[int, PluginInfo] = {}  # id(plugin module) -> its info
_all_infos: list[PluginInfo] = []  # every plugin seen, broken ones included


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        pm.add_hookspecs(hookspecs)
        _load_entry_points(pm)
        _manager = pm
    return _manager


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = _build_registry(plugin_manager())
    return _registry


def reset() -> None:
    """Forget loaded plugins (tests use this after installing a package)."""
    global _manager, _registry
    _manager, _registry = None, None
    _infos.clear()
    _all_infos.clear()


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    # Sorted so load order (and so hook call order) never depends on the file system.
    unique = {(ep.name, ep.value): ep for ep in eps}
    return [unique[k] for k in sorted(unique)]


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0")
    for ep in _entry_points():
        dist = ep.dist.name if ep.dist else "?"
        builtin = dist == HARNESS_DIST
        if not (builtin or autoload):
            continue
        info = PluginInfo(ep.name, ep.value, dist, ep.dist.version if ep.dist else "?", builtin)
        _register(pm, ep, info)


def _register(pm: pluggy.PluginManager, ep: metadata.EntryPoint, info: PluginInfo) -> None:
    try:
        module = ep.load()
        if pm.is_registered(module):
            return
        pm.register(module, name=info.name)
        _infos[id(module)] = info
    except Exception as exc:  # a broken plugin is recorded, never fatal
        info.error = _one_line(exc)
    finally:
        _all_infos.append(info)


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def call_each(hook_name: str, **kwargs: Any) -> Iterator[tuple[PluginInfo, Any]]:
    """Call one hook on every plugin separately, so one plugin's failure is its own."""
    pm = plugin_manager()
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):
        info = _infos.get(id(impl.plugin)) or _unknown(impl.plugin_name)
        try:
            result = impl.function(**{k: kwargs[k] for k in impl.argnames})
        except Exception as exc:
            raise PluginError(f"plugin {info.label}: {hook_name} raised {_one_line(exc)}") from exc
        if result is not None:
            yield info, result


def _unknown(name: str) -> PluginInfo:
    return PluginInfo(name, name, "?", "?", False)


def _build_registry(pm: pluggy.PluginManager) -> Registry:
    reg = Registry(plugins=list(_all_infos))
    _collect_safely(reg, "harness_systems", lambda info, classes: _add(reg, reg.systems, "system", classes, info))
    _collect_safely(reg, "harness_workloads", lambda info, classes: _add(reg, reg.workloads, "workload", classes, info))
    _collect_safely(reg, "harness_config_dirs", lambda info, dirs: reg.config_dirs.extend((Path(d), info) for d in dirs))
    return reg


def _collect_safely(reg: Registry, hook: str, add: Callable[[PluginInfo, Any], None]) -> None:
    pm = plugin_manager()
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        info = _infos.get(id(impl.plugin)) or _unknown(impl.plugin_name)
        try:
            add(info, impl.function())
        except Exception as exc:
            info.error = f"{hook} raised {_one_line(exc)}"
            reg.problems.append(f"plugin {info.label}: {info.error}")
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                traceback.print_exc()


def _add(reg: Registry, table: dict[str, Provided], kind: str, classes: list[Any], info: PluginInfo) -> None:
    for cls in classes:
        name = getattr(cls, "name", "")
        if not name:
            raise PluginError(f"{kind} class {cls.__qualname__} has no name")
        if name in table and table[name].cls is not cls:
            reg.problems.append(
                f"{kind} {name!r} is provided by both {table[name].plugin.label} and {info.label}; keeping the first"
            )
            continue
        table[name] = Provided(cls, info)
