"""Dynamo (SOSP 2007): a highly available key-value store serving ``kv`` workloads (YCSB).

Kept cheap to import: the hook functions import the system's modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.storage.dynamo.system import Dynamo

    return [Dynamo]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
