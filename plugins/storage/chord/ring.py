"""Chord's identifier circle, sans-I/O: ids, intervals, and the stable ring's tables.

Identifiers are m-bit integers on a circle of 2^m points (Stoica et al., SIGCOMM'01 /
ToN'03, section 4.2). A node's id is SHA-1 of its address truncated to its top m bits;
a key's id is SHA-1 of the key, likewise. Key k belongs to successor(k): the first node
whose id is equal to or follows k clockwise.

``stable_tables`` computes the state the protocol converges to (successor list,
predecessor, fingers) directly from the sorted ids, so a 10,000-node ring can start
without simulating 10,000 joins; a test checks that the join/stabilize/fix-fingers
protocol reaches exactly these tables.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Iterable

SHA1_BITS = 160


def chord_id(name: str, m: int) -> int:
    """SHA-1 of ``name`` truncated to its top ``m`` bits (1 <= m <= 160)."""
    digest = int.from_bytes(hashlib.sha1(name.encode()).digest(), "big")
    return digest >> (SHA1_BITS - m)


def id_prefixes(names: Iterable[str], m: int) -> Any:
    """The ids of many names as a NumPy uint64 array, for counting keys per node.

    For m <= 64 these are the exact ids; for larger m, their top 64 bits (ids whose top
    64 bits tie, probability ~K*N/2^64, may be attributed to the wrong neighbour).
    """
    import numpy as np

    sha1 = hashlib.sha1
    raw = b"".join(sha1(name.encode()).digest()[:8] for name in names)
    top = np.frombuffer(raw, dtype=">u8").astype(np.uint64)
    return top >> np.uint64(64 - m) if m < 64 else top


def id_prefix(node_id: int, m: int) -> int:
    """The same 64-bit view of one id (see ``id_prefixes``)."""
    return node_id >> (m - 64) if m > 64 else node_id


def in_open(x: int, a: int, b: int) -> bool:
    """x in the clockwise open interval (a, b); (a, a) is the whole circle except a."""
    if a < b:
        return a < x < b
    if a > b:
        return x > a or x < b
    return x != a


def in_half_open(x: int, a: int, b: int) -> bool:
    """x in the clockwise interval (a, b]; (a, a] is the whole circle."""
    if a < b:
        return a < x <= b
    if a > b:
        return x > a or x <= b
    return True


def cw_distance(a: int, b: int, size: int) -> int:
    """Clockwise distance from a to b on a circle of ``size`` points."""
    return (b - a) % size


def finger_start(n: int, i: int, m: int) -> int:
    """Start of finger i (0-based) of node n: (n + 2^i) mod 2^m."""
    return (n + (1 << i)) & ((1 << m) - 1)


def successor_of(key: int, sorted_ids: list[int]) -> int:
    """The node responsible for ``key``: the first id >= key, wrapping around."""
    i = bisect_left(sorted_ids, key)
    return sorted_ids[i] if i < len(sorted_ids) else sorted_ids[0]


def default_successor_list_length(nodes: int) -> int:
    """r = 2 log2 N, the ToN'03 failure experiments' choice (r = 20 for N = 1,000)."""
    return max(1, 2 * max(1, (max(2, nodes) - 1).bit_length()))


@dataclass
class Tables:
    """One node's converged routing state."""

    successors: list[int]
    predecessor: int
    fingers: list[int]  # fingers[i] = successor(n + 2^i)


def stable_tables(sorted_ids: list[int], m: int, r: int) -> dict[int, Tables]:
    """The tables every node holds once the ring has stabilized (no joins or failures pending).

    Fingers below the gap to the successor all point at the successor; only the top
    ~log2 N fingers need a search, so building N tables costs O(N log^2 N), not O(N m).
    """
    n_ids = len(sorted_ids)
    tables: dict[int, Tables] = {}
    for pos, node in enumerate(sorted_ids):
        succ = sorted_ids[(pos + 1) % n_ids]
        successors = [sorted_ids[(pos + k) % n_ids] for k in range(1, min(r, n_ids - 1) + 1)] or [node]
        fingers = _fingers(node, succ, sorted_ids, m)
        tables[node] = Tables(successors, sorted_ids[pos - 1], fingers)
    return tables


def _fingers(node: int, succ: int, sorted_ids: list[int], m: int) -> list[int]:
    gap = (succ - node) % (1 << m) or (1 << m)
    covered = min(m, gap.bit_length())  # 2^i <= gap: start n + 2^i falls in (n, succ]
    fingers = [succ] * covered
    for i in range(covered, m):
        fingers.append(successor_of(finger_start(node, i, m), sorted_ids))
    return fingers
