"""Live migration of a VM or a container between two nodes (issue 6, seed 002): pre-copy,
stop-and-copy, post-copy and hybrid, with guest presets (idle, web server, game server,
memory-intensive) and an exact page-version ledger.

Kept cheap to import: the hook functions import the heavy modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.edge.migration.system import LiveMigration

    return [LiveMigration]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.edge.migration.workload import WORKLOADS

    return list(WORKLOADS)


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
