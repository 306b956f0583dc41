"""Merkle trees over a key range (Dynamo section 4.7). Pure.

A replica hashes each key's versions into a leaf chosen by the key's position; an inner
node's hash mixes its two children's. Two replicas compare roots and descend only where
hashes differ, so equal ranges cost one hash each way and a few differing keys cost a
path of hashes plus those keys. Hashes are XOR-combined 64-bit mixes (position, version
dots): deterministic in every process, never Python's salted ``hash()``.
"""

from __future__ import annotations

from typing import Iterable

from plugins.storage.dynamo.versions import Version

MASK = (1 << 64) - 1
HASH_BYTES = 16  # an MD5 digest per tree node on the wire
GOLDEN = 0x9E3779B97F4A7C15
MIX = 0xC2B2AE3D27D4EB4F


def key_digest(position: int, versions: Iterable[Version]) -> int:
    h = position
    for v in versions:
        h ^= ((v.coord + 1) * GOLDEN + v.counter * MIX) & MASK
    return h


def leaves(digests: dict[int, int], positions: list[int], depth: int) -> dict[int, int]:
    """Leaf hashes: XOR of the digests of the keys in each of the 2^depth buckets."""
    mask = (1 << depth) - 1
    out: dict[int, int] = {}
    for key, digest in digests.items():
        bucket = positions[key] & mask
        out[bucket] = out.get(bucket, 0) ^ digest
    return out


def diff(a: dict[int, int], b: dict[int, int], depth: int) -> tuple[list[int], int]:
    """Leaves whose hashes differ, found top-down; and how many tree nodes were compared."""
    levels_a, levels_b = _levels(a, depth), _levels(b, depth)
    compared = 0
    frontier = [0]
    for level in range(depth + 1):
        nxt = []
        la, lb = levels_a[level], levels_b[level]
        for index in frontier:
            compared += 1
            if la.get(index, 0) != lb.get(index, 0):
                nxt.append(index)
        if level == depth:
            return nxt, compared
        frontier = [child for index in nxt for child in (2 * index, 2 * index + 1)]
        if not frontier:
            return [], compared
    return [], compared


def _levels(leaf_hashes: dict[int, int], depth: int) -> list[dict[int, int]]:
    """Hashes of every level, root (level 0) to leaves (level depth)."""
    levels = [leaf_hashes]
    for _ in range(depth):
        child = levels[-1]
        parent: dict[int, int] = {}
        for index in {i >> 1 for i in child}:
            left, right = child.get(2 * index, 0), child.get(2 * index + 1, 0)
            parent[index] = ((left * GOLDEN) ^ (right * MIX) ^ (left >> 29) ^ (right >> 31)) & MASK
        levels.append(parent)
    levels.reverse()
    return levels
