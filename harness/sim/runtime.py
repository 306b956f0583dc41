"""The runtime API: how a system plugin's processes use the (simulated) cluster.

Every operation returns a SimPy event to ``yield``: compute, disk read/write, memory,
bulk transfer, message receive, sleep. Plugins see faults only as a real system would:
an operation on a crashed node raises ``NodeDown``, a transfer across a partition raises
``Unreachable``, a checksum-verified read of a corrupted block raises ``CorruptBlock``,
and messages to dead or cut-off nodes are silently lost. A live runtime can implement
the same methods with real processes.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Generator, Iterable

import simpy

from harness.metrics.recorder import Recorder
from harness.sim.cluster import Node, Topology, memory_spec
from harness.sim.kernel import Kernel
from harness.sim.models.disk import disk_cost
from harness.sim.models.memory import MemoryEffect, MemoryModel
from harness.sim.network import NetworkDriver
from harness.sim.writeback import WriteBack

DEFAULT_MESSAGE_BYTES = 256
SWAP_READ_BYTES = 32 * 1024  # swap readahead: 2**vm.page-cluster (3) pages of 4 KiB


class NodeDown(Exception):
    """The node an operation needed has crashed (or crashed during it)."""


class Unreachable(Exception):
    """A network partition separates the two nodes."""


class CorruptBlock(Exception):
    """A checksum-verified read found the stored block corrupted."""


class MissingBlock(Exception):
    """The file is not stored on that node."""


class OutOfMemory(Exception):
    """An allocation does not fit in RAM plus swap."""


class _Crash:
    """Interrupt cause delivered to processes on a node that crashes."""

    def __init__(self, node: Node) -> None:
        self.node = node


class Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Runtime:
    """Handed to every system; the only door between plugin logic and the cluster."""

    def __init__(
        self, kernel: Kernel, nodes: list[Node], topology: Topology, recorder: Recorder, network_quantum_s: float = 0.0
    ) -> None:
        self.kernel = kernel
        self.env = kernel.env
        self.nodes = nodes
        self.topology = topology
        self.recorder = recorder
        self.net = NetworkDriver(self.env, topology.links, network_quantum_s)
        self._seq = itertools.count()
        self._mailboxes: dict[tuple[int, str], simpy.Store] = {}
        self._partitions: list[tuple[frozenset[int], frozenset[int] | None]] = []
        self._transfers: dict[int, tuple[Node, Node, simpy.Process]] = {}
        self.recover_listeners: list[Callable[[Node], None]] = []
        self._writebacks: dict[int, WriteBack] = {}

    # -- time, randomness, processes ------------------------------------------------
    @property
    def now(self) -> float:
        return self.env.now

    def rng(self, name: str) -> Any:
        """A ``random.Random`` stream named ``name``, independent of every other stream."""
        return self.kernel.rng.child(name).random()

    def np_rng(self, name: str) -> Any:
        return self.kernel.rng.child(name).numpy()

    def sleep(self, seconds: float) -> simpy.Event:
        return self.env.timeout(max(0.0, seconds))

    def event(self) -> simpy.Event:
        return self.env.event()

    def all_of(self, events: Iterable[simpy.Event]) -> simpy.Event:
        return _defused(self.env.all_of(list(events)))

    def any_of(self, events: Iterable[simpy.Event]) -> simpy.Event:
        return _defused(self.env.any_of(list(events)))

    def spawn(self, body: Generator[Any, Any, Any], node: Node | None = None) -> simpy.Process:
        """Start a process; one bound to ``node`` dies quietly when that node crashes."""
        if node is None:
            return self.env.process(body)
        if not node.alive:
            raise NodeDown(node.name)
        return self._bind(self.env.process(_quiet_on_crash(body)), (node,))

    def timer(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()

        def fire(_event: simpy.Event) -> None:
            if not timer.cancelled:
                callback()

        self.env.timeout(max(0.0, delay)).callbacks.append(fire)
        return timer

    # -- CPU ------------------------------------------------------------------------
    def compute(self, node: Node, ref_seconds: float, threads: int = 1) -> simpy.Process:
        """Run ``ref_seconds`` of reference-core work on ``node``, split over ``threads``."""
        return self._op(self._compute(node, ref_seconds, max(1, int(threads))), (node,))

    def _compute(self, node: Node, ref_seconds: float, threads: int) -> Generator[Any, Any, None]:
        self._require(node)
        if threads == 1:
            yield from self._core(node, ref_seconds)
            return
        share = ref_seconds / threads
        yield self.env.all_of([self.env.process(self._core(node, share)) for _ in range(threads)])

    def _core(self, node: Node, ref_seconds: float) -> Generator[Any, Any, None]:
        with node.cpu.request() as slot:
            yield slot
            busy = ref_seconds / node.speed * node.cpu_slow
            node.stats.cpu_busy_core_s += busy
            yield self.env.timeout(busy)

    # -- disk and memory ------------------------------------------------------------
    def place(self, node: Node, file: str, nbytes: float) -> None:
        """Put data on a node's disk at set-up time (input data that exists before the run)."""
        node.files[file] = float(nbytes)

    def stored(self, node: Node, file: str) -> bool:
        return file in node.files

    def read(
        self,
        node: Node,
        nbytes: float,
        pattern: str = "seq",
        file: str | None = None,
        offset: float = 0.0,
        verify: bool = False,
    ) -> simpy.Process:
        """Read from disk, through the page cache when ``file`` is named.

        ``verify`` checks the block's checksum: a corrupted block raises ``CorruptBlock``;
        without it, corrupted data is returned silently (and counted).
        """
        return self._op(self._read(node, nbytes, pattern, file, offset, verify), (node,))

    def _read(
        self, node: Node, nbytes: float, pattern: str, file: str | None, offset: float, verify: bool
    ) -> Generator[Any, Any, float]:
        self._require(node)
        if file is None:
            yield from self._disk(node, "read", nbytes, pattern)
            return nbytes
        if file not in node.files:
            raise MissingBlock(f"{file} on {node.name}")
        effect = node.memory.read_file(file, offset, nbytes)
        yield from self._apply_memory_effect(node, effect, pattern)
        if file in node.corrupted:
            if verify:
                self.recorder.count("corrupt_reads_detected")
                raise CorruptBlock(f"{file} on {node.name}")
            self.recorder.count("corrupt_reads_undetected")
        return nbytes

    def write(
        self,
        node: Node,
        nbytes: float,
        pattern: str = "seq",
        file: str | None = None,
        offset: float = 0.0,
        buffered: bool = False,
    ) -> simpy.Process:
        """Write to disk; the data stays in the page cache when ``file`` is named.

        By default the write is synchronous (``O_SYNC``, or a write followed by ``fsync``): it
        ends when the disk has it. ``buffered=True`` is a plain ``write(2)``: it ends once the
        data is dirty in the page cache, unless the node's dirty limit holds it, and the
        node's flusher writes it out later (harness/sim/writeback.py)."""
        return self._op(self._write(node, nbytes, pattern, file, offset, buffered), (node,))

    def _write(
        self, node: Node, nbytes: float, pattern: str, file: str | None, offset: float, buffered: bool
    ) -> Generator[Any, Any, None]:
        self._require(node)
        if file is not None:
            effect = node.memory.write_file(file, offset, nbytes)
            yield from self._apply_memory_effect(node, effect, "seq")
        writeback = self._writeback(node) if buffered else None
        if writeback is None:
            yield from self._disk(node, "write", nbytes, pattern)
        elif nbytes > 0:
            yield from writeback.write(file, nbytes, pattern)
        if file is not None:
            stored = node.files.get(file, 0.0)
            if offset <= 0 and nbytes >= stored:
                node.corrupted.discard(file)  # a whole rewrite replaces the bad bytes; an append keeps them
            node.files[file] = max(stored, offset + nbytes)

    def sync(self, node: Node) -> simpy.Process:
        """``sync(2)``: ends when every buffered write of the node has reached its disk."""
        return self._op(self._sync(node), (node,))

    def _sync(self, node: Node) -> Generator[Any, Any, None]:
        self._require(node)
        writeback = self._writebacks.get(node.id)
        if writeback is not None:
            yield from writeback.sync()

    def delete(self, node: Node, file: str) -> None:
        writeback = self._writebacks.get(node.id)
        if writeback is not None:
            node.stats.write_dropped_bytes += writeback.drop(file)
        node.files.pop(file, None)
        node.corrupted.discard(file)
        node.memory.drop_file(file)

    def alloc(self, node: Node, owner: str, nbytes: float, hot_fraction: float = 1.0) -> simpy.Process:
        """Allocate anonymous memory; reclaim may swap or drop page cache (per swappiness)."""
        return self._op(self._memory_op(node, lambda: node.memory.alloc(owner, nbytes, hot_fraction)), (node,))

    def touch(self, node: Node, owner: str) -> simpy.Process:
        """The owner's hot pages are used: any that were swapped out come back in."""
        return self._op(self._memory_op(node, lambda: node.memory.touch(owner)), (node,))

    def free(self, node: Node, owner: str, nbytes: float | None = None) -> None:
        node.memory.free(owner, nbytes)

    def _memory_op(self, node: Node, change: Callable[[], MemoryEffect]) -> Generator[Any, Any, None]:
        self._require(node)
        effect = change()
        if effect.oom:
            raise OutOfMemory(f"{node.name}: allocation exceeds RAM + swap")
        yield from self._apply_memory_effect(node, effect, "rand")

    def _apply_memory_effect(self, node: Node, effect: MemoryEffect, pattern: str) -> Generator[Any, Any, None]:
        if effect.swap_out_bytes > 0:
            # Swapping out is write-back by kswapd: it occupies the disk but nobody waits on it.
            # Linux writes swap in contiguous clusters: sequential for the device.
            node.stats.swap_out_bytes += effect.swap_out_bytes
            self.env.process(_ignore_crash(self._disk(node, "write", effect.swap_out_bytes, "seq")))
        if effect.swap_in_bytes > 0:
            # ...and reads it back with readahead of 8 pages (vm.page-cluster = 3): 32 KiB requests.
            node.stats.swap_in_bytes += effect.swap_in_bytes
            yield from self._disk(node, "read", effect.swap_in_bytes, "rand", SWAP_READ_BYTES)
        if effect.disk_read_bytes > 0:
            yield from self._disk(node, "read", effect.disk_read_bytes, pattern)

    def _writeback(self, node: Node) -> WriteBack | None:
        """The node's dirty data and flusher, made on the first buffered write."""
        writeback = self._writebacks.get(node.id)
        spec = node.memory.spec
        if writeback is None and spec.dirty_ratio > 0:
            writeback = WriteBack(
                self.env,
                spawn=lambda body: self._bind(self.env.process(_ignore_crash(body)), (node,)),
                write_out=lambda nbytes, pattern: self._disk(node, "write", nbytes, pattern),
                dirtyable=lambda: node.memory.free_bytes + node.memory.cache_bytes,
                ratio=spec.dirty_ratio,
                background_ratio=spec.dirty_background_ratio,
                expire_s=spec.dirty_expire_s,
            )
            self._writebacks[node.id] = writeback
        return writeback

    def _disk(
        self, node: Node, op: str, nbytes: float, pattern: str, request_bytes: float | None = None
    ) -> Generator[Any, Any, None]:
        if nbytes <= 0:
            return
        cost = disk_cost(node.disk_spec, op, nbytes, pattern, request_bytes)
        with node.disks.request() as slot:
            yield slot
            seconds = cost.seconds * node.disk_slow
            node.stats.disk_busy_s += seconds
            node.stats.disk_read_bytes += nbytes if op == "read" else 0.0
            node.stats.disk_write_bytes += nbytes if op == "write" else 0.0
            node.stats.device_write_bytes += cost.device_write_bytes
            yield self.env.timeout(seconds)

    # -- network --------------------------------------------------------------------
    def transfer(self, src: Node, dst: Node, nbytes: float) -> simpy.Process:
        """Move ``nbytes`` from ``src`` to ``dst`` as one flow sharing links max-min fairly."""
        return self._op(self._transfer(src, dst, nbytes), (src, dst))

    def _transfer(self, src: Node, dst: Node, nbytes: float) -> Generator[Any, Any, float]:
        self._require(src)
        self._require(dst)
        if not self.reachable(src, dst):
            raise Unreachable(f"{src.name} -> {dst.name}")
        start = self.env.now
        latency = self.topology.one_way_latency_s(src, dst)
        if latency > 0:
            yield self.env.timeout(latency)
        if src.id != dst.id and nbytes > 0:
            flow, done = self.net.start(self.topology.path(src, dst), nbytes)
            key = next(self._seq)
            self._transfers[key] = (src, dst, self.env.active_process)
            try:
                yield done
            except BaseException:
                self.net.cancel(flow)
                raise
            finally:
                self._transfers.pop(key, None)
            src.stats.net_sent_bytes += nbytes
            dst.stats.net_recv_bytes += nbytes
            self.recorder.add("bytes_network", nbytes, "B")
        return self.env.now - start

    def send(self, src: Node, dst: Node, message: Any, nbytes: float = DEFAULT_MESSAGE_BYTES, port: str = "rpc") -> None:
        """Send a small message; lost if ``dst`` is down or cut off when it arrives.

        Small messages pay latency plus serialisation at the slower NIC and do not enter
        the flow model (see docs/models.md).
        """
        if not src.alive:
            return
        self.recorder.count("messages_sent")
        delay = self._message_delay(src, dst, nbytes)
        self.env.timeout(delay).callbacks.append(lambda _e: self._deliver(src, dst, port, message))

    def ask(
        self, src: Node, dst: Node, answer: Callable[[], Any], on_reply: Callable[[Any], None],
        nbytes: float = DEFAULT_MESSAGE_BYTES,
    ) -> None:
        """A request that ``dst`` answers inline (a ping, a status query served without
        queueing): ``answer()`` runs when the request arrives and ``on_reply(value)`` when
        the reply gets back, each message timed as ``send`` times it. Either is lost,
        silently, if its receiver is down or cut off on arrival; an ``answer`` of None sends
        no reply. Two timed events in all, where a send and a reply through mailboxes cost
        about eight: heartbeats at the scale of thousands of nodes stay cheap.
        """
        if not src.alive:
            return
        self.recorder.count("messages_sent")
        delay = self._message_delay(src, dst, nbytes)

        def arrive(_e: simpy.Event) -> None:
            if not (dst.alive and self.reachable(src, dst)):
                self.recorder.count("messages_lost")
                return
            reply = answer()
            if reply is None:
                return
            self.recorder.count("messages_sent")
            self.env.timeout(delay).callbacks.append(lambda _e: back(reply))

        def back(reply: Any) -> None:
            if src.alive and self.reachable(dst, src):
                on_reply(reply)
            else:
                self.recorder.count("messages_lost")

        self.env.timeout(delay).callbacks.append(arrive)

    def _message_delay(self, src: Node, dst: Node, nbytes: float) -> float:
        """Latency plus serialisation at the slower NIC (small messages skip the flow model)."""
        return self.topology.one_way_latency_s(src, dst) + nbytes / min(src.nic_Bps, dst.nic_Bps)

    def _deliver(self, src: Node, dst: Node, port: str, message: Any) -> None:
        if dst.alive and self.reachable(src, dst):
            self.mailbox(dst, port).put(message)
        else:
            self.recorder.count("messages_lost")

    def recv(self, node: Node, port: str = "rpc") -> simpy.Event:
        """An event whose value is the next message to ``node`` on ``port``."""
        return self.mailbox(node, port).get()

    def mailbox(self, node: Node, port: str) -> simpy.Store:
        key = (node.id, port)
        if key not in self._mailboxes:
            self._mailboxes[key] = simpy.Store(self.env)
        return self._mailboxes[key]

    def reachable(self, a: Node, b: Node) -> bool:
        for side, other in self._partitions:
            a_in, b_in = a.id in side, b.id in side
            if other is None and a_in != b_in:
                return False
            if other is not None and ((a_in and b.id in other) or (b_in and a.id in other)):
                return False
        return True

    # -- faults (called by the fault injector, never by plugins) ----------------------
    def crash(self, node: Node) -> None:
        if not node.alive:
            return
        node.alive = False
        node.down_since = self.env.now
        self.recorder.count("node_crashes")
        for proc in list(node.processes.values()):
            if proc.is_alive:
                proc.interrupt(_Crash(node))
        node.processes.clear()
        for (nid, _port), box in self._mailboxes.items():
            if nid == node.id:
                box.items.clear()
        node.memory = MemoryModel(memory_spec(node.profile))  # RAM and page cache are lost
        writeback = self._writebacks.pop(node.id, None)
        if writeback is not None:  # ...and with them the writes still dirty: those files are damaged
            node.corrupted |= writeback.lose()

    def recover(self, node: Node) -> None:
        if node.alive:
            return
        node.alive = True
        if node.down_since is not None:
            node.stats.down_s += self.env.now - node.down_since
        node.down_since = None
        for listener in self.recover_listeners:
            listener(node)

    def partition(self, side: frozenset[int], other: frozenset[int] | None) -> tuple[Any, ...]:
        cut = (side, other)
        self._partitions.append(cut)
        for src, dst, proc in list(self._transfers.values()):
            if not self.reachable(src, dst) and proc.is_alive:
                proc.interrupt(Unreachable(f"{src.name} -> {dst.name}"))
        return cut

    def heal(self, cut: tuple[Any, ...]) -> None:
        if cut in self._partitions:
            self._partitions.remove(cut)

    # -- plumbing -------------------------------------------------------------------
    def _require(self, node: Node) -> None:
        if not node.alive:
            raise NodeDown(node.name)

    def _op(self, body: Generator[Any, Any, Any], nodes: tuple[Node, ...]) -> simpy.Process:
        proc = self.env.process(_translate_interrupts(body))
        # Nobody may be left waiting (the caller itself may have died): never crash the kernel.
        proc.defused = True
        return self._bind(proc, nodes)

    def _bind(self, proc: simpy.Process, nodes: tuple[Node, ...]) -> simpy.Process:
        seq = next(self._seq)
        for node in nodes:
            node.processes[seq] = proc
        proc.callbacks.append(lambda _e: [n.processes.pop(seq, None) for n in nodes])
        return proc


def _defused(event: simpy.Event) -> simpy.Event:
    """A waiter that dies in a crash leaves its condition unwatched; its failure then
    concerns nobody and must not stop the kernel (a live waiter still receives it)."""
    event.defused = True
    return event


def _translate_interrupts(body: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Turn a crash or partition interrupt into the exception a real system would see."""
    try:
        return (yield from body)
    except simpy.Interrupt as interrupt:
        cause = interrupt.cause
        if isinstance(cause, _Crash):
            raise NodeDown(cause.node.name) from None
        if isinstance(cause, Exception):
            raise cause from None
        raise


def _quiet_on_crash(body: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    try:
        return (yield from body)
    except simpy.Interrupt as interrupt:
        if isinstance(interrupt.cause, _Crash):
            return None
        raise


def _ignore_crash(body: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    try:
        return (yield from body)
    except simpy.Interrupt:
        return None
