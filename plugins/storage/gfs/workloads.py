"""File-system workloads (kind ``files``): what clients do, independent of the design.

A workload names the files that exist before the run and gives each client a plan: a
role and a list of operations, run closed-loop (one after the other), as in the GFS
paper's micro-benchmarks (section 6.1). Offsets and sizes are drawn from the run's seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from harness.api import ConfigIssue, Workload

MIB = float(1 << 20)
KIB = 1024.0


@dataclass(frozen=True)
class Op:
    kind: str  # read | append | write | consume
    path: str
    offset: float = 0.0
    nbytes: float = 0.0
    rid: int = 0  # record id (appends)
    create: bool = False  # writes: the file may not exist yet
    part: int = 0  # consume: this consumer reads chunks part, part + parts, ...
    parts: int = 1


@dataclass
class Plan:
    role: str  # reader | producer | consumer | writer
    ops: list[Op] = field(default_factory=list)


class FilesWorkload(Workload):
    kind = "files"

    def preload(self) -> list[tuple[str, float]]:
        """(path, bytes) of files present before the run starts."""
        return []

    def plans(self) -> list[Plan]:
        raise NotImplementedError

    def rng(self, client: int) -> random.Random:
        return random.Random(f"{self.seed}/{self.name}/{client}")  # str seeds hash with SHA-512: stable


def _positive(params: Any, prefix: str, *keys: str) -> list[ConfigIssue]:
    return [ConfigIssue(f"{prefix}.{k}", getattr(params, k), "must be > 0") for k in keys if getattr(params, k) <= 0]


# -- large streaming reads ------------------------------------------------------------------

@dataclass
class StreamingReadsParams:
    clients: int = 4
    files: int = 1
    file_mib: float = 1024.0  # per file
    region_mib: float = 4.0  # each read: one region at a random aligned offset
    reads_per_client: int = 8


class StreamingReads(FilesWorkload):
    name = "gfs_reads"
    description = "N clients each read random 4 MiB regions of a large file set (GFS paper 6.1.1)"
    Params = StreamingReadsParams

    @classmethod
    def check(cls, params: StreamingReadsParams) -> list[ConfigIssue]:
        issues = _positive(params, "workload", "clients", "files", "file_mib", "region_mib", "reads_per_client")
        if not issues and params.region_mib > params.file_mib:
            issues.append(ConfigIssue("workload.region_mib", params.region_mib,
                                      f"must be <= workload.file_mib ({params.file_mib})"))
        return issues

    def preload(self) -> list[tuple[str, float]]:
        return [(f"/data/set-{i}", self.params.file_mib * MIB) for i in range(self.params.files)]

    def plans(self) -> list[Plan]:
        p = self.params
        regions = int(p.file_mib // p.region_mib)
        plans = []
        for c in range(p.clients):
            rng = self.rng(c)
            ops = [Op("read", f"/data/set-{rng.randrange(p.files)}", rng.randrange(regions) * p.region_mib * MIB,
                      p.region_mib * MIB) for _ in range(p.reads_per_client)]
            plans.append(Plan("reader", ops))
        return plans


# -- many producers appending to one file, consumers reading it back ---------------------------

@dataclass
class AppendsParams:
    producers: int = 4
    consumers: int = 2
    records_per_producer: int = 32
    record_kib: float = 640.0


class ConcurrentAppends(FilesWorkload):
    name = "gfs_appends"
    description = "Producers record-append to one file concurrently; consumers read the records back (GFS 6.1.3)"
    Params = AppendsParams
    path = "/queue/log"

    @classmethod
    def check(cls, params: AppendsParams) -> list[ConfigIssue]:
        issues = _positive(params, "workload", "producers", "records_per_producer", "record_kib")
        if params.consumers < 0:
            issues.append(ConfigIssue("workload.consumers", params.consumers, "must be >= 0"))
        return issues

    def plans(self) -> list[Plan]:
        p = self.params
        plans = []
        for c in range(p.producers):
            ops = [Op("append", self.path, nbytes=p.record_kib * KIB, rid=c * p.records_per_producer + i)
                   for i in range(p.records_per_producer)]
            plans.append(Plan("producer", ops))
        for c in range(p.consumers):
            plans.append(Plan("consumer", [Op("consume", self.path, part=c, parts=p.consumers)]))
        return plans


# -- small random writes (or the paper's large sequential ones) --------------------------------

@dataclass
class WritesParams:
    clients: int = 4
    writes_per_client: int = 32
    write_kib: float = 4.0
    file_mib: float = 256.0  # the file written at random offsets
    pattern: str = "random"  # random: one shared pre-loaded file; sequential: a new file per client


class Writes(FilesWorkload):
    name = "gfs_writes"
    description = "Small writes at random offsets of one file, or sequential writes to new files (GFS 6.1.2)"
    Params = WritesParams

    @classmethod
    def check(cls, params: WritesParams) -> list[ConfigIssue]:
        issues = _positive(params, "workload", "clients", "writes_per_client", "write_kib", "file_mib")
        if params.pattern not in ("random", "sequential"):
            issues.append(ConfigIssue("workload.pattern", params.pattern, "allowed: random, sequential"))
        elif not issues and params.pattern == "random" and params.write_kib * KIB > params.file_mib * MIB:
            issues.append(ConfigIssue("workload.write_kib", params.write_kib, "must fit in workload.file_mib"))
        return issues

    def preload(self) -> list[tuple[str, float]]:
        return [("/data/table", self.params.file_mib * MIB)] if self.params.pattern == "random" else []

    def plans(self) -> list[Plan]:
        p = self.params
        size = p.write_kib * KIB
        slots = int(p.file_mib * MIB // size)
        plans = []
        for c in range(p.clients):
            rng = self.rng(c)
            if p.pattern == "random":
                ops = [Op("write", "/data/table", rng.randrange(slots) * size, size)
                       for _ in range(p.writes_per_client)]
            else:
                ops = [Op("write", f"/out/part-{c}", i * size, size, create=True) for i in range(p.writes_per_client)]
            plans.append(Plan("writer", ops))
        return plans


WORKLOADS = (StreamingReads, ConcurrentAppends, Writes)
