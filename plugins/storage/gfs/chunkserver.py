"""A GFS chunkserver: stores chunk replicas as files on its node's disk, verifies 64 KB
block checksums on reads, buffers pushed data, applies mutations in the primary's
order, serves clones, and reports to the master by heartbeat.

What survives a crash is what is on disk: the replicas (``self.replicas``: contents and
versions). Pushed-data buffers, leases and in-flight counts live in RAM and are lost;
``restart`` starts a new incarnation that reports every replica it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator, Optional

from harness.api import CorruptBlock, MissingBlock, NodeDown, Unreachable
from plugins.storage.gfs.costs import CHECKSUM_BYTE_S, CHUNKSERVER_OP_S, REPORT_BYTES_PER_CHUNK
from plugins.storage.gfs.layout import block_span, overwrite_verify_bytes
from plugins.storage.gfs.replica import Replica
from plugins.storage.gfs.rpc import RpcFailed

if TYPE_CHECKING:
    from plugins.storage.gfs.system import GFS

OK, NOT_PRIMARY, DATA_MISSING, CHUNK_FULL, STALE, NO_CHUNK, CORRUPT, FAILED = (
    "ok", "not_primary", "data_missing", "chunk_full", "stale", "no_chunk", "corrupt", "failed")
TRANSIENT = (NodeDown, Unreachable, RpcFailed)


def chunk_file(handle: int) -> str:
    return f"gfs/chunk-{handle}"


@dataclass
class Lease:
    version: int
    expires: float
    secondaries: list[int]
    next_offset: float = 0.0  # where the next record goes (RAM: a new primary starts at its length)
    serial: int = 0
    inflight: int = 0
    mutated: bool = False  # since the last extension request
    revoked: bool = False


@dataclass
class ChunkServer:
    gfs: GFS
    node: Any
    replicas: dict[int, Replica] = field(default_factory=dict)  # on disk
    incarnation: int = 0
    buffer: dict[tuple[Any, ...], float] = field(default_factory=dict)  # pushed data (RAM)
    leases: dict[int, Lease] = field(default_factory=dict)  # chunks this server is primary for (RAM)
    bad: set[int] = field(default_factory=set)  # replicas found corrupted, awaiting deletion
    full_report_due: bool = True

    @property
    def id(self) -> int:
        return self.node.id

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self.gfs.rt.spawn(self.heartbeats(), node=self.node)
        if self.gfs.params.scrub_interval_s and self.gfs.params.checksums:
            self.gfs.rt.spawn(self.scrub(), node=self.node)

    def restart(self) -> None:
        """The node came back: RAM is gone, the disk (and so the replicas) is not."""
        self.incarnation += 1
        self.buffer.clear()
        self.leases.clear()
        self.full_report_due = True
        self.start()

    def report(self) -> list[tuple[int, int]]:
        return [(h, r.version) for h, r in sorted(self.replicas.items()) if h not in self.bad]

    def heartbeats(self) -> Generator[Any, Any, None]:
        gfs = self.gfs
        rng = gfs.rt.rng(f"gfs/heartbeat/{self.id}/{self.incarnation}")
        yield gfs.rt.sleep(rng.uniform(0, gfs.params.heartbeat_s))  # servers do not beat in lockstep
        while True:
            report = self.report() if self.full_report_due else None
            extend = [h for h, lease in sorted(self.leases.items()) if lease.mutated and not lease.revoked]
            nbytes = 256 + REPORT_BYTES_PER_CHUNK * (len(report) if report else len(extend))
            try:
                reply = yield from gfs.rpc.call(self.node, gfs.master.node, lambda: gfs.master.heartbeat(
                    self.id, self.incarnation, report, extend), req_bytes=nbytes)
            except RpcFailed:
                reply = None
            if reply is not None:
                self.on_heartbeat_reply(*reply, had_report=report is not None)
            yield gfs.rt.sleep(gfs.params.heartbeat_s)

    def on_heartbeat_reply(self, accepted: bool, deletes: list[int], extended: dict[int, float],
                           want_report: bool, had_report: bool) -> None:
        if accepted and had_report:
            self.full_report_due = False
        if want_report:
            self.full_report_due = True
        for handle, expires in extended.items():
            lease = self.leases.get(handle)
            if lease is not None and not lease.revoked:
                lease.expires = expires
                lease.mutated = False
        for handle in deletes:
            self.drop(handle)

    def drop(self, handle: int) -> None:
        self.replicas.pop(handle, None)
        self.leases.pop(handle, None)
        self.bad.discard(handle)
        self.gfs.rt.delete(self.node, chunk_file(handle))

    def scrub(self) -> Generator[Any, Any, None]:
        """GFS 5.2: "During idle periods, chunkservers can scan and verify the contents of
        inactive chunks", so a corrupt replica that nobody reads is still found. One
        replica per interval, in handle order, skipping chunks this server is primary for."""
        rt, last = self.gfs.rt, 0
        while True:
            yield rt.sleep(self.gfs.params.scrub_interval_s)
            handles = [h for h in sorted(self.replicas) if h > last and h not in self.bad and h not in self.leases]
            if not handles:
                last = 0
                continue
            last = handles[0]
            length = self.replicas[last].length
            try:
                yield rt.read(self.node, length, file=chunk_file(last), verify=True)
                yield rt.compute(self.node, length * CHECKSUM_BYTE_S)
                rt.recorder.add("bytes_scrubbed", length, "B")
            except CorruptBlock:
                yield from self.found_corrupt(last)
            except MissingBlock:
                pass

    # -- data push (the data flow, separate from control) --------------------------------
    def receive(self, data_id: tuple[Any, ...], nbytes: float, incarnation: int) -> None:
        if self.node.alive and incarnation == self.incarnation:
            self.buffer[data_id] = nbytes

    # -- reads ------------------------------------------------------------------------
    def read(self, handle: int, offset: float, nbytes: float, client: Any) -> Generator[Any, Any, Any]:
        """Verify the checksum blocks covering the range, stream them to the client.

        Returns (status, bytes, record ids, padding, garbage) for the byte range."""
        gfs = self.gfs
        yield gfs.rt.compute(self.node, CHUNKSERVER_OP_S)
        replica = self.replicas.get(handle)
        if replica is None or handle in self.bad:
            return (NO_CHUNK, 0.0, [], 0.0, 0.0)
        nbytes = max(0.0, min(nbytes, replica.length - offset))
        try:
            yield from self.stream(handle, offset, nbytes, client, gfs.params.checksums)
        except CorruptBlock:
            yield from self.found_corrupt(handle)
            return (CORRUPT, 0.0, [], 0.0, 0.0)
        except (*TRANSIENT, MissingBlock):
            return (FAILED, 0.0, [], 0.0, 0.0)
        records, pad, garbage = replica.scan(offset, offset + nbytes)
        return (OK, nbytes, records, pad, garbage)

    def stream(self, handle: int, offset: float, nbytes: float, dst: Any, verify: bool,
               rate_Bps: Optional[float] = None) -> Generator[Any, Any, None]:
        """Read the range from disk in pieces and send each as the next is read (a
        two-stage pipeline), verifying every 64 KB block touched when ``verify``."""
        gfs, rt = self.gfs, self.gfs.rt
        block = gfs.params.checksum_block_kib * 1024.0
        piece = gfs.params.stream_piece_mib * float(1 << 20)
        pieces = []
        at, end = offset, offset + nbytes
        while at < end:
            pieces.append((at, min(piece, end - at)))
            at += piece
        sending = None
        for at, n in pieces:
            lo, hi = block_span(at, n, block) if verify else (at, at + n)
            began = rt.now
            reading = rt.read(self.node, hi - lo, file=chunk_file(handle), offset=lo, verify=verify)
            work = [reading] + ([sending] if sending is not None else [])
            yield rt.all_of(work)
            if verify:
                yield rt.compute(self.node, (hi - lo) * CHECKSUM_BYTE_S)
            sending = rt.transfer(self.node, dst, n)
            if rate_Bps:
                yield rt.sleep(began + n / rate_Bps - rt.now)  # a clone's bandwidth cap
        if sending is not None:
            yield sending

    def found_corrupt(self, handle: int) -> Generator[Any, Any, None]:
        """GFS 5.2: return an error and report the mismatch to the master, which
        re-creates the replica elsewhere and then has this one deleted."""
        gfs = self.gfs
        gfs.rt.recorder.count("corrupt_replicas_detected", 1, "replicas")
        self.bad.add(handle)
        self.leases.pop(handle, None)
        try:
            yield from gfs.rpc.call(self.node, gfs.master.node, lambda: gfs.master.bad_replica(self.id, handle))
        except RpcFailed:
            pass  # the next full report omits it: the master notices anyway

    # -- mutations: the primary -------------------------------------------------------
    def primary_append(self, handle: int, data_id: tuple[Any, ...], rid: int,
                       nbytes: float) -> Generator[Any, Any, Any]:
        """Record append at the primary: choose the offset, or pad the chunk when the record
        does not fit (GFS 3.3), apply locally and at every secondary in serial order."""
        lease, replica, refused = yield from self._as_primary(handle, data_id)
        if refused:
            return (refused, None)
        chunk_bytes = self.gfs.chunk_bytes
        offset = max(lease.next_offset, replica.length)
        if offset + nbytes > chunk_bytes:
            if offset >= chunk_bytes:
                return (CHUNK_FULL, None)
            lease.next_offset = chunk_bytes
            status = yield from self.mutate(handle, lease, (offset, chunk_bytes - offset, "pad", None, None))
            return (CHUNK_FULL if status == OK else status, None)
        lease.next_offset = offset + nbytes
        status = yield from self.mutate(handle, lease, (offset, nbytes, "record", rid, data_id))
        return (status, offset)

    def primary_write(self, handle: int, data_id: tuple[Any, ...], offset: float,
                      nbytes: float) -> Generator[Any, Any, Any]:
        """A write at a client-chosen offset: the primary only assigns its serial number."""
        lease, _replica, refused = yield from self._as_primary(handle, data_id)
        if refused:
            return (refused, None)
        status = yield from self.mutate(handle, lease, (offset, nbytes, "data", None, data_id))
        return (status, offset)

    def _as_primary(self, handle: int, data_id: tuple[Any, ...]) -> Generator[Any, Any, Any]:
        """(lease, replica, None) if this server holds the chunk's lease and the pushed data,
        else (.., .., the status refusing the mutation)."""
        yield self.gfs.rt.compute(self.node, CHUNKSERVER_OP_S)
        lease, replica = self.leases.get(handle), self.replicas.get(handle)
        if not _valid(lease, replica, self.gfs.rt.now):
            return lease, replica, NOT_PRIMARY
        if data_id not in self.buffer:
            return lease, replica, DATA_MISSING
        return lease, replica, None

    def mutate(self, handle: int, lease: Lease, change: tuple[Any, ...]) -> Generator[Any, Any, str]:
        gfs, rt = self.gfs, self.gfs.rt
        lease.serial += 1
        lease.inflight += 1
        lease.mutated = True
        serial = lease.serial
        try:
            mine = rt.spawn(self.apply(handle, lease.version, serial, change), node=self.node)
            if gfs.params.append_ack == "primary" and change[2] == "record":
                # The deliberately broken variant: acknowledge once the primary has the
                # record, forward to the secondaries later (the promise then fails).
                status = yield mine
                rt.spawn(self.forward_later(handle, lease, serial, change), node=self.node)
                return status or FAILED
            calls = [rt.spawn(self.forward(sec, handle, lease.version, serial, change)) for sec in lease.secondaries]
            results = yield rt.all_of([mine, *calls])
            statuses = [results[e] for e in [mine, *calls]]
            return OK if all(s == OK for s in statuses) else next(s for s in statuses if s != OK) or FAILED
        finally:
            lease.inflight -= 1

    def forward(self, secondary: int, handle: int, version: int, serial: int,
                change: tuple[Any, ...]) -> Generator[Any, Any, str]:
        gfs = self.gfs
        other = gfs.chunkservers[secondary]
        try:
            return (yield from gfs.rpc.call(self.node, other.node,
                                            lambda: other.apply(handle, version, serial, change)))
        except RpcFailed:
            return FAILED

    def forward_later(self, handle: int, lease: Lease, serial: int,
                      change: tuple[Any, ...]) -> Generator[Any, Any, None]:
        yield self.gfs.rt.sleep(self.gfs.params.lazy_forward_s)
        for sec in lease.secondaries:
            yield from self.forward(sec, handle, lease.version, serial, change)

    # -- mutations: every replica -----------------------------------------------------
    def apply(self, handle: int, version: int, serial: int, change: tuple[Any, ...]) -> Generator[Any, Any, str]:
        """Write one mutation at the offset the primary chose (secondaries and primary alike)."""
        gfs, rt = self.gfs, self.gfs.rt
        offset, nbytes, kind, rid, data_id = change
        yield rt.compute(self.node, CHUNKSERVER_OP_S)
        replica = self.replicas.get(handle)
        if replica is None or handle in self.bad:
            return NO_CHUNK
        if replica.version != version:
            return STALE
        if data_id is not None and data_id not in self.buffer:
            return DATA_MISSING
        try:
            yield from self.write_blocks(handle, replica, offset, nbytes, kind)
        except CorruptBlock:
            yield from self.found_corrupt(handle)
            return CORRUPT
        except MissingBlock:
            return NO_CHUNK
        if kind == "data":
            replica.overwrite(offset, nbytes)
        else:
            replica.put(offset, nbytes, kind, rid)
        replica.serials.append(serial)
        if data_id is not None:
            self.buffer.pop(data_id, None)
        if kind == "record":
            gfs.history.on_replica_write(self.id, handle, offset, rid)
        return OK

    def write_blocks(self, handle: int, replica: Replica, offset: float, nbytes: float,
                     kind: str) -> Generator[Any, Any, None]:
        """Checksums are kept per 64 KB block: an append only extends the last partial
        block's checksum, an overwrite must first read and verify the partial blocks at
        both ends of its range (GFS 5.2)."""
        gfs, rt = self.gfs, self.gfs.rt
        block = gfs.params.checksum_block_kib * 1024.0
        if gfs.params.checksums:
            verify = overwrite_verify_bytes(offset, nbytes, block, replica.length) if offset < replica.length else 0.0
            if verify > 0:
                gfs.rt.recorder.add("checksum_verify_bytes", verify, "B")
                yield rt.read(self.node, verify, pattern="rand", file=chunk_file(handle), offset=offset, verify=True)
            yield rt.compute(self.node, (nbytes + verify) * CHECKSUM_BYTE_S)
        pattern = "seq" if offset >= replica.length else "rand"
        yield rt.write(self.node, nbytes, pattern=pattern, file=chunk_file(handle), offset=offset)

    # -- master commands --------------------------------------------------------------
    def create(self, handle: int) -> Generator[Any, Any, str]:
        yield self.gfs.rt.write(self.node, 0, file=chunk_file(handle))
        self.replicas[handle] = Replica(handle, 1)
        return OK

    def set_version(self, handle: int, version: int,
                    lease: Optional[tuple[float, list[int]]]) -> Generator[Any, Any, str]:
        """The master bumped the version for a new lease (GFS 4.5); the primary also gets
        the lease and its secondaries."""
        yield self.gfs.rt.compute(self.node, CHUNKSERVER_OP_S)
        replica = self.replicas.get(handle)
        if replica is None or handle in self.bad:
            return NO_CHUNK
        replica.version = version
        held = self.leases.get(handle)
        if held is not None and held.version != version:
            self.leases.pop(handle)  # superseded by the master's new grant
        if lease is not None:
            expires, secondaries = lease
            self.leases[handle] = Lease(version, expires, secondaries, next_offset=replica.length)
        return OK

    def revoke(self, handle: int) -> Generator[Any, Any, str]:
        """Give up a lease; wait for the mutations already ordered to finish, so a clone
        taken afterwards holds all of them."""
        lease = self.leases.get(handle)
        if lease is not None:
            lease.revoked = True
            while lease.inflight > 0:
                yield self.gfs.rt.sleep(0.01)
            self.leases.pop(handle, None)
        yield self.gfs.rt.compute(self.node, CHUNKSERVER_OP_S)
        return OK

    def delete(self, handle: int) -> Generator[Any, Any, str]:
        yield self.gfs.rt.compute(self.node, CHUNKSERVER_OP_S)
        self.drop(handle)
        return OK

    def clone_from(self, handle: int, source: int, version: int) -> Generator[Any, Any, Any]:
        """Re-replication at the destination: copy the chunk from ``source`` (which
        verifies its checksums as it reads), write it, then hold the new replica."""
        gfs, rt = self.gfs, self.gfs.rt
        src = gfs.chunkservers[source]
        try:
            reply = yield from gfs.rpc.call(self.node, src.node, lambda: src.serve_clone(handle, version, self.node))
        except RpcFailed:
            return (FAILED, 0.0)
        status, copy = reply
        if status != OK:
            return (status, 0.0)
        try:
            yield rt.write(self.node, copy.length, file=chunk_file(handle))
        except (*TRANSIENT, MissingBlock):
            return (FAILED, 0.0)
        self.replicas[handle] = copy
        self.bad.discard(handle)
        return (OK, copy.length)

    def serve_clone(self, handle: int, version: int, dst: Any) -> Generator[Any, Any, Any]:
        gfs = self.gfs
        replica = self.replicas.get(handle)
        if replica is None or handle in self.bad or replica.version != version:
            return (STALE, None)
        snapshot = replica.copy()
        rate = gfs.params.clone_mbit * 1e6 / 8 if gfs.params.clone_mbit else None
        try:
            yield from self.stream(handle, 0.0, snapshot.length, dst, gfs.params.checksums, rate)
        except CorruptBlock:
            yield from self.found_corrupt(handle)
            return (CORRUPT, None)
        except (*TRANSIENT, MissingBlock):
            return (FAILED, None)
        return (OK, snapshot)


def _valid(lease: Optional[Lease], replica: Optional[Replica], now: float) -> bool:
    return (lease is not None and replica is not None and not lease.revoked and lease.expires > now
            and lease.version == replica.version)
