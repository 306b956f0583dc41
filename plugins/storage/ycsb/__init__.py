"""YCSB core workloads A-F for ``kv`` systems (Dynamo, or any system serving ``kv``).

Kept cheap to import: the hook functions import NumPy and the generators only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.storage.ycsb.workload import Ycsb

    return [Ycsb]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
