"""``harness new-plugin NAME``: write a plugin package a third party can start from.

The package is complete and runs as generated: a pyproject with the ``harness`` entry
point, the plugin module with its hookimpls, a system (a replicated key-value service)
and its workload, or a workload and a service to run it, or a hardware profile; the
YAML under the package's ``conf/``; a README; and tests built on
``harness.testing.PluginConformance``. ``pip install`` it and its tests pass.

The files come from ``harness/templates/*.tmpl`` (``string.Template``: ``$name``).

Exit codes: 0 written, 2 unusable input (a bad name, an existing directory).
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

__all__ = ["KINDS", "ScaffoldError", "Scaffold", "check_name", "new_plugin", "new_plugin_main", "plan"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("system", "workload", "hardware")
NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME = 40
# A hardware profile is exercised by a built-in system on a tiny input.
HARDWARE_TEST_RUN = ("mapreduce", "wordcount", ("workload.scale=tiny",))

EXIT_OK, EXIT_UNUSABLE = 0, 2


class ScaffoldError(Exception):
    """Unusable input; the message is one line."""


@dataclass(frozen=True)
class Scaffold:
    """What was written: the package directory and its files, relative to it."""

    root: Path
    files: tuple[str, ...]
    names: dict[str, str]


# --- names ---------------------------------------------------------------------------------


def check_name(name: str) -> None:
    """A config-group choice and a Python identifier: lower case, digits, underscores."""
    if keyword.iskeyword(name):
        raise ScaffoldError(f"plugin name {name!r} is a Python keyword; choose another (e.g. {name + '_plugin'!r})")
    if not NAME_RE.match(name) or len(name) > MAX_NAME:
        hint = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_")
        suggestion = f" (e.g. {hint!r})" if hint and NAME_RE.match(hint) and hint != name else ""
        raise ScaffoldError(
            f"plugin name {name!r}: use a lower-case Python identifier of at most {MAX_NAME} "
            f"characters (letters, digits, underscores; starting with a letter){suggestion}"
        )


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def names_for(name: str, kind: str) -> dict[str, str]:
    """Every name the templates use; the one the user gave is what they select on the CLI."""
    dashed = name.replace("_", "-")
    names = {
        "name": name,
        "kind": kind,
        "dist": f"harness-{dashed}",
        "package": f"harness_{name}",
        "class_name": _camel(name),
        "request_kind": name,
    }
    if kind == "system":
        names.update(system_name=name, system_class=_camel(name),
                     workload_name=f"{name}_load", workload_class=f"{_camel(name)}Load",
                     summary=f"The {name} system for the dsbench harness, with a workload to drive it",
                     lead="Its subject is the system; the workload is there to drive it.")  # fmt: skip
    elif kind == "workload":
        names.update(workload_name=name, workload_class=_camel(name),
                     system_name=f"{name}_server", system_class=f"{_camel(name)}Server",
                     summary=f"The {name} workload for the dsbench harness, with a service to run it",
                     lead="Its subject is the workload; the service is there so it runs from the start "
                          "(a system of yours serves it by listing its kind in `serves`).")  # fmt: skip
    else:
        names.update(summary=f"The {name} hardware profile for the dsbench harness",
                     test_system=HARDWARE_TEST_RUN[0], test_workload=HARDWARE_TEST_RUN[1],
                     test_overrides=", ".join(f'"{o}"' for o in HARDWARE_TEST_RUN[2]))  # fmt: skip
    return names


def _clashes(names: dict[str, str], kind: str) -> list[str]:
    """Names the new package would take that something installed already has."""
    import importlib.util

    from harness.plugin_manager import registry
    from harness.plugins_cmd import yaml_choices

    reg = registry()
    taken = []
    if importlib.util.find_spec(names["package"]) is not None:
        taken.append(f"a module named {names['package']} is already importable")
    if kind in ("system", "workload"):
        if names["system_name"] in reg.systems:
            taken.append(f"system {names['system_name']!r} exists ({reg.systems[names['system_name']].plugin.label})")
        if names["workload_name"] in reg.workloads:
            taken.append(f"workload {names['workload_name']!r} exists ({reg.workloads[names['workload_name']].plugin.label})")
    else:
        if any(g == "hardware" and n == names["name"] for g, n, _d, _p in yaml_choices(reg.config_dirs)):
            taken.append(f"hardware profile {names['name']!r} exists")
    return taken


# --- the files -----------------------------------------------------------------------------


def plan(kind: str, names: dict[str, str]) -> dict[str, str]:
    """Relative path in the package -> template file name."""
    pkg = names["package"]
    files = {"pyproject.toml": "pyproject.toml.tmpl"}
    if kind == "hardware":
        files.update({
            "README.md": "README.hardware.md.tmpl",
            f"{pkg}/__init__.py": "plugin_hardware.py.tmpl",
            f"{pkg}/conf/hardware/{names['name']}.yaml": "hardware.yaml.tmpl",
            f"tests/test_{names['name']}.py": "test_hardware.py.tmpl",
        })  # fmt: skip
        return files
    files.update({
        "README.md": "README.services.md.tmpl",
        f"{pkg}/__init__.py": "plugin_services.py.tmpl",
        f"{pkg}/system.py": "system.py.tmpl",
        f"{pkg}/workload.py": "workload.py.tmpl",
        f"{pkg}/conf/system/{names['system_name']}.yaml": "system.yaml.tmpl",
        f"{pkg}/conf/workload/{names['workload_name']}.yaml": "workload.yaml.tmpl",
        f"tests/test_{names['name']}.py": "test_services.py.tmpl",
    })  # fmt: skip
    return files


def render(template: str, names: dict[str, str]) -> str:
    return Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(names)


def new_plugin(name: str, directory: Path, kind: str = "system", check_installed: bool = True) -> Scaffold:
    """Write the package for ``name`` under ``directory``; ScaffoldError if unusable."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: allowed: {', '.join(KINDS)}")
    check_name(name)
    names = names_for(name, kind)
    root = directory / names["dist"]
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or --dir (nothing was overwritten)")
    taken = _clashes(names, kind) if check_installed else []
    if taken:
        raise ScaffoldError(f"plugin name {name!r} is taken: {'; '.join(taken)}")
    rendered = {path: render(template, names) for path, template in plan(kind, names).items()}
    for path, text in rendered.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return Scaffold(root, tuple(rendered), names)


# --- the verb ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness new-plugin",
        description="Write a plugin package (pyproject, hookimpls, a runnable skeleton, its YAML, "
        "a README and conformance tests) that installs with pip and passes its tests.",
    )
    parser.add_argument("name", metavar="NAME", help="what the plugin's choice is called (system=NAME ...)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where to create the package (default: .)")
    parser.add_argument("--kind", choices=KINDS, default="system", help="what the package is about (default: system)")
    return parser


def new_plugin_main(argv: Sequence[str]) -> int:
    """``harness new-plugin NAME [--dir DIR] [--kind KIND]``; returns the exit code."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE
    try:
        made = new_plugin(args.name, args.dir, args.kind)
    except ScaffoldError as exc:
        print(f"harness new-plugin: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(f"wrote {made.root}/")
    for path in made.files:
        print(f"  {path}")
    print(f"next: pip install -e '{made.root}[test]' && (cd {made.root} && pytest)")
    return EXIT_OK
