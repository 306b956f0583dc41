"""``harness new-plugin``: the generated package installs with pip and its tests pass.

The install test is marked ``installs``: it creates a virtual environment, pip-installs
freshly generated packages into it and runs their own tests with that environment's
pytest (under a minute; ``-m "not installs"`` skips it).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import harness
from harness.scaffold import KINDS, ScaffoldError, check_name, new_plugin


# --- generation ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_file_is_complete_and_parses(tmp_path: Path, kind: str) -> None:
    made = new_plugin("tiny_kv", tmp_path, kind)
    assert made.root == tmp_path / "harness-tiny-kv"
    for rel in made.files:
        text = (made.root / rel).read_text()
        assert "$" not in text.replace("$$", ""), f"{rel}: a placeholder was left"
        if rel.endswith(".py"):
            compile(text, rel, "exec")
        if rel.endswith(".yaml"):
            assert yaml.safe_load(text)["name"] in ("tiny_kv", "tiny_kv_load", "tiny_kv_server")
    pyproject = (made.root / "pyproject.toml").read_text()
    assert '[project.entry-points.harness]\ntiny_kv = "harness_tiny_kv"' in pyproject
    assert any(rel.startswith("tests/test_") for rel in made.files)
    assert "PluginConformance" in (made.root / "tests/test_tiny_kv.py").read_text()


def test_a_system_package_has_a_system_its_workload_and_their_yaml(tmp_path: Path) -> None:
    made = new_plugin("tiny_kv", tmp_path, "system")
    assert set(made.files) >= {
        "harness_tiny_kv/__init__.py", "harness_tiny_kv/system.py", "harness_tiny_kv/workload.py",
        "harness_tiny_kv/conf/system/tiny_kv.yaml", "harness_tiny_kv/conf/workload/tiny_kv_load.yaml", "README.md",
    }  # fmt: skip


@pytest.mark.parametrize("bad", ["Kv", "my-kv", "2kv", "kv store", "", "class", "x" * 41, "_kv"])
def test_a_bad_name_is_one_clear_line(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ScaffoldError) as err:
        check_name(bad)
    assert "\n" not in str(err.value) and repr(bad) in str(err.value)


def test_the_verb_refuses_a_bad_name_and_an_existing_directory(tmp_path: Path) -> None:
    bad = harness("new-plugin", "My-KV", "--dir", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'my_kv'" in bad.stderr
    first = harness("new-plugin", "tiny_kv", "--dir", str(tmp_path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    readme = tmp_path / "harness-tiny-kv" / "README.md"
    readme.write_text("mine")
    again = harness("new-plugin", "tiny_kv", "--dir", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert readme.read_text() == "mine", "nothing is overwritten"


def test_a_name_an_installed_plugin_already_has_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="system 'mapreduce' exists"):
        new_plugin("mapreduce", tmp_path, "system")
    with pytest.raises(ScaffoldError, match="hardware profile 'rpi3' exists"):
        new_plugin("rpi3", tmp_path, "hardware")
    assert not list(tmp_path.iterdir())


# --- install and test, as a third party would ----------------------------------------------


def _venv(path: Path) -> Path:
    """A fresh venv that sees this interpreter's packages (the harness and its deps)."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)],
                   check=True, timeout=120)  # fmt: skip
    python = path / "bin" / "python"
    if sys.prefix != sys.base_prefix:
        # This interpreter is itself a venv: --system-site-packages reaches only the base
        # Python's packages, so the new venv is pointed at ours as well (.pth files run
        # `import` lines, and addsitedir also runs our editable installs' .pth files).
        purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                 check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
        lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages())
        Path(purelib, "_harness_parent_env.pth").write_text(lines)
    return python


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    # This interpreter's pip, installing into the new venv (which was made without one).
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _can_build_wheels(python: Path) -> bool:
    probe = ("import setuptools, importlib.util as u; v = tuple(int(x) for x in setuptools.__version__.split('.')[:2]); "
             "raise SystemExit(0 if v >= (70, 1) or u.find_spec('wheel') else 1)")  # fmt: skip
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


@pytest.mark.installs
def test_generated_packages_install_with_pip_and_their_tests_pass(tmp_path: Path) -> None:
    # The system and hardware kinds; the workload kind renders the same modules as the
    # system kind under other names (checked above without installing).
    packages = [new_plugin(f"demo_{kind}", tmp_path / "src", kind).root for kind in ("system", "hardware")]
    python = _venv(tmp_path / "venv")
    if not _can_build_wheels(python):
        # One build backend for both packages, rather than an isolated build env per package.
        setup = _pip(python, "setuptools>=70.1")
        assert setup.returncode == 0, setup.stderr
    install = _pip(python, "--no-deps", "--no-build-isolation", *map(str, packages))
    assert install.returncode == 0, install.stdout + install.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "HARNESS_DISABLE_PLUGIN_AUTOLOAD")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    listed = run("-m", "harness.cli", "plugins")
    assert listed.returncode == 0, listed.stderr
    for choice in ("demo_system", "demo_system_load", "demo_hardware"):
        assert f" {choice} " in listed.stdout, f"{choice} is not listed by `harness plugins`"
    # The packages' own tests, against the installed copies (not the source trees).
    result = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *(str(p / "tests") for p in packages))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
