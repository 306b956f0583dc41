"""The GFS master: namespace and file-to-chunk map (logged), chunk locations (learnt
from chunkservers, never stored), leases, placement, failure detection,
re-replication, the operation log with checkpoints, and recovery after a crash.

Every handler runs on the master's node (``Rpc.call`` spawns it there), so a master
crash kills them all. ``state`` (the namespace) and everything else in this object but
``disk`` is RAM: ``restart`` throws it away and rebuilds from the checkpoint and the
log, then asks every chunkserver what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator, Optional

from plugins.storage.gfs.chunkserver import OK
from plugins.storage.gfs.costs import (CHECKPOINT_ENTRY_S, LOG_RECORD_BYTES, MASTER_OP_S, MASTER_START_S,
                                       REPLAY_RECORD_S, REPORT_BYTES_PER_CHUNK)
from plugins.storage.gfs.layout import Server, clone_order, distance, place_replicas, stable_hash
from plugins.storage.gfs.namespace import MasterDisk, Namespace, Record
from plugins.storage.gfs.rpc import RpcFailed

if TYPE_CHECKING:
    from plugins.storage.gfs.system import GFS

NOT_READY, RETRY, NO_FILE, NO_REPLICAS = "not_ready", "retry", "no_file", "no_replicas"


@dataclass
class ServerView:
    """What the master believes about one chunkserver."""

    node: Any
    incarnation: int = -1
    last_heard: float = 0.0
    alive: bool = False


@dataclass
class MasterLease:
    primary: int
    secondaries: list[int]
    version: int
    expires: float
    gone: Any = None  # event: the lease no longer exists
    revoking: bool = False


@dataclass
class Master:
    gfs: GFS
    node: Any
    log_replicas: list[Any]
    disk: MasterDisk = field(default_factory=MasterDisk)
    state: Optional[Namespace] = None
    ready: bool = False
    generation: int = 0  # restarts, so stale background loops stop
    servers: dict[int, ServerView] = field(default_factory=dict)
    locations: dict[int, dict[int, int]] = field(default_factory=dict)  # handle -> {server: version}
    leases: dict[int, MasterLease] = field(default_factory=dict)
    granting: dict[int, Any] = field(default_factory=dict)  # handle -> event while a grant runs
    creating: dict[tuple[str, int], Any] = field(default_factory=dict)  # (path, index) -> event
    cloning: set[int] = field(default_factory=set)
    placing: dict[int, int] = field(default_factory=dict)  # server -> replicas being created on it
    bad: dict[int, set[int]] = field(default_factory=dict)  # handle -> servers holding a corrupt copy
    pending: list[Record] = field(default_factory=list)
    flushed: Any = None  # event the current batch's waiters wait on
    flushing: bool = False
    checkpointing: bool = False
    short_since: Optional[float] = None  # first instant some chunk lacked a replica
    reached_2x: bool = False
    needs: Optional[dict[int, int]] = None  # chunks below their goal; None: recompute
    ready_event: Any = None

    # -- start and recovery -------------------------------------------------------------
    def start(self, first: bool) -> None:
        """Boot (or reboot after a crash): nothing in RAM survives."""
        rt = self.gfs.rt
        self.generation += 1
        self.state, self.ready = None, False
        self.locations, self.leases, self.granting, self.creating = {}, {}, {}, {}
        self.needs = None
        self.cloning, self.bad, self.pending, self.placing = set(), {}, [], {}
        self.flushing = self.checkpointing = False
        self.servers = {cs.id: ServerView(cs.node) for cs in self.gfs.chunkservers.values()}
        self.ready_event = rt.event()
        rt.spawn(self.recover(first), node=self.node)

    def recover(self, first: bool) -> Generator[Any, Any, None]:
        """GFS 2.6.3: load the latest checkpoint, replay the log after it, then poll the
        chunkservers for their chunks (locations are never persisted, GFS 2.6.2)."""
        rt, rec = self.gfs.rt, self.gfs.rt.recorder
        began = rt.now
        yield rt.sleep(MASTER_START_S)
        checkpoint = self.disk.checkpoint
        yield rt.read(self.node, max(1.0, checkpoint.size_bytes()))
        yield rt.compute(self.node, checkpoint.entries * CHECKPOINT_ENTRY_S)
        loaded = rt.now
        yield rt.read(self.node, max(1.0, len(self.disk.log) * LOG_RECORD_BYTES))
        yield rt.compute(self.node, len(self.disk.log) * REPLAY_RECORD_S)
        self.state, replayed = self.disk.recover()
        replay_done = rt.now
        polls = [rt.spawn(self.poll(cs)) for cs in self.gfs.chunkservers.values()]
        yield rt.all_of(polls)
        self.ready = True
        prefix = "master_startup" if first else "master_recovery"
        rec.value(f"{prefix}_s", rt.now - began, "s")
        if not first:
            rec.count("master_recoveries", 1, "recoveries")
            rec.value("master_replayed_records", replayed, "records")
            rec.value("master_checkpoint_load_s", loaded - began - MASTER_START_S, "s")
            rec.value("master_replay_s", replay_done - loaded, "s")
            rec.value("master_location_poll_s", rt.now - replay_done, "s")
        self.ready_event.succeed()
        generation = self.generation
        rt.spawn(self.monitor(generation), node=self.node)
        rt.spawn(self.rereplicate(generation), node=self.node)

    def poll(self, cs: Any) -> Generator[Any, Any, None]:
        size = REPORT_BYTES_PER_CHUNK * len(cs.replicas)
        try:
            incarnation, report = yield from self.gfs.rpc.call(self.node, cs.node, lambda: _report(cs),
                                                               reply_bytes=256 + size)
        except RpcFailed:
            return
        deletes = self.learn(cs.id, incarnation, report)
        for handle in deletes:
            self.gfs.rt.spawn(self.delete_on(cs, handle))

    def delete_on(self, cs: Any, handle: int) -> Generator[Any, Any, None]:
        try:
            yield from self.gfs.rpc.call(self.node, cs.node, lambda: cs.delete(handle))
        except RpcFailed:
            pass

    def learn(self, cs_id: int, incarnation: int, report: list[tuple[int, int]]) -> list[int]:
        """Take a chunkserver's full report: its live replicas become locations; stale or
        unknown ones are returned for deletion (GFS 4.5 and 4.4's garbage collection)."""
        view = self.servers[cs_id]
        if incarnation != view.incarnation:  # it restarted: its leases died with its RAM
            for handle in [h for h, lease in self.leases.items() if lease.primary == cs_id]:
                self.drop_lease(handle)
        view.incarnation, view.alive, view.last_heard = incarnation, True, self.gfs.rt.now
        for held in self.locations.values():
            held.pop(cs_id, None)
        self.needs = None
        deletes = []
        for handle, version in report:
            current = self.state.versions.get(handle)
            if current is None or version < current:
                deletes.append(handle)
                kind = "stale_replicas_removed" if current else "orphan_replicas_removed"
                self.gfs.rt.recorder.count(kind, 1, "replicas")
            else:
                self.locations.setdefault(handle, {})[cs_id] = version
        return deletes

    # -- heartbeats and failure detection -----------------------------------------------
    def heartbeat(self, cs_id: int, incarnation: int, report: Optional[list[tuple[int, int]]],
                  extend: list[int]) -> Generator[Any, Any, Any]:
        rt = self.gfs.rt
        yield rt.compute(self.node, MASTER_OP_S)
        if not self.ready:
            return (False, [], {}, True)
        view = self.servers[cs_id]
        deletes: list[int] = []
        if report is not None:
            deletes = self.learn(cs_id, incarnation, report)
        elif not view.alive or incarnation != view.incarnation:
            return (False, [], {}, True)  # declared dead meanwhile: it must report in full again
        view.last_heard = rt.now
        extended = {}
        for handle in extend:
            lease = self.leases.get(handle)
            if lease is not None and lease.primary == cs_id and not lease.revoking:
                lease.expires = rt.now + self.gfs.params.lease_s
                extended[handle] = lease.expires
        for handle in sorted(h for h, holders in self.bad.items() if cs_id in holders):
            if len(self.replicas_of(handle)) >= self.gfs.params.replication:
                deletes.append(handle)  # GFS 5.2: a new replica is in place, drop the corrupt one
                self.bad[handle].discard(cs_id)
        return (True, deletes, extended, False)

    def monitor(self, generation: int) -> Generator[Any, Any, None]:
        """Declare chunkservers silent for ``heartbeat_timeout_s`` dead: forget their
        replicas and revoke leases they take part in."""
        rt, p = self.gfs.rt, self.gfs.params
        while generation == self.generation:
            yield rt.sleep(p.heartbeat_s)
            for cs_id, view in sorted(self.servers.items()):
                if view.alive and rt.now - view.last_heard > p.heartbeat_timeout_s:
                    self.declare_dead(cs_id)

    def declare_dead(self, cs_id: int) -> None:
        rt = self.gfs.rt
        rt.recorder.count("chunkservers_declared_dead", 1, "nodes")
        self.servers[cs_id].alive = False
        self.needs = None
        for held in self.locations.values():
            held.pop(cs_id, None)
        for handle, lease in sorted(self.leases.items()):
            if cs_id in lease.secondaries and lease.primary != cs_id:
                rt.spawn(self.revoke(handle), node=self.node)
        self.note_shortage()

    # -- the namespace, for clients -------------------------------------------------------
    def replicas_of(self, handle: int, current: bool = True) -> list[int]:
        want = self.state.versions.get(handle) if self.state is not None else None
        held = self.locations.get(handle, {})
        return sorted(cs for cs, v in held.items() if self.servers[cs].alive and (not current or v == want))

    def locate(self, path: str, index: int, count: int, create: bool) -> Generator[Any, Any, Any]:
        """Handles and replica locations of chunks ``index .. index+count-1`` of ``path``
        (GFS 2.4: clients ask for several chunks at once). ``create`` adds the chunk at
        ``index`` if the file ends just before it."""
        yield self.gfs.rt.compute(self.node, MASTER_OP_S)
        if not self.ready:
            return (NOT_READY, [])
        chunks = self.state.files.get(path)
        if chunks is None:
            if not create:
                return (NO_FILE, [])
            yield from self.log([("create", path)])
            chunks = self.state.files[path]
        while (path, index) in self.creating:
            yield self.creating[(path, index)]
        if create and index == len(chunks):
            made = yield from self.new_chunk(path, index)
            if made is None:
                return (NO_REPLICAS, [])
        found = []
        for i in range(index, min(len(chunks), index + count)):
            handle = chunks[i]
            found.append((i, handle, self.state.versions[handle], self.replicas_of(handle)))
        return (OK, found)

    def stat(self, path: str) -> Generator[Any, Any, Any]:
        yield self.gfs.rt.compute(self.node, MASTER_OP_S)
        if not self.ready:
            return (NOT_READY, 0)
        return (OK, len(self.state.files.get(path, [])))

    def new_chunk(self, path: str, index: int) -> Generator[Any, Any, Optional[int]]:
        """Allocate a handle, place its replicas (rack-aware), log it, have them created."""
        gfs = self.gfs
        handle = self.state.next_handle
        targets = place_replicas(self.candidates(), gfs.params.replication, handle, gfs.params.rack_aware)
        if not targets:
            return None
        self.creating[(path, index)] = gfs.rt.event()
        for cs in targets:
            self.placing[cs] = self.placing.get(cs, 0) + 1
        try:
            yield from self.log([("chunk", path, index, handle)])
            done = [gfs.rt.spawn(self.create_on(handle, cs)) for cs in targets]
            yield gfs.rt.all_of(done)
        finally:
            self.creating.pop((path, index)).succeed()
        self.needs = None
        gfs.rt.recorder.count("chunks_created", 1, "chunks")
        return handle

    def create_on(self, handle: int, cs_id: int) -> Generator[Any, Any, None]:
        cs = self.gfs.chunkservers[cs_id]
        try:
            status = yield from self.gfs.rpc.call(self.node, cs.node, lambda: cs.create(handle))
        except RpcFailed:
            status = None
        finally:
            self.placing[cs_id] -= 1
        if status == OK:
            self.locations.setdefault(handle, {})[cs_id] = 1

    def candidates(self) -> list[Server]:
        """Live chunkservers with their load: replicas held plus creations in flight, so
        chunks created at the same moment spread out (GFS 4.2 limits "recent" creations
        per chunkserver for the same reason)."""
        load = {cs: self.placing.get(cs, 0) for cs, v in self.servers.items() if v.alive}
        for held in self.locations.values():
            for cs in held:
                if cs in load:
                    load[cs] += 1
        return [Server(cs, self.servers[cs].node.rack, n) for cs, n in sorted(load.items())]

    # -- leases ---------------------------------------------------------------------------
    def lease(self, path: str, index: int) -> Generator[Any, Any, Any]:
        """The primary and secondaries of a chunk, granting a lease if none is held
        (GFS 3.1). While a lease may still be held by an unreachable primary, or the chunk
        is being cloned, the answer is RETRY: the master must wait for it to expire."""
        rt = self.gfs.rt
        yield rt.compute(self.node, MASTER_OP_S)
        if not self.ready:
            return (NOT_READY, None)
        chunks = self.state.files.get(path, [])
        if index >= len(chunks):
            return (NO_FILE, None)
        handle = chunks[index]
        while handle in self.granting:
            yield self.granting[handle]
        lease = self.leases.get(handle)
        if lease is not None and lease.expires <= rt.now:
            self.drop_lease(handle)
            lease = None
        if lease is not None:
            members = [lease.primary, *lease.secondaries]
            if lease.revoking or not all(self.servers[m].alive for m in members):
                return (RETRY, None)
            return (OK, (handle, lease.primary, lease.secondaries, lease.expires))
        if handle in self.cloning:
            return (RETRY, None)
        granted = yield from self.grant(handle)
        if granted is None:
            return (NO_REPLICAS, None)
        return (OK, (handle, granted.primary, granted.secondaries, granted.expires))

    def grant(self, handle: int) -> Generator[Any, Any, Optional[MasterLease]]:
        """Bump the version (logged first) on every up-to-date replica, then give the lease
        to one that answered, naming the others as secondaries. Replicas that do not
        answer miss the bump: they are stale from then on (GFS 4.5)."""
        rt, p = self.gfs.rt, self.gfs.params
        self.granting[handle] = rt.event()
        try:
            live = self.replicas_of(handle)
            if not live:
                return None
            version = self.state.versions[handle] + 1
            yield from self.log([("version", handle, version)])
            calls = {cs: rt.spawn(self.bump(handle, cs, version, None)) for cs in live}
            results = yield rt.all_of(calls.values())
            answered = [cs for cs, proc in calls.items() if results[proc]]
            for cs in answered:
                self.locations[handle][cs] = version
            self.needs = None
            if not answered:
                return None
            held = {cs: 0 for cs in answered}
            for lease in self.leases.values():
                if lease.primary in held:
                    held[lease.primary] += 1
            primary = min(answered, key=lambda cs: (held[cs], cs))  # spread primaries
            secondaries = [cs for cs in answered if cs != primary]
            expires = rt.now + p.lease_s
            if not (yield from self.bump(handle, primary, version, (expires, secondaries))):
                return None
            lease = MasterLease(primary, secondaries, version, expires, rt.event())
            self.leases[handle] = lease
            rt.recorder.count("leases_granted", 1, "leases")
            return lease
        finally:
            self.granting.pop(handle).succeed()

    def bump(self, handle: int, cs_id: int, version: int, lease: Any) -> Generator[Any, Any, bool]:
        cs = self.gfs.chunkservers[cs_id]
        try:
            status = yield from self.gfs.rpc.call(self.node, cs.node, lambda: cs.set_version(handle, version, lease))
        except RpcFailed:
            return False
        return status == OK

    def revoke(self, handle: int) -> Generator[Any, Any, None]:
        """Take a lease back before it expires; if the primary cannot be reached, wait for
        expiry (GFS 3.1: the master "can safely grant a new lease ... after the old lease
        expires")."""
        rt = self.gfs.rt
        lease = self.leases.get(handle)
        if lease is None:
            return
        if lease.revoking:
            yield lease.gone
            return
        lease.revoking = True
        cs = self.gfs.chunkservers[lease.primary]
        try:
            yield from self.gfs.rpc.call(self.node, cs.node, lambda: cs.revoke(handle))
        except RpcFailed:
            yield rt.sleep(lease.expires - rt.now)
        if self.leases.get(handle) is lease:
            self.drop_lease(handle)

    def drop_lease(self, handle: int) -> None:
        lease = self.leases.pop(handle)
        lease.gone.succeed()

    # -- corruption and re-replication --------------------------------------------------------
    def bad_replica(self, cs_id: int, handle: int) -> Generator[Any, Any, str]:
        yield self.gfs.rt.compute(self.node, MASTER_OP_S)
        if not self.ready:
            return NOT_READY
        self.locations.get(handle, {}).pop(cs_id, None)
        self.bad.setdefault(handle, set()).add(cs_id)
        self.needs = None
        lease = self.leases.get(handle)
        if lease is not None and lease.primary == cs_id:
            self.drop_lease(handle)  # the reporting primary has dropped its lease itself
        elif lease is not None and cs_id in lease.secondaries:
            self.gfs.rt.spawn(self.revoke(handle), node=self.node)
        self.note_shortage()
        return OK

    def note_shortage(self) -> None:
        if self.short_since is None and self.shortages():
            self.short_since = self.gfs.rt.now

    def shortages(self) -> dict[int, int]:
        """Chunks below their replication goal -> live replicas (recomputed only after a
        change in locations, so an idle scan costs nothing)."""
        if self.state is None:
            return {}
        if self.needs is None:
            goal = self.gfs.params.replication
            self.needs = {}
            for handle in self.state.versions:
                live = len(self.replicas_of(handle))
                if live < goal:
                    self.needs[handle] = live
        return self.needs

    def rereplicate(self, generation: int) -> Generator[Any, Any, None]:
        """GFS 4.3: clone chunks below their replication goal, the furthest from it first,
        with a cap on concurrent clones (and per-clone bandwidth, in ``stream``)."""
        rt, p = self.gfs.rt, self.gfs.params
        limit = max(1, round(p.clone_fraction * len(self.gfs.chunkservers)))
        busy: dict[int, int] = {}
        while generation == self.generation:
            yield rt.sleep(p.rereplication_scan_s)
            if not p.rereplication or not self.ready:
                continue
            needs = dict(self.shortages())
            self.mark_progress(needs)
            for handle in clone_order(needs, p.replication, p.rereplication_priority):
                if len(self.cloning) >= limit:
                    break
                if handle in self.cloning or needs[handle] == 0:
                    continue
                plan = self.clone_plan(handle, busy)
                if plan is None:
                    continue
                self.cloning.add(handle)
                for cs in plan:
                    busy[cs] = busy.get(cs, 0) + 1
                rt.spawn(self.clone(handle, *plan, busy, generation), node=self.node)

    def clone_plan(self, handle: int, busy: dict[int, int]) -> Optional[tuple[int, int]]:
        p = self.gfs.params
        holders = self.replicas_of(handle)
        if not holders:
            return None
        idle = [s for s in self.candidates() if busy.get(s.id, 0) < p.clones_per_server
                and s.id not in self.locations.get(handle, {}) and s.id not in self.bad.get(handle, set())]
        held = [Server(cs, self.servers[cs].node.rack, 0) for cs in holders]
        dest = place_replicas(idle, 1, ("clone", handle), p.rack_aware, held)
        sources = [cs for cs in holders if busy.get(cs, 0) < p.clones_per_server]
        if not dest or not sources:
            return None
        dnode = self.servers[dest[0]].node
        source = min(sources, key=lambda cs: (distance(self.servers[cs].node, dnode), stable_hash(handle, cs)))
        return source, dest[0]

    def clone(self, handle: int, source: int, dest: int, busy: dict[int, int],
              generation: int) -> Generator[Any, Any, None]:
        rt = self.gfs.rt
        try:
            if handle in self.leases:
                yield from self.revoke(handle)
            version = self.state.versions[handle]
            cs = self.gfs.chunkservers[dest]
            try:
                status, nbytes = yield from self.gfs.rpc.call(self.node, cs.node,
                                                              lambda: cs.clone_from(handle, source, version))
            except RpcFailed:
                status, nbytes = "failed", 0.0
            if status == OK and generation == self.generation and self.state.versions[handle] == version:
                self.locations.setdefault(handle, {})[dest] = version
                self.needs = None
                rt.recorder.add("bytes_rereplicated", nbytes, "B")
                rt.recorder.count("chunks_rereplicated", 1, "chunks")
                if handle in self.bad:
                    rt.recorder.count("corrupt_replicas_recreated", 1, "replicas")
        finally:
            self.cloning.discard(handle)
            for cs in (source, dest):
                busy[cs] -= 1

    def mark_progress(self, needs: dict[int, int]) -> None:
        """Record how long it took, after the first loss, to get every chunk back to two
        replicas and to its full goal (the paper's 6.2.5 measures both)."""
        if self.short_since is None:
            return
        rec, now = self.gfs.rt.recorder, self.gfs.rt.now
        if not self.reached_2x and not any(live < 2 for live in needs.values()):
            self.reached_2x = True
            rec.value("rereplication_to_2x_s", now - self.short_since, "s")
        if not needs:
            rec.value("rereplication_to_goal_s", now - self.short_since, "s")
            self.reached_2x = False
            self.short_since = None

    # -- the operation log and checkpoints ------------------------------------------------------
    def log(self, records: list[Record]) -> Generator[Any, Any, None]:
        """Apply, then wait until the records are on the master's disk and its log
        replicas' (group commit: one flush carries every record pending). GFS 2.6.3:
        the master responds "only after flushing the corresponding log record to disk
        both locally and remotely"."""
        rt = self.gfs.rt
        for record in records:
            self.state.apply(record)
        self.pending.extend(records)
        if self.flushed is None or self.flushed.triggered:
            self.flushed = rt.event()
        waiting = self.flushed
        if not self.flushing:
            self.flushing = True
            rt.spawn(self.flush(self.generation), node=self.node)
        yield waiting

    def flush(self, generation: int) -> Generator[Any, Any, None]:
        rt = self.gfs.rt
        while self.pending and generation == self.generation:
            batch, self.pending = self.pending, []
            done, self.flushed = self.flushed, rt.event()
            nbytes = len(batch) * LOG_RECORD_BYTES
            copies = [rt.write(self.node, nbytes)] + [rt.spawn(self.remote_log(r, nbytes)) for r in self.log_replicas]
            yield rt.all_of(copies)
            self.disk.append(batch)
            rt.recorder.add("master_log_records", len(batch), "records")
            done.succeed()
            self.maybe_checkpoint()
        self.flushing = False

    def remote_log(self, replica: Any, nbytes: float) -> Generator[Any, Any, None]:
        try:
            yield from self.gfs.rpc.call(self.node, replica, lambda: _write_log(self.gfs.rt, replica, nbytes),
                                         req_bytes=nbytes)
        except RpcFailed:
            self.gfs.rt.recorder.count("log_replica_misses", 1, "writes")

    def maybe_checkpoint(self) -> None:
        every = self.gfs.params.checkpoint_every
        if every and len(self.disk.log) >= every and not self.checkpointing and not self.pending:
            self.checkpointing = True
            self.gfs.rt.spawn(self.checkpoint(self.generation), node=self.node)

    def checkpoint(self, generation: int) -> Generator[Any, Any, None]:
        """GFS 2.6.3: switch to a new log and write the state in the background; only a
        complete checkpoint replaces the old one (a crash mid-way keeps the longer log)."""
        rt = self.gfs.rt
        snapshot, covered = self.state.snapshot(), len(self.disk.log)
        yield rt.compute(self.node, snapshot.entries * CHECKPOINT_ENTRY_S)
        yield rt.write(self.node, max(1.0, snapshot.size_bytes()))
        if generation == self.generation:
            self.disk.install_checkpoint(snapshot, covered)
            rt.recorder.count("master_checkpoints", 1, "checkpoints")
            self.checkpointing = False


def _report(cs: Any) -> Generator[Any, Any, Any]:
    report = cs.report()
    yield cs.gfs.rt.sleep(0)
    return cs.incarnation, report


def _write_log(rt: Any, node: Any, nbytes: float) -> Generator[Any, Any, str]:
    yield rt.write(node, nbytes)
    return OK

