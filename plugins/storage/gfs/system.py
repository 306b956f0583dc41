"""GFS (Ghemawat, Gobioff & Leung, SOSP 2003) on the simulated cluster.

One master (plus optional remote copies of its operation log), chunkservers and
clients, placed by the cluster's node groups: a group named ``master``/``chunkserver``/
``client`` (configurable) takes that role; without them node 0 is the master and every
other node is a chunkserver with a client colocated, as in a MapReduce cluster.
Each mechanism the paper describes is a switch in ``system.*`` (rack-aware placement,
chain vs star data push, checksums, re-replication and its priority, checkpoints), so
its effect can be measured; ``append_ack=primary`` is a deliberately broken variant for
the consistency checker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Generator, Optional

from harness.api import ConfigIssue, System
from plugins.storage.gfs.checker import AppendHistory, file_layout, final_holders, judge
from plugins.storage.gfs.chunkserver import ChunkServer, chunk_file
from plugins.storage.gfs.client import Client
from plugins.storage.gfs.costs import KIB, MB, MIB
from plugins.storage.gfs.layout import Server, place_replicas
from plugins.storage.gfs.master import Master
from plugins.storage.gfs.namespace import Namespace
from plugins.storage.gfs.replica import Replica
from plugins.storage.gfs.rpc import Rpc
from plugins.storage.gfs.workloads import Op, Plan

CHOICES = {"data_flow": ("chain", "star"), "chain_order": ("nearest", "primary_first"),
           "append_ack": ("all", "primary")}


@dataclass
class GfsParams:
    chunk_mib: float = 64.0  # GFS 2.5
    replication: int = 3  # GFS 2.2 / 4.2
    rack_aware: bool = True  # spread replicas across racks (GFS 4.2)
    data_flow: str = "chain"  # chain | star (GFS 3.2)
    chain_order: str = "nearest"  # nearest | primary_first
    checksums: bool = True  # verify 64 KiB block checksums on every read (GFS 5.2)
    checksum_block_kib: float = 64.0
    scrub_interval_s: Optional[float] = None  # verify one idle replica this often (GFS 5.2); null: off
    stream_piece_mib: float = 1.0  # disk reads and network sends overlap at this granularity
    lease_s: float = 60.0  # GFS 3.1: "initial timeout of 60 seconds"
    heartbeat_s: float = 1.0
    heartbeat_timeout_s: float = 10.0
    append_ack: str = "all"  # all | primary (deliberately broken: ack after the primary's write)
    lazy_forward_s: float = 1.0  # append_ack=primary: secondaries get the record this much later
    rereplication: bool = True
    rereplication_priority: bool = True  # chunks missing more replicas first (GFS 4.3)
    rereplication_scan_s: float = 1.0
    clone_fraction: float = 0.4  # concurrent clones <= this share of chunkservers (GFS 6.2.5)
    clones_per_server: int = 2
    clone_mbit: Optional[float] = 50.0  # per-clone bandwidth cap (GFS 6.2.5: 6.25 MB/s); null: none
    await_rereplication: bool = False  # after the workload, wait until every chunk is back to goal
    await_max_s: float = 600.0
    checkpoint_every: int = 1000  # log records between checkpoints; 0: never
    log_replicas: Optional[int] = None  # remote log copies; null: the other nodes of the master group
    rpc_timeout_s: float = 1.0
    op_timeout_s: float = 120.0
    retry_backoff_s: float = 0.05
    client_cache_s: float = 60.0
    prefetch_chunks: int = 4  # chunk locations per master lookup (GFS 2.4)
    consumer_poll_s: float = 0.5
    master_group: str = "master"
    chunkserver_group: str = "chunkserver"
    client_group: str = "client"


@dataclass
class Roles:
    master: int
    log_replicas: list[int]
    chunkservers: list[int]
    clients: list[int]


def assign_roles(groups: list[tuple[str, int]], p: GfsParams) -> Roles:
    """Node ids by role, from the cluster's groups (ids are given in group order)."""
    ids: dict[str, list[int]] = {}
    at = 0
    for name, count in groups:
        ids.setdefault(name, []).extend(range(at, at + count))
        at += count
    everyone = list(range(at))
    masters = ids.get(p.master_group) or everyone[:1]
    replicas = masters[1:] if p.log_replicas is None else masters[1:1 + p.log_replicas]
    taken = set(masters) | set(ids.get(p.client_group, []))
    servers = ids.get(p.chunkserver_group) or [n for n in everyone if n not in taken]
    clients = ids.get(p.client_group) or servers
    return Roles(masters[0], replicas, servers, clients)


