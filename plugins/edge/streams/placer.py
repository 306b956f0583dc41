"""Operator placement, sans I/O: where each operator of each edge site's chain runs.

Three strategies (the seed's "intermediate operator placement ... to optimize metrics such
as processing latency, requested resources, long-distance data volume"):

* ``cloud``: every operator in the cloud; raw readings cross the WAN.
* ``edge``: every operator at the edge site that produces the data, the join at the first
  edge site; only aggregates cross the WAN, but the edge's small CPUs do all the work.
* ``latency_aware``: for every edge site, a cut point in its chain -- operators before it
  at the edge, the rest (and the join) in the cloud -- chosen from *measured* inputs
  (each site's CPU capacity from a calibration run, each edge->cloud link's latency and
  bandwidth from probes) to minimise the estimated end-to-end latency, subject to no CPU
  or WAN link running above ``utilization_cap``. Among the plans within ``latency_slack``
  of the fastest, the one sending the fewest bytes over the WAN wins (every path crosses
  the WAN once to reach the sink, so a few ms of faster cloud CPU should not buy a flood
  of raw data). Every combination of cut points is tried (4 per site), so the answer is
  exact for the model.
  Parallelism is sized to the load: ``ceil(load / (speed x cap))`` instances per operator.

The estimate is a textbook open-network one: per operator a service time inflated by
``1 / (1 - utilisation)`` (M/M/1-like queueing), per WAN crossing the one-way latency,
half the batching timeout and the serialisation of a record, inflated the same way.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from plugins.edge.streams.workload import OpSpec

STRATEGIES = ("cloud", "edge", "latency_aware")
MAX_COMBINATIONS = 4096  # beyond this many edge sites, cut points are chosen site by site


@dataclass(frozen=True)
class SiteInfo:
    """What the placer knows of a site: measured per-core speed, cores and nodes."""

    name: str
    nodes: int
    cores: int  # per node
    speed: float  # reference-core seconds per second, per core (measured)

    @property
    def capacity(self) -> float:
        return self.nodes * self.cores * self.speed


@dataclass(frozen=True)
class LinkInfo:
    latency_s: float  # one-way, measured (half a round trip)
    bandwidth_Bps: float  # measured with a probe transfer


@dataclass(frozen=True)
class Branch:
    """One edge site's chain: its input rate and its link to the cloud."""

    site: SiteInfo
    rate: float  # readings/s into the filter
    link: LinkInfo


@dataclass(frozen=True)
class Plan:
    strategy: str
    cuts: tuple[int, ...]  # per branch: operators [0, cut) at the edge, the rest in the cloud
    join_site: str
    parallelism: dict[tuple[int, str], int]  # (branch, operator) -> instances
    estimated_latency_s: float
    wan_Bps: float
    max_utilization: float  # the busiest site CPU or WAN link, as a share of its capacity
    feasible: bool  # nothing above the utilisation cap

    def site_of(self, branch: int, op_index: int, edge: str, cloud: str) -> str:
        return edge if op_index < self.cuts[branch] else cloud


@dataclass(frozen=True)
class Pipeline:
    """The chain's constants: operators, input record size, aggregates per second, join cost."""

    ops: tuple[OpSpec, ...]
    item_bytes: float
    window_out_rate: float
    join_cpu_s: float
    flush_s: float
    utilization_cap: float
    latency_slack: float = 0.1  # plans this much slower than the fastest still compete on WAN bytes

    def rates(self, rate: float) -> list[float]:
        """Records/s into each operator, then into the join."""
        rates = [rate]
        for op in self.ops:
            out = rates[-1] * op.out_per_in if op.name != "window" else min(rates[-1], self.window_out_rate)
            rates.append(out)
        return rates

    def crossing_bytes(self, cut: int) -> float:
        return self.item_bytes if cut == 0 else self.ops[cut - 1].out_bytes


def place(strategy: str, pipeline: Pipeline, branches: list[Branch], cloud: SiteInfo) -> Plan:
    n_ops = len(pipeline.ops)
    if strategy == "cloud":
        return _plan(strategy, pipeline, branches, cloud, (0,) * len(branches), cloud.name, sized=False)
    if strategy == "edge":
        return _plan(strategy, pipeline, branches, cloud, (n_ops,) * len(branches), branches[0].site.name, sized=False)
    if strategy != "latency_aware":
        raise ValueError(f"unknown placement {strategy!r}")
    return _best(pipeline, branches, cloud)


