"""The ``live_migration`` system: move a running guest (VM or container) between two nodes.

Strategies (seed 002, "Virtual machine migration": four approaches):

* ``precopy``: copy all pages while the guest runs, then the pages dirtied meanwhile, round
  after round, until a stop condition (``policy.PrecopyPolicy``); then a short
  stop-and-copy of what is left (Clark et al., NSDI 2005, on Xen).
* ``stop_and_copy``: pause, copy everything, resume at the destination.
* ``postcopy``: pause, send only the CPU state, resume at the destination at once; pages
  come on demand (a fault fetches them over the network) and by a background push,
  optionally pre-paging around the latest fault (Hines & Gopalan, VEE 2009).
* ``hybrid``: a fixed, short pre-copy (``hybrid_rounds``) then a stop-and-copy (the seed's
  "precopy followed by brief stop-and-copy"), or post-copy (``hybrid_finish=postcopy``,
  QEMU's postcopy-after-precopy).

Decisions live in ``policy`` and ``pages`` (no simulator), the simulated processes in
``engine``. The guest's application (``App``) keeps running in quanta and dirties pages as it works
(``pages.sample_touched``); a ``PageLedger`` keeps every page's version at both ends, so at
the moment the source is released the check "the destination holds the latest version of
every page" is exact, and a violation is a metric (``pages_lost``,
``source_released_early``). Faults: an aborted pre-copy leaves the guest running at the
source (and may be retried); once post-copy has switched over, losing the source, the
destination or the link loses the guest (``vm_lost``): the trade-off post-copy makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import ConfigIssue, cluster_size, System, Workload
from plugins.edge.migration.costs import COMPRESSORS
from plugins.edge.migration.engine import Migration

STRATEGIES = ("precopy", "stop_and_copy", "postcopy", "hybrid")
RATE_LIMITS = ("none", "adaptive")
FINISHES = ("stop_and_copy", "postcopy")
BUGS = ("none", "skip_stop_and_copy", "release_source_early", "no_fault_handling")


@dataclass
class LiveMigrationParams:
    strategy: str = "precopy"  # precopy | stop_and_copy | postcopy | hybrid
    source: int = 0  # node index of the guest's host
    destination: int = 1  # node index it moves to (others are tried on retry)
    page_kib: int = 4
    batch_pages: int = 1024  # pages per batch (Xen: 1,024 = 4 MiB)
    max_rounds: int = 30  # pre-copy stop conditions (Xen's defaults)
    min_dirty_pages: int = 50
    max_sent_factor: float = 3.0
    stop_on_dirty_rate: bool = True  # stop when pages are dirtied as fast as they can be sent
    skip_redirtied: bool = True  # skip pages re-dirtied in the current round (Xen)
    rate_limit: str = "none"  # none | adaptive (Xen: 100 Mbit/s, +50 over the dirty rate, <= 500)
    start_rate_mbit: float = 100.0
    max_rate_mbit: float = 500.0
    rate_step_mbit: float = 50.0
    hybrid_rounds: int = 1  # live rounds before a hybrid's switch-over (1: one full pass)
    hybrid_finish: str = "stop_and_copy"  # stop_and_copy | postcopy
    prepaging: bool = True  # post-copy pushes the pages around the latest fault first
    push_batch_pages: int = 64  # post-copy push unit: a fault on a page in flight waits for its batch
    compression: str = "none"  # none | lz4
    compress_threads: int = 1
    postcopy_recovery: bool = False  # true: a post-copy cut off by a partition waits for the heal
    max_attempts: int = 2  # pre-copy attempts (an aborted one leaves the guest at the source)
    retry_delay_s: float = 1.0
    warmup_s: float = 1.0  # the guest runs this long before migration starts
    cooldown_s: float = 1.0  # ...and this long after it ends
    app_quantum_s: float = 0.02  # the application's step (pause requests wait for its end)
    deliberate_bug: str = "none"  # for testing the checker: skip_stop_and_copy | release_source_early | no_fault_handling


class LiveMigration(System):
    name = "live_migration"
    description = "Live migration of a VM or container: pre-copy, stop-and-copy, post-copy, hybrid"
    Params = LiveMigrationParams
    serves = ("migration",)

    @classmethod
    def check(cls, params: LiveMigrationParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        return _choice_issues(params) + _range_issues(params) + _node_issues(params, nodes) + _memory_issues(config)

    def run(self, workload: Workload) -> Generator[Any, Any, None]:
        yield from Migration(self.rt, self.params, workload.spec()).run()


def _choice_issues(p: LiveMigrationParams) -> list[ConfigIssue]:
    choices = (("strategy", STRATEGIES), ("rate_limit", RATE_LIMITS), ("hybrid_finish", FINISHES),
               ("compression", tuple(COMPRESSORS)), ("deliberate_bug", BUGS))
    return [ConfigIssue(f"system.{key}", getattr(p, key), f"allowed: {', '.join(allowed)}")
            for key, allowed in choices if getattr(p, key) not in allowed]


def _range_issues(p: LiveMigrationParams) -> list[ConfigIssue]:
    at_least_one = ("page_kib", "batch_pages", "push_batch_pages", "max_rounds", "hybrid_rounds", "compress_threads", "max_attempts")
    issues = [ConfigIssue(f"system.{k}", getattr(p, k), "must be >= 1") for k in at_least_one if getattr(p, k) < 1]
    positive = ("start_rate_mbit", "max_rate_mbit", "app_quantum_s", "max_sent_factor")
    issues += [ConfigIssue(f"system.{k}", getattr(p, k), "must be > 0") for k in positive if getattr(p, k) <= 0]
    not_negative = ("min_dirty_pages", "rate_step_mbit", "retry_delay_s", "warmup_s", "cooldown_s")
    issues += [ConfigIssue(f"system.{k}", getattr(p, k), "must be >= 0") for k in not_negative if getattr(p, k) < 0]
    if p.start_rate_mbit > p.max_rate_mbit:
        issues.append(ConfigIssue("system.start_rate_mbit", p.start_rate_mbit, f"must be <= max_rate_mbit ({p.max_rate_mbit})"))
    return issues


def _node_issues(p: LiveMigrationParams, nodes: int) -> list[ConfigIssue]:
    if nodes < 2:
        return [ConfigIssue("cluster", nodes, "live migration needs a cluster of at least 2 nodes")]
    for key in ("source", "destination"):
        if not 0 <= getattr(p, key) < nodes:
            return [ConfigIssue(f"system.{key}", getattr(p, key), f"must be a node index in 0..{nodes - 1}")]
    if p.source == p.destination:
        return [ConfigIssue("system.destination", p.destination, f"must differ from system.source ({p.source})")]
    return []


def _memory_issues(config: Any) -> list[ConfigIssue]:
    """The guest must fit in the memory (RAM + swap) of the run's default hardware profile."""
    from plugins.edge.migration.workload import WORKLOADS, MigrationAppParams

    workload = next((w for w in WORKLOADS if w.name == str(config.workload.name)), None)
    if workload is None:
        return []
    fields = MigrationAppParams.__dataclass_fields__
    params = MigrationAppParams(**{k: v for k, v in config.workload.items() if k in fields})
    if params.guest not in ("vm", "container"):
        return []
    mem = config.hardware.memory
    usable_mb = (float(mem.ram_mib) - float(mem.os_reserved_mib) + float(mem.swap_mib)) * 1.048576
    need_mb = workload.resolve(params).memory_bytes / 1e6
    if need_mb > usable_mb:
        return [ConfigIssue("workload.memory_mb", round(need_mb, 1),
                            f"the guest does not fit on hardware={config.hardware.name}: at most {usable_mb:.0f} MB")]
    return []

