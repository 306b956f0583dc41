"""Collects what happens during a run: every latency sample, counters, named values.

Distributions are kept whole (an ``array`` of doubles per operation), not as averages;
percentiles are computed once at the end with NumPy.
"""

from __future__ import annotations

from array import array
from typing import Any

from harness.api import Metric

PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))
CDF_POINTS = 201  # quantiles stored per distribution for CDF plots


class Recorder:
    def __init__(self) -> None:
        self._latencies: dict[str, array] = {}
        self._counters: dict[str, tuple[float, str]] = {}
        self._values: dict[str, tuple[float, str]] = {}
        self._work: tuple[float, str] | None = None
        self.primary_ops: tuple[str, ...] | None = None

    def latency(self, op: str, seconds: float) -> None:
        """One completed operation of kind ``op`` took ``seconds`` (from its intended start)."""
        samples = self._latencies.get(op)
        if samples is None:
            samples = self._latencies[op] = array("d")
        samples.append(seconds)

    def count(self, name: str, n: float = 1, unit: str = "") -> None:
        self.add(name, n, unit)

    def add(self, name: str, amount: float, unit: str) -> None:
        value, _ = self._counters.get(name, (0.0, unit))
        self._counters[name] = (value + amount, unit)

    def value(self, name: str, value: float, unit: str) -> None:
        """Set a named result (a phase time, a hit rate...)."""
        self._values[name] = (float(value), unit)

    def work_done(self, amount: float, unit: str) -> None:
        """Declare how much work the run completed: throughput = amount / makespan."""
        self._work = (float(amount), unit)

    def samples(self, op: str) -> list[float]:
        return list(self._latencies.get(op, ()))

    @property
    def ops(self) -> list[str]:
        return sorted(self._latencies)

    def summarize(self, makespan_s: float) -> tuple[list[Metric], dict[str, Any]]:
        import numpy as np

        metrics: list[Metric] = []
        if self._work is not None:
            amount, unit = self._work
            rate = amount / makespan_s if makespan_s > 0 else float("nan")
            metrics.append(Metric("throughput", rate, f"{unit}/s"))
        metrics.append(Metric("makespan", makespan_s, "s"))
        distributions: dict[str, Any] = {}
        primary = [op for op in self.ops if self.primary_ops is None or op in self.primary_ops]
        if primary:
            combined = np.concatenate([np.frombuffer(self._latencies[op], dtype=np.float64) for op in primary])
            metrics += _percentile_metrics("latency", combined)
            distributions["latency"] = _distribution(combined)
        for op in self.ops:
            samples = np.frombuffer(self._latencies[op], dtype=np.float64)
            metrics += _percentile_metrics(f"latency_{op}", samples)
            distributions[f"latency:{op}"] = _distribution(samples)
        metrics += [Metric(n, v, u) for n, (v, u) in sorted(self._counters.items())]
        metrics += [Metric(n, v, u) for n, (v, u) in sorted(self._values.items())]
        return metrics, distributions


def _percentile_metrics(prefix: str, samples: Any) -> list[Metric]:
    import numpy as np

    values = np.percentile(samples, [q for _, q in PERCENTILES]) if len(samples) else [float("nan")] * 4
    return [Metric(f"{prefix}_{label}", float(v), "s") for (label, _), v in zip(PERCENTILES, values)]


def _distribution(samples: Any) -> dict[str, Any]:
    import numpy as np

    qs = np.linspace(0.0, 1.0, CDF_POINTS)
    values = np.quantile(samples, qs)
    return {
        "unit": "s",
        "count": int(len(samples)),
        "quantiles": [[round(float(q), 6), float(v)] for q, v in zip(qs, values)],
    }
