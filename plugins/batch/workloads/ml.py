"""Iterative workloads: logistic regression and k-means on synthetic points.

Each iteration reads the whole input again and produces a small model (weights or
centers) that the next iteration needs -- the access pattern Spark's RDD paper
(Zaharia et al., NSDI'12, section 6.1) contrasts with MapReduce. The reference runs
the same iterations in plain Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from harness.api import ConfigIssue
from plugins.batch.workloads.base import BatchWorkload

FLOAT_BYTES = 8


@dataclass
class LogRegParams:
    scale: str = "tiny"
    records: Optional[int] = None  # labelled points
    dims: Optional[int] = None
    iterations: int = 10
    step: float = 1.0
    materialize: Optional[bool] = None


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def logreg_gradient(w: tuple[float, ...], point: tuple[float, tuple[float, ...]]) -> tuple[float, ...]:
    """The gradient of one point's log-loss (shared by the reference and user programs)."""
    label, x = point
    scale = sigmoid(sum(wi * xi for wi, xi in zip(w, x))) - label
    return tuple(scale * xi for xi in x)


class LogReg(BatchWorkload):
    name = "logreg"
    description = "Logistic regression by batch gradient descent, N iterations (NSDI'12 section 6.1)"
    Params = LogRegParams
    iterative = True
    PRESETS = {
        "tiny": {"records": 1_000, "dims": 10},
        "small": {"records": 20_000, "dims": 10},
        "large": {"records": 100_000_000, "dims": 10},  # ~8.8 GB
        "paper": {"records": 1_136_000_000, "dims": 10},  # ~100 GB, as in NSDI'12's 100-node runs
    }

    @property
    def dims(self) -> int:
        return int(self.cfg["dims"])

    def record_bytes(self) -> float:
        return FLOAT_BYTES * (1 + self.dims)

    def initial_state(self) -> tuple[float, ...]:
        return tuple(0.0 for _ in range(self.dims))

    def step(self, w: tuple[float, ...], gradient_sum: tuple[float, ...], n: int) -> tuple[float, ...]:
        """One gradient-descent update from the summed gradient (shared with systems)."""
        rate = float(self.cfg["step"])
        return tuple(wi - rate * gi / n for wi, gi in zip(w, gradient_sum))

    def _generate(self) -> list[tuple[float, tuple[float, ...]]]:
        rng = np.random.default_rng([self.seed, 0x6C6F67])
        n, d = int(self.cfg["records"]), self.dims
        truth = rng.normal(size=d)
        xs = rng.normal(size=(n, d))
        labels = (xs @ truth + 0.5 * rng.normal(size=n) > 0).astype(float)
        return [(float(labels[i]), tuple(float(v) for v in xs[i])) for i in range(n)]

    def _reference_of(self, records: list[Any]) -> tuple[float, ...]:
        w = self.initial_state()
        for _ in range(self.iterations):
            total = [0.0] * self.dims
            for point in records:
                for j, g in enumerate(logreg_gradient(w, point)):
                    total[j] += g
            w = self.step(w, tuple(total), len(records))
        return w

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        issues = []
        if cfg["dims"] < 1:
            issues.append(ConfigIssue("workload.dims", cfg["dims"], "must be >= 1"))
        if cfg["iterations"] < 1:
            issues.append(ConfigIssue("workload.iterations", cfg["iterations"], "must be >= 1"))
        return issues


@dataclass
class KMeansParams:
    scale: str = "tiny"
    records: Optional[int] = None  # points
    dims: Optional[int] = None
    k: Optional[int] = None
    iterations: int = 5
    materialize: Optional[bool] = None


def nearest(centers: tuple[tuple[float, ...], ...], x: tuple[float, ...]) -> int:
    """Index of the closest center (squared Euclidean; ties go to the lowest index)."""
    best, best_d = 0, math.inf
    for i, c in enumerate(centers):
        d = sum((a - b) * (a - b) for a, b in zip(c, x))
        if d < best_d:
            best, best_d = i, d
    return best


class KMeans(BatchWorkload):
    name = "kmeans"
    description = "k-means clustering (Lloyd's algorithm), N iterations over Gaussian blobs"
    Params = KMeansParams
    iterative = True
    PRESETS = {
        "tiny": {"records": 1_000, "dims": 4, "k": 5},
        "small": {"records": 20_000, "dims": 4, "k": 10},
        "large": {"records": 100_000_000, "dims": 10, "k": 10},
        "paper": {"records": 1_250_000_000, "dims": 10, "k": 10},  # ~100 GB
    }

    @property
    def dims(self) -> int:
        return int(self.cfg["dims"])

    @property
    def k(self) -> int:
        return int(self.cfg["k"])

    def record_bytes(self) -> float:
        return FLOAT_BYTES * self.dims

    def initial_state(self) -> tuple[tuple[float, ...], ...] | None:
        if not self.materialized:
            return None
        return tuple(self.records()[: self.k])  # the first k points, a deterministic start

    def _generate(self) -> list[tuple[float, ...]]:
        rng = np.random.default_rng([self.seed, 0x6B6D6E])
        n, d, k = int(self.cfg["records"]), self.dims, self.k
        centers = rng.uniform(-10, 10, size=(k, d))
        points = centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))
        return [tuple(float(v) for v in p) for p in points]

    def _reference_of(self, records: list[Any]) -> tuple[tuple[float, ...], ...]:
        centers = self.initial_state()
        for _ in range(self.iterations):
            sums: dict[int, list[float]] = {}
            counts: dict[int, int] = {}
            for x in records:
                c = nearest(centers, x)
                acc = sums.setdefault(c, [0.0] * self.dims)
                for j, v in enumerate(x):
                    acc[j] += v
                counts[c] = counts.get(c, 0) + 1
            centers = tuple(
                tuple(v / counts[i] for v in sums[i]) if i in counts else centers[i] for i in range(self.k)
            )
        return centers

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        issues = []
        for key in ("dims", "k", "iterations"):
            if cfg[key] < 1:
                issues.append(ConfigIssue(f"workload.{key}", cfg[key], "must be >= 1"))
        if cfg["k"] > cfg["records"]:
            issues.append(ConfigIssue("workload.k", cfg["k"], "must be <= records"))
        return issues
