"""Computed round trips: per-node FIFO queues and message delays without SimPy events.

The runtime's ``compute`` is a SimPy resource with one slot per core, FIFO, holding a slot
for ``ref_seconds / speed x cpu_slow``; ``send`` delivers a small message after the
one-way latency plus its bytes at the slower NIC. The request path of a key-value store
makes several of these per operation, so at a million operations it computes the same
quantities directly: each node keeps the instants its cores and disks become free (a
heap), a job starts at ``max(arrival, earliest free)`` and holds that slot for its service
time. Busy time and bytes are charged to the node's statistics at the end of the run, so
cost and energy see them as they see the runtime's own operations.

Two simplifications, both bounded by one request's duration (milliseconds): jobs join a
node's queue in the order their requests were *issued*, not the order they arrive (a job
from a farther coordinator may overtake by the latency difference); and the fault state
(alive, reachable, slow factor) is read when a request is issued, so a fault that lands
while a round trip is in flight takes effect from the next request on.
"""

from __future__ import annotations

from heapq import heapreplace
from itertools import chain, repeat
from typing import Any, Callable, Iterator, Sequence

from harness.sim.cluster import memory_spec
from harness.sim.models.disk import disk_cost


class ServiceQueues:
    """CPU cores and disks of every node as analytic FIFO multi-server queues.

    CPU service times are the mean cost times an exponential factor (mean 1) when
    ``rng`` is given (M/M/c-style variability), or exactly the mean without it.
    """

    BATCH = 1 << 16  # exponential factors drawn at a time

    def __init__(self, nodes: Sequence[Any], rng: Any = None) -> None:
        self.nodes = nodes
        self.rng = rng
        # Every CPU job takes the next factor, in the order jobs are served: an endless
        # stream (constant service times multiply by exactly 1.0, which changes no value).
        self.factors: Iterator[float] = repeat(1.0) if rng is None else chain.from_iterable(
            iter(lambda: rng.exponential(1.0, self.BATCH).tolist(), None))
        self.cpu_free = [[0.0] * n.cores for n in nodes]
        self.disk_free = [[0.0] * int(n.disks.capacity) for n in nodes]
        self.inverse_speed = [1.0 / n.speed for n in nodes]
        self.cpu_busy = [0.0] * len(nodes)
        self.disk_busy = [0.0] * len(nodes)
        self.disk_read = [0.0] * len(nodes)
        self.disk_written = [0.0] * len(nodes)
        self.device_written = [0.0] * len(nodes)

    def cpu(self, node: int, arrive: float, ref_seconds: float) -> float:
        """Run ``ref_seconds`` of reference-core work arriving at ``arrive``: when it ends."""
        seconds = ref_seconds * self.inverse_speed[node] * self.nodes[node].cpu_slow * next(self.factors)
        free = self.cpu_free[node]
        first = free[0]
        end = (first if first > arrive else arrive) + seconds
        heapreplace(free, end)
        self.cpu_busy[node] += seconds
        return end

    def disk(self, node: int, arrive: float, seconds: float, read_bytes: float, write_bytes: float,
             device_bytes: float) -> float:
        seconds *= self.nodes[node].disk_slow
        free = self.disk_free[node]
        start = free[0] if free[0] > arrive else arrive
        end = start + seconds
        heapreplace(free, end)
        self.disk_busy[node] += seconds
        self.disk_read[node] += read_bytes
        self.disk_written[node] += write_bytes
        self.device_written[node] += device_bytes
        return end

    def set_append(self, seconds: list[float], record_bytes: float, device_bytes: list[float]) -> None:
        """The cost of the store's log append on each node (see ``append``)."""
        self.append_s, self.append_bytes, self.append_device = seconds, record_bytes, device_bytes

    def append(self, node: int, arrive: float) -> float:
        """One record appended to ``node``'s log: ``disk`` for the hot path of every replica write."""
        seconds = self.append_s[node] * self.nodes[node].disk_slow
        free = self.disk_free[node]
        first = free[0]
        end = (first if first > arrive else arrive) + seconds
        heapreplace(free, end)
        self.disk_busy[node] += seconds
        self.disk_written[node] += self.append_bytes
        self.device_written[node] += self.append_device[node]
        return end

    def charge_nodes(self) -> None:
        """Add the queues' busy time and bytes to the nodes' statistics (once, at the end)."""
        for i, node in enumerate(self.nodes):
            s = node.stats
            s.cpu_busy_core_s += self.cpu_busy[i]
            s.disk_busy_s += self.disk_busy[i]
            s.disk_read_bytes += self.disk_read[i]
            s.disk_write_bytes += self.disk_written[i]
            s.device_write_bytes += self.device_written[i]


class Delays:
    """One-way message delays between nodes: latency + bytes at the slower NIC (as ``rt.send``)."""

    def __init__(self, nodes: Sequence[Any], topology: Any) -> None:
        self.latency = [[topology.one_way_latency_s(a, b) for b in nodes] for a in nodes]
        self.per_byte = [[0.0 if a.id == b.id else 1.0 / min(a.nic_Bps, b.nic_Bps) for b in nodes] for a in nodes]


class StorageCosts:
    """Per-node disk service times of the store's two I/O patterns, from the disk model."""

    def __init__(self, node: Any, record_bytes: float, cache_fraction: float, stored_bytes: float) -> None:
        # A replica write appends the record to the store's log (a sequential write).
        append = disk_cost(node.disk_spec, "write", record_bytes, "seq")
        self.append_s = append.seconds
        self.append_device_bytes = append.device_write_bytes
        # A read the page cache misses is one random read of the record.
        self.miss_read_s = disk_cost(node.disk_spec, "read", record_bytes, "rand", record_bytes).seconds
        spec = memory_spec(node.profile)
        cache = max(0.0, (spec.ram_bytes - spec.os_reserved_bytes) * cache_fraction)
        self.hit_ratio = 1.0 if stored_bytes <= cache else cache / stored_bytes


class FailureDetector:
    """Each node's local view of which peers are down (Dynamo section 4.8.3): a peer that
    did not answer a request is avoided, and "periodically retried" in the background every
    ``retry_s`` (a probe costs clients nothing) until it answers again."""

    def __init__(self, nodes: int, timeout_s: float, retry_s: float, answers: Callable[[int, int], bool]) -> None:
        self.suspects: list[dict[int, tuple[float, float]]] = [{} for _ in range(nodes)]
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.answers = answers  # would ``peer`` answer ``viewer`` now (alive and reachable)?

    def healthy(self, viewer: int, peer: int, at: float) -> bool:
        entry = self.suspects[viewer].get(peer)
        if entry is None or at < entry[0]:
            return True
        if at < entry[1]:
            return False
        if self.answers(viewer, peer):  # the background probe got an answer
            del self.suspects[viewer][peer]
            return True
        periods = int((at - entry[1]) / self.retry_s) + 1
        self.suspects[viewer][peer] = (entry[0], entry[1] + periods * self.retry_s)
        return False

    def no_answer(self, viewer: int, peer: int, sent_at: float) -> None:
        """``viewer``'s request to ``peer`` went unanswered: suspected once the timeout fires."""
        since = sent_at + self.timeout_s
        entry = self.suspects[viewer].get(peer)
        if entry is None or entry[1] < since:
            self.suspects[viewer][peer] = (since, since + self.retry_s)
