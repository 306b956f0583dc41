"""Plugins: discovery through entry points, listing, broken plugins, the autoload switch."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from conftest import FAST, REPO, harness, records

import harness.hookspecs as hookspecs


def test_plugins_lists_every_kind_with_its_provider(workdir):
    result = harness("plugins", cwd=workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for group, name in [("system", "mapreduce"), ("system", "rpc_pool"), ("workload", "wordcount"),
                        ("hardware", "rpi3"), ("hardware", "example_board"), ("cluster", "small_rack")]:
        assert re.search(rf"^{group}\s+{name}\s+\S", out, re.M), (group, name)
    assert "harness-example-rpc 0.1.0" in out and "dsbench-harness" in out


def _fake_distribution(root: Path, name: str, module: str, body: str) -> None:
    """A real installed distribution (dist-info + entry point), on PYTHONPATH."""
    dist = root / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[harness]\n{name} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(body))


BROKEN_IMPORT = "raise RuntimeError('cannot import me')\n"
RAISING_SYSTEM = """
    from dataclasses import dataclass
    from harness.api import System, hookimpl

    class Exploding(System):
        name = "exploding"
        description = "raises mid-run"
        serves = ("rpc",)

        def run(self, workload):
            yield self.rt.sleep(1.0)
            raise ValueError("boom")

    @hookimpl
    def harness_systems():
        return [Exploding]

    @hookimpl
    def harness_config_dirs():
        from pathlib import Path
        return [Path(__file__).parent / "explode_conf"]
"""


def test_a_plugin_that_fails_to_import_is_named_and_harmless(workdir):
    _fake_distribution(workdir / "site", "brokenplug", "brokenplug_mod", BROKEN_IMPORT)
    env = {"PYTHONPATH": str(workdir / "site")}
    listing = harness("plugins", cwd=workdir, env=env)
    assert listing.returncode == 0
    assert "BROKEN plugin brokenplug (brokenplug 1.0): RuntimeError: cannot import me" in listing.stdout
    assert harness(*FAST, cwd=workdir, env=env).returncode == 0, "other plugins still run"


def test_a_system_that_raises_is_recorded_failed_naming_its_plugin(workdir):
    _fake_distribution(workdir / "site", "explodeplug", "explodeplug_mod", RAISING_SYSTEM)
    (workdir / "site" / "explode_conf" / "system").mkdir(parents=True)
    (workdir / "site" / "explode_conf" / "system" / "exploding.yaml").write_text("name: exploding\n")
    env = {"PYTHONPATH": str(workdir / "site")}
    result = harness("-m", "system=exploding,rpc_pool", "workload=poisson_requests", "workload.requests=100",
                     cwd=workdir, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    by_system = {r["choices"]["system"]: r for r in records(workdir / "results")}
    assert by_system["rpc_pool"]["status"] == "ok"
    failed = by_system["exploding"]
    assert failed["status"] == "failed"
    assert "explodeplug 1.0" in failed["error"] and "ValueError: boom" in failed["error"]


def test_autoload_switch_keeps_only_builtin_plugins(workdir):
    result = harness("plugins", cwd=workdir, env={"HARNESS_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 0
    assert "rpc_pool" not in result.stdout and "mapreduce" in result.stdout


def _signature(fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


def test_docs_list_every_hook_with_its_signature():
    docs = (REPO / "docs" / "plugins.md").read_text()
    hooks = [fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("harness_")]
    assert len(hooks) >= 6
    for fn in hooks:
        assert f"### `{_signature(fn)}`" in docs, f"docs/plugins.md lacks {_signature(fn)}"
    documented = re.findall(r"^### `(harness_\w+)\(", docs, re.M)
    assert sorted(documented) == sorted(fn.__name__ for fn in hooks), "docs list a hook that does not exist"
