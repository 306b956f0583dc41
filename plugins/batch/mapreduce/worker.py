"""A MapReduce worker: a daemon per node that runs the map and reduce attempts the
master assigns, answers pings, and dies with its node.

Map attempt (OSDI'04 section 3.1, steps 3-4): read the split (from the local replica
when there is one, otherwise streamed from a remote chunkserver), run the map function
(and the combiner), partition into R regions, write them to the local disk.

Reduce attempt (steps 5-6): poll the master for map-output locations, fetch this
partition's region of each (``shuffle.py``), sort (externally when it exceeds the sort
buffer), run reduce, write the output file and its replicas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

import numpy as np
import simpy

from harness.sim.runtime import CorruptBlock, MissingBlock, NodeDown, OutOfMemory, Unreachable
from plugins.batch.mapreduce import costs as C
from plugins.batch.mapreduce import messages as msg
from plugins.batch.mapreduce.messages import MASTER_PORT, WORKER_PORT

if TYPE_CHECKING:
    from plugins.batch.mapreduce.job import Job
    from plugins.batch.mapreduce.system import MapReduce

KILLED = "killed by the master"  # interrupt cause of a losing or orphaned attempt
MIB = float(1 << 20)
REPLICA_RETRIES = 3


class InputLost(Exception):
    """No replica of a split could be read."""


class Worker:
    def __init__(self, system: MapReduce, node: Any) -> None:
        self.sys = system
        self.rt = system.rt
        self.node = node
        self.p = system.params
        self.incarnation = -1
        self.serving = False  # the daemon's RPC server is up (it answers pings)
        self.running: dict[int, simpy.Process] = {}
        self.handlers = {
            msg.RunMap: self.on_run_map,
            msg.RunReduce: self.on_run_reduce,
            msg.Kill: self.on_kill,
            msg.Reregister: self.on_reregister,
            msg.ShuffleUpdate: lambda _m: None,  # a reply to an attempt that no longer exists
        }

    # -- the daemon -----------------------------------------------------------------
    def start(self) -> None:
        self.incarnation = int(self.sys.shuffle.generation[self.node.id])
        self.sys.shuffle.node_up(self.node.id)
        self.running = {}
        self.rt.spawn(self.serve(), node=self.node)

    def serve(self) -> Generator[Any, Any, None]:
        rt = self.rt
        try:
            try:
                # The worker process holds its map output and sort buffers for its lifetime.
                yield rt.alloc(self.node, "mapreduce-worker", self.sys.worker_anon_bytes)
            except OutOfMemory:
                rt.recorder.count("workers_out_of_memory")
                return
            self.send(msg.Register(self.node.id, self.incarnation))
            self.serving = True
            while True:
                get = rt.recv(self.node, WORKER_PORT)
                try:
                    message = yield get
                finally:
                    if not get.triggered:
                        get.cancel()
                self.handlers[type(message)](message)
        finally:
            # Only a crash ends the daemon: everything this incarnation served is gone.
            self.serving = False
            self.sys.shuffle.node_down(self.node.id)

    def send(self, message: Any, nbytes: float = msg.HEADER_BYTES) -> None:
        self.rt.send(self.node, self.sys.master_node, message, nbytes=nbytes, port=MASTER_PORT)

    def answer_ping(self) -> msg.Pong | None:
        """A running daemon answers with its incarnation; a dead or never-started one is silent."""
        return msg.Pong(self.node.id, self.incarnation) if self.serving else None

    def on_run_map(self, m: msg.RunMap) -> None:
        job = self.sys.job(m.job)
        if job is not None:
            self.running[m.aid] = self.rt.spawn(self.map_attempt(job, m.aid, m.task), node=self.node)

    def on_run_reduce(self, m: msg.RunReduce) -> None:
        job = self.sys.job(m.job)
        if job is not None:
            self.running[m.aid] = self.rt.spawn(self.reduce_attempt(job, m.aid, m.task), node=self.node)

    def on_kill(self, m: msg.Kill) -> None:
        proc = self.running.pop(m.aid, None)
        if proc is not None and proc.is_alive:
            proc.interrupt(KILLED)

    def on_reregister(self, _m: msg.Reregister) -> None:
        """Declared dead while alive (e.g. partitioned): drop all work, come back as new."""
        for aid in list(self.running):
            self.on_kill(msg.Kill(aid))
        self.sys.shuffle.node_down(self.node.id)
        self.sys.shuffle.node_up(self.node.id)
        self.incarnation = int(self.sys.shuffle.generation[self.node.id])
        self.send(msg.Register(self.node.id, self.incarnation))

    # -- map ------------------------------------------------------------------------
    def map_attempt(self, job: Job, aid: int, m: int) -> Generator[Any, Any, None]:
        rt, node, inc = self.rt, self.node, self.incarnation
        try:
            split = job.splits[m]
            yield from self.read_split(split)
            result = job.run_map(m, aid)
            yield rt.compute(node, C.TASK_START_S + result.cpu_s)
            yield rt.write(node, result.out_bytes, "seq")  # R regions in one local file (not a GFS file)
            mark = self.sys.shuffle.io(node, result.out_bytes)
            rt.recorder.add("bytes_intermediate", result.out_bytes, "B")
            self.send(msg.MapDone(job.jid, aid, node.id, inc, result.out_bytes, result.out_records, mark))
        except simpy.Interrupt as interrupt:
            if interrupt.cause != KILLED:
                raise
        except (InputLost, OutOfMemory, NodeDown, Unreachable) as exc:
            if node.alive:
                self.send(msg.TaskFailed(job.jid, aid, node.id, inc, f"{type(exc).__name__}: {exc}"))
        finally:
            self.running.pop(aid, None)

    def read_split(self, split: Any) -> Generator[Any, Any, None]:
        """Read from the closest live replica: this node, then this rack, then any."""
        rt, node = self.rt, self.node
        order = sorted(split.replicas, key=lambda n: (n.id != node.id, n.rack != node.rack))
        for src in order:
            try:
                # GFS verifies chunk checksums on every read: a corrupted replica is skipped.
                if src.id == node.id:
                    yield rt.read(node, split.nbytes, "seq", file=split.file, verify=True)
                else:
                    yield rt.all_of([rt.read(src, split.nbytes, "seq", file=split.file, verify=True),
                                     rt.transfer(src, node, split.nbytes)])
                self.sys.shuffle.io(src, split.nbytes)
                rt.recorder.add("bytes_input_read", split.nbytes, "B")
                return
            except (NodeDown, Unreachable, MissingBlock, CorruptBlock):
                if not node.alive:
                    raise
                continue
        raise InputLost(f"no live replica of {split.file}")

    # -- reduce ---------------------------------------------------------------------
    def reduce_attempt(self, job: Job, aid: int, r: int) -> Generator[Any, Any, None]:
        rt, node, inc = self.rt, self.node, self.incarnation
        try:
            fetched, in_bytes = yield from self.shuffle(job, aid, r, inc)
            shuffle_end = rt.now
            result = job.run_reduce(r, fetched, in_bytes)
            if in_bytes > self.p.sort_buffer_mb * MIB:  # external sort: runs to local disk, merged back
                rt.recorder.add("bytes_spilled", in_bytes, "B")
                yield rt.write(node, in_bytes, "seq")
                yield rt.read(node, in_bytes, "seq")
                self.sys.shuffle.io(node, 2 * in_bytes)
            yield rt.compute(node, C.TASK_START_S + result.cpu_s)
            yield from self.write_output(job, r, aid, result.out_bytes)
            if result.pairs is not None:
                job.attempt_output[aid] = result.pairs
            self.send(msg.ReduceDone(job.jid, aid, node.id, inc, result.out_bytes, shuffle_end))
        except simpy.Interrupt as interrupt:
            if interrupt.cause != KILLED:
                raise
        except (OutOfMemory, NodeDown, Unreachable) as exc:
            if node.alive:  # a replica target failed; a crash of our own node ends quietly
                self.send(msg.TaskFailed(job.jid, aid, node.id, inc, f"{type(exc).__name__}: {exc}"))
        finally:
            self.running.pop(aid, None)
            self.sys.shuffle.forget(aid)
            rt.mailbox(node, msg.attempt_port(aid)).items.clear()  # a reply that raced a kill

    def shuffle(self, job: Job, aid: int, r: int, inc: int) -> Generator[Any, Any, tuple[list[int], float]]:
        """Fetch partition ``r`` of every map output, round by round (long polls)."""
        rt, node = self.rt, self.node
        have = np.zeros(job.M, dtype=bool)
        n_have, cursor, in_bytes = 0, 0, 0.0
        fetched: list[int] = []  # map attempts whose region arrived, in arrival order
        port = msg.attempt_port(aid)
        while n_have < job.M:
            want = min(job.min_batch, job.M - n_have)
            self.send(msg.ShufflePoll(job.jid, aid, node.id, inc, cursor, want))
            update = yield from self.await_update(port)
            cursor = update.cursor
            log = update.log
            idx = update.log_index[~have[log.maps[update.log_index]]]
            del update
            if len(idx) == 0:
                continue
            last = n_have + len(idx) >= job.M
            ok, got = yield from self.sys.shuffle.fetch(
                aid, node, idx, log, lambda i: job.region_bytes(r, log.maps[i], log.attempts[i]), r, job.R, last)
            have[log.maps[idx[ok]]] = True
            n_have += int(ok.sum())
            in_bytes += got
            self.sys.shuffle.io(node, got)  # fetched data is kept in local files until the sort
            rt.recorder.add("bytes_shuffled", got, "B")
            if job.materialized:
                fetched.extend(int(a) for a in log.attempts[idx[ok]])
            if not ok.all():
                self.send(msg.FetchFailed(job.jid, aid, node.id, inc, tuple(int(i) for i in idx[~ok])))
        return fetched, in_bytes

    def await_update(self, port: str) -> Generator[Any, Any, msg.ShuffleUpdate]:
        """The master's answer to a long poll. The master answers every live attempt it
        can reach; an attempt cut off from it is found out by the heartbeats and killed."""
        get = self.rt.recv(self.node, port)
        try:
            return (yield get)
        finally:
            if not get.triggered:
                get.cancel()

    def write_output(self, job: Job, r: int, aid: int, nbytes: float) -> Generator[Any, Any, None]:
        """Write locally and push replicas along a pipeline (GFS section 3.2)."""
        rt, node = self.rt, self.node
        writes = [rt.write(node, nbytes, "seq")]
        self.sys.shuffle.io(node, nbytes)
        replicas = self.sys.output_placement.replicas(self.p.output_replication, first=node)[1:]
        previous = node
        for replica in replicas:
            writes.append(rt.spawn(self.replicate(previous, replica, nbytes, f"{job.name}/part-{r:05d}.a{aid}")))
            previous = replica
        yield rt.all_of(writes)

    def replicate(self, src: Any, dst: Any, nbytes: float, file: str) -> Generator[Any, Any, None]:
        rt = self.rt
        for _ in range(REPLICA_RETRIES):
            try:
                yield rt.all_of([rt.transfer(src, dst, nbytes), rt.write(dst, nbytes, "seq")])
                self.sys.shuffle.io(dst, nbytes)
                return
            except (NodeDown, Unreachable):
                if not src.alive:
                    raise
                dst = self.sys.output_placement.replicas(2, first=src)[1]
        raise NodeDown(f"could not place a replica of {file}")
