"""The shuffle: reduce attempts fetch their region of every map output.

A fetch is an RPC to the map worker, which reads the region from its local disk and
sends it. At paper scale (M x R = 6 x 10^7 fetches) fetches cannot be simulated one by
one, so a reduce attempt fetches in *rounds* (all map outputs the master reported since
its previous round) and each round is charged in aggregate:

* latency: every fetch costs a round trip plus the server's disk service time for one
  region (one positioning and the transfer, from the disk model), with
  ``parallel_fetches`` fetches in flight per reduce attempt;
* server throughput: each node serves fetches FIFO from a virtual queue
  (``busy_until``) shared by all reduce attempts, spread over its disks, so hundreds of
  reducers hammering the same map workers wait for their disks;
* interference: the same disk time is later charged to the server's real disk queue in
  chunks of ``serve_flush_s``, where it delays that node's map reads and output writes;
* network: the round's bytes move as flows. With few distinct sources each source is one
  ``rt.transfer`` (exact); with many, the bytes from other racks travel as one flow over
  the receiver's rack downlink and NIC, and those from its own rack as one flow over its
  NIC (in an all-to-all shuffle the senders' uplinks carry, in aggregate, the same load as
  the receivers' downlinks).

Map outputs are read from disk, not from the page cache (documented in docs/models.md):
at paper scale the R regions of one output are fetched by different reducers minutes
apart.

A source that crashed (or restarted) since it produced the output fails the fetch; the
reduce attempt reports it and fetches the re-executed output later.
"""

from __future__ import annotations

from typing import Any, Generator

import numpy as np

from harness.sim.models.disk import disk_cost
from harness.sim.runtime import NodeDown, Unreachable

EXACT_SOURCES = 32  # rounds with at most this many distinct sources use one flow per source
OWN_RACK_MERGE = 0.1  # own-rack bytes below this share of a round's off-rack bytes share its flow
SLOW_REFRESH_S = 1.0  # re-read nodes' slow factors at most this often (sim seconds) at scale


