"""PageRank on a synthetic power-law graph.

Out-degrees follow a discrete power law (Pareto tail, exponent ~2.1 as measured for the
web graph by Broder et al., WWW9 2000) and link targets are drawn from a Zipf law over
the vertices, so a few vertices collect most in-links. Every vertex has at least one
out-link (no dangling mass to redistribute). The record is (vertex, out-links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from harness.api import ConfigIssue
from plugins.batch.workloads.base import BatchWorkload

ID_BYTES = 8


@dataclass
class PageRankParams:
    scale: str = "tiny"
    records: Optional[int] = None  # vertices
    avg_degree: Optional[float] = None
    iterations: int = 5
    damping: float = 0.85
    materialize: Optional[bool] = None


class PageRank(BatchWorkload):
    name = "pagerank"
    description = "PageRank iterations over a synthetic power-law graph"
    Params = PageRankParams
    iterative = True
    PRESETS = {
        "tiny": {"records": 500, "avg_degree": 8},
        "small": {"records": 20_000, "avg_degree": 10},
        "large": {"records": 50_000_000, "avg_degree": 10},
        "paper": {"records": 1_000_000_000, "avg_degree": 10},
    }

    @property
    def vertices(self) -> int:
        return int(self.cfg["records"])

    @property
    def damping(self) -> float:
        return float(self.cfg["damping"])

    def record_bytes(self) -> float:
        if self.materialized:
            return ID_BYTES * (1 + sum(len(d) for _, d in self.records()) / self.vertices)
        return ID_BYTES * (1 + float(self.cfg["avg_degree"]))

    @property
    def edges(self) -> float:
        if self.materialized:
            return float(sum(len(d) for _, d in self.records()))
        return self.vertices * float(self.cfg["avg_degree"])

    def initial_state(self) -> tuple[float, ...] | None:
        if not self.materialized:
            return None
        return tuple(1.0 / self.vertices for _ in range(self.vertices))

    def step(self, contributions: dict[int, float]) -> tuple[float, ...]:
        """New ranks from the summed in-link contributions (shared with systems)."""
        base = (1.0 - self.damping) / self.vertices
        return tuple(base + self.damping * contributions.get(v, 0.0) for v in range(self.vertices))

    def _generate(self) -> list[tuple[int, tuple[int, ...]]]:
        rng = np.random.default_rng([self.seed, 0x707267])
        n = self.vertices
        mean = float(self.cfg["avg_degree"])
        # Pareto with exponent 2.1 has mean alpha/(alpha-1) * x_min; scale x_min to the wanted mean.
        alpha = 1.1
        degrees = np.minimum(n - 1, np.maximum(1, np.round(mean * (alpha - 1) / alpha * (1 + rng.pareto(alpha, n)))))
        ranks = np.arange(1, n + 1, dtype=np.float64)
        pmf = ranks ** -0.8
        pmf /= pmf.sum()
        popularity = rng.permutation(n)  # which vertex is the k-th most linked-to
        draws = popularity[rng.choice(n, size=int(degrees.sum()) * 2, p=pmf)]
        out, at = [], 0
        for v in range(n):
            want = int(degrees[v])
            targets = set(draws[at:at + 2 * want].tolist())
            at += 2 * want
            targets.discard(v)
            chosen = sorted(targets)[:want] or [(v + 1) % n]
            out.append((v, tuple(chosen)))
        return out

    def _reference_of(self, records: list[Any]) -> tuple[float, ...]:
        ranks = self.initial_state()
        for _ in range(self.iterations):
            contributions: dict[int, float] = {}
            for v, dsts in records:
                share = ranks[v] / len(dsts)
                for d in dsts:
                    contributions[d] = contributions.get(d, 0.0) + share
            ranks = self.step(contributions)
        return ranks

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        issues = []
        if cfg["records"] < 2:
            issues.append(ConfigIssue("workload.records", cfg["records"], "a graph needs >= 2 vertices"))
        if cfg["avg_degree"] < 1:
            issues.append(ConfigIssue("workload.avg_degree", cfg["avg_degree"], "must be >= 1"))
        if not 0 < cfg["damping"] < 1:
            issues.append(ConfigIssue("workload.damping", cfg["damping"], "must be in (0, 1)"))
        if cfg["iterations"] < 1:
            issues.append(ConfigIssue("workload.iterations", cfg["iterations"], "must be >= 1"))
        return issues