class GFS(System):
    name = "gfs"
    description = ("GFS (SOSP'03): master + chunkservers, leases, chained data push, record append, checksums, "
                   "re-replication")
    Params = GfsParams
    serves = ("files",)

    @classmethod
    def check(cls, params: GfsParams, config: Any) -> list[ConfigIssue]:
        issues = []
        for key, allowed in CHOICES.items():
            if getattr(params, key) not in allowed:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), f"allowed: {', '.join(allowed)}"))
        for key in ("chunk_mib", "checksum_block_kib", "stream_piece_mib", "lease_s", "heartbeat_s",
                     "rereplication_scan_s", "rpc_timeout_s", "op_timeout_s", "retry_backoff_s", "client_cache_s",
                     "consumer_poll_s", "await_max_s"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0"))
        for key in ("replication", "clones_per_server", "prefetch_chunks"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1"))
        if params.heartbeat_timeout_s <= params.heartbeat_s:
            issues.append(ConfigIssue("system.heartbeat_timeout_s", params.heartbeat_timeout_s,
                                      f"must be > system.heartbeat_s ({params.heartbeat_s})"))
        if params.scrub_interval_s is not None and params.scrub_interval_s <= 0:
            issues.append(ConfigIssue("system.scrub_interval_s", params.scrub_interval_s, "must be > 0 (or null: off)"))
        if params.checkpoint_every < 0:
            issues.append(ConfigIssue("system.checkpoint_every", params.checkpoint_every, "must be >= 0 (0: never)"))
        if not 0 < params.clone_fraction <= 1:
            issues.append(ConfigIssue("system.clone_fraction", params.clone_fraction, "must be in (0, 1]"))
        roles = assign_roles([(str(g.name), int(g.count)) for g in config.cluster.groups], params)
        if not roles.chunkservers:
            issues.append(ConfigIssue("cluster", str(config.cluster.name), "GFS needs at least one chunkserver node "
                                      "besides the master (2+ nodes, or a 'chunkserver' group)"))
        elif params.replication > len(roles.chunkservers):
            issues.append(ConfigIssue("system.replication", params.replication,
                                      f"must be <= the {len(roles.chunkservers)} chunkservers of this cluster"))
        record_kib = config.workload.get("record_kib") if "workload" in config else None
        if record_kib is not None and float(record_kib) * KIB > params.chunk_mib * MIB / 4:
            quarter = params.chunk_mib * 1024 / 4
            issues.append(ConfigIssue("workload.record_kib", record_kib,
                                      f"must be <= a quarter of a chunk ({quarter:g} KiB, GFS 3.3)"))
        return issues

    # -- deployment -----------------------------------------------------------------------
    @property
    def chunk_bytes(self) -> float:
        return self.params.chunk_mib * MIB

    def deploy(self) -> None:
        rt, p = self.rt, self.params
        groups: list[tuple[str, int]] = []
        for node in rt.nodes:
            if groups and groups[-1][0] == node.group:
                groups[-1] = (node.group, groups[-1][1] + 1)
            else:
                groups.append((node.group, 1))
        self.roles = assign_roles(groups, p)
        self.rpc = Rpc(rt, p.rpc_timeout_s)
        self.chunkservers = {i: ChunkServer(self, rt.nodes[i]) for i in self.roles.chunkservers}
        self.master = Master(self, rt.nodes[self.roles.master], [rt.nodes[i] for i in self.roles.log_replicas])
        self.history = AppendHistory(self.chunkservers)
        self.stats = OpStats()

    def preload(self, files: list[tuple[str, float]]) -> None:
        """Files that exist before the run: replicas on the chunkservers' disks (placed by
        the same rack-aware policy) and the namespace in the master's last checkpoint."""
        state = Namespace()
        load = {cs: 0 for cs in self.chunkservers}
        for path, nbytes in files:
            state.apply(("create", path))
            for index in range(math.ceil(nbytes / self.chunk_bytes)):
                handle = state.next_handle
                size = min(self.chunk_bytes, nbytes - index * self.chunk_bytes)
                servers = [Server(cs, self.chunkservers[cs].node.rack, n) for cs, n in sorted(load.items())]
                for cs_id in place_replicas(servers, self.params.replication, handle, self.params.rack_aware):
                    cs = self.chunkservers[cs_id]
                    replica = Replica(handle, 1)
                    replica.fill(size)
                    cs.replicas[handle] = replica
                    self.rt.place(cs.node, chunk_file(handle), size)
                    load[cs_id] += 1
                state.apply(("chunk", path, index, handle))
        self.master.disk.checkpoint = state

    def on_node_recover(self, node: Any) -> None:
        if not hasattr(self, "roles"):
            return
        if node.id == self.roles.master:
            self.master.start(first=False)
        elif node.id in self.chunkservers:
            self.chunkservers[node.id].restart()

    # -- the run ----------------------------------------------------------------------------
    def run(self, workload: Any) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        self.deploy()
        self.preload(workload.preload())
        rt.recorder.primary_ops = ("read", "append", "write")
        for cs in self.chunkservers.values():
            cs.start()
        self.master.start(first=True)
        yield rt.any_of([self.master.ready_event, rt.sleep(p.op_timeout_s)])
        plans = workload.plans()
        client_nodes = [rt.nodes[i] for i in self.roles.clients]
        producers_done = rt.event()
        drivers, producers = [], []
        for i, plan in enumerate(plans):
            node = client_nodes[i % len(client_nodes)]
            client = Client(self, node, f"{plan.role}-{i}")
            proc = rt.spawn(self.drive(client, plan, producers_done), node=node) if node.alive else None
            if proc is not None:
                drivers.append(proc)
                if plan.role == "producer":
                    producers.append(proc)
        rt.all_of(producers).callbacks.append(lambda _e: producers_done.succeed())
        yield rt.all_of(drivers)
        if p.await_rereplication:
            yield from self.settle()
        self.record(workload, plans)

    def drive(self, client: Client, plan: Plan, producers_done: Any) -> Generator[Any, Any, None]:
        for op in plan.ops:
            began = self.rt.now
            if op.kind == "consume":
                yield from self.consume(client, op, producers_done)
                continue
            ok = yield from self.execute(client, op, began + self.params.op_timeout_s)
            self.stats.finished(op, began, self.rt.now, ok)
            if ok:
                self.rt.recorder.latency(op.kind, self.rt.now - began)

    def execute(self, client: Client, op: Op, deadline: float) -> Generator[Any, Any, bool]:
        if op.kind == "read":
            return (yield from client.read(op.path, op.offset, op.nbytes, deadline)) is not None
        if op.kind == "append":
            return (yield from client.append(op.path, op.rid, op.nbytes, deadline))
        return (yield from client.write(op.path, op.offset, op.nbytes, deadline, op.create))

    def consume(self, client: Client, op: Op, producers_done: Any) -> Generator[Any, Any, None]:
        """A consumer tails the file: it reads its share of the chunks once two later
        chunks exist (appends to it are over), and the rest when the producers are done."""
        rt = self.rt
        index, give_up = op.part, None
        while True:
            done = producers_done.triggered
            give_up = give_up if give_up is not None or not done else rt.now + self.params.op_timeout_s
            count = yield from client.stat(op.path)
            if count is None:  # the master is unreachable: try again, for a while once producers are done
                if give_up is not None and rt.now >= give_up:
                    return
                yield rt.sleep(self.params.consumer_poll_s)
                continue
            while index < count - 2 or (done and index < count):
                began = rt.now
                got = yield from client.read(op.path, index * self.chunk_bytes, self.chunk_bytes,
                                             began + self.params.op_timeout_s)
                if got is not None:
                    self.history.consume(got[1], got[2], got[3])
                    self.stats.consumed(got[0], began, rt.now)
                    rt.recorder.latency("consume_chunk", rt.now - began)
                index += op.parts
            if done:
                return
            yield rt.any_of([producers_done, rt.sleep(self.params.consumer_poll_s)])

    def settle(self) -> Generator[Any, Any, None]:
        """Wait for re-replication to finish, first giving the master time to notice a
        failure (a heartbeat timeout), since it cannot know of one sooner."""
        rt, master, p = self.rt, self.master, self.params
        give_up = rt.now + p.await_max_s
        yield rt.sleep(p.heartbeat_timeout_s + 2 * p.heartbeat_s)
        while rt.now < give_up:
            if master.ready and not master.shortages() and not master.cloning:
                return
            yield rt.sleep(self.params.rereplication_scan_s)

    # -- metrics ----------------------------------------------------------------------------------
    def record(self, workload: Any, plans: list[Plan]) -> None:
        rec, stats = self.rt.recorder, self.stats
        rec.work_done(stats.total_bytes() / MB, "MB")
        for kind in ("read", "append", "write"):
            if kind in stats.first:
                rec.value(f"{kind}_MBps", stats.rate(kind) / MB, "MB/s")
                rec.value(f"{kind}_ops_ok", stats.ok.get(kind, 0), "ops")
        attempted = stats.done_ok + stats.done_failed
        rec.value("availability", stats.done_ok / attempted if attempted else 1.0, "ratio")
        rec.value("ops_failed", stats.done_failed, "ops")
        rec.value("ops_abandoned", stats.planned(plans) - attempted, "ops")
        rec.value("chunkservers", len(self.chunkservers), "nodes")
        if stats.consumed_bytes:
            rec.value("consume_MBps", stats.consumed_bytes / max(1e-9, stats.consume_end - stats.consume_start) / MB,
                      "MB/s")
        state = self.master.state if self.master.state is not None else self.master.disk.recover()[0]
        self.record_replication(state)
        if any(plan.role == "producer" for plan in plans):
            self.record_appends(workload, plans, state)

    def record_replication(self, state: Namespace) -> None:
        """Chunks with no intact current replica on a live chunkserver (data a reader cannot
        get now), and chunks below their replication goal, at the end of the run."""
        copies = {handle: 0 for handle in state.versions}
        for cs in self.chunkservers.values():
            if not cs.node.alive:
                continue
            for handle, replica in cs.replicas.items():
                if (handle in copies and replica.version >= state.versions[handle] and handle not in cs.bad
                        and chunk_file(handle) not in cs.node.corrupted):
                    copies[handle] += 1
        rec = self.rt.recorder
        rec.value("chunks", len(copies), "chunks")
        rec.value("chunks_unavailable", sum(1 for n in copies.values() if n == 0), "chunks")
        rec.value("chunks_under_replicated", sum(1 for n in copies.values() if n < self.params.replication), "chunks")

    def record_appends(self, workload: Any, plans: list[Plan], state: Namespace) -> None:
        handles = state.files.get(workload.path, [])
        holders = final_holders(self.chunkservers.values(), handles, state.versions)
        consumers = sum(1 for plan in plans if plan.role == "consumer")
        for name, (value, unit) in judge(self.history, holders, self.params.replication, consumers).items():
            self.rt.recorder.value(name, value, unit)
        duplicates, padding = file_layout(self.chunkservers.values(), handles, state.versions)
        self.rt.recorder.value("duplicate_records_in_file", duplicates, "records")
        self.rt.recorder.value("padding_bytes_in_file", padding, "B")


@dataclass
class OpStats:
    """Per-kind successful bytes and the window they were moved in (aggregate MB/s)."""

    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    bytes_ok: dict[str, float] = field(default_factory=dict)
    ok: dict[str, int] = field(default_factory=dict)
    done_ok: int = 0
    done_failed: int = 0
    consumed_bytes: float = 0.0
    consume_start: float = math.inf
    consume_end: float = 0.0

    def finished(self, op: Op, began: float, ended: float, ok: bool) -> None:
        self.first[op.kind] = min(self.first.get(op.kind, began), began)
        if not ok:
            self.done_failed += 1
            return
        self.done_ok += 1
        self.ok[op.kind] = self.ok.get(op.kind, 0) + 1
        self.last[op.kind] = max(self.last.get(op.kind, ended), ended)
        self.bytes_ok[op.kind] = self.bytes_ok.get(op.kind, 0.0) + op.nbytes

    def consumed(self, nbytes: float, began: float, ended: float) -> None:
        self.consumed_bytes += nbytes
        self.consume_start = min(self.consume_start, began)
        self.consume_end = max(self.consume_end, ended)

    def rate(self, kind: str) -> float:
        window = self.last.get(kind, 0.0) - self.first.get(kind, 0.0)
        return self.bytes_ok.get(kind, 0.0) / window if window > 0 else 0.0

    def total_bytes(self) -> float:
        return sum(self.bytes_ok.values())

    @staticmethod
    def planned(plans: list[Plan]) -> int:
        return sum(len(plan.ops) for plan in plans if plan.role != "consumer")