class ShuffleModel:
    """Per-node arrays (indexed by node id) shared by all reduce attempts of a run."""

    def __init__(self, rt: Any, parallel_fetches: int, serve_flush_s: float) -> None:
        self.rt = rt
        self.nodes = rt.nodes
        n = len(self.nodes)
        self.parallel = max(1, int(parallel_fetches))
        self.flush_s = float(serve_flush_s)
        racks = {node.rack: i for i, node in enumerate(self.nodes)}
        rack_ids = {rack: k for k, rack in enumerate(racks)}
        self.rack = np.array([rack_ids[node.rack] for node in self.nodes], dtype=np.int64)
        sites = {node.site: None for node in self.nodes}
        site_ids = {site: k for k, site in enumerate(sites)}
        self.site = np.array([site_ids[node.site] for node in self.nodes], dtype=np.int64)
        self.site_names = list(sites)
        self.disks = np.array([max(1, int(node.profile.disk.count)) for node in self.nodes], dtype=np.float64)
        specs: dict[Any, int] = {}
        self.spec_of = np.array([specs.setdefault(node.disk_spec, len(specs)) for node in self.nodes], dtype=np.int64)
        self.specs = list(specs)
        self.up = np.ones(n, dtype=bool)
        self.generation = np.zeros(n, dtype=np.int64)
        self.busy_until = np.zeros(n)
        self.owed = np.zeros(n)
        self.sent = np.zeros(n)
        self._slow = np.ones(n)
        self._slow_at = -np.inf
        self._rtt_cache: dict[int, np.ndarray] = {}
        self._rep = {}  # (rack id) -> a node of that rack, for latency and reachability probes
        for node in self.nodes:
            self._rep.setdefault(int(self.rack[node.id]), node)
        self.request_s = [disk_cost(spec, "read", spec.fs_block_bytes, "rand").seconds for spec in self.specs]
        self.block_bytes = [spec.fs_block_bytes for spec in self.specs]

    # -- node life ------------------------------------------------------------------
    def node_down(self, node_id: int) -> None:
        self.up[node_id] = False
        self.generation[node_id] += 1

    def node_up(self, node_id: int) -> None:
        self.up[node_id] = True

    def valid(self, nodes: np.ndarray, generations: np.ndarray) -> np.ndarray:
        return self.up[nodes] & (self.generation[nodes] == generations)

    # -- costs ----------------------------------------------------------------------
    def _slow_factors(self) -> np.ndarray:
        now = self.rt.now
        if len(self.nodes) <= 64 or now - self._slow_at >= SLOW_REFRESH_S:
            self._slow = np.fromiter((n.slow_factor for n in self.nodes), dtype=np.float64, count=len(self.nodes))
            self._slow_at = now
        return self._slow

    def serve_seconds(self, nodes: np.ndarray, region_bytes: np.ndarray) -> np.ndarray:
        """Disk service time of one region read at each source (0 for empty regions)."""
        nonempty = region_bytes > 0
        if not nonempty.any():
            return np.zeros(len(nodes))
        mean = float(region_bytes[nonempty].mean())
        per_spec = np.array([disk_cost(spec, "read", mean, "rand", request_bytes=mean).seconds for spec in self.specs])
        return np.where(nonempty, per_spec[self.spec_of[nodes]] * self._slow_factors()[nodes], 0.0)

    def rtt_seconds(self, dst: Any, nodes: np.ndarray) -> np.ndarray:
        """Round trip of each fetch's request and reply headers (0 for local fetches)."""
        by_rack = self._rtt_cache.get(dst.id)
        if by_rack is None:
            by_rack = self._rtt_cache[dst.id] = np.array([self._rtt(dst, k) for k in range(len(self._rep))])
        out = by_rack[self.rack[nodes]]
        out[nodes == dst.id] = 0.0
        return out

    def _rtt(self, dst: Any, rack: int) -> float:
        rep = self._rep[rack]
        if rep.id == dst.id:  # a same-rack representative: find another node of the rack
            rep = next((n for n in self.nodes if int(self.rack[n.id]) == rack and n.id != dst.id), rep)
        return 2 * self.rt.topology.one_way_latency_s(rep, dst)

    def wait_seconds(self, dst: Any, nodes: np.ndarray, region_bytes: np.ndarray) -> float:
        """How long a round of fetches takes before its last byte can arrive."""
        serve = self.serve_seconds(nodes, region_bytes)
        latency = float((serve + self.rtt_seconds(dst, nodes)).sum()) / self.parallel
        per_node = np.bincount(nodes, weights=serve, minlength=len(self.nodes))
        sources = np.nonzero(per_node)[0]
        if len(sources) == 0:
            return latency
        now = self.rt.now
        busy = np.maximum(self.busy_until[sources], now) + per_node[sources] / self.disks[sources]
        self.busy_until[sources] = busy
        self._owe(sources, per_node[sources])
        return max(latency, float(busy.max()) - now)

    def _owe(self, sources: np.ndarray, seconds: np.ndarray) -> None:
        """Charge served disk time to the servers' real disks, in chunks."""
        self.owed[sources] += seconds
        due = sources[self.owed[sources] >= self.flush_s]
        for node_id in due.tolist():
            self.flush(int(node_id))

    def flush(self, node_id: int) -> None:
        owed = float(self.owed[node_id])
        self.owed[node_id] = 0.0
        node = self.nodes[node_id]
        if owed <= 0 or not node.alive:
            return
        spec = int(self.spec_of[node_id])
        # `owed` already includes the node's slow factor, which the runtime applies again.
        requests = max(1, round(owed / max(node.slow_factor, 1e-9) / self.request_s[spec]))
        self.rt.read(node, requests * self.block_bytes[spec], "rand")  # nobody waits: it only occupies the disk

    # -- the round ------------------------------------------------------------------
    def fetch(self, dst: Any, nodes: np.ndarray, generations: np.ndarray, region_bytes: np.ndarray) -> Generator[Any, Any, np.ndarray]:
        """Fetch one round; returns which entries arrived (source alive throughout)."""
        rt = self.rt
        ok = self.valid(nodes, generations)
        wait = self.wait_seconds(dst, nodes, region_bytes)
        remote = ok & (nodes != dst.id) & (region_bytes > 0)
        distinct = np.nonzero(np.bincount(nodes[remote], minlength=len(self.nodes)))[0]
        if len(distinct) <= EXACT_SOURCES:
            failed = yield from self._exact(dst, nodes, region_bytes, remote, distinct, wait)
            ok &= ~np.isin(nodes, failed)
        else:
            yield from self._aggregated(dst, nodes, region_bytes, remote, wait)
            ok &= self.valid(nodes, generations)  # sources that died during the round lost their part
            self.sent += np.bincount(nodes[ok & remote], weights=region_bytes[ok & remote], minlength=len(self.nodes))
        ok &= self.valid(nodes, generations)
        return ok, float(region_bytes[ok & remote].sum())

    def _exact(self, dst: Any, nodes: np.ndarray, nbytes: np.ndarray, remote: np.ndarray,
               distinct: np.ndarray, wait: float) -> Generator[Any, Any, list[int]]:
        rt = self.rt
        failed: list[int] = []
        procs = []
        for src_id in distinct.tolist():
            size = float(nbytes[remote & (nodes == src_id)].sum())
            procs.append(rt.spawn(_guarded(rt.transfer(self.nodes[src_id], dst, size), src_id, failed)))
        yield rt.all_of([rt.sleep(wait), *procs])
        return failed

    def _aggregated(self, dst: Any, nodes: np.ndarray, nbytes: np.ndarray, remote: np.ndarray,
                    wait: float) -> Generator[Any, Any, None]:
        rt = self.rt
        net = getattr(rt, "net", None)
        groups = self._groups(dst, nodes, nbytes, remote)
        if net is None:  # a runtime without flow-level access: one transfer per group representative
            procs = [rt.spawn(_guarded(rt.transfer(rep, dst, size), rep.id, [])) for _path, size, rep in groups]
            yield rt.all_of([rt.sleep(wait), *procs])
            return
        flows, events = [], [rt.sleep(wait)]
        try:
            for path, size, _rep in groups:
                flow, done = net.start(path, size)
                flows.append(flow)
                events.append(done)
            yield rt.all_of(events)
            flows = []
        finally:
            for flow in flows:
                net.cancel(flow)
        total = sum(size for _p, size, _r in groups)
        dst.stats.net_recv_bytes += total
        rt.recorder.add("bytes_network", total, "B")

    def _groups(self, dst: Any, nodes: np.ndarray, nbytes: np.ndarray, remote: np.ndarray) -> list[tuple[list[Any], float, Any]]:
        """(path, bytes, a representative source) per class of source: own rack, other racks
        of this site, each other site. Own-rack bytes ride with the other-rack flow when they
        are a small share (< OWN_RACK_MERGE) of it, to keep the flow count down."""
        dst_rack, dst_site = self.rack[dst.id], self.site[dst.id]
        src_rack, src_site = self.rack[nodes], self.site[nodes]
        same_rack = remote & (src_rack == dst_rack)
        own = float(nbytes[same_rack].sum())
        tail = [("rack_down", dst.rack), ("down", dst.id)]
        groups = []
        off_rack = remote & ~same_rack
        one_site = len(self.site_names) == 1
        sites = [int(dst_site)] if one_site else np.unique(src_site[off_rack]).tolist()
        for site in sites:
            mask = off_rack if one_site else off_rack & (src_site == site)
            size = float(nbytes[mask].sum())
            if size <= 0:
                continue
            rep = self.nodes[int(nodes[mask][0])]
            if site == dst_site:
                if 0 < own < OWN_RACK_MERGE * size:
                    size += own
                    own = 0.0
                groups.append((tail, size, rep))
            else:
                groups.append(([("wan", self.site_names[site], dst.site), *tail], size, rep))
        if own > 0:
            groups.append(([("down", dst.id)], own, self._rep[int(dst_rack)]))
        return groups

    def finish(self) -> None:
        """Add the aggregated rounds' per-source bytes to the nodes' statistics."""
        for node in self.nodes:
            node.stats.net_sent_bytes += float(self.sent[node.id])
        self.sent[:] = 0.0


def _guarded(transfer: Any, src_id: int, failed: list[int]) -> Generator[Any, Any, None]:
    try:
        yield transfer
    except (NodeDown, Unreachable):
        failed.append(src_id)
