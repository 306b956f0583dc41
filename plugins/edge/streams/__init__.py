"""Stream processing placement (seed 003): an IoT pipeline across edge sites and a cloud.

Kept cheap to import: the hook functions import the heavy modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.edge.streams.system import StreamPlacement

    return [StreamPlacement]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.edge.streams.workload import IotPipeline

    return [IotPipeline]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
