"""Batch processing: MapReduce (and, later, Spark RDDs) with HiBench-style workloads.

Kept cheap to import: the hook functions import the heavy modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.batch.mapreduce.system import MapReduce
    from plugins.batch.spark.system import Spark

    return [MapReduce, Spark]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.batch.workloads import WORKLOADS

    return list(WORKLOADS)


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