def _best(pipeline: Pipeline, branches: list[Branch], cloud: SiteInfo) -> Plan:
    choices = range(len(pipeline.ops) + 1)
    if (len(pipeline.ops) + 1) ** len(branches) <= MAX_COMBINATIONS:
        combos = itertools.product(choices, repeat=len(branches))
        plans = [_plan("latency_aware", pipeline, branches, cloud, cuts, cloud.name, sized=True) for cuts in combos]
        return _choose(plans, pipeline.latency_slack)
    cuts: list[int] = []  # many sites: greedy, one site at a time, the others at the cloud
    for b in range(len(branches)):
        trial = [_plan("latency_aware", pipeline, branches, cloud,
                       tuple(cuts + [c] + [0] * (len(branches) - b - 1)), cloud.name, sized=True) for c in choices]
        cuts.append(_choose(trial, pipeline.latency_slack).cuts[b])
    return _plan("latency_aware", pipeline, branches, cloud, tuple(cuts), cloud.name, sized=True)


def _choose(plans: list[Plan], slack: float) -> Plan:
    feasible = [p for p in plans if p.feasible]
    if not feasible:  # the least overloaded
        return min(plans, key=lambda p: (p.max_utilization, p.estimated_latency_s, p.cuts))
    fastest = min(p.estimated_latency_s for p in feasible)
    close = [p for p in feasible if p.estimated_latency_s <= fastest * (1 + slack)]
    return min(close, key=lambda p: (p.wan_Bps, p.estimated_latency_s, p.cuts))


def _plan(strategy: str, pipe: Pipeline, branches: list[Branch], cloud: SiteInfo, cuts: tuple[int, ...],
          join_site: str, sized: bool) -> Plan:
    load = _loads(pipe, branches, cloud, cuts, join_site)
    sites = {b.site.name: b.site for b in branches} | {cloud.name: cloud}
    util = {name: load.get(name, 0.0) / sites[name].capacity for name in sites}
    wan, link_util, latencies, weights = 0.0, [], [], []
    parallelism: dict[tuple[int, str], int] = {}
    for b, (branch, cut) in enumerate(zip(branches, cuts)):
        rates = pipe.rates(branch.rate)
        latency = 0.0
        for i, op in enumerate(pipe.ops):
            site = branch.site if i < cut else cloud
            latency += _service(op.cpu_s, site, util[site.name])
            needed = _instances(rates[i] * op.cpu_s, site, pipe.utilization_cap)
            parallelism[(b, op.name)] = needed if sized else site.nodes  # naive: one per node
        cross_Bps = rates[cut] * pipe.crossing_bytes(cut) if branch.site.name != cloud.name else 0.0
        if cut == len(pipe.ops) and join_site != cloud.name and join_site == branch.site.name:
            cross_Bps = 0.0  # the join is here; its output goes up instead (small)
        wan += cross_Bps
        rho = cross_Bps / branch.link.bandwidth_Bps
        link_util.append(rho)
        if branch.site.name != cloud.name:
            latency += _crossing(pipe, branch.link, pipe.crossing_bytes(cut), rho)
        latency += _service(pipe.join_cpu_s, sites[join_site], util[join_site])
        latencies.append(latency)
        weights.append(branch.rate)
    mean = sum(l * w for l, w in zip(latencies, weights)) / max(sum(weights), 1e-12)
    worst = max([*util.values(), *link_util, 0.0])
    return Plan(strategy, cuts, join_site, parallelism, mean, wan, worst, worst <= pipe.utilization_cap)


def _loads(pipe: Pipeline, branches: list[Branch], cloud: SiteInfo, cuts: tuple[int, ...],
           join_site: str) -> dict[str, float]:
    """Reference-core seconds per second each site must supply."""
    load: dict[str, float] = {}
    for branch, cut in zip(branches, cuts):
        rates = pipe.rates(branch.rate)
        for i, op in enumerate(pipe.ops):
            site = branch.site.name if i < cut else cloud.name
            load[site] = load.get(site, 0.0) + rates[i] * op.cpu_s
        load[join_site] = load.get(join_site, 0.0) + rates[-1] * pipe.join_cpu_s
    return load


def _service(cpu_s: float, site: SiteInfo, utilization: float) -> float:
    return cpu_s / site.speed / (1.0 - min(utilization, 0.99))


def _crossing(pipe: Pipeline, link: LinkInfo, record_bytes: float, utilization: float) -> float:
    serialise = record_bytes / link.bandwidth_Bps
    return link.latency_s + pipe.flush_s / 2 + serialise / (1.0 - min(utilization, 0.99))


def _instances(load: float, site: SiteInfo, cap: float) -> int:
    """Single-threaded instances needed to keep each below ``cap``, within the site's cores."""
    return max(1, min(site.nodes * site.cores, math.ceil(load / (site.speed * cap) - 1e-9)))
