"""``chord_lookups``: lookups of random keys from random Chord nodes, with churn and
mass failures (the Chord paper's simulation experiments, SIGCOMM'01 section 6)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.api import ConfigIssue, Workload


@dataclass
class ChordLookupsParams:
    lookups: int = 400  # lookups issued (open loop)
    rate_per_s: float = 20.0  # Poisson arrivals; latency counts from each lookup's intended start
    start_s: float = 0.5  # first lookups this long after the ring is up
    keys: int = 0  # keys stored on the ring; 0: 100 per Chord node (the paper's 100 x 2^k)
    churn_rate_per_s: float = 0.0  # Chord nodes joining, and as many failing, per second (the paper's R)
    fail_fraction: float = 0.0  # share of Chord nodes failing at once at fail_at_s (fail-stop)
    fail_at_s: float = 0.0  # when, after the ring is up (lookups may start before or after)


class ChordLookups(Workload):
    name = "chord_lookups"
    description = "Lookups of random keys from random Chord nodes, with churn and simultaneous failures"
    kind = "dht_lookup"
    Params = ChordLookupsParams

    @classmethod
    def check(cls, params: ChordLookupsParams) -> list[ConfigIssue]:
        issues = []
        if params.lookups < 1:
            issues.append(ConfigIssue("workload.lookups", params.lookups, "must be >= 1"))
        if params.rate_per_s <= 0:
            issues.append(ConfigIssue("workload.rate_per_s", params.rate_per_s, "must be > 0"))
        if params.keys < 0:
            issues.append(ConfigIssue("workload.keys", params.keys, "must be >= 0 (0: 100 per node)"))
        if params.churn_rate_per_s < 0:
            issues.append(ConfigIssue("workload.churn_rate_per_s", params.churn_rate_per_s, "must be >= 0"))
        if not 0.0 <= params.fail_fraction < 1.0:
            issues.append(ConfigIssue("workload.fail_fraction", params.fail_fraction, "must be in [0, 1)"))
        for key in ("start_s", "fail_at_s"):
            if getattr(params, key) < 0:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 0"))
        return issues

    def key_count(self, nodes: int) -> int:
        return self.params.keys or 100 * nodes

    def schedule(self, keys: int) -> list[tuple[float, int]]:
        """(intended start after the ring is up, index of the key looked up), in order."""
        p = self.params
        rng = random.Random(self.seed)
        at, out = p.start_s, []
        for _ in range(p.lookups):
            at += rng.expovariate(p.rate_per_s)
            out.append((at, rng.randrange(keys)))
        return out
