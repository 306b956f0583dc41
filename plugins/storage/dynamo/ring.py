"""Consistent hashing with virtual nodes (Dynamo, SOSP 2007, sections 4.2-4.3). Pure.

Each physical node owns ``tokens_per_node`` random positions (tokens) on a 64-bit ring;
a key belongs to the range ending at the first token clockwise from its position, and
its *preference list* is the first N distinct physical nodes met walking clockwise from
there. Positions come from MD5 (as in Dynamo), never from Python's salted ``hash()``, so
placement is the same in every process.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from typing import Iterable, Sequence

import numpy as np

RING_SIZE = 1 << 64


def position(name: str) -> int:
    """A name's place on the ring: the first 8 bytes of its MD5, big-endian."""
    return int.from_bytes(hashlib.md5(name.encode()).digest()[:8], "big")


def key_position(key: int) -> int:
    """Where YCSB record ``key`` lives ("user<n>", as YCSB names records)."""
    return position(f"user{key}")


def token_position(node: int, index: int) -> int:
    return position(f"node-{node}/token-{index}")


class Ring:
    """The token ring of one membership; immutable (a membership change builds a new one)."""

    def __init__(self, members: Iterable[int], tokens_per_node: int, replicas: int, epoch: int = 0) -> None:
        self.members = tuple(sorted(set(members)))
        self.tokens_per_node = tokens_per_node
        self.replicas = min(replicas, len(self.members))
        self.epoch = epoch
        pairs = sorted((token_position(m, i), m) for m in self.members for i in range(tokens_per_node))
        self.tokens = [t for t, _ in pairs]
        self.owners = [m for _, m in pairs]
        self._tokens_np = np.asarray(self.tokens, dtype=np.uint64)
        self._walks: dict[int, tuple[int, ...]] = {}
        self.preference = [self._distinct_from(r, self.replicas) for r in range(len(self.tokens))]
        self.targets = [tuple((node, -1) for node in pref) for pref in self.preference]  # (replica, no hint)

    def __len__(self) -> int:
        """Number of key ranges (one per token)."""
        return len(self.tokens)

    def range_of(self, pos: int) -> int:
        """The range holding ring position ``pos``: keys in (token[r-1], token[r]] belong to r."""
        r = bisect_left(self.tokens, pos)
        return 0 if r == len(self.tokens) else r

    def ranges_of(self, positions: np.ndarray) -> np.ndarray:
        """Vectorised ``range_of`` for many positions (uint64)."""
        r = np.searchsorted(self._tokens_np, positions, side="left")
        r[r == len(self.tokens)] = 0
        return r

    def range_id(self, r: int) -> int:
        """A range's stable name: its end token (ranges keep it across membership changes
        unless a new token splits them)."""
        return self.tokens[r]

    def walk(self, r: int) -> tuple[int, ...]:
        """Every member, in the order met walking clockwise from range ``r``: the top N are
        the preference list, the rest are the stand-ins of a sloppy quorum."""
        found = self._walks.get(r)
        if found is None:
            found = self._walks[r] = self._distinct_from(r, len(self.members))
        return found

    def _distinct_from(self, r: int, count: int) -> tuple[int, ...]:
        seen: list[int] = []
        met: set[int] = set()
        owners, total = self.owners, len(self.owners)
        for step in range(total):
            owner = owners[(r + step) % total]
            if owner not in met:
                met.add(owner)
                seen.append(owner)
                if len(seen) == count:
                    break
        return tuple(seen)

    def ranges_of_node(self, node: int) -> list[int]:
        """Ranges for which ``node`` is one of the N replicas."""
        return [r for r, pref in enumerate(self.preference) if node in pref]

    def share(self, node: int) -> float:
        """Fraction of the ring's key space ``node`` replicates (load-balance analysis)."""
        total = 0
        for r, pref in enumerate(self.preference):
            if node in pref:
                start = self.tokens[r - 1] if r > 0 else self.tokens[-1] - RING_SIZE
                total += self.tokens[r] - start
        return total / RING_SIZE


def moved_ranges(old: Ring, new: Ring, positions: Sequence[int]) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    """For each key index whose preference list changes: (old list, new list)."""
    old_r = old.ranges_of(np.asarray(positions, dtype=np.uint64))
    new_r = new.ranges_of(np.asarray(positions, dtype=np.uint64))
    changed = {}
    for i, (a, b) in enumerate(zip(old_r.tolist(), new_r.tolist())):
        before, after = old.preference[a], new.preference[b]
        if set(before) != set(after):
            changed[i] = (before, after)
    return changed
