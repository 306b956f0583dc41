"""The dataflow engine on the simulated cluster: operator instances, queues, network senders.

* An **instance** is one single-threaded task of an operator on a node, with a bounded
  input queue (``queue_kib``, Flink's network buffers per input): a record that finds the
  queue full is **dropped and counted**. The task takes a micro-batch (at most
  ``max_batch_s`` of service time), charges its CPU on the node, then handles each record.
* A **sender** is the connection from one node to another: records for remote instances
  are buffered (bounded the same way: full means dropped) and shipped as one transfer
  when ``flush_s`` has passed since the first one was buffered (Flink's buffer timeout),
  one transfer at a time, through the simulated LAN/WAN.
* Routing: a keyed operator (window, join) gets a record by its key; a stateless one
  round-robin over its instances on the sending node if it has any there (chaining),
  else over all of them (Flink's rebalance).

Crashes kill a node's instances and senders with their queued records (counted as lost
by the final accounting); recovery restarts them empty.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

from harness.api import NodeDown, Unreachable
from plugins.edge.streams.operators import JoinState, Record, WindowState


@dataclass
class Tally:
    """Where every source reading ended (weights), and what was dropped where."""

    emitted: float = 0.0
    filtered: float = 0.0
    delivered: float = 0.0
    dropped: float = 0.0
    dropped_at: dict[str, float] = field(default_factory=dict)  # records dropped: operator queue or link
    alerts: int = 0


class Group:
    """All instances of one operator for one branch (or the join, or the sink)."""

    def __init__(self, name: str, branch: int, site: str, cpu_s: float, keyed: bool, record_bytes: float,
                 handle: Callable[["Instance", Record], None]) -> None:
        self.name = name
        self.branch = branch
        self.site = site
        self.cpu_s = cpu_s  # reference-core seconds per record
        self.keyed = keyed
        self.record_bytes = record_bytes  # size of the records this group receives
        self.handle = handle
        self.instances: list[Instance] = []
        self.planned = 0  # instances the placement asked for (rescaling never goes below)
        self.peak = 0
        self.starting = False  # a rescaled instance is on its way
        self._turn = 0
        self._layout: tuple[int, ...] | None = None

    def active(self) -> list["Instance"]:
        return [i for i in self.instances if i.active]

    def layout(self) -> tuple[int, ...]:
        """Node ids of the active instances, sorted (what forwarding must match)."""
        if self._layout is None:
            self._layout = tuple(sorted(i.node.id for i in self.instances if i.active))
        return self._layout

    def changed(self) -> None:
        """An instance was added or retired."""
        self._layout = None
        self.peak = max(self.peak, len(self.active()))

    def pick(self, src: Any, record: Record, upstream: tuple[int, ...]) -> "Instance | None":
        """Keyed: by key. Stateless: forward to the instance on the sending node when the two
        operators are laid out one-to-one on the same nodes (Flink chains them), else
        round-robin over every instance (Flink's rebalance)."""
        if self.keyed:
            return self.instances[record.key % len(self.instances)] if self.instances else None
        active = self.active()
        if not active:
            return None
        if upstream == self.layout() and len(set(upstream)) == len(upstream):
            return next(i for i in active if i.node is src)
        self._turn += 1
        return active[self._turn % len(active)]


class Instance:
    def __init__(self, engine: "Engine", group: Group, node: Any, capacity: int) -> None:
        self.engine = engine
        self.group = group
        self.node = node
        self.capacity = capacity
        self.queue: deque[Record] = deque()
        self.active = True  # receives records (False: retiring after a scale-down)
        self.busy = False
        self.busy_s = 0.0  # time spent on micro-batches (incl. waiting for a core): the rescaler's input
        self.wake: Any = None
        self.state: WindowState | JoinState | None = None
        self.ticker: Callable[[Instance], Generator[Any, Any, None]] | None = None  # periodic firing

    def offer(self, record: Record) -> None:
        if not self.node.alive:
            return  # lost with the node: the final accounting counts it
        if len(self.queue) >= self.capacity:
            self.engine.drop(record, self.group.name)
            return
        self.queue.append(record)
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def fill(self) -> float:
        return len(self.queue) / self.capacity

    def idle(self) -> bool:
        return not self.node.alive or (not self.queue and not self.busy and not (self.state and len(self.state)))

    def start(self) -> None:
        rt = self.engine.rt
        self.queue.clear()
        self.busy = False
        self.wake = None
        rt.spawn(self._work(), node=self.node)
        if self.ticker is not None:
            rt.spawn(self.ticker(self), node=self.node)

    def _work(self) -> Generator[Any, Any, None]:
        rt = self.engine.rt
        budget = self.engine.max_batch_s * self.node.speed  # reference seconds per micro-batch
        while True:
            if not self.queue:
                if not self.active:
                    return  # retired and drained
                self.wake = rt.event()
                yield self.wake
                continue
            batch = [self.queue.popleft()]
            while self.queue and (len(batch) + 1) * self.group.cpu_s <= budget:
                batch.append(self.queue.popleft())
            self.busy = True
            began = rt.now
            try:
                if self.group.cpu_s > 0:
                    yield rt.compute(self.node, self.group.cpu_s * len(batch))
            except NodeDown:
                return
            finally:
                self.busy = False
                self.busy_s += rt.now - began
            for record in batch:
                self.group.handle(self, record)


class Sender:
    """One node's connection to another: buffered records shipped in batches."""

    def __init__(self, engine: "Engine", src: Any, dst: Any) -> None:
        self.engine = engine
        self.src = src
        self.dst = dst
        self.buffer: list[tuple[Instance, Record, float]] = []
        self.bytes = 0.0
        self.first_at = 0.0
        self.sending = False
        self.wake: Any = None

    def push(self, target: Instance, record: Record, nbytes: float) -> None:
        if self.bytes + nbytes > self.engine.buffer_bytes:
            self.engine.drop(record, "wan_send" if self.src.site != self.dst.site else "lan_send")
            return
        if not self.buffer:
            self.first_at = self.engine.rt.now
        self.buffer.append((target, record, nbytes))
        self.bytes += nbytes
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def idle(self) -> bool:
        return not self.src.alive or (not self.buffer and not self.sending)

    def start(self) -> None:
        self.buffer, self.bytes, self.sending, self.wake = [], 0.0, False, None
        self.engine.rt.spawn(self._run(), node=self.src)

    def _run(self) -> Generator[Any, Any, None]:
        rt, engine = self.engine.rt, self.engine
        while True:
            if not self.buffer:
                self.wake = rt.event()
                yield self.wake
                continue
            if self.bytes < engine.batch_bytes:
                yield rt.sleep(self.first_at + engine.flush_s - rt.now)
            batch, nbytes = self.buffer, self.bytes
            self.buffer, self.bytes = [], 0.0
            self.sending = True
            try:
                yield rt.transfer(self.src, self.dst, nbytes)
            except (NodeDown, Unreachable):
                if not self.src.alive:
                    return
                continue  # the batch is lost (counted by the final accounting)
            finally:
                self.sending = False
            for target, record, _ in batch:
                target.offer(record)


class Engine:
    """Owns groups, instances and senders; routes records between them."""

    def __init__(self, rt: Any, queue_kib: float, flush_s: float, batch_kib: float, max_batch_s: float) -> None:
        self.rt = rt
        self.queue_bytes = queue_kib * 1024
        self.buffer_bytes = queue_kib * 1024
        self.flush_s = flush_s
        self.batch_bytes = batch_kib * 1024
        self.max_batch_s = max_batch_s
        self.groups: list[Group] = []
        self.senders: dict[tuple[int, int], Sender] = {}
        self.tally = Tally()
        self.nodes_used: set[int] = set()

    def add_instance(self, group: Group, node: Any, setup: Callable[[Instance], None] | None = None) -> Instance:
        capacity = max(1, int(self.queue_bytes // max(group.record_bytes, 1.0)))
        instance = Instance(self, group, node, capacity)
        if setup is not None:
            setup(instance)  # state and ticker, before the first start
        group.instances.append(instance)
        group.changed()
        self.nodes_used.add(node.id)
        if node.alive:
            instance.start()
        return instance

    def route(self, src: Any, group: Group, record: Record, upstream: tuple[int, ...] = (),
              nbytes: float | None = None) -> None:
        """Deliver ``record`` from node ``src`` to ``group``; ``upstream``: the sender's layout;
        ``nbytes``: the record's size when it is not the group's usual input."""
        target = group.pick(src, record, upstream)
        if target is None:
            self.drop(record, group.name)
            return
        if target.node is src:
            target.offer(record)
            return
        self._sender(src, target.node).push(target, record, group.record_bytes if nbytes is None else nbytes)

    def _sender(self, src: Any, dst: Any) -> Sender:
        key = (src.id, dst.id)
        sender = self.senders.get(key)
        if sender is None:
            sender = self.senders[key] = Sender(self, src, dst)
            if src.alive:
                sender.start()
        return sender

    def drop(self, record: Record, where: str) -> None:
        self.tally.dropped += record.weight
        self.tally.dropped_at[where] = self.tally.dropped_at.get(where, 0.0) + 1

    def idle(self) -> bool:
        return all(i.idle() for g in self.groups for i in g.instances) and all(s.idle() for s in self.senders.values())

    def restart_on(self, node: Any) -> None:
        """A crashed node is back: its instances and connections start again, empty."""
        for group in self.groups:
            for instance in group.instances:
                if instance.node is node and instance.active:
                    if instance.state is not None:
                        instance.state.cells.clear()  # operator state was in the lost RAM
                    instance.start()
        for sender in self.senders.values():
            if sender.src is node:
                sender.start()
