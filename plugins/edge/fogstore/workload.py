"""fog_objects: objects written where they are produced, then read twice from some site.

Seed 003 (Confais et al., ICFEC 2017) measures a fog object store with exactly these
operations: a write at the producing fog site, then a first and a second read of an
object that is either local (same site) or remote (another site). The workload decides
who does what and when (sites and nodes as indexes); the system maps them to nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.api import ConfigIssue, Workload

SECOND_READERS = ("other_node", "same_node")


@dataclass
class FogObjectsParams:
    objects: int = 40  # objects written (each then read twice)
    object_kib: float = 256.0  # size of every object
    write_rate_per_s: float = 2.0  # open-loop Poisson writes, cluster-wide
    local_fraction: float = 0.5  # share of objects read at their producer's site
    read_after_s: float = 4.0  # first read this long after the write was acknowledged
    reread_after_s: float = 2.0  # second read this long after the first completed
    second_reader: str = "other_node"  # other_node: another node of the first reader's site | same_node
    exclude_sites: str = ""  # a site that neither produces nor reads (e.g. cloud); "" = none


@dataclass(frozen=True)
class ObjectPlan:
    """One object's life: written at (site, node) at ``write_at``, read from ``read_site``."""

    object_id: str
    write_at: float
    producer: tuple[int, int]  # (site index, node index in site)
    read_site: int
    first_reader: int  # node index in read_site
    second_reader: int

    @property
    def local(self) -> bool:
        return self.read_site == self.producer[0]


class FogObjects(Workload):
    name = "fog_objects"
    description = "Fog objects: write where produced, first and second read locally or from another site"
    kind = "object_store"
    Params = FogObjectsParams

    @classmethod
    def check(cls, params: FogObjectsParams) -> list[ConfigIssue]:
        issues = []
        if params.objects < 1:
            issues.append(ConfigIssue("workload.objects", params.objects, "must be >= 1"))
        for key in ("object_kib", "write_rate_per_s"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be > 0"))
        for key in ("read_after_s", "reread_after_s"):
            if getattr(params, key) < 0:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 0"))
        if not 0 <= params.local_fraction <= 1:
            issues.append(ConfigIssue("workload.local_fraction", params.local_fraction, "must be in [0, 1]"))
        if params.second_reader not in SECOND_READERS:
            issues.append(ConfigIssue("workload.second_reader", params.second_reader,
                                      f"allowed: {', '.join(SECOND_READERS)}"))
        return issues

    @property
    def object_bytes(self) -> float:
        return self.params.object_kib * 1024

    def plan(self, site_sizes: list[int], rng: Any) -> list[ObjectPlan]:
        """Every object's writer, write time and readers, drawn from ``rng``."""
        p = self.params
        at, plans = 0.0, []
        for index in range(p.objects):
            at += rng.expovariate(p.write_rate_per_s)
            site = rng.randrange(len(site_sizes))
            producer = (site, rng.randrange(site_sizes[site]))
            read_site = self._read_site(site, len(site_sizes), rng)
            first = _other(rng, site_sizes[read_site], producer[1] if read_site == site else None)
            second = first if p.second_reader == "same_node" else _other(rng, site_sizes[read_site], first)
            plans.append(ObjectPlan(f"obj-{index}", at, producer, read_site, first, second))
        return plans

    def _read_site(self, producer_site: int, sites: int, rng: Any) -> int:
        if sites == 1 or rng.random() < self.params.local_fraction:
            return producer_site
        return rng.choice([s for s in range(sites) if s != producer_site])


def _other(rng: Any, size: int, avoid: int | None) -> int:
    """A node index in a site of ``size`` nodes, not ``avoid`` when the site has another."""
    choices = [i for i in range(size) if i != avoid] or list(range(size))
    return rng.choice(choices)
