"""Pure, sans-I/O resource models: disk, memory (swap, page cache) and network sharing.

Nothing here imports SimPy or reads a clock; each model is a deterministic function (or
state machine) of its inputs. ``harness.sim.runtime`` wraps them in SimPy resources and
processes. The formulas, constants and sources are in docs/models.md.
"""

from harness.sim.models.disk import DiskCost, DiskSpec, disk_cost
from harness.sim.models.memory import MemoryEffect, MemoryModel, MemorySpec
from harness.sim.models.network import FlowNetwork

__all__ = [
    "DiskCost",
    "DiskSpec",
    "FlowNetwork",
    "MemoryEffect",
    "MemoryModel",
    "MemorySpec",
    "disk_cost",
]
