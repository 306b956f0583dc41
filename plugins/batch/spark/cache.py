"""The block manager: persisted RDD partitions per executor, bounded by the node's RAM.

Storage levels (NSDI'12 section 5.3 and Spark's StorageLevel):

* ``MEMORY_ONLY``: deserialized objects in memory (``MEMORY_EXPANSION`` x the
  serialized size); a partition that does not fit is not stored and is recomputed from
  lineage when needed again;
* ``MEMORY_AND_DISK``: as above, but partitions that do not fit, or are evicted, are
  written to the executor's local disk and read back (and deserialized) when needed;
* ``DISK_ONLY``: serialized on local disk only.

Memory is bounded per node by ``storage_fraction`` x (RAM - OS reservation) of the node's
hardware profile. When a new block does not fit, the least recently used blocks of
*other* RDDs are evicted (Spark never evicts a block of the RDD it is caching, to avoid
cycling). The bytes are also charged to the node's memory model (``rt.alloc``/``free``)
so swapping and page-cache pressure follow. A crashed node loses all its blocks: they are
remembered as *lost* so the scheduler can count their recomputation from lineage.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

LEVELS = ("MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY")
MIB = float(1 << 20)

Key = tuple[int, int]  # (rdd id, partition)


class BlockManager:
    def __init__(self, rt: Any, nodes: list[Any], storage_fraction: float, expansion: float) -> None:
        self.rt = rt
        self.expansion = expansion
        self.budget: dict[int, float] = {}
        for node in nodes:
            mem = node.profile.memory
            usable = (float(mem.ram_mib) - float(mem.get("os_reserved_mib", 0) or 0)) * MIB
            self.budget[node.id] = max(0.0, storage_fraction * usable)
        self.used: dict[int, float] = {n.id: 0.0 for n in nodes}
        self.memory: dict[int, OrderedDict[Key, tuple[Any, float]]] = {n.id: OrderedDict() for n in nodes}
        self.disk: dict[int, dict[Key, tuple[Any, float]]] = {n.id: {} for n in nodes}
        self.nodes = {n.id: n for n in nodes}
        self.lost: set[Key] = set()
        self.levels: dict[int, str] = {}
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @staticmethod
    def owner(key: Key) -> str:
        return f"spark/rdd_{key[0]}_{key[1]}"

    # -- lookup ---------------------------------------------------------------------------
    def locations(self, key: Key) -> list[Any]:
        out = []
        for nid in sorted(self.memory):
            node = self.nodes[nid]
            if node.alive and (key in self.memory[nid] or key in self.disk[nid]):
                out.append(node)
        return out

    def fully_cached(self, rdd: Any) -> bool:
        return all(self.locations((rdd.id, p)) for p in range(rdd.num_partitions))

    def get(self, node: Any, key: Key) -> Optional[tuple[str, Any, Any, float]]:
        """(where, source node, part, bytes) or None. ``where``: memory | disk | remote-memory | remote-disk."""
        for src in [node] + [n for n in self.locations(key) if n.id != node.id]:
            local = src.id == node.id
            mem = self.memory.get(src.id, {})
            if key in mem:
                mem.move_to_end(key)  # LRU touch
                part, nbytes = mem[key]
                return ("memory" if local else "remote-memory", src, part, nbytes)
            dsk = self.disk.get(src.id, {})
            if key in dsk:
                part, nbytes = dsk[key]
                return ("disk" if local else "remote-disk", src, part, nbytes)
        return None

    # -- store ------------------------------------------------------------------------------
    def put(self, node: Any, key: Key, part: Any, level: str) -> tuple[float, list[tuple[Key, float]], float]:
        """Store a block. Returns (memory bytes to allocate, evicted blocks (key, memory bytes) to
        free, disk bytes to write). Decisions happen now; the caller charges the time."""
        nid = node.id
        if key in self.memory[nid] or key in self.disk[nid]:
            return 0.0, [], 0.0
        self.lost.discard(key)
        self.levels[key[0]] = level
        serialized = float(part.nbytes)
        if level == "DISK_ONLY":
            self.disk[nid][key] = (part, serialized)
            return 0.0, [], serialized
        size = serialized * self.expansion
        evicted: list[tuple[Key, float]] = []
        disk_bytes = 0.0
        if size <= self.budget[nid]:
            mem = self.memory[nid]
            free = self.budget[nid] - self.used[nid]
            victims = []
            if free < size:
                for other, (_, b) in mem.items():  # least recently used first
                    if other[0] == key[0]:
                        continue
                    victims.append((other, b))
                    free += b
                    if free >= size:
                        break
            if free >= size:
                for other, b in victims:
                    opart, _ = mem.pop(other)
                    self.used[nid] -= b
                    self.evictions += 1
                    evicted.append((other, b))
                    if self.level_of(other) == "MEMORY_AND_DISK":
                        self.disk[nid][other] = (opart, float(opart.nbytes))
                        disk_bytes += float(opart.nbytes)
                mem[key] = (part, size)
                self.used[nid] += size
                return size, evicted, disk_bytes
        if level == "MEMORY_AND_DISK":
            self.disk[nid][key] = (part, serialized)
            return 0.0, evicted, disk_bytes + serialized
        return 0.0, evicted, disk_bytes  # MEMORY_ONLY and no room: not cached

    def level_of(self, key: Key) -> Optional[str]:
        return self.levels.get(key[0])

    def drop(self, node: Any, key: Key) -> None:
        """A block whose memory allocation failed (out of memory): forget it."""
        entry = self.memory[node.id].pop(key, None)
        if entry is not None:
            self.used[node.id] -= entry[1]

    def remove_rdd(self, rdd_id: int) -> None:
        for nid in sorted(self.memory):
            for key in [k for k in self.memory[nid] if k[0] == rdd_id]:
                _, b = self.memory[nid].pop(key)
                self.used[nid] -= b
                if self.nodes[nid].alive:
                    self.rt.free(self.nodes[nid], self.owner(key))
            for key in [k for k in self.disk[nid] if k[0] == rdd_id]:
                self.disk[nid].pop(key)

    def node_lost(self, node: Any) -> int:
        """A crashed executor: its memory and local disk blocks are gone (lineage recomputes them)."""
        keys = list(self.memory[node.id]) + [k for k in self.disk[node.id] if k not in self.memory[node.id]]
        for key in keys:
            if not any(key in self.memory[n] or key in self.disk[n] for n in self.memory if n != node.id
                       and self.nodes[n].alive):
                self.lost.add(key)
        self.memory[node.id].clear()
        self.disk[node.id].clear()
        self.used[node.id] = 0.0
        return len(keys)
