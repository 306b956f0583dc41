"""Stream processing placement for an IoT pipeline across edge sites and a cloud (seed 003).

Sources run on every node of the edge sites; the sink runs in the cloud. The placement
(``system.placement``) decides where filter, detect, window and join run: all in the
cloud, all at the edge, or by the latency-aware placer (``placer.py``), which first
*measures* what it needs: each site's CPU speed with a calibration task, each edge
site's link to the cloud with a ping and a probe transfer. Optional rescaling adds or
removes instances of the stateless operators as their queues grow or empty.

On a one-site cluster (small_rack) the edge and the cloud are the same site: every
placement runs, degenerate but well defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import ConfigIssue, NodeDown, System, Unreachable
from plugins.edge.streams.engine import Engine, Group, Instance
from plugins.edge.streams.operators import JoinState, Record, WindowState, alert, keep
from plugins.edge.streams.placer import STRATEGIES, Branch, LinkInfo, Pipeline, SiteInfo, place
from plugins.edge.streams.scaling import ScalingPolicy
from plugins.edge.streams.workload import IotPipeline

CALIBRATION_REF_S = 0.01  # a 10 ms (reference) CPU task times a node's speed
PING_BYTES = 64.0


@dataclass
class StreamPlacementParams:
    placement: str = "latency_aware"  # cloud | edge | latency_aware
    cloud_site: str = "cloud"  # the sink's site; if the cluster has no such site: its fastest site
    utilization_cap: float = 0.7  # the placer keeps every CPU and WAN link below this
    latency_slack: float = 0.1  # ...and among plans this close to the fastest, sends the fewest WAN bytes
    queue_kib: float = 320.0  # input queue per instance and buffer per connection
    flush_ms: float = 10.0  # a buffered batch leaves this long after its first record
    batch_kib: float = 32.0  # ...or at once when this full
    max_batch_ms: float = 5.0  # an instance takes at most this much service time per micro-batch
    join_wait_s: float = 1.0  # the join emits a window without its missing sites after this
    probe_kib: float = 64.0  # latency_aware: bandwidth probe per edge site
    rescale: bool = False  # add/remove instances of stateless operators as queues grow/empty
    rescale_interval_s: float = 1.0
    rescale_high: float = 0.85  # ...step up (DS2: to the count for utilization_cap) when busier than this
    rescale_queue_high: float = 0.5  # ...or when the fullest queue is above this share of its capacity
    rescale_low: float = 0.3  # ...remove one (never below the plan) when less busy and the queues are empty
    rescale_startup_s: float = 1.0  # a new instance takes this long to start
    drain_timeout_s: float = 30.0  # after the sources stop, wait at most this long for the pipeline to empty


class StreamPlacement(System):
    name = "stream_placement"
    description = "IoT stream pipeline placed in the cloud, at the edge or by a latency-aware placer; rescaling"
    Params = StreamPlacementParams
    serves = ("stream",)

    @classmethod
    def check(cls, params: StreamPlacementParams, config: Any) -> list[ConfigIssue]:
        issues = []
        if params.placement not in STRATEGIES:
            issues.append(ConfigIssue("system.placement", params.placement, f"allowed: {', '.join(STRATEGIES)}"))
        if params.latency_slack < 0:
            issues.append(ConfigIssue("system.latency_slack", params.latency_slack, "must be >= 0"))
        if not 0 < params.utilization_cap <= 1:
            issues.append(ConfigIssue("system.utilization_cap", params.utilization_cap, "must be in (0, 1]"))
        for key in ("queue_kib", "batch_kib", "probe_kib", "rescale_interval_s", "drain_timeout_s"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0"))
        for key in ("flush_ms", "max_batch_ms", "join_wait_s", "rescale_startup_s"):
            if getattr(params, key) < 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 0"))
        if not 0 <= params.rescale_low < params.rescale_high:
            issues.append(ConfigIssue("system.rescale_high", params.rescale_high,
                                      f"must be > system.rescale_low ({params.rescale_low}) >= 0"))
        if not 0 < params.rescale_queue_high <= 1:
            issues.append(ConfigIssue("system.rescale_queue_high", params.rescale_queue_high, "must be in (0, 1]"))
        return issues

    # -- the run --------------------------------------------------------------------
    def run(self, workload: IotPipeline) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        self.workload = workload
        self._sites()
        self.engine = Engine(rt, p.queue_kib, p.flush_ms / 1e3, p.batch_kib, p.max_batch_ms / 1e3)
        wp = workload.params
        self.pipeline = Pipeline(tuple(workload.operators()), wp.item_bytes, workload.window_output_rate(),
                                 wp.join_cpu_ms / 1e3, p.flush_ms / 1e3, p.utilization_cap, p.latency_slack)
        infos, links = (yield from self._measure()) if p.placement == "latency_aware" else self._declared()
        branches = [Branch(infos[s], self._source_rate(s), links[s]) for s in self.edge_sites]
        self.plan = place(p.placement, self.pipeline, branches, infos[self.cloud_site])
        self._deploy()
        self.start, self.end = rt.now, rt.now + workload.params.duration_s
        self.generation: dict[int, int] = {}  # node id -> restarts of its sources
        for node in (n for site in self.edge_sites for n in self.site_nodes[site]):
            self._start_sources(node)
        if p.rescale:
            rt.spawn(self._rescaler(self.end))
        yield rt.sleep(workload.params.duration_s)
        yield from self._drain(rt.now + p.drain_timeout_s)
        self._summarize()

    def on_node_recover(self, node: Any) -> None:
        if not hasattr(self, "generation"):
            return  # still measuring and placing: nothing deployed yet
        self.engine.restart_on(node)
        if node.site in self.edge_sites and self.rt.now < self.end:
            self._start_sources(node)

    # -- sites: which is the cloud, which are the edge ----------------------------------
    def _sites(self) -> None:
        self.site_nodes: dict[str, list[Any]] = {}
        for node in self.rt.nodes:
            self.site_nodes.setdefault(node.site, []).append(node)
        if self.params.cloud_site in self.site_nodes:
            self.cloud_site = self.params.cloud_site
        else:  # the fastest site; on one-site clusters, that site
            self.cloud_site = max(self.site_nodes, key=lambda s: (max(n.speed for n in self.site_nodes[s]), s))
        self.edge_sites = [s for s in self.site_nodes if s != self.cloud_site] or [self.cloud_site]

    def _source_rate(self, site: str) -> float:
        return len(self.site_nodes[site]) * self.workload.params.sources_per_node * self.workload.params.rate_per_source

    def _declared(self) -> tuple[dict[str, SiteInfo], dict[str, LinkInfo]]:
        """The naive strategies measure nothing: node counts from the inventory only."""
        infos = {s: _site_info(s, nodes, nodes[0].speed) for s, nodes in self.site_nodes.items()}
        links = {s: LinkInfo(0.0, float("inf")) for s in self.site_nodes}
        return infos, links

    def _measure(self) -> Generator[Any, Any, tuple[dict[str, SiteInfo], dict[str, LinkInfo]]]:
        """Calibrate every site's CPU, probe every edge site's link to the cloud (in parallel)."""
        rt = self.rt
        speeds: dict[str, float] = {}
        links: dict[str, LinkInfo] = {}
        gateway = self._alive(self.site_nodes[self.cloud_site])
        procs = [rt.spawn(self._calibrate(site, speeds)) for site in self.site_nodes]
        procs += [rt.spawn(self._probe(site, gateway, links)) for site in self.edge_sites]
        yield rt.all_of(procs)
        infos = {s: _site_info(s, nodes, speeds.get(s, nodes[0].speed)) for s, nodes in self.site_nodes.items()}
        for site, link in links.items():
            rt.recorder.value(f"measured_rtt[{site}]", 2 * link.latency_s, "s")
            rt.recorder.value(f"measured_bandwidth[{site}]", link.bandwidth_Bps * 8 / 1e6, "Mbit/s")
        return infos, links

    def _calibrate(self, site: str, speeds: dict[str, float]) -> Generator[Any, Any, None]:
        for node in self.site_nodes[site]:
            try:
                began = self.rt.now
                yield self.rt.compute(node, CALIBRATION_REF_S)
                speeds[site] = CALIBRATION_REF_S / max(self.rt.now - began, 1e-12)
                return
            except NodeDown:
                continue

    def _probe(self, site: str, gateway: Any, links: dict[str, LinkInfo]) -> Generator[Any, Any, None]:
        rt, nbytes = self.rt, self.params.probe_kib * 1024
        for node in self.site_nodes[site]:
            try:
                began = rt.now
                yield rt.transfer(node, gateway, PING_BYTES)
                yield rt.transfer(gateway, node, PING_BYTES)
                one_way = (rt.now - began) / 2
                began = rt.now
                yield rt.transfer(node, gateway, nbytes)
                links[site] = LinkInfo(one_way, nbytes / max(rt.now - began - one_way, 1e-9))
                return
            except (NodeDown, Unreachable):
                continue
        links[site] = LinkInfo(1.0, 1e3)  # unreachable now: as bad as it gets

    @staticmethod
    def _alive(nodes: list[Any]) -> Any:
        return next((n for n in nodes if n.alive), nodes[0])

    # -- deployment -------------------------------------------------------------------
    def _deploy(self) -> None:
        """Instances per the plan: spread over an edge site's nodes, packed onto cloud nodes."""
        wp, plan, engine = self.workload.params, self.plan, self.engine
        self.slots: dict[int, int] = {n.id: 0 for n in self.rt.nodes}
        self.sink = Group("sink", -1, self.cloud_site, 0.0, False, wp.aggregate_bytes, self._at_sink)
        self._place_instances(self.sink, 1)
        self.join = Group("join", -1, plan.join_site, self.pipeline.join_cpu_s, True, wp.aggregate_bytes, self._at_join)
        joins = JoinState(len(self.edge_sites), self.params.join_wait_s)
        self._place_instances(self.join, 1, lambda inst: self._stateful(inst, joins))
        self.chains: list[list[Group]] = []
        handlers = {"filter": self._at_filter, "detect": self._at_detect, "window": self._at_window}
        for b, edge in enumerate(self.edge_sites):
            chain, in_bytes = [], wp.item_bytes
            for i, op in enumerate(self.pipeline.ops):
                site = edge if i < plan.cuts[b] else self.cloud_site
                group = Group(op.name, b, site, op.cpu_s, not op.stateless, in_bytes, handlers[op.name])
                setup = self._window_setup if op.name == "window" else None
                self._place_instances(group, plan.parallelism[(b, op.name)], setup)
                chain.append(group)
                in_bytes = op.out_bytes
            self.chains.append(chain)
        engine.groups = [g for chain in self.chains for g in chain] + [self.join, self.sink]
        for b, site in enumerate(self.edge_sites):
            self.rt.recorder.value(f"operators_at_edge[{site}]", plan.cuts[b], "operators")

    def _place_instances(self, group: Group, count: int, setup: Any = None) -> None:
        for _ in range(count):
            self.engine.add_instance(group, self._next_node(group), setup)
        group.planned = count

    def _next_node(self, group: Group) -> Any:
        """Edge sites: spread (every edge node has sources). Cloud: pack onto few nodes, which
        the latency-aware placer's cost model wants; the naive cloud placement spreads."""
        nodes = [n for n in self.site_nodes[group.site] if n.alive] or self.site_nodes[group.site]
        mine = {n.id: sum(1 for i in group.instances if i.node is n and i.active) for n in nodes}
        pack = group.site == self.cloud_site and self.params.placement == "latency_aware"
        if pack:
            free = [n for n in nodes if self.slots[n.id] < n.cores]
            node = free[0] if free else min(nodes, key=lambda n: (self.slots[n.id], n.id))
        else:
            node = min(nodes, key=lambda n: (mine[n.id], self.slots[n.id], n.id))
        self.slots[node.id] += 1
        return node

    def _window_setup(self, instance: Instance) -> None:
        self._stateful(instance, WindowState(self.workload.params.window_s, self.workload.slide))

    def _stateful(self, instance: Instance, state: Any) -> None:
        instance.state = state
        instance.ticker = self._ticker

    # -- operators ------------------------------------------------------------------------
    def _next(self, group: Group) -> Group:
        chain = self.chains[group.branch]
        index = chain.index(group)
        return chain[index + 1] if index + 1 < len(chain) else self.join

    def _at_filter(self, inst: Instance, record: Record) -> None:
        if keep(record, self.workload.params.filter_selectivity):
            self.engine.route(inst.node, self._next(inst.group), record, inst.group.layout())
        else:
            self.engine.tally.filtered += record.weight

    def _at_detect(self, inst: Instance, record: Record) -> None:
        flagged = alert(record, self.workload.params.alert_fraction)
        if flagged is not None:
            self.engine.route(inst.node, self.sink, flagged, nbytes=self.workload.params.alert_bytes)
        self.engine.route(inst.node, self._next(inst.group), record, inst.group.layout())

    def _at_window(self, inst: Instance, record: Record) -> None:
        inst.state.add(record, self.rt.now)

    def _at_join(self, inst: Instance, record: Record) -> None:
        joined = inst.state.add(record)
        if joined is not None:
            self.engine.route(inst.node, self.sink, joined)

    def _at_sink(self, _inst: Instance, record: Record) -> None:
        rec = self.rt.recorder
        if record.kind == "alert":
            rec.latency("alert", self.rt.now - record.born)
            self.engine.tally.alerts += 1
        else:
            rec.latency("window", self.rt.now - record.born)
            self.engine.tally.delivered += record.weight

    def _ticker(self, inst: Instance) -> Generator[Any, Any, None]:
        """Fire ended windows (window) or expire waiting ones (join) at every slide boundary."""
        rt, slide = self.rt, self.workload.slide
        while True:
            boundary = (int(rt.now / slide + 1e-9) + 1) * slide
            yield rt.sleep(boundary - rt.now)
            if isinstance(inst.state, WindowState):
                for aggregate in inst.state.fire(rt.now, inst.group.branch):
                    self.engine.route(inst.node, self.join, aggregate)
            else:
                for joined in inst.state.expire(rt.now):
                    self.engine.route(inst.node, self.sink, joined)

    # -- sources ------------------------------------------------------------------------
    def _start_sources(self, node: Any) -> None:
        """The node's sensor gateways, emitting until the end (again after a recovery)."""
        if not node.alive:
            return
        generation = self.generation[node.id] = self.generation.get(node.id, -1) + 1
        branch = self.edge_sites.index(node.site)
        for index in range(self.workload.params.sources_per_node):
            self.rt.spawn(self._source(node, branch, f"{index}/{generation}"), node=node)

    def _source(self, node: Any, branch: int, name: str) -> Generator[Any, Any, None]:
        rt, w = self.rt, self.workload
        rng = rt.rng(f"streams/source/{node.name}/{name}")
        first = self.chains[branch][0]
        layout = tuple(sorted(n.id for n in self.site_nodes[self.edge_sites[branch]]))
        while True:
            yield rt.sleep(w.next_gap(rt.now - self.start, rng))
            if rt.now >= self.end:
                return
            record = Record(rt.now, rng.randrange(w.params.keys), 1.0, rng.random(), rng.random(), branch=branch)
            self.engine.tally.emitted += 1
            self.engine.route(node, first, record, layout)

    # -- rescaling ----------------------------------------------------------------------
    def _rescaler(self, until: float) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        policy = ScalingPolicy(p.utilization_cap, p.rescale_high, p.rescale_queue_high, p.rescale_low)
        groups = [g for chain in self.chains for g in chain if not g.keyed]
        seen = {id(i): i.busy_s for g in groups for i in g.instances}
        while rt.now < until:
            yield rt.sleep(p.rescale_interval_s)
            for group in groups:
                busy = {id(i): i.busy_s for i in group.instances}
                self._rescale(group, policy, busy, seen)
                seen.update(busy)

    def _rescale(self, group: Group, policy: ScalingPolicy, busy: dict[int, float], seen: dict[int, float]) -> None:
        live = [i for i in group.active() if i.node.alive]
        if not live or len(live) < len(group.active()) or group.starting:
            return  # wait for recovery, or for the new instances to start
        used = sum(busy[id(i)] - seen.get(id(i), busy[id(i)]) for i in live)
        utilization = used / (self.params.rescale_interval_s * len(live))
        cores = sum(n.cores for n in self.site_nodes[group.site] if n.alive)
        wanted = policy.decide(utilization, max(i.fill() for i in live), len(live), group.planned, cores)
        if wanted > len(live):
            group.starting = True
            self.rt.spawn(self._add_after_startup(group, wanted - len(live)))
        elif wanted < len(live):
            newest = live[-1]
            newest.active = False  # stops receiving; finishes its queue, then exits
            group.changed()
            self.slots[newest.node.id] -= 1
            if newest.wake is not None and not newest.wake.triggered:
                newest.wake.succeed()
            self.rt.recorder.count("rescale_down", 1, "instances")

    def _add_after_startup(self, group: Group, count: int) -> Generator[Any, Any, None]:
        yield self.rt.sleep(self.params.rescale_startup_s)
        group.starting = False
        for _ in range(count):
            # Next to the fullest queue (its node's sources feed it first), if that node has a core.
            fullest = max(group.active(), key=lambda i: (i.fill(), -i.node.id), default=None)
            if fullest is not None and self._room(group, fullest.node):
                node = fullest.node
                self.slots[node.id] += 1
            else:
                node = self._next_node(group)
            self.engine.add_instance(group, node)
            self.rt.recorder.count("rescale_up", 1, "instances")

    def _room(self, group: Group, node: Any) -> bool:
        """A node takes another instance of a group while it has a core for it."""
        return node.alive and sum(1 for i in group.active() if i.node is node) < node.cores

    # -- end of the run -------------------------------------------------------------------
    def _drain(self, deadline: float) -> Generator[Any, Any, None]:
        while self.rt.now < deadline and not self.engine.idle():
            yield self.rt.sleep(0.1)

    def _summarize(self) -> None:
        from harness.api import node_hourly_usd

        rt, tally, rec = self.rt, self.engine.tally, self.rt.recorder
        rec.primary_ops = ("alert", "window")
        lost = tally.emitted - tally.filtered - tally.delivered - tally.dropped
        rec.work_done(tally.filtered + tally.delivered, "items")
        rec.count("items_emitted", tally.emitted, "items")
        rec.count("items_delivered", tally.delivered, "items")
        rec.count("items_filtered", tally.filtered, "items")
        rec.count("items_dropped", tally.dropped, "items")
        rec.count("items_lost", max(0.0, lost), "items")
        rec.value("drop_ratio", tally.dropped / tally.emitted if tally.emitted else 0.0, "ratio")
        for where, n in sorted(tally.dropped_at.items()):
            rec.count(f"records_dropped[{where}]", n, "records")
        rec.count("alerts_delivered", tally.alerts, "alerts")
        rec.count("join_partial_windows", sum(i.state.partial for i in self.join.instances), "windows")
        if self.params.placement == "latency_aware":  # the naive placements estimate nothing
            rec.value("placement_estimated_latency", self.plan.estimated_latency_s, "s")
            rec.value("placement_estimated_wan", self.plan.wan_Bps * 8 / 1e6, "Mbit/s")
        rec.value("instances_peak", sum(g.peak for g in self.engine.groups), "instances")
        used = [n for n in rt.nodes if n.site == self.cloud_site and n.id in self.engine.nodes_used]
        rec.value("cloud_nodes_used", len(used), "nodes")
        # Pay-as-you-go: only the cloud nodes that hosted an operator are rented (the core's
        # `cost` charges every node of the cluster for the whole run).
        rec.value("cost_cloud_used", sum(node_hourly_usd(n.profile) for n in used) * rt.now / 3600.0, "USD")


def _site_info(name: str, nodes: list[Any], speed: float) -> SiteInfo:
    return SiteInfo(name, len(nodes), min(n.cores for n in nodes), speed)
