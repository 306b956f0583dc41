"""Chord (Stoica et al., SIGCOMM'01; IEEE/ACM ToN 11(1), 2003) on the simulated cluster.

``nodes`` Chord nodes run as virtual nodes spread round-robin over the cluster's
machines (see ``overlay.py`` for why, and for the message model). The ring starts either
in its stable state computed from the sorted ids (``build: stable``, what large rings
use) or grown by real joins then left to stabilize (``build: joins``). Every mechanism
that is a design choice is a switch: successor-list length, periodic maintenance and its
periods, re-probing of dropped nodes, candidates per lookup reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import ConfigIssue, System
from plugins.storage.chord.overlay import LOOKUP, MAINTENANCE, Overlay, VNode
from plugins.storage.chord.ring import (SHA1_BITS, chord_id, default_successor_list_length, id_prefix, id_prefixes,
                                        successor_of)
from plugins.storage.chord.workload import ChordLookups

BUILDS = ("stable", "joins")


@dataclass
class ChordParams:
    nodes: int = 64  # Chord nodes (virtual nodes spread round-robin over the machines)
    id_bits: int = 160  # m: identifiers are SHA-1 truncated to m bits
    successors: int = 0  # r, successor-list length; 0: 2 log2 N (ToN'03 used r = 20 for N = 1,000)
    build: str = "stable"  # stable: converged tables from the sorted ids | joins: real joins, then settle
    join_spacing_s: float = 1.0  # build=joins: one join every this many seconds
    settle_s: float = 120.0  # build=joins: stabilization time before the workload starts
    maintenance: bool = True  # run stabilize, fix_fingers and check_predecessor periodically
    stabilize_s: float = 1.0  # mean period of each task; each run is uniform in [1-j, 1+j] x period
    fix_fingers_s: float = 1.0
    check_predecessor_s: float = 1.0
    period_jitter: float = 0.5  # j: the paper's [15, 45] s around a 30 s mean is j = 0.5
    rpc_timeout_s: float = 0.5  # an unanswered request is given up after this
    rpc_cpu_s: float = 2.0e-5  # reference-core seconds to handle one request
    reply_candidates: int = 3  # next-hop candidates per lookup reply (fallbacks on a timeout)
    max_lookup_rpcs: int = 40  # a lookup gives up after this many requests
    reprobe_suspects: bool = True  # ping nodes dropped on a timeout; re-adopt them (merges rings after a partition)
    reprobe_for_s: float = 300.0  # ...for this long after they were dropped
    header_bytes: int = 40  # IP + UDP + RPC header of every message


class Chord(System):
    name = "chord"
    description = "Chord DHT (SIGCOMM'01): finger tables, successor lists, iterative lookups, stabilization, churn"
    Params = ChordParams
    serves = (ChordLookups.kind,)

    @classmethod
    def check(cls, params: ChordParams, config: Any) -> list[ConfigIssue]:
        p, issues = params, []
        if not 1 <= p.id_bits <= SHA1_BITS:
            issues.append(ConfigIssue("system.id_bits", p.id_bits, f"must be in [1, {SHA1_BITS}] (SHA-1 has 160 bits)"))
        elif not 1 <= p.nodes <= (1 << p.id_bits) // 2:
            issues.append(ConfigIssue("system.nodes", p.nodes, f"must be in [1, 2^(id_bits-1) = {(1 << p.id_bits) // 2}]"))
        if p.build not in BUILDS:
            issues.append(ConfigIssue("system.build", p.build, f"allowed: {', '.join(BUILDS)}"))
        for key in ("stabilize_s", "fix_fingers_s", "check_predecessor_s", "rpc_timeout_s", "join_spacing_s", "reprobe_for_s"):
            if getattr(p, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(p, key), "must be > 0"))
        for key in ("successors", "settle_s", "rpc_cpu_s", "header_bytes"):
            if getattr(p, key) < 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(p, key), "must be >= 0"))
        for key in ("reply_candidates", "max_lookup_rpcs"):
            if getattr(p, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(p, key), "must be >= 1"))
        if not 0 <= p.period_jitter < 1:
            issues.append(ConfigIssue("system.period_jitter", p.period_jitter, "must be in [0, 1)"))
        return issues

    def __init__(self, params: ChordParams, runtime: Any) -> None:
        super().__init__(params, runtime)
        self.overlay: Overlay | None = None

    def run(self, workload: ChordLookups) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        r = p.successors or default_successor_list_length(p.nodes)
        ov = self.overlay = Overlay(rt, p, r)
        for i in range(p.nodes):  # check() keeps nodes <= 2^(m-1): free ids always exist here
            ov.add_vnode(rt.nodes[i % len(rt.nodes)])
        if p.build == "stable":
            ov.build_stable()
            for vnode in ov.vnodes:
                vnode.start_maintenance()
        else:
            yield from self._grow_by_joins(ov)
        started = rt.now
        keys = _KeyIds(workload.key_count(p.nodes), p.id_bits)
        initial_ring = list(ov.members)
        wp = workload.params
        if wp.fail_fraction > 0:
            ov.at(started + wp.fail_at_s, self._mass_failure, wp.fail_fraction)
        if wp.churn_rate_per_s > 0:
            rt.spawn(self._churn_failures(wp.churn_rate_per_s))
            rt.spawn(self._churn_joins(wp.churn_rate_per_s))
        finished = rt.event()
        ov.on_idle = lambda: None if finished.triggered or issuer.pending else finished.succeed()
        issuer = _Issuer(self, workload.schedule(keys.count), keys, initial_ring, started, finished)
        issuer.next()
        yield finished
        yield rt.sleep(max(0.0, ov.last_completion - rt.now))
        self._report(keys, started)

    def on_node_recover(self, node: Any) -> None:
        """The machine is back with empty RAM: its Chord processes restart and rejoin."""
        ov = self.overlay
        if ov is None:
            return
        for vnode in ov.vnodes:
            if vnode.host is node and vnode.alive:
                ov.remove_member(vnode)
                vnode.reset()
                ov.start_join(vnode)

    # -- building, failures, churn ------------------------------------------------------
    def _grow_by_joins(self, ov: Overlay) -> Generator[Any, Any, None]:
        ov.start_join(ov.vnodes[0])  # alone: forms the ring
        for vnode in ov.vnodes[1:]:
            yield self.rt.sleep(self.params.join_spacing_s)
            ov.start_join(vnode)
        yield self.rt.sleep(self.params.settle_s)

    def _mass_failure(self, fraction: float) -> None:
        ov = self.overlay
        live = [i for i in ov.members if ov.directory[i].live]
        for node_id in self.rt.rng("chord/mass_failure").sample(live, round(fraction * len(live))):
            ov.fail(ov.directory[node_id])

    def _churn_failures(self, rate: float) -> Generator[Any, Any, None]:
        ov, rng = self.overlay, self.rt.rng("chord/churn_failures")
        while True:
            yield self.rt.sleep(rng.expovariate(rate))
            victim = ov.random_member(rng)
            if victim is not None:
                ov.fail(victim)

    def _churn_joins(self, rate: float) -> Generator[Any, Any, None]:
        ov, rng = self.overlay, self.rt.rng("chord/churn_joins")
        while True:
            yield self.rt.sleep(rng.expovariate(rate))
            hosts = [h for h in self.rt.nodes if h.alive]
            vnode = ov.add_vnode(hosts[rng.randrange(len(hosts))]) if hosts else None
            if vnode is not None:
                ov.counters["churn_joins"] = ov.counters.get("churn_joins", 0) + 1
                ov.start_join(vnode)

    # -- metrics ----------------------------------------------------------------------------
    def _report(self, keys: _KeyIds, started: float) -> None:
        import numpy as np

        rt, ov, rec = self.rt, self.overlay, self.rt.recorder
        stats = ov.stats
        rec.primary_ops = ("lookup",)
        issued = max(1, stats.issued)
        completed = stats.correct + stats.incorrect
        failed = sum(stats.failed.values())
        rec.work_done(stats.correct, "lookups")
        value = rec.value
        value("lookups_issued", stats.issued, "lookups")
        value("lookups_correct", stats.correct, "lookups")
        value("lookups_incorrect", stats.incorrect, "lookups")
        value("lookups_failed", failed, "lookups")
        value("lookups_abandoned", stats.abandoned, "lookups")
        value("lookup_failure_rate", (stats.issued - stats.correct) / issued, "ratio")
        value("lookup_key_lost_rate", stats.key_lost / issued, "ratio")
        hops = np.asarray(stats.hops, dtype=float)
        nan = float("nan")
        value("lookup_hops_mean", float(hops.mean()) if completed else nan, "hops")
        for label, q in (("p1", 1), ("p50", 50), ("p99", 99)):
            value(f"lookup_hops_{label}", float(np.percentile(hops, q)) if completed else nan, "hops")
        value("lookup_hops_max", float(hops.max()) if completed else nan, "hops")
        value("lookup_timeouts_mean", float(np.mean(stats.timeouts)) if stats.timeouts else nan, "timeouts")
        lookup, upkeep = ov.traffic[LOOKUP], ov.traffic[MAINTENANCE]
        value("messages_per_lookup", lookup.messages / issued, "messages")
        value("lookup_messages", lookup.messages, "messages")
        value("lookup_bytes", lookup.bytes, "B")
        value("lookup_rpc_timeouts", lookup.timeouts, "timeouts")
        value("maintenance_messages", upkeep.messages, "messages")
        value("maintenance_bytes", upkeep.bytes, "B")
        value("maintenance_rpc_timeouts", upkeep.timeouts, "timeouts")
        node_seconds = max(1e-9, ov.member_seconds())  # Chord nodes x seconds in the ring
        value("maintenance_messages_per_node_s", upkeep.messages / node_seconds, "messages/node/s")
        value("maintenance_bytes_per_node_s", upkeep.bytes / node_seconds, "B/node/s")
        live = [i for i in ov.members if ov.directory[i].live]
        value("ring_nodes_live", len(live), "nodes")
        value("successor_pointer_error_rate", _successor_errors(ov, live), "ratio")
        self._load_balance(keys, live, value)
        served = np.asarray([ov.directory[i].served for i in live], dtype=float)
        value("queries_per_node_max_over_mean", float(served.max() / served.mean()) if served.sum() else nan, "ratio")
        for name in ("failures", "rejoins", "joins", "churn_joins"):
            value(f"chord_{name}", ov.counters.get(name, 0), "events")
        value("lookup_phase", rt.now - started, "s")

    def _load_balance(self, keys: _KeyIds, live: list[int], value: Any) -> None:
        """Keys per live node (and per machine): consistent hashing's balance (SIGCOMM'01 6.2)."""
        import numpy as np

        ov = self.overlay
        if not live:
            return
        m = self.params.id_bits
        ends = np.searchsorted(np.sort(keys.prefixes()), np.asarray([id_prefix(i, m) for i in live], dtype=np.uint64),
                               side="right")
        counts = np.diff(np.concatenate(([0], ends))).astype(float)
        counts[0] += keys.count - ends[-1]  # the first node also owns the keys past the last id
        value("keys_per_node_mean", float(counts.mean()), "keys")
        value("keys_per_node_p1", float(np.percentile(counts, 1)), "keys")
        value("keys_per_node_p99", float(np.percentile(counts, 99)), "keys")
        value("keys_per_node_max_over_mean", float(counts.max() / counts.mean()), "ratio")
        per_machine: dict[int, float] = {}
        for node_id, count in zip(live, counts):
            host = ov.directory[node_id].host.id
            per_machine[host] = per_machine.get(host, 0.0) + float(count)
        machines = np.asarray(list(per_machine.values()))
        value("keys_per_machine_max_over_mean", float(machines.max() / machines.mean()), "ratio")


def _successor_errors(ov: Overlay, live: list[int]) -> float:
    """Share of live members whose successor pointer is not the next live member."""
    if len(live) < 2:
        return 0.0
    wrong = 0
    for pos, node_id in enumerate(live):
        vnode: VNode = ov.directory[node_id]
        if vnode.routing.successor != live[(pos + 1) % len(live)]:
            wrong += 1
    return wrong / len(live)


class _Issuer:
    """Issues the workload's lookups at their intended times, one kernel event each
    (a callback chain rather than a sleeping process: cheaper per lookup)."""

    def __init__(self, chord: Chord, schedule: list[tuple[float, int]], keys: _KeyIds, initial_ring: list[int],
                 started: float, finished: Any) -> None:
        self.ov, self.rt = chord.overlay, chord.rt
        self.schedule, self.keys, self.initial_ring, self.started, self.finished = schedule, keys, initial_ring, started, finished
        self.position = 0
        self.rng = chord.rt.rng("chord/origins")

    @property
    def pending(self) -> bool:
        return self.position < len(self.schedule)

    def next(self) -> None:
        if self.pending:
            self.ov.at(self.started + self.schedule[self.position][0], self.issue)
        elif self.ov.outstanding == 0 and not self.finished.triggered:
            self.finished.succeed()

    def issue(self) -> None:
        ov, stats = self.ov, self.ov.stats
        _, key_index = self.schedule[self.position]
        self.position += 1
        stats.issued += 1
        key = self.keys.id(key_index)
        if not ov.directory[successor_of(key, self.initial_ring)].live:
            stats.key_lost += 1  # no replication in Chord itself: the key's data died with its node
        origin = ov.random_member(self.rng)
        if origin is None:
            stats.failed["no_live_node"] = stats.failed.get("no_live_node", 0) + 1
        else:
            ov.lookup(origin, key, LOOKUP)
        self.next()


class _KeyIds:
    """The workload's keys "key-0".."key-(count-1)": ids hashed when first looked up; all
    of them only for the load-balance count (as a NumPy array)."""

    def __init__(self, count: int, m: int) -> None:
        self.count, self.m = count, m
        self._ids: dict[int, int] = {}

    def id(self, index: int) -> int:
        found = self._ids.get(index)
        if found is None:
            found = self._ids[index] = chord_id(f"key-{index}", self.m)
        return found

    def prefixes(self) -> Any:
        return id_prefixes((f"key-{i}" for i in range(self.count)), self.m)
