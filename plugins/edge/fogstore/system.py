"""A fog object store with two designs (seed 003, Confais et al. ICFEC 2017).

* ``dht`` -- IPFS-like: an object is stored on the node that wrote it and its location
  (a provider record) is published in a Kademlia DHT spread over every node of every site.
  A read looks the record up (iterative lookup, topology-unaware, so it may cross the WAN
  several times), then fetches from one of the providers, chosen without regard to sites.
  With ``cache_reads`` the reader keeps the object and announces itself, as IPFS does, but
  another node of the same site still goes through the DHT and may pick a far provider.
* ``fog_aware`` -- a site-local store (the scale-out NAS of the paper) shared by the nodes
  of a site: a read checks the site's store first and only then the DHT; after a remote
  read the site keeps a copy, so a second read anywhere in the site is local.

All objects and records really move: disk writes and reads on the nodes' SD cards, RPCs
and object transfers through the simulated LAN and WAN. Faults are met as a real client
meets them: a dead or cut-off peer costs an RPC timeout and the next peer is tried; a
corrupted replica fails its content-hash check and another provider is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generator

from harness.api import ConfigIssue, cluster_size, CorruptBlock, MissingBlock, NodeDown, System, Unreachable
from plugins.edge.fogstore import costs
from plugins.edge.fogstore.kademlia import Lookup, RoutingTable, key_id, node_id, rendezvous_order
from plugins.edge.fogstore.workload import FogObjects, ObjectPlan

DESIGNS = ("fog_aware", "dht")
PROVIDER_CHOICES = ("random", "nearest")
OPS = ("write", "read1_local", "read2_local", "read1_remote", "read2_remote")


class NotFound(Exception):
    """No reachable provider holds an intact copy of the object."""


class PublishFailed(Exception):
    """No DHT node accepted the provider record."""


FAILURES = (NodeDown, Unreachable, CorruptBlock, MissingBlock, NotFound, PublishFailed)


@dataclass
class FogStoreParams:
    design: str = "fog_aware"  # fog_aware | dht
    bucket_size: int = 2  # Kademlia k-bucket size (contacts kept per distance range)
    alpha: int = 3  # parallel queries per lookup round (Kademlia's alpha)
    replicas: int = 2  # DHT nodes holding each provider record (closest by XOR)
    reply_contacts: int = 20  # contacts returned per query (Kademlia's k)
    rpc_timeout_s: float = 1.0  # a query to a dead or cut-off peer costs this long
    cache_reads: bool = True  # dht: the reading node keeps the object and announces itself (IPFS)
    provider_choice: str = "random"  # random: topology-unaware (IPFS) | nearest: lowest latency first
    publish_copies: bool = True  # fog_aware: announce the site's new copy in the DHT


class FogStore(System):
    name = "fogstore"
    description = "Fog object store: IPFS-like global DHT vs a fog-aware site store (seed 003)"
    Params = FogStoreParams
    serves = ("object_store",)

    @classmethod
    def check(cls, params: FogStoreParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        issues = []
        if params.design not in DESIGNS:
            issues.append(ConfigIssue("system.design", params.design, f"allowed: {', '.join(DESIGNS)}"))
        if params.provider_choice not in PROVIDER_CHOICES:
            issues.append(ConfigIssue("system.provider_choice", params.provider_choice,
                                      f"allowed: {', '.join(PROVIDER_CHOICES)}"))
        for key in ("bucket_size", "alpha", "reply_contacts"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1"))
        if not 1 <= params.replicas <= nodes:
            issues.append(ConfigIssue("system.replicas", params.replicas, f"must be in [1, {nodes}] (nodes)"))
        if params.rpc_timeout_s <= 0:
            issues.append(ConfigIssue("system.rpc_timeout_s", params.rpc_timeout_s, "must be > 0"))
        excluded = str(config.workload.get("exclude_sites", "") or "")
        sites = sorted({str(g.site) for g in config.cluster.groups})
        if excluded and excluded not in sites:
            issues.append(ConfigIssue("workload.exclude_sites", excluded,
                                      f"allowed: a site of the cluster ({', '.join(sites)})"))
        elif excluded and len(sites) < 2:
            issues.append(ConfigIssue("workload.exclude_sites", excluded, "would leave no site to read and write"))
        return issues

    # -- set-up -----------------------------------------------------------------------
    def run(self, workload: FogObjects) -> Generator[Any, Any, None]:
        rt = self.rt
        self.size = workload.object_bytes
        self.workload_params = workload.params
        self.kid = {n.id: node_id(n.name) for n in rt.nodes}
        self.node_of = {self.kid[n.id]: n for n in rt.nodes}
        self.tables = self._routing_tables()
        self.records: dict[int, dict[int, list[int]]] = {n.id: {} for n in rt.nodes}  # provider records
        self.site_nodes: dict[str, list[Any]] = {}
        for node in rt.nodes:
            self.site_nodes.setdefault(node.site, []).append(node)
        self.choice_rng = rt.rng("fogstore/provider-choice")
        self.hops: list[int] = []
        self.background: list[Any] = []
        excluded = workload.params.exclude_sites
        sites = [nodes for site, nodes in self.site_nodes.items() if site != excluded]
        plans = workload.plan([len(nodes) for nodes in sites], rt.rng("fogstore/plan"))
        rt.recorder.primary_ops = OPS
        lives = [rt.spawn(self._object_life(plan, sites)) for plan in plans]
        yield rt.all_of(lives)
        yield rt.all_of(self.background)  # copies and announcements still on their way
        self._summarize(len(plans))

    def _routing_tables(self) -> dict[int, RoutingTable]:
        """Each node meets the others in one (seeded) join order; full buckets keep the oldest."""
        rt = self.rt
        joined = list(rt.nodes)
        rt.rng("fogstore/join").shuffle(joined)
        tables = {}
        for node in rt.nodes:
            table = RoutingTable(self.kid[node.id], self.params.bucket_size)
            for peer in joined:
                table.add(self.kid[peer.id])
            tables[node.id] = table
        return tables

    # -- one object's life: write, first read, second read ------------------------------
    def _object_life(self, plan: ObjectPlan, sites: list[list[Any]]) -> Generator[Any, Any, None]:
        rt, wp = self.rt, self.workload_params
        yield rt.sleep(plan.write_at - rt.now)
        writer = sites[plan.producer[0]][plan.producer[1]]
        if not (yield from self._timed("write", self._write(writer, plan.object_id))):
            return
        where = "local" if plan.local else "remote"
        readers = sites[plan.read_site]
        yield rt.sleep(wp.read_after_s)
        yield from self._timed(f"read1_{where}", self._read(readers[plan.first_reader], plan.object_id))
        yield rt.sleep(wp.reread_after_s)
        yield from self._timed(f"read2_{where}", self._read(readers[plan.second_reader], plan.object_id))

    def _timed(self, op: str, body: Generator[Any, Any, Any]) -> Generator[Any, Any, bool]:
        start = self.rt.now
        try:
            yield from body
        except FAILURES as exc:
            self.rt.recorder.count(f"{op}_failed", 1, "ops")
            self.rt.recorder.count(f"failed_{type(exc).__name__}", 1, "ops")
            return False
        self.rt.recorder.latency(op, self.rt.now - start)
        return True

    # -- writes -----------------------------------------------------------------------
    def _write(self, writer: Any, oid: str) -> Generator[Any, Any, None]:
        rt = self.rt
        yield rt.compute(writer, costs.HASH_BYTE_S * self.size)  # the content identifier
        if self.params.design == "dht":
            yield rt.write(writer, self.size, file=_file(oid))  # the writer's own blockstore
            yield from self._publish(writer, oid, writer)
            return
        store = yield from self._store_in_site(writer, oid)
        yield from self._publish(writer, oid, store)

    def _store_in_site(self, client: Any, oid: str) -> Generator[Any, Any, Any]:
        """Write into the site store: its node for ``oid``, or the next one if that is down."""
        for store in self._site_order(client.site, oid):
            try:
                yield self.rt.transfer(client, store, self.size)
                yield self.rt.write(store, self.size, file=_file(oid))
                return store
            except (NodeDown, Unreachable):
                if not client.alive:
                    raise
                self.rt.recorder.count("site_store_failovers", 1, "ops")
        raise NodeDown(f"no node of site {client.site} could store {oid}")

    def _site_order(self, site: str, oid: str) -> list[Any]:
        by_name = {n.name: n for n in self.site_nodes[site]}
        return [by_name[name] for name in rendezvous_order(oid, list(by_name))]

    # -- reads ------------------------------------------------------------------------
    def _read(self, reader: Any, oid: str) -> Generator[Any, Any, None]:
        if self.params.design == "dht":
            yield from self._read_dht(reader, oid)
        else:
            yield from self._read_fog_aware(reader, oid)

    def _read_dht(self, reader: Any, oid: str) -> Generator[Any, Any, None]:
        rt = self.rt
        if rt.stored(reader, _file(oid)):  # IPFS serves its own blockstore first
            try:
                yield rt.read(reader, self.size, file=_file(oid), verify=True)
                rt.recorder.count("reads_served_by_own_node", 1, "ops")
                return
            except CorruptBlock:
                rt.delete(reader, _file(oid))
        providers = yield from self._find_providers(reader, oid)
        yield from self._fetch_any(reader, oid, [n for n in providers if n is not reader])
        if self.params.cache_reads:
            self._in_background(self._keep_copy(reader, reader, oid))

    def _read_fog_aware(self, reader: Any, oid: str) -> Generator[Any, Any, None]:
        rt = self.rt
        store = self._site_order(reader.site, oid)[0]
        if (yield from self._site_has(reader, store, oid)):
            try:
                yield rt.read(store, self.size, file=_file(oid), verify=True)
                yield rt.transfer(store, reader, self.size)
                rt.recorder.count("reads_served_by_site", 1, "ops")
                return
            except (NodeDown, Unreachable, CorruptBlock, MissingBlock):
                if not reader.alive:
                    raise
                rt.recorder.count("site_store_misses_on_fault", 1, "ops")
        providers = yield from self._find_providers(reader, oid)
        yield from self._fetch_any(reader, oid, [n for n in providers if n is not store])
        self._in_background(self._keep_copy(reader, store, oid))

    def _site_has(self, reader: Any, store: Any, oid: str) -> Generator[Any, Any, bool]:
        """Ask the site store whether it holds ``oid`` (one LAN round trip)."""
        if store is reader:
            return self.rt.stored(reader, _file(oid))
        reply = yield from self._rpc(reader, store, lambda: self.rt.stored(store, _file(oid)), 0, "site_store")
        return bool(reply and reply[0])

    def _fetch_any(self, reader: Any, oid: str, providers: list[Any]) -> Generator[Any, Any, None]:
        """Fetch from the providers in the design's order until one serves an intact copy."""
        for provider in self._ordered(reader, providers):
            try:
                yield self.rt.transfer(reader, provider, costs.RPC_REQUEST_BYTES)  # want-block
                yield self.rt.read(provider, self.size, file=_file(oid), verify=True)
                yield self.rt.transfer(provider, reader, self.size)
                yield self.rt.compute(reader, costs.HASH_BYTE_S * self.size)  # check the content hash
                where = "fetches_across_wan" if provider.site != reader.site else "fetches_in_site"
                self.rt.recorder.count(where, 1, "ops")
                return
            except (NodeDown, Unreachable, CorruptBlock, MissingBlock) as exc:
                if not reader.alive:
                    raise
                self.rt.recorder.count(f"fetch_retries_{type(exc).__name__}", 1, "ops")
        raise NotFound(oid)

    def _ordered(self, reader: Any, providers: list[Any]) -> list[Any]:
        if self.params.provider_choice == "nearest":
            return sorted(providers, key=lambda n: (self.rt.topology.one_way_latency_s(reader, n), n.id))
        shuffled = list(providers)
        self.choice_rng.shuffle(shuffled)  # IPFS does not prefer a provider of its own site
        return shuffled

    def _keep_copy(self, reader: Any, holder: Any, oid: str) -> Generator[Any, Any, None]:
        """After a remote read: store the object at ``holder`` and announce it (off the critical path)."""
        rt = self.rt
        yield rt.transfer(reader, holder, self.size)
        yield rt.write(holder, self.size, file=_file(oid))
        rt.recorder.count("copies_kept", 1, "objects")
        if self.params.design == "dht" or self.params.publish_copies:
            yield from self._publish(holder, oid, holder)

    def _in_background(self, body: Generator[Any, Any, None]) -> None:
        def guarded() -> Generator[Any, Any, None]:
            try:
                yield from body
            except FAILURES:
                self.rt.recorder.count("background_copies_failed", 1, "ops")

        self.background.append(self.rt.spawn(guarded()))

    # -- the DHT ----------------------------------------------------------------------
    def _publish(self, origin: Any, oid: str, provider: Any) -> Generator[Any, Any, None]:
        """ADD_PROVIDER: find the ``replicas`` closest nodes to the key, store the record there."""
        key = key_id(oid)
        lookup = yield from self._lookup(origin, key, want_providers=False)
        targets = [self.node_of[t] for t in lookup.closest_answered(self.params.replicas)]
        record = self.kid[provider.id]

        def store(target: Any) -> Callable[[], bool]:
            def apply() -> bool:
                holders = self.records[target.id].setdefault(key, [])
                if record not in holders:
                    holders.append(record)
                return True
            return apply

        procs = [self.rt.spawn(self._rpc(origin, t, store(t), 0)) for t in targets]
        yield self.rt.all_of(procs)
        if not any(proc.value for proc in procs):
            if not origin.alive:
                raise NodeDown(origin.name)
            raise PublishFailed(oid)

    def _find_providers(self, origin: Any, oid: str) -> Generator[Any, Any, list[Any]]:
        lookup = yield from self._lookup(origin, key_id(oid), want_providers=True)
        return [self.node_of[p] for p in lookup.providers]

    def _lookup(self, origin: Any, key: int, want_providers: bool) -> Generator[Any, Any, Lookup]:
        """Drive an iterative lookup with real queries; count its rounds that left the node."""
        rt, p = self.rt, self.params
        lookup = Lookup(key, self.kid[origin.id], p.alpha, p.replicas)
        lookup.start(self.tables[origin.id].contacts())
        hops = wan = 0
        while batch := lookup.next_round():
            peers = [self.node_of[kid] for kid in batch]
            remote = [n for n in peers if n is not origin]
            hops += bool(remote)
            wan += any(n.site != origin.site for n in remote)
            pending = {rt.spawn(self._query(origin, peer, key, want_providers)): peer for peer in peers}
            while pending:
                yield rt.any_of(list(pending))
                for proc in [proc for proc in pending if proc.triggered]:
                    peer = pending.pop(proc)
                    if proc.value is None:
                        lookup.on_failure(self.kid[peer.id])
                    else:
                        lookup.on_reply(self.kid[peer.id], *proc.value)
                if not origin.alive:
                    raise NodeDown(origin.name)
                if want_providers and lookup.providers:
                    break  # the first reply naming providers ends a provider lookup
        self.hops.append(hops)
        rt.recorder.count("dht_lookups", 1, "lookups")
        rt.recorder.count("dht_lookups_crossing_wan", int(wan > 0), "lookups")
        rt.recorder.count("dht_wan_rounds", wan, "rounds")
        return lookup

    def _query(self, origin: Any, peer: Any, key: int, want_providers: bool) -> Generator[Any, Any, Any]:
        """FIND_NODE or GET_PROVIDERS at ``peer``: (closest contacts, providers), or None on failure."""
        def answer() -> tuple[list[int], list[int]]:
            contacts = self.tables[peer.id].closest(key, self.params.reply_contacts)
            providers = list(self.records[peer.id].get(key, ())) if want_providers else []
            return contacts, providers

        if peer is origin:
            return answer()
        reply = yield from self._rpc(origin, peer, answer, costs.CONTACT_BYTES)
        return reply[0] if reply else None

    def _rpc(self, origin: Any, peer: Any, handler: Callable[[], Any], per_item_bytes: float,
             kind: str = "dht") -> Generator[Any, Any, Any]:
        """One request/response; the handler runs at ``peer`` when the request arrives.

        Returns ``(result,)`` or None when the peer is down or cut off: the caller only
        learns it when its timeout expires. Never raises (parallel queries must not).
        """
        rt = self.rt
        start = rt.now
        try:
            yield rt.transfer(origin, peer, costs.RPC_REQUEST_BYTES)
            yield rt.compute(peer, costs.RPC_CPU_S)
            result = handler()
            items = sum(len(x) for x in result) if isinstance(result, tuple) else 0
            yield rt.transfer(peer, origin, costs.RPC_REQUEST_BYTES + per_item_bytes * items)
            rt.recorder.count(f"{kind}_rpcs", 1, "rpcs")
            if origin.site != peer.site:
                rt.recorder.count(f"{kind}_rpcs_across_wan", 1, "rpcs")
            return (result,)
        except (NodeDown, Unreachable):
            rt.recorder.count("rpc_timeouts", 1, "rpcs")
            if origin.alive:
                yield rt.sleep(start + self.params.rpc_timeout_s - rt.now)
            return None

    # -- results ----------------------------------------------------------------------
    def _summarize(self, objects: int) -> None:
        rec = self.rt.recorder
        rec.work_done(objects, "objects")
        if self.hops:
            rec.value("dht_hops_mean", sum(self.hops) / len(self.hops), "hops")
            rec.value("dht_hops_max", max(self.hops), "hops")


def _file(oid: str) -> str:
    return f"fogstore/{oid}"
