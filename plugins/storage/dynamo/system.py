"""Dynamo (DeCandia et al., SOSP 2007) on the simulated cluster, serving ``kv`` workloads.

Consistent hashing with virtual nodes, preference lists of N distinct nodes, R/W quorums
with sloppy quorum and hinted handoff, vector clocks with client-side reconciliation
(last-writer-wins or an application merge: a shopping cart's union) and clock
truncation, read repair, Merkle-tree anti-entropy, and join/leave moving only the
affected ranges. Every mechanism is a switch in ``system.*`` so its effect can be measured.

The request path is computed, not stepped (``coordinator``, ``service``): YCSB's
operations cost no SimPy events (a million YCSB-B operations simulate in under a minute),
while faults, hinted handoff, anti-entropy and membership changes are ordinary
simulation processes using the runtime (bulk transfers, disk writes). Every operation goes
into a ``History`` that the consistency checker judges as the run goes and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator, Optional

import numpy as np

from harness.api import ConfigIssue, cluster_size, System
from plugins.storage.consistency import History
from plugins.storage.dynamo.antientropy import AntiEntropyStats, anti_entropy_loop
from plugins.storage.dynamo.coordinator import Reply, RequestPath
from plugins.storage.dynamo.handoff import HintStore, handoff_loop
from plugins.storage.dynamo.membership import OPS, MembershipChange, MembershipStats, change_membership
from plugins.storage.dynamo.ring import Ring, key_position
from plugins.storage.dynamo.service import Delays, FailureDetector, ServiceQueues, StorageCosts
from plugins.storage.dynamo.versions import INF, ReplicaStore, Version, live_at, merge
from plugins.storage.ycsb.kv import INSERT, OP_NAMES, READ, RMW, SCAN, UPDATE, KvLoad, KvOp, drive

ROUTINGS = ("client", "server")
CLOCKS = ("dotted", "vector")
SERVICE_TIMES = ("exponential", "constant")
RECONCILERS = ("lww", "merge")
WRITE_CONTEXTS = ("session", "fetch")
UNSAFE = ("none", "ack_before_quorum", "read_one_replica")
BALANCE_THRESHOLD = 0.15  # Dynamo section 6.2: "in balance" within 15% of the mean load


@dataclass
class DynamoParams:
    N: int = 3  # replicas per key (the paper's common (3,2,2))
    R: int = 2  # replies a read waits for
    W: int = 2  # acknowledgements a write waits for (the coordinator's own included)
    tokens_per_node: int = 16  # virtual nodes per physical node
    routing: str = "client"  # client: client-driven coordination; server: via a load balancer
    sloppy_quorum: bool = True  # first N *healthy* nodes; false: strict preference list
    hinted_handoff: bool = True  # stand-ins keep a hint and hand writes back on recovery
    read_repair: bool = True
    anti_entropy: bool = True  # Merkle-tree replica synchronisation
    reconcile: str = "lww"  # client-side reconciliation of siblings: lww | merge (cart union)
    write_context: str = "fetch"  # fetch: get before put (as Voldemort's client); session: last context seen
    clocks: str = "dotted"  # dotted: dotted version vectors | vector: the paper's clocks (loses concurrent updates)
    clock_max_entries: int = 10  # vector clock truncation threshold
    request_timeout_ms: float = 500.0
    client_retries: int = 1  # a request that times out is sent to the next candidate this many times
    failure_retry_s: float = 1.0  # a suspected node is tried again after this long
    handoff_interval_s: float = 2.0
    anti_entropy_interval_s: float = 10.0
    merkle_depth: int = 6  # 2^depth leaves per key range
    client_refresh_s: float = 10.0  # client-driven: membership view refresh period
    coordinator_cpu_us: float = 50.0  # reference-core microseconds per request coordinated
    replica_cpu_us: float = 100.0  # ... per replica read or write served
    forward_cpu_us: float = 20.0  # ... per request relayed by a node outside the preference list
    merkle_cpu_us_per_key: float = 2.0  # ... per key hashed into a Merkle tree
    service_times: str = "exponential"  # CPU service time around its mean: exponential | constant
    load_balancer_ms: float = 0.25  # server-driven: the load balancer's hop
    message_overhead_bytes: int = 128  # headers, key and vector clock per message
    cache_fraction: float = 0.5  # share of RAM (after the OS) holding records in memory
    initial_members: int = 0  # 0: every node joins at start; k: nodes 0..k-1 (the rest can join)
    membership: list[MembershipChange] = field(default_factory=list)
    settle_max_s: float = 60.0  # after the workload: time allowed for handoff and anti-entropy
    keep_history: bool = True  # keep every operation's row (the checker runs either way)
    unsafe: str = "none"  # TEST ONLY, deliberately broken: ack_before_quorum | read_one_replica


class KeyIndex:
    """Ring positions of the records, and their range under each live ring (cached)."""

    def __init__(self, records: int) -> None:
        self.positions: list[int] = [key_position(k) for k in range(records)]
        self._tables: dict[int, list[int]] = {}
        self._rings: dict[int, Ring] = {}

    def track(self, ring: Ring) -> None:
        if ring.epoch not in self._tables:
            self._tables[ring.epoch] = ring.ranges_of(np.asarray(self.positions, dtype=np.uint64)).tolist()
            self._rings[ring.epoch] = ring

    def forget_other_than(self, keep: set[int]) -> None:
        for epoch in [e for e in self._tables if e not in keep]:
            del self._tables[epoch], self._rings[epoch]

    def range_in(self, ring: Ring, key: int) -> int:
        return self._tables[ring.epoch][key]

    def table(self, ring: Ring) -> list[int]:
        """key -> range under ``ring`` (kept up to date as keys are inserted)."""
        return self._tables[ring.epoch]

    def ensure(self, key: int) -> None:
        """A newly inserted key (YCSB inserts keys in sequence)."""
        while len(self.positions) <= key:
            pos = key_position(len(self.positions))
            self.positions.append(pos)
            for epoch, table in self._tables.items():
                table.append(self._rings[epoch].range_of(pos))


class Dynamo(System):
    name = "dynamo"
    description = "Dynamo (SOSP'07): consistent hashing, sloppy quorums, hinted handoff, vector clocks, anti-entropy"
    Params = DynamoParams
    serves = ("kv",)

    @classmethod
    def check(cls, params: DynamoParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        members = params.initial_members or nodes
        issues = []
        if not 1 <= params.N <= members:
            issues.append(ConfigIssue("system.N", params.N, f"must be in [1, {members}] (the ring's members)"))
        for key in ("R", "W"):
            if not 1 <= getattr(params, key) <= max(1, params.N):
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), f"must be in [1, N={params.N}]"))
        for key, allowed in (("routing", ROUTINGS), ("reconcile", RECONCILERS), ("write_context", WRITE_CONTEXTS),
                             ("unsafe", UNSAFE), ("service_times", SERVICE_TIMES), ("clocks", CLOCKS)):
            if getattr(params, key) not in allowed:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), f"allowed: {', '.join(allowed)}"))
        if params.client_retries < 0:
            issues.append(ConfigIssue("system.client_retries", params.client_retries, "must be >= 0"))
        for key in ("tokens_per_node", "clock_max_entries"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1"))
        for key in ("request_timeout_ms", "failure_retry_s", "handoff_interval_s", "anti_entropy_interval_s",
                    "client_refresh_s"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0"))
        for key in ("coordinator_cpu_us", "replica_cpu_us", "forward_cpu_us", "merkle_cpu_us_per_key",
                    "load_balancer_ms", "message_overhead_bytes", "settle_max_s"):
            if getattr(params, key) < 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 0"))
        if not 0 <= params.merkle_depth <= 20:
            issues.append(ConfigIssue("system.merkle_depth", params.merkle_depth, "must be in [0, 20]"))
        if not 0.0 <= params.cache_fraction <= 1.0:
            issues.append(ConfigIssue("system.cache_fraction", params.cache_fraction, "must be in [0, 1]"))
        if not 0 <= params.initial_members <= nodes:
            issues.append(ConfigIssue("system.initial_members", params.initial_members, f"must be in [0, {nodes}]"))
        return issues + _membership_issues(params, nodes, members)

    # -- deployment (YCSB's load phase: the records exist before the run) ---------------
    def run(self, workload: Any) -> Generator[Any, Any, None]:
        stats = yield from drive(self.rt, workload, self)
        self.workload_end = self.rt.now
        yield from self._settle()
        self._report(stats)

    def kv_load(self, load: KvLoad, clients: int) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        n = len(rt.nodes)
        self.record_bytes = load.record_bytes
        self.key_bytes = load.key_bytes
        self.clients = clients
        self.hosts = n
        self.keys = KeyIndex(load.records)
        self.ring = self.client_ring = Ring(range(p.initial_members or n), p.tokens_per_node, p.N)
        self.keys.track(self.ring)
        self.key_ranges = self.keys.table(self.ring)
        self.stores = [ReplicaStore(dotted=p.clocks == "dotted") for _ in range(n)]
        variability = rt.np_rng("dynamo/service-times") if p.service_times == "exponential" else None
        self.queues = ServiceQueues(rt.nodes, variability)
        self.delays = Delays(rt.nodes, rt.topology)
        nodes, reachable = rt.nodes, rt.reachable
        self.detector = FailureDetector(n, p.request_timeout_ms / 1e3, p.failure_retry_s,
                                        lambda a, b: nodes[b].alive and reachable(nodes[a], nodes[b]))
        self.hints = HintStore(n)
        self.ae_stats = AntiEntropyStats()
        self.membership_stats = MembershipStats()
        per_node = load.records * load.record_bytes * p.N / max(1, len(self.ring.members))
        self.storage_costs = [StorageCosts(node, load.record_bytes, p.cache_fraction, per_node) for node in rt.nodes]
        self.history = History(promise=p.R + p.W > p.N, keep_ops=p.keep_history)
        self.sessions = p.write_context == "session"  # clients keep each key's last context
        self.merge = p.reconcile == "merge"
        # op kinds the fused path can serve: reads, and updates that get their context first
        self.usual_kinds = [not self.sessions and kind in (READ, UPDATE, RMW) for kind in range(len(OP_NAMES))]
        self.nodes = rt.nodes
        self.contexts: list[dict[int, tuple]] = [{} for _ in range(clients)]
        self.cart_items: dict[int, list[int]] = {}
        self.lww_discarded = 0
        self.floor = 0.0
        self.range_files: list[str] = []
        self._place_ranges(self.ring, None)
        self._load_records(load)
        self.path = RequestPath(self)
        self._start_background()
        return
        yield

    def _load_records(self, load: KvLoad) -> None:
        empty = frozenset() if self.merge else -1
        preference, ranges = self.ring.preference, self.key_ranges
        stores = [store.data for store in self.stores]
        # One loaded version per first replica: the same dot (node, 1) on different keys is fine,
        # and so is one shared (immutable) entry.
        loaded = {node: (Version({node: 1}, {}, -1, 0.0, node, 1, empty), 0.0, INF) for node in self.ring.members}
        for key in range(load.records):
            pref = preference[ranges[key]]
            entry = loaded[pref[0]]
            for node in pref:
                stores[node][key] = [entry]

    def _place_ranges(self, ring: Ring, old: Optional[Ring]) -> None:
        """One file per (node, range) it replicates: what the fault schedule can corrupt."""
        rt = self.rt
        self.range_files = [f"dynamo/range-{ring.range_id(r):016x}" for r in range(len(ring))]
        per_range = len(self.keys.positions) * self.record_bytes / max(1, len(ring))
        wanted = [set() for _ in rt.nodes]
        for r, pref in enumerate(ring.preference):
            for node in pref:
                wanted[node].add(self.range_files[r])
        for node in rt.nodes:
            for name in [f for f in node.files if f.startswith("dynamo/range-") and f not in wanted[node.id]]:
                rt.delete(node, name)
            for name in sorted(wanted[node.id]):
                if not rt.stored(node, name):
                    rt.place(node, name, per_range)

    def _start_background(self) -> None:
        rt, p = self.rt, self.params
        if p.hinted_handoff:
            rt.spawn(handoff_loop(self))
        if p.anti_entropy:
            rt.spawn(anti_entropy_loop(self))
        if p.routing == "client":
            rt.spawn(self._refresh_client_views())
        for change in sorted(p.membership, key=lambda c: c.at_s):
            rt.spawn(change_membership(self, change))

    def _refresh_client_views(self) -> Generator[Any, Any, None]:
        """Client-driven routing: clients pull the membership every ``client_refresh_s`` (section 6.4)."""
        while True:
            yield self.rt.sleep(self.params.client_refresh_s)
            if self.client_ring is not self.ring:
                self.client_ring = self.ring
                self.keys.forget_other_than({self.ring.epoch})

    def switch_ring(self, ring: Ring) -> None:
        self.keys.track(ring)
        self.ring = ring
        self.path.ring_switched()  # the usual path's counts so far belong to the old ring
        self.key_ranges = self.keys.table(ring)
        self._place_ranges(ring, None)
        if self.params.routing != "client":
            self.client_ring = ring
        self.keys.forget_other_than({ring.epoch, self.client_ring.epoch})

    def home_replicas(self, key: int) -> tuple[int, ...]:
        return self.ring.preference[self.keys.range_in(self.ring, key)]

    # -- the kv interface ---------------------------------------------------------------
    def kv_submit(self, op: KvOp) -> tuple[bool, float]:
        self.floor = at = op.at  # operations start in time order: nothing later can look before this
        client = op.client
        host = client % self.hosts
        if not self.nodes[host].alive:
            client, host = self._session(client, at)
            if host < 0:
                return False, at  # every client host is down
        kind, key, index = op.kind, op.key, op.index
        if self.usual_kinds[kind]:
            coord, rix = self.path.usual_coordinator(host, key, index)
            if coord >= 0:  # nothing unusual on the way: the fused path (same results, less work)
                if kind == READ:
                    return self._usual_read(host, coord, rix, key, at)
                return self._usual_update(host, coord, rix, key, at, index)
        session = self.contexts[client] if self.sessions else None
        if kind == READ:
            reply, context = self._get(host, key, at, index, want_context=session is not None)
            if context is not None:
                session[key] = context
            return reply.ok, reply.done
        if kind == UPDATE or kind == RMW:
            if kind == RMW or session is None:  # get the context first (section 4.1's get/put)
                reply, context = self._get(host, key, at, index)
                if not reply.ok:
                    return False, reply.done
                at = reply.done
            else:  # the client's last context of the key, however old
                context = session.get(key)
            return self._put(session, host, key, at, index, context)
        if kind == INSERT:
            self.keys.ensure(key)
            return self._put(session, host, key, at, index, None)
        if kind == SCAN:  # hash partitioning has no key order: a scan is a multi-get
            last = min(key + op.scan_len, len(self.keys.positions))
            replies = [self._get(host, k, at, index + i, False)[0] for i, k in enumerate(range(key, last))]
            return all(r.ok for r in replies), max((r.done for r in replies), default=at)
        raise ValueError(f"unknown kv operation {kind}")

    def _session(self, client: int, at: float) -> tuple[int, int]:
        """Clients run on the cluster's nodes (client c on node c mod n); a client whose node
        is down hands its operations to the next client whose node is up."""
        nodes = self.rt.nodes
        for step in range(self.clients):
            c = (client + step) % self.clients
            host = c % len(nodes)
            if nodes[host].alive:
                return c, host
        return client, -1

    # The fused path (``RequestPath.usual_coordinator``): reads, and updates that fetch their
    # context first, with nothing unusual on their way. They always succeed, from strict
    # quorums; the results are exactly those of ``_get`` and ``_put``.
    def _usual_read(self, host: int, coord: int, rix: int, key: int, at: float) -> tuple[bool, float]:
        done, versions = self.path.usual_get(host, coord, rix, key, at)
        if len(versions) == 1:
            self.history.read_one(key, at, done, versions[0].wid, True, self.ring.epoch)
        else:
            self._got(key, at, done, True, versions, True, False)
        return True, done

    def _usual_update(self, host: int, coord: int, rix: int, key: int, at: float, index: int
                      ) -> tuple[bool, float]:
        path, history, epoch = self.path, self.history, self.ring.epoch
        fetched, versions = path.usual_get(host, coord, rix, key, at)
        if len(versions) == 1:
            v = versions[0]
            history.read_one(key, at, fetched, v.wid, True, epoch)
            context: Optional[tuple] = (v.clock, v.value, (v.wid,))
        else:
            context = self._got(key, at, fetched, True, versions, True, True)
        value = self._value_to_write(context, index)
        done, shipped = path.usual_put(host, coord, rix, key, fetched, index, context[0] if context else None, value)
        history.write(key, fetched, done, True, index, context[2] if context else (), True, epoch)
        if self.merge:
            self.cart_items.setdefault(key, []).append(index)
        return True, done

    def _get(self, host: int, key: int, at: float, index: int, want_context: bool = True
             ) -> tuple[Reply, Optional[tuple]]:
        """A get, recorded; returns the reply and (if wanted) the client's resulting context
        (clock, value, versions seen) once siblings are reconciled."""
        reply = self.path.get(host, key, at, index)
        return reply, self._got(key, at, reply.done, reply.ok, reply.versions, reply.strict, want_context)

    def _got(self, key: int, at: float, done: float, ok: bool, versions: list[Version], strict: bool,
             want_context: bool) -> Optional[tuple]:
        """Record a get in the history; the client's context if wanted and the get succeeded."""
        if len(versions) == 1:  # the usual case
            v = versions[0]
            self.history.read(key, at, done, ok, [v.wid], strict, self.ring.epoch)
            return (v.clock, v.value, (v.wid,)) if ok and want_context else None
        self.history.read(key, at, done, ok, [v.wid for v in versions], strict, self.ring.epoch)
        if ok and versions:
            context = self._reconcile(versions)  # siblings are reconciled (and counted) either way
            return context if want_context else None
        return None

    def _reconcile(self, siblings: list[Version]) -> tuple:
        """The client merges siblings into one context: clocks merged, values by policy."""
        clock = merge(v.clock for v in siblings)
        if self.merge:  # a shopping cart: the union of every sibling's items
            value: Any = frozenset().union(*(v.value for v in siblings))
        else:  # last writer wins: the other siblings' updates are discarded
            value = max(siblings, key=_lww_order).value
            self.lww_discarded += len(siblings) - 1
        return clock, value, tuple(v.wid for v in siblings)

    def _put(self, session: Optional[dict], host: int, key: int, at: float, index: int,
             context: Optional[tuple]) -> tuple[bool, float]:
        value = self._value_to_write(context, index)
        ok, done, answer, strict = self.path.put(host, key, at, index, context[0] if context else None, value)
        if answer:
            self.history.write(key, at, done, ok, index, context[2] if context else (), strict, self.ring.epoch)
        if ok:
            if session is not None:  # the client's next context: what the coordinator answered (Riak's return_body)
                v = answer[0]
                session[key] = (v.clock, v.value, (index,)) if len(answer) == 1 else self._reconcile(answer)
            if self.merge:
                self.cart_items.setdefault(key, []).append(index)
        return ok, done

    def _value_to_write(self, context: Optional[tuple], index: int) -> Any:
        if self.merge:  # add this write's item to the cart the client saw
            return (context[1] if context else frozenset()) | {index}
        return index

    # -- after the workload -------------------------------------------------------------
    def _settle(self) -> Generator[Any, Any, None]:
        """Let hinted handoff and anti-entropy finish (faults permitting) before judging durability."""
        rt, p = self.rt, self.params
        deadline = rt.now + p.settle_max_s
        step = min(p.handoff_interval_s, p.anti_entropy_interval_s)
        while rt.now < deadline and self._unsettled():
            yield rt.sleep(min(step, deadline - rt.now))

    def _unsettled(self) -> bool:
        nodes = self.rt.nodes
        if any(not nodes[m].alive for m in self.ring.members):
            return True
        if self.params.hinted_handoff and self.hints.pending():
            return True
        if self.params.anti_entropy:
            return not any(t >= self.workload_end for t in self.ae_stats.clean_rounds_after)
        return False

    def _report(self, stats: Any) -> None:
        rt, rec = self.rt, self.rt.recorder
        now = rt.now
        alive = [i for i, node in enumerate(rt.nodes) if node.alive]
        surviving = self._surviving_versions(alive, now)
        self.history.check_durability(lambda key: surviving.get(key, ()))
        self.history.record_to(rec)
        stats.report()
        path, hints, ae, ms = self.path, self.hints, self.ae_stats, self.membership_stats
        values = [
            ("hinted_writes", path.hinted_writes, "writes"),
            ("hints_delivered", hints.delivered, "writes"),
            ("hints_pending", hints.pending(), "writes"),
            ("bytes_hinted_handoff", hints.bytes_moved, "B"),
            ("read_repairs", path.read_repairs, "writes"),
            ("bytes_read_repair", path.read_repair_bytes, "B"),
            ("anti_entropy_rounds", ae.rounds, "rounds"),
            ("anti_entropy_ranges_differing", ae.ranges_differing, "ranges"),
            ("anti_entropy_versions_repaired", ae.versions_repaired, "versions"),
            ("anti_entropy_ranges_rewritten", ae.ranges_rewritten, "ranges"),
            ("bytes_anti_entropy", ae.bytes_moved, "B"),
            ("membership_changes", ms.changes, "changes"),
            ("membership_keys_moved", ms.keys_moved, "keys"),
            ("bytes_membership", ms.bytes_moved, "B"),
            ("corrupt_replica_reads", path.corrupt_replies, "reads"),
            ("forwarded_requests", path.forwards, "requests"),
            ("ops_failed_no_coordinator", path.route_failures, "requests"),
            ("ops_failed_no_quorum", path.quorum_failures, "requests"),
            ("clock_truncations", path.truncations, "writes"),
            ("lww_discarded_siblings", self.lww_discarded, "versions"),
            ("divergent_keys", self._divergent_keys(alive, now), "keys"),
        ]
        if self.merge:
            values.append(("cart_items_lost", self._cart_items_lost(alive, now), "items"))
        values += self._balance()
        for name, value, unit in values:
            rec.value(name, float(value), unit)
        self.queues.charge_nodes()
        rec.value("bytes_requests", self.path.bytes_sent, "B")

    def _surviving_versions(self, alive: list[int], now: float) -> dict[int, set[int]]:
        """Per key with acknowledged writes: the versions live on a node that is up."""
        wanted = self.history.acked_keys()
        surviving: dict[int, set[int]] = {}
        for node in alive:
            data = self.stores[node].data
            for key in wanted.intersection(data):  # (the order of keys and versions does not matter)
                held = surviving.get(key)
                if held is None:
                    held = surviving[key] = set()
                for version, _visible, superseded in data[key]:
                    if superseded > now:
                        held.add(version.wid)
        return surviving

    def _divergent_keys(self, alive: list[int], now: float) -> int:
        """Keys whose live home replicas do not hold the same versions at the end."""
        live = set(alive)
        preference, ranges = self.ring.preference, self.key_ranges
        data = [store.data for store in self.stores]
        count = 0
        for key in range(len(self.keys.positions)):
            seen = None
            for node in preference[ranges[key]]:
                if node not in live:
                    continue
                entries = data[node].get(key)
                versions = live_at(entries, now) if entries else []  # ``ReplicaStore.read``
                held = versions[0] if len(versions) == 1 else frozenset((v.coord, v.counter) for v in versions)
                if seen is None:
                    seen = held
                elif held is not seen and held != seen:
                    count += 1
                    break
        return count

    def _cart_items_lost(self, alive: list[int], now: float) -> int:
        lost = 0
        for key, items in self.cart_items.items():
            held: set[int] = set()
            for node in alive:
                for v in self.stores[node].read(key, now):
                    held |= v.value
            lost += sum(1 for item in items if item not in held)
        return lost

    def _balance(self) -> list[tuple[str, float, str]]:
        members = list(self.ring.members)
        keys = np.array([len(self.stores[m]) for m in members], dtype=np.float64)
        served = self.path.served_counts()
        requests = np.array([served[m] for m in members], dtype=np.float64)
        out = []
        for label, load, unit in (("keys", keys, "keys"), ("requests", requests, "requests")):
            mean = float(load.mean()) if len(load) else 0.0
            out += [
                (f"{label}_per_node_max", float(load.max()) if len(load) else 0.0, unit),
                (f"{label}_per_node_mean", mean, unit),
                (f"{label}_imbalance", float(load.max()) / mean if mean > 0 else 1.0, "ratio"),
                (f"{label}_nodes_out_of_balance", float(np.mean(np.abs(load - mean) > BALANCE_THRESHOLD * mean))
                 if mean > 0 else 0.0, "ratio"),
            ]
        return out


