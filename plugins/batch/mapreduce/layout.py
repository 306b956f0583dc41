"""Where data lives: input splits as replicated blocks (GFS-like) and output replicas.

Replica placement follows the rack-aware rule GFS describes and HDFS made concrete
(Ghemawat et al., SOSP'03 section 4.2; HDFS's BlockPlacementPolicyDefault): the first
replica on one node, the second on a node of another rack, the third on another node of
the second's rack, further ones anywhere else. Every choice draws from the run's seeded
random stream, so the same seed places the same blocks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass
class Split:
    index: int
    records: int
    nbytes: float
    first_record: int  # index of its first input record (the key of a record is its index)
    file: str
    replicas: list[Any] = field(default_factory=list)  # nodes holding a copy


class Placement:
    """Rack-aware replica choice over a fixed set of storage nodes (chunkservers)."""

    def __init__(self, nodes: Sequence[Any], rng: random.Random) -> None:
        self.nodes = list(nodes)
        self.rng = rng
        self.racks: dict[str, list[Any]] = {}
        for node in self.nodes:
            self.racks.setdefault(node.rack, []).append(node)
        self.rack_names = list(self.racks)

    def replicas(self, n: int, first: Any | None = None) -> list[Any]:
        n = min(n, len(self.nodes))
        chosen = [first if first is not None else self.rng.choice(self.nodes)]
        while len(chosen) < n:
            chosen.append(self._next(chosen))
        return chosen

    def _next(self, chosen: list[Any]) -> Any:
        taken = {node.id for node in chosen}
        if len(chosen) == 1:
            other_racks = [r for r in self.rack_names if r != chosen[0].rack]
            if other_racks:
                return self.rng.choice(self.racks[self.rng.choice(other_racks)])
        elif len(chosen) == 2 and chosen[1].rack != chosen[0].rack:
            same = [node for node in self.racks[chosen[1].rack] if node.id not in taken]
            if same:
                return self.rng.choice(same)
        while True:  # anywhere else (n <= len(nodes), so this ends)
            node = self.rng.choice(self.nodes)
            if node.id not in taken:
                return node


def make_splits(records: int, nbytes: float, M: int, job: str) -> list[Split]:
    """Cut the input into M contiguous splits of near-equal record counts."""
    base, extra = divmod(records, M)
    per_record = nbytes / records if records else 0.0
    splits, first = [], 0
    for i in range(M):
        n = base + (1 if i < extra else 0)
        splits.append(Split(i, n, n * per_record, first, f"{job}/input-{i:06d}"))
        first += n
    return splits
