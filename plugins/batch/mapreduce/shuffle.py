"""The shuffle: reduce attempts fetch their region of every map output.

A fetch is an RPC to the map worker, which reads the region from its local file (from
the page cache if the file is still cached, else from disk) and sends it. At paper scale
(M x R = 6 x 10^7 fetches) fetches cannot be simulated one by one, so a reduce attempt
fetches in *rounds* (all map outputs the master reported since its previous round) and
each round is charged in aggregate:

* latency: every fetch costs a round trip plus, on a page-cache miss, the server's disk
  service time for one region (a positioning and the transfer, from the disk model),
  with ``parallel_fetches`` fetches in flight per reduce attempt;
* server throughput: each node serves misses FIFO from a virtual queue (``busy_until``)
  shared by all reduce attempts and spread over its disks, so hundreds of reducers
  hammering the same map workers wait for their disks;
* interference: the same disk time is charged to the server's real disk queue in chunks
  of ``serve_flush_s``, where it delays that node's map reads and output writes;
* network: a round's bytes move as flows. With few distinct sources each source is one
  ``rt.transfer`` (exact). With many, the bytes from other racks travel as one flow over
  the receiver's rack downlink and NIC (in an all-to-all shuffle the senders' uplinks
  carry, in aggregate, the same load as the receivers' downlinks), and small rounds are
  batched into one flow of at least ``min_flow_mb`` (a bounded delay of bytes, never of
  fetch latency).

Page-cache residency of map outputs is approximated per node by LRU over the volume of
file data the node has read or written since (``io_clock``): a region is cached while
the bytes that entered the cache after it fit in the node's cache. This is this plugin's
own model (docs/models.md); the harness's page-cache model is used for input reads.

A source that crashed (or restarted) since it produced an output fails the fetch; the
reduce attempt reports it and fetches the re-executed output later.
"""

from __future__ import annotations

from typing import Any, Generator

import numpy as np

from harness.sim.models.disk import disk_cost
from harness.sim.runtime import NodeDown, Unreachable

EXACT_SOURCES = 8  # rounds with at most this many distinct sources use one flow per source
OWN_RACK_MERGE = 0.1  # own-rack bytes below this share of a round's off-rack bytes share its flow
SLOW_REFRESH_S = 1.0  # re-read nodes' slow factors at most this often (sim seconds) at scale
MIB = float(1 << 20)


