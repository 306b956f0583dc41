"""``harness plugins``: every system, workload, hardware profile and cluster preset,
with a one-line description and the plugin (package and version) that provides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import yaml

import harness
from harness.plugin_manager import HARNESS_DIST, PluginInfo, registry

YAML_GROUPS = ("hardware", "cluster", "faults", "backend", "suite")


def main(argv: list[str]) -> int:
    if argv:
        print("usage: harness plugins", flush=True)
        return 2
    reg = registry()
    rows: list[tuple[str, str, str, str]] = []
    rows += [("system", n, p.cls.description, p.plugin.label) for n, p in sorted(reg.systems.items())]
    rows += [("workload", n, f"[{p.cls.kind}] {p.cls.description}", p.plugin.label) for n, p in sorted(reg.workloads.items())]
    rows += list(yaml_choices(reg.config_dirs))
    print(_table(rows))
    for plugin in reg.broken:
        print(f"BROKEN plugin {plugin.label}: {plugin.error}")
    for problem in reg.problems:
        print(f"problem: {problem}")
    return 0


def yaml_choices(config_dirs: list[tuple[Path, PluginInfo]]) -> Iterator[tuple[str, str, str, str]]:
    core = f"core ({HARNESS_DIST} {harness.__version__})"
    sources = [(harness.CONF_DIR, core)] + [(d, p.label) for d, p in config_dirs]
    for group in YAML_GROUPS:
        seen: set[str] = set()
        for directory, label in sources:
            for path in sorted((Path(directory) / group).glob("*.yaml")):
                if path.stem not in seen:
                    seen.add(path.stem)
                    yield group, path.stem, _description(path), label


def _description(path: Path) -> str:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        return f"(unreadable YAML: {str(exc).splitlines()[0]})"
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("group", "choice", "description", "plugin")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    lines = []
    for group, name, desc, plugin in [header, *rows]:
        lines.append(f"{group:<{widths[0]}}  {name:<{widths[1]}}  {desc}  [{plugin}]")
    return "\n".join(lines)
