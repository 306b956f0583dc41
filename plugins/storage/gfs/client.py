"""The GFS client library: caches chunk locations and leases, reads from the closest
replica, pushes data along a chain (or a star) separately from the control messages,
and retries failed mutations, which is where record append's duplicates come from.

Every operation has a deadline (``system.op_timeout_s``); an operation that cannot
complete by then fails and counts against availability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator, Optional

import itertools

from plugins.storage.gfs.chunkserver import CHUNK_FULL, CORRUPT, OK, TRANSIENT
from plugins.storage.gfs.layout import chunk_pieces, distance, push_chain
from plugins.storage.gfs.master import NO_FILE
from plugins.storage.gfs.rpc import RpcFailed

if TYPE_CHECKING:
    from plugins.storage.gfs.system import GFS

BACKOFF_CAP_S = 1.0  # CHOICE: exponential back-off from system.retry_backoff_s, capped here


class Client:
    def __init__(self, gfs: GFS, node: Any, name: str) -> None:
        self.gfs, self.node, self.name = gfs, node, name
        self.rt = gfs.rt
        self.rng = gfs.rt.rng(f"gfs/client/{name}")
        self.chunks: dict[tuple[str, int], tuple[int, list[int], float]] = {}  # -> handle, replicas, until
        self.leases: dict[tuple[str, int], tuple[int, int, list[int], float]] = {}  # -> handle, primary, secs, expires
        self.last_chunk: dict[str, int] = {}
        self.pushes = itertools.count()

    # -- plumbing ---------------------------------------------------------------------
    def ask_master(self, handler: Any) -> Generator[Any, Any, Any]:
        master = self.gfs.master
        return (yield from self.gfs.rpc.call(self.node, master.node, lambda: handler(master)))

    def backoff(self, attempt: int, deadline: float) -> Generator[Any, Any, None]:
        wait = min(BACKOFF_CAP_S, self.gfs.params.retry_backoff_s * 2 ** min(attempt, 10))
        wait *= 0.5 + self.rng.random()
        yield self.rt.sleep(min(wait, max(0.0, deadline - self.rt.now)))

    def chunk_info(self, path: str, index: int) -> Generator[Any, Any, Any]:
        """(handle, replicas) from the cache or the master; None when the file has no such
        chunk. Raises RpcFailed / returns the master's status string on trouble."""
        cached = self.chunks.get((path, index))
        if cached is not None and cached[2] > self.rt.now:
            return cached[:2]
        p = self.gfs.params
        status, found = yield from self.ask_master(lambda m: m.locate(path, index, p.prefetch_chunks, False))
        if status != OK:
            return None if status == NO_FILE else status
        until = self.rt.now + p.client_cache_s
        for i, handle, _version, replicas in found:
            self.chunks[(path, i)] = (handle, replicas, until)
        entry = self.chunks.get((path, index))
        return entry[:2] if entry is not None and found and found[0][0] == index else None

    def lease_for(self, path: str, index: int, create: bool) -> Generator[Any, Any, Any]:
        cached = self.leases.get((path, index))
        if cached is not None and cached[3] > self.rt.now:
            return cached
        status, lease = yield from self.ask_master(lambda m: m.lease(path, index))
        if status == NO_FILE and create:
            status, _ = yield from self.ask_master(lambda m: m.locate(path, index, 1, True))
            if status == OK:
                status, lease = yield from self.ask_master(lambda m: m.lease(path, index))
        if status != OK:
            return None
        self.leases[(path, index)] = lease
        return lease

    def forget(self, path: str, index: int) -> None:
        self.chunks.pop((path, index), None)
        self.leases.pop((path, index), None)

    # -- reads --------------------------------------------------------------------------
    def read(self, path: str, offset: float, nbytes: float, deadline: float) -> Generator[Any, Any, Optional[tuple]]:
        """Read a byte range; returns (bytes, record ids, padding, garbage) or None."""
        total, records, pad, garbage = 0.0, [], 0.0, 0.0
        for index, inner, n in chunk_pieces(offset, nbytes, self.gfs.chunk_bytes):
            got = yield from self.read_chunk(path, index, inner, n, deadline)
            if got is None:
                return None
            total += got[0]
            records += got[1]
            pad += got[2]
            garbage += got[3]
        return total, records, pad, garbage

    def read_chunk(self, path: str, index: int, inner: float, n: float, deadline: float) -> Generator[Any, Any, Any]:
        rt, attempt = self.rt, 0
        while rt.now < deadline:
            try:
                info = yield from self.chunk_info(path, index)
            except RpcFailed:
                info = "failed"
            if info is None:
                return None  # no such chunk
            if not isinstance(info, str):
                handle, replicas = info
                for cs_id in self.closest(replicas, handle):
                    got = yield from self.read_from(cs_id, handle, inner, n)
                    if got is not None:
                        return got
                self.forget(path, index)
            yield from self.backoff(attempt, deadline)
            attempt += 1
        return None

    def closest(self, replicas: list[int], handle: int) -> list[int]:
        """Nearest replica first (GFS 2.4), ties broken at random so readers spread out."""
        nodes = self.gfs.chunkservers
        keys = {cs: (distance(self.node, nodes[cs].node), self.rng.random()) for cs in replicas}
        return sorted(replicas, key=lambda cs: keys[cs])

    def read_from(self, cs_id: int, handle: int, inner: float, n: float) -> Generator[Any, Any, Any]:
        server = self.gfs.chunkservers[cs_id]
        try:
            status, *got = yield from self.gfs.rpc.call(
                self.node, server.node, lambda: server.read(handle, inner, n, self.node))
        except RpcFailed:
            status = "failed"
        if status == OK:
            return tuple(got)
        self.rt.recorder.count("reads_failed_over", 1, "reads")
        if status == CORRUPT:
            self.rt.recorder.count("corrupt_reads_served_elsewhere", 1, "reads")
        return None

    # -- mutations ----------------------------------------------------------------------------
    def push(self, data_id: tuple[Any, ...], nbytes: float, targets: list[int]) -> Generator[Any, Any, None]:
        """Data flow (GFS 3.2), decoupled from control: along a chain, nearest first, each
        server forwarding as it receives (pipelined: all hops stream at once), or as a
        star from the client to every replica."""
        rt, p, servers = self.rt, self.gfs.params, self.gfs.chunkservers
        nodes = [servers[t].node for t in targets]
        if p.data_flow == "star":
            hops = [(self.node, node, 0.0) for node in nodes]
        else:
            chain = push_chain(self.node, nodes, p.chain_order == "nearest", data_id)
            hops, delay, prev = [], 0.0, self.node
            for node in chain:
                hops.append((prev, node, delay))
                delay += rt.topology.one_way_latency_s(prev, node)  # forwarding starts on first bytes
                prev = node
        sent = sum(nbytes for src, _dst, _d in hops if src is self.node)
        rt.recorder.add("bytes_pushed_by_clients", sent, "B")
        procs = [rt.spawn(self.hop(src, dst, delay, data_id, nbytes)) for src, dst, delay in hops]
        results = yield rt.all_of(procs)
        if not all(results[p] for p in procs):
            raise RpcFailed("data push failed")

    def hop(self, src: Any, dst: Any, delay: float, data_id: tuple[Any, ...],
            nbytes: float) -> Generator[Any, Any, bool]:
        server = self.gfs.chunkservers[dst.id]
        incarnation = server.incarnation
        yield self.rt.sleep(delay)
        try:
            yield self.rt.transfer(src, dst, nbytes)
        except TRANSIENT:
            return False
        server.receive(data_id, nbytes, incarnation)
        return True

    def append(self, path: str, rid: int, nbytes: float, deadline: float) -> Generator[Any, Any, bool]:
        """Record append (GFS 3.3): at least once, at an offset GFS chooses. A failed try is
        retried whole, so a record may land twice (or partly) on some replicas."""
        rt, history, attempt = self.rt, self.gfs.history, 0
        index = self.last_chunk.get(path, 0)
        history.invoke(rid, rt.now)
        while rt.now < deadline:
            try:
                lease = yield from self.lease_for(path, index, create=True)
                if lease is not None:
                    handle, primary, secondaries, _expires = lease
                    data_id = (self.name, next(self.pushes))
                    yield from self.push(data_id, nbytes, [primary, *secondaries])
                    server = self.gfs.chunkservers[primary]
                    status, offset = yield from self.gfs.rpc.call(
                        self.node, server.node, lambda: server.primary_append(handle, data_id, rid, nbytes))
                    if status == OK:
                        history.ack(rid, rt.now, handle, offset)
                        return True
                    if status == CHUNK_FULL:
                        self.forget(path, index)
                        index = yield from self.next_chunk(path, index)
                        self.last_chunk[path] = index
                        continue
            except TRANSIENT:
                pass
            self.forget(path, index)
            rt.recorder.count("append_retries", 1, "retries")
            yield from self.backoff(attempt, deadline)
            attempt += 1
        history.fail(rid, rt.now)
        return False

    def next_chunk(self, path: str, index: int) -> Generator[Any, Any, int]:
        """After a full chunk: the file's last chunk if others already moved on, else the next."""
        try:
            status, count = yield from self.ask_master(lambda m: m.stat(path))
        except RpcFailed:
            return index + 1
        return max(index + 1, count - 1) if status == OK else index + 1

    def write(self, path: str, offset: float, nbytes: float, deadline: float,
              create: bool) -> Generator[Any, Any, bool]:
        for index, inner, n in chunk_pieces(offset, nbytes, self.gfs.chunk_bytes):
            ok = yield from self.write_chunk(path, index, inner, n, deadline, create)
            if not ok:
                return False
        return True

    def write_chunk(self, path: str, index: int, inner: float, n: float, deadline: float,
                    create: bool) -> Generator[Any, Any, bool]:
        rt, attempt = self.rt, 0
        while rt.now < deadline:
            try:
                lease = yield from self.lease_for(path, index, create)
                if lease is not None:
                    handle, primary, secondaries, _expires = lease
                    data_id = (self.name, next(self.pushes))
                    yield from self.push(data_id, n, [primary, *secondaries])
                    server = self.gfs.chunkservers[primary]
                    status, _ = yield from self.gfs.rpc.call(
                        self.node, server.node, lambda: server.primary_write(handle, data_id, inner, n))
                    if status == OK:
                        return True
            except TRANSIENT:
                pass
            self.forget(path, index)
            rt.recorder.count("write_retries", 1, "retries")
            yield from self.backoff(attempt, deadline)
            attempt += 1
        return False

    def stat(self, path: str) -> Generator[Any, Any, Optional[int]]:
        try:
            status, count = yield from self.ask_master(lambda m: m.stat(path))
        except RpcFailed:
            return None
        return count if status == OK else None

