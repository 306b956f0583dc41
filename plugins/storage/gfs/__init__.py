"""GFS (Ghemawat, Gobioff & Leung, SOSP 2003) and its file workloads (kind ``files``).

Kept cheap to import: the hook functions import the heavy modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.storage.gfs.system import GFS

    return [GFS]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.storage.gfs.workloads import WORKLOADS

    return list(WORKLOADS)


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
