"""Shared helpers: run the real `harness` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HARNESS = [sys.executable, "-m", "harness.cli"]
FAST = ["workload.requests=200", "system=rpc_pool", "workload=poisson_requests"]


def harness(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update(env or {})
    return subprocess.run([*HARNESS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
