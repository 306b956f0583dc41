"""The block manager alone: RAM budget, LRU eviction, storage levels, node loss."""

from __future__ import annotations

from types import SimpleNamespace

from omegaconf import OmegaConf

from plugins.batch.spark.cache import MIB, BlockManager
from plugins.batch.spark.rdd import Part


def _node(nid: int, ram_mib: float = 11.0) -> SimpleNamespace:
    profile = OmegaConf.create({"memory": {"ram_mib": ram_mib, "os_reserved_mib": 1.0}})
    return SimpleNamespace(id=nid, alive=True, profile=profile, name=f"n{nid}")


def _bm(nodes: list) -> BlockManager:
    return BlockManager(rt=None, nodes=nodes, storage_fraction=0.5, expansion=1.0)  # 5 MiB per node


def _part(mib: float) -> Part:
    return Part(None, 1, mib * MIB)


def test_lru_eviction_of_other_rdds() -> None:
    node = _node(0)
    bm = _bm([node])
    bm.put(node, (0, 0), _part(2), "MEMORY_ONLY")
    bm.put(node, (0, 1), _part(2), "MEMORY_ONLY")
    assert bm.get(node, (0, 0)) is not None  # touch: (0, 1) is now least recently used
    size, evicted, _ = bm.put(node, (1, 0), _part(2), "MEMORY_ONLY")
    assert size == 2 * MIB and [k for k, _ in evicted] == [(0, 1)]
    assert bm.get(node, (0, 1)) is None and bm.get(node, (0, 0)) is not None


def test_same_rdd_is_not_evicted_and_memory_and_disk_spills() -> None:
    node = _node(0)
    bm = _bm([node])
    for p in range(2):
        bm.put(node, (0, p), _part(2), "MEMORY_ONLY")
    size, evicted, disk = bm.put(node, (0, 2), _part(2), "MEMORY_ONLY")
    assert size == 0 and not evicted and disk == 0 and bm.get(node, (0, 2)) is None
    size, evicted, disk = bm.put(node, (5, 0), _part(2), "MEMORY_AND_DISK")
    # evicts an LRU block of rdd 0 (MEMORY_ONLY: dropped, not spilled) and stores in memory
    assert size == 2 * MIB and len(evicted) == 1 and disk == 0
    size, evicted, disk = bm.put(node, (6, 0), _part(9), "MEMORY_AND_DISK")  # bigger than RAM: to disk
    assert size == 0 and disk == 9 * MIB and bm.get(node, (6, 0))[0] == "disk"
    _, _, disk = bm.put(node, (7, 0), _part(1), "DISK_ONLY")
    assert disk == 1 * MIB


def test_node_loss_marks_blocks_lost() -> None:
    a, b = _node(0), _node(1)
    bm = _bm([a, b])
    bm.put(a, (0, 0), _part(1), "MEMORY_ONLY")
    bm.put(b, (0, 1), _part(1), "MEMORY_ONLY")
    a.alive = False
    bm.node_lost(a)
    assert bm.lost == {(0, 0)}
    assert bm.locations((0, 1)) == [b] and bm.locations((0, 0)) == []
