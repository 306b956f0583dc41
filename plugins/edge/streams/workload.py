"""iot_pipeline: sensor readings from the edge sites through window operators to a cloud sink.

The pipeline is the seed's "IoT stream query and analytics" application (seed 003, slide
"Many Fog/IoT applications process data streams", after arXiv:1705.05988):

    source -> filter -> detect -> window (keyed, tumbling or sliding) -> join -> sink
                          \\-> alerts ------------------------------------------> sink

* ``filter`` parses a reading and keeps the interesting share (``filter_selectivity``);
* ``detect`` scores each kept reading with a model (the heavy operator) and raises an
  alert for a few of them, sent straight to the sink;
* ``window`` aggregates the scored readings per sensor type over a window;
* ``join`` combines the same window and sensor type from every edge site;
* ``sink`` is in the cloud and measures end-to-end latency from item creation.

The workload describes the data and the operators' costs; where each operator runs is
the system's (placement's) decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.api import ConfigIssue, Workload

WINDOWS = ("tumbling", "sliding")
ARRIVALS = ("poisson", "constant")


@dataclass
class IotPipelineParams:
    duration_s: float = 5.0  # sources emit for this long
    sources_per_node: int = 1  # sensor gateways per edge node
    rate_per_source: float = 50.0  # readings/s per source (before the load step)
    arrival: str = "poisson"  # poisson | constant inter-arrival times
    item_bytes: float = 2000.0  # one reading as sent (payload + metadata)
    keys: int = 20  # sensor types (window and join key)
    filter_cpu_ms: float = 0.02  # reference-core ms per reading
    filter_selectivity: float = 0.5  # share of readings kept
    detect_cpu_ms: float = 5.0  # reference-core ms per kept reading (model inference)
    alert_fraction: float = 0.02  # share of scored readings that raise an alert
    alert_bytes: float = 300.0
    window: str = "tumbling"  # tumbling | sliding
    window_s: float = 1.0  # window length
    slide_s: float = 1.0  # sliding windows: emit every slide_s (window_s a multiple of it)
    window_cpu_ms: float = 0.005  # reference-core ms per reading per window it belongs to
    aggregate_bytes: float = 200.0  # one (window, key) aggregate
    join_cpu_ms: float = 0.05  # reference-core ms per aggregate joined
    step_at_s: float = 0.0  # load step: from this time on...
    step_factor: float = 1.0  # ...sources emit this many times faster (1 = no step)


@dataclass(frozen=True)
class OpSpec:
    """One pipeline operator: per-input CPU (reference-core s), output per input, output size."""

    name: str
    cpu_s: float
    out_per_in: float
    out_bytes: float
    stateless: bool


class IotPipeline(Workload):
    name = "iot_pipeline"
    description = "IoT stream: edge sources -> filter -> detect -> window -> join -> cloud sink"
    kind = "stream"
    Params = IotPipelineParams

    @classmethod
    def check(cls, params: IotPipelineParams) -> list[ConfigIssue]:
        issues = []
        positive = ("duration_s", "rate_per_source", "item_bytes", "window_s", "slide_s", "alert_bytes",
                    "aggregate_bytes", "step_factor")
        for key in positive:
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be > 0"))
        for key in ("filter_cpu_ms", "detect_cpu_ms", "window_cpu_ms", "join_cpu_ms", "step_at_s"):
            if getattr(params, key) < 0:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 0"))
        for key in ("sources_per_node", "keys"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 1"))
        for key in ("filter_selectivity", "alert_fraction"):
            if not 0 <= getattr(params, key) <= 1:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be in [0, 1]"))
        if params.window not in WINDOWS:
            issues.append(ConfigIssue("workload.window", params.window, f"allowed: {', '.join(WINDOWS)}"))
        if params.arrival not in ARRIVALS:
            issues.append(ConfigIssue("workload.arrival", params.arrival, f"allowed: {', '.join(ARRIVALS)}"))
        if params.window == "sliding" and params.slide_s > 0 and not _multiple(params.window_s, params.slide_s):
            issues.append(ConfigIssue("workload.window_s", params.window_s,
                                      f"must be a whole multiple of workload.slide_s ({params.slide_s})"))
        return issues

    # -- what the operators cost (the placer's input, the engine's charges) -------------
    @property
    def slide(self) -> float:
        return self.params.slide_s if self.params.window == "sliding" else self.params.window_s

    @property
    def windows_per_item(self) -> int:
        return round(self.params.window_s / self.slide) if self.params.window == "sliding" else 1

    def operators(self) -> list[OpSpec]:
        """The per-site chain in order (the join and the sink follow in the cloud)."""
        p = self.params
        return [
            OpSpec("filter", p.filter_cpu_ms / 1e3, p.filter_selectivity, p.item_bytes, True),
            OpSpec("detect", p.detect_cpu_ms / 1e3, 1.0, p.item_bytes, True),
            OpSpec("window", p.window_cpu_ms / 1e3 * self.windows_per_item, 0.0, p.aggregate_bytes, False),
        ]

    def window_output_rate(self) -> float:
        """Aggregates per second one site's window emits: one per key per slide, at most."""
        return self.params.keys / self.slide

    def rate_at(self, t: float) -> float:
        p = self.params
        return p.rate_per_source * (p.step_factor if p.step_factor != 1 and t >= p.step_at_s else 1.0)

    def next_gap(self, t: float, rng: Any) -> float:
        rate = self.rate_at(t)
        return rng.expovariate(rate) if self.params.arrival == "poisson" else 1.0 / rate


def _multiple(a: float, b: float) -> bool:
    ratio = a / b
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1
