"""An example third-party plugin: registers a system, a workload and their YAML."""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from harness_example_rpc.rpc import RpcPool

    return [RpcPool]


@hookimpl
def harness_workloads() -> list[type]:
    from harness_example_rpc.rpc import PoissonRequests

    return [PoissonRequests]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
