"""What produced a result: code version, plugin versions, git revision, host facts."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness
from harness.plugin_manager import registry


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_version(plugin_modules: tuple[str, ...] = ()) -> str:
    """A hash of the harness core's source and YAML plus that of the given plugins.

    Resume keys include it, so editing a system (even without a commit) never reuses a
    result the old code produced, while results of systems whose code did not change
    stay reusable.
    """
    digest = hashlib.sha256(harness.__version__.encode())
    for root in _source_roots(plugin_modules):
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _source_roots(plugin_modules: tuple[str, ...]) -> list[Path]:
    roots = {Path(harness.__file__).parent, harness.CONF_DIR}
    for name in plugin_modules:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            roots.update(Path(p) for p in spec.submodule_search_locations)
        elif spec and spec.origin:
            roots.add(Path(spec.origin))
    return sorted(r for r in roots if r.exists())


def plugin_versions() -> dict[str, str]:
    return {p.name: f"{p.dist} {p.version}" for p in registry().plugins}


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=Path(harness.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def host_facts() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
