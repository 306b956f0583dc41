"""Fog storage (seed 003): an IPFS-like global DHT vs a fog-aware site store.

Kept cheap to import: the hook functions import the heavy modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.edge.fogstore.system import FogStore

    return [FogStore]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.edge.fogstore.workload import FogObjects

    return [FogObjects]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