class ShuffleModel:
    """Per-node arrays (indexed by node id) shared by all reduce attempts of a run."""

    def __init__(self, rt: Any, parallel_fetches: int, serve_flush_s: float, min_flow_mb: float,
                 worker_anon_bytes: float, page_cache: bool = True, page_cache_mb: float | None = None) -> None:
        self.rt = rt
        self.nodes = rt.nodes
        n = len(self.nodes)
        self.parallel = max(1, int(parallel_fetches))
        self.flush_s = float(serve_flush_s)
        self.min_flow = float(min_flow_mb) * MIB
        rack_ids: dict[str, int] = {}
        self.rack = np.array([rack_ids.setdefault(node.rack, len(rack_ids)) for node in self.nodes], dtype=np.int64)
        site_ids: dict[str, int] = {}
        self.site = np.array([site_ids.setdefault(node.site, len(site_ids)) for node in self.nodes], dtype=np.int64)
        self.site_names = list(site_ids)
        self.disks = np.array([max(1, int(node.profile.disk.count)) for node in self.nodes], dtype=np.float64)
        specs: dict[Any, int] = {}
        self.spec_of = np.array([specs.setdefault(node.disk_spec, len(specs)) for node in self.nodes], dtype=np.int64)
        self.specs = list(specs)
        self.cache_bytes = np.array([max(0.0, node.memory.spec.ram_bytes - node.memory.spec.os_reserved_bytes
                                         - worker_anon_bytes) for node in self.nodes])
        if page_cache_mb is not None:
            self.cache_bytes[:] = np.minimum(self.cache_bytes, page_cache_mb * MIB)
        if not page_cache:
            self.cache_bytes[:] = 0.0
        self.io_clock = np.zeros(n)  # file bytes through each node's page cache so far
        self.up = np.ones(n, dtype=bool)
        self.generation = np.zeros(n, dtype=np.int64)
        self.busy_until = np.zeros(n)
        self.owed = np.zeros(n)
        self.sent = np.zeros(n)
        self._slow = np.ones(n)
        self._slow_at = -np.inf
        self._rtt_cache: dict[int, np.ndarray] = {}
        self._serve_cache: dict[tuple[int, float], float] = {}
        self._rep: dict[int, Any] = {}
        for node in self.nodes:
            self._rep.setdefault(int(self.rack[node.id]), node)
        self.request_s = [disk_cost(spec, "read", spec.fs_block_bytes, "rand").seconds for spec in self.specs]
        self.block_bytes = [spec.fs_block_bytes for spec in self.specs]
        self.debt: dict[int, float] = {}  # reduce attempt -> bytes fetched but not yet moved

    # -- node life and page cache -----------------------------------------------------
    def node_down(self, node_id: int) -> None:
        self.up[node_id] = False
        self.generation[node_id] += 1
        self.io_clock[node_id] += self.cache_bytes[node_id]  # RAM is lost: nothing stays cached

    def node_up(self, node_id: int) -> None:
        self.up[node_id] = True

    def valid(self, nodes: np.ndarray, generations: np.ndarray) -> np.ndarray:
        return self.up[nodes] & (self.generation[nodes] == generations)

    def io(self, node: Any, nbytes: float) -> float:
        """File data passed through ``node``'s page cache; returns the node's new clock."""
        self.io_clock[node.id] += nbytes
        return float(self.io_clock[node.id])

    def cached(self, nodes: np.ndarray, marks: np.ndarray, sizes: np.ndarray, r: int, R: int) -> np.ndarray:
        """Is region ``r`` of each map output still in its server's page cache?

        LRU evicts a file's oldest pages first; region r sits at offset r/R of its file.
        """
        age = self.io_clock[nodes] - marks
        room = (self.cache_bytes[nodes] - age) / np.maximum(sizes, 1.0)
        return (r + 0.5) / R >= 1.0 - room

    # -- costs ----------------------------------------------------------------------
    def _disk_slow_factors(self) -> np.ndarray:
        now = self.rt.now
        if len(self.nodes) <= 64 or now - self._slow_at >= SLOW_REFRESH_S:
            self._slow = np.fromiter((n.disk_slow for n in self.nodes), dtype=np.float64, count=len(self.nodes))
            self._slow_at = now
        return self._slow

    def _serve_s(self, spec: int, region: float) -> float:
        key = (spec, round(region, -2))
        if key not in self._serve_cache:
            self._serve_cache[key] = disk_cost(self.specs[spec], "read", key[1] or 1.0, "rand", request_bytes=key[1] or 1.0).seconds
        return self._serve_cache[key]

    def serve_seconds(self, nodes: np.ndarray, region_bytes: np.ndarray, miss: np.ndarray) -> np.ndarray:
        """Disk service time of one region read at each source (0 for hits and empty regions)."""
        need = miss & (region_bytes > 0)
        if not need.any():
            return np.zeros(len(nodes))
        mean = float(region_bytes[need].mean())
        per_spec = np.array([self._serve_s(k, mean) for k in range(len(self.specs))])
        return np.where(need, per_spec[self.spec_of[nodes]] * self._disk_slow_factors()[nodes], 0.0)

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

    def wait_seconds(self, dst: Any, nodes: np.ndarray, region_bytes: np.ndarray, miss: np.ndarray) -> float:
        """How long a round of fetches takes before its last byte can arrive."""
        serve = self.serve_seconds(nodes, region_bytes, miss)
        latency = float((serve + self.rtt_seconds(dst, nodes)).sum()) / self.parallel
        if not serve.any():
            return latency
        per_node = np.bincount(nodes, weights=serve, minlength=len(self.nodes))
        sources = np.nonzero(per_node)[0]
        now = self.rt.now
        busy = np.maximum(self.busy_until[sources], now) + per_node[sources] / self.disks[sources]
        self.busy_until[sources] = busy
        self.io_clock += np.bincount(nodes, weights=np.where(miss, region_bytes, 0.0), minlength=len(self.nodes))
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
        requests = max(1, round(owed / max(node.disk_slow, 1e-9) / self.request_s[spec]))
        self.rt.read(node, requests * self.block_bytes[spec], "rand")  # nobody waits: it only occupies the disk

    # -- the round ------------------------------------------------------------------
    def fetch(self, aid: int, dst: Any, idx: np.ndarray, log: Any, sizes_of: Any, r: int, R: int,
              last: bool) -> Generator[Any, Any, tuple[np.ndarray, float]]:
        """Fetch one round: the log entries ``idx`` (region ``r`` of each map output).

        Returns which entries arrived (their source stayed alive) and the bytes received.
        Only ``idx`` is held across the wait: at paper scale 1,746 reducers are mid-round
        at once, so per-entry arrays are rebuilt from the log rather than kept.
        """
        nodes, generations = log.nodes[idx], log.generations[idx]
        sizes = sizes_of(idx)
        ok = self.valid(nodes, generations)
        miss = ok & ~self.cached(nodes, log.marks[idx], log.sizes[idx], r, R)
        wait = self.wait_seconds(dst, nodes, sizes, miss)
        remote = ok & (nodes != dst.id) & (sizes > 0)
        distinct = np.flatnonzero(np.bincount(nodes[remote], minlength=len(self.nodes)))
        if len(distinct) <= EXACT_SOURCES:
            parts = [(int(src), float(sizes[remote & (nodes == src)].sum())) for src in distinct]
            del nodes, generations, sizes, ok, miss, remote
            failed = yield from self._exact(dst, parts, wait)
            if last and aid in self.debt:
                yield from self._pay(aid, dst, [], 0.0)
        else:
            failed = []
            groups = self._groups(dst, nodes, sizes, remote)
            del nodes, generations, sizes, ok, miss, remote
            yield from self._aggregated(aid, dst, groups, wait, last)
        nodes, sizes = log.nodes[idx], sizes_of(idx)
        ok = self.valid(nodes, log.generations[idx])  # sources that died during the round lost their part
        if failed:
            ok &= ~np.isin(nodes, failed)
        else:
            moved = ok & (nodes != dst.id)
            self.sent += np.bincount(nodes[moved], weights=sizes[moved], minlength=len(self.nodes))
        return ok, float(sizes[ok].sum())

    def _exact(self, dst: Any, parts: list[tuple[int, float]], wait: float) -> Generator[Any, Any, list[int]]:
        """One real transfer per source: exact flows and exact failures (small rounds)."""
        rt = self.rt
        failed: list[int] = []
        events = [rt.sleep(wait)]
        for src_id, size in parts:
            events.append(rt.spawn(_guarded(rt.transfer(self.nodes[src_id], dst, size), src_id, failed)))
        yield rt.all_of(events)
        return failed

    def _aggregated(self, aid: int, dst: Any, groups: list[tuple[list[Any], float, Any]], wait: float,
                    last: bool) -> Generator[Any, Any, None]:
        owed = self.debt.pop(aid, 0.0) + sum(size for _p, size, _r in groups)
        if not last and owed < self.min_flow:  # too small to be worth a flow: carry it over
            self.debt[aid] = owed
            yield self.rt.sleep(wait)
            return
        self.debt[aid] = owed
        yield from self._pay(aid, dst, groups, wait)

    def _pay(self, aid: int, dst: Any, groups: list[tuple[list[Any], float, Any]], wait: float) -> Generator[Any, Any, None]:
        """Move the attempt's carried-over bytes (scaled onto this round's paths)."""
        rt = self.rt
        owed = self.debt.pop(aid, 0.0)
        if owed <= 0:
            yield rt.sleep(wait)
            return
        if not groups:  # only carried-over bytes are left to move
            groups = [([("rack_down", dst.rack), ("down", dst.id)], owed, dst)]
        scale = owed / sum(size for _p, size, _r in groups)
        groups = [(path, size * scale, rep) for path, size, rep in groups]
        net = getattr(rt, "net", None)
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
        dst.stats.net_recv_bytes += owed
        rt.recorder.add("bytes_network", owed, "B")

    def forget(self, aid: int) -> None:
        self.debt.pop(aid, None)

    def _groups(self, dst: Any, nodes: np.ndarray, nbytes: np.ndarray, remote: np.ndarray) -> list[tuple[list[Any], float, Any]]:
        """(path, bytes, a representative source) per class of source: other racks of this
        site, each other site, own rack. Own-rack bytes ride with the other-rack flow when
        they are a small share (< OWN_RACK_MERGE) of it, to keep the flow count down."""
        dst_rack, dst_site = self.rack[dst.id], self.site[dst.id]
        src_rack = self.rack[nodes]
        same_rack = remote & (src_rack == dst_rack)
        own = float(nbytes[same_rack].sum())
        tail = [("rack_down", dst.rack), ("down", dst.id)]
        groups = []
        off_rack = remote & ~same_rack
        one_site = len(self.site_names) == 1
        src_site = self.site[nodes]
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
