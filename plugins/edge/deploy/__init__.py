"""deploy: container image deployment on small nodes (seed 003) and OS tuning under memory pressure.

System ``docker_pull`` (stock Docker, sequential layer download, multi-threaded gunzip,
pipelined download/decompress/extract, any combination); workloads ``image_pull`` and
``memory_tight``; cluster presets ``deploy_*`` putting a registry behind a link of a
chosen bandwidth. Kept cheap to import: the hooks import the heavy modules when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.edge.deploy.system import DockerPull

    return [DockerPull]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.edge.deploy.workloads import WORKLOADS

    return list(WORKLOADS)


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