def _lww_order(v: Version) -> tuple[float, int]:
    return (v.ts, v.coord)


def _membership_issues(params: DynamoParams, nodes: int, members: int) -> list[ConfigIssue]:
    current = set(range(members))
    issues = []
    for i, change in enumerate(sorted(params.membership, key=lambda c: c.at_s)):
        key = f"system.membership[{i}]"
        if change.op not in OPS:
            issues.append(ConfigIssue(f"{key}.op", change.op, f"allowed: {', '.join(OPS)}"))
        elif not 0 <= change.node < nodes:
            issues.append(ConfigIssue(f"{key}.node", change.node, f"must be a node id in [0, {nodes - 1}]"))
        elif change.op == "join" and change.node in current:
            issues.append(ConfigIssue(f"{key}.node", change.node, "is already a member (set system.initial_members)"))
        elif change.op == "leave" and change.node not in current:
            issues.append(ConfigIssue(f"{key}.node", change.node, "is not a member at that time"))
        elif change.op == "leave" and len(current) - 1 < params.N:
            issues.append(ConfigIssue(f"{key}.op", change.op, f"would leave fewer than N={params.N} members"))
        else:
            (current.add if change.op == "join" else current.discard)(change.node)
        if change.at_s < 0:
            issues.append(ConfigIssue(f"{key}.at_s", change.at_s, "must be >= 0"))
    return issues
