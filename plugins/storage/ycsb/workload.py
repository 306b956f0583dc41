"""YCSB core workloads A-F (Cooper et al., SoCC 2010) as one ``kv`` workload.

``preset`` picks the operation mix and request distribution of the core workload files
(``workloads/workloada`` ... ``workloadf`` in the YCSB repository); every field of the
preset can be overridden (``workload.read_proportion=0.8``). The operations are generated
deterministically from the run's seed, all at once with NumPy, before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from harness.api import ConfigIssue, Workload
from plugins.storage.ycsb import generators
from plugins.storage.ycsb.kv import INSERT, OP_NAMES, SCAN, KvLoad

# Core workload files: proportions in OP_NAMES order (read, update, insert, scan, rmw).
PRESETS: dict[str, dict[str, Any]] = {
    "a": {"mix": (0.5, 0.5, 0.0, 0.0, 0.0), "distribution": "zipfian"},  # update heavy (session store)
    "b": {"mix": (0.95, 0.05, 0.0, 0.0, 0.0), "distribution": "zipfian"},  # read mostly (photo tagging)
    "c": {"mix": (1.0, 0.0, 0.0, 0.0, 0.0), "distribution": "zipfian"},  # read only (profile cache)
    "d": {"mix": (0.95, 0.0, 0.05, 0.0, 0.0), "distribution": "latest"},  # read latest (status updates)
    "e": {"mix": (0.0, 0.0, 0.05, 0.95, 0.0), "distribution": "zipfian"},  # short ranges (threads)
    "f": {"mix": (0.5, 0.0, 0.0, 0.0, 0.5), "distribution": "zipfian"},  # read-modify-write (user db)
}
DISTRIBUTIONS = ("zipfian", "latest", "uniform")
MODES = ("open", "closed")
ARRIVALS = ("uniform", "poisson")
SCAN_LENGTHS = ("uniform", "zipfian")
PROPORTION_KEYS = ("read_proportion", "update_proportion", "insert_proportion", "scan_proportion",
                   "read_modify_write_proportion")


@dataclass
class YcsbParams:
    preset: str = "a"  # a | b | c | d | e | f: the core workload's mix and distribution
    record_count: int = 1000  # recordcount: records loaded before the run
    operation_count: int = 2000  # operationcount
    field_count: int = 10  # fieldcount (YCSB default)
    field_length: int = 100  # fieldlength in bytes (YCSB default): 1 KB records
    read_proportion: Optional[float] = None  # null: the preset's
    update_proportion: Optional[float] = None
    insert_proportion: Optional[float] = None
    scan_proportion: Optional[float] = None
    read_modify_write_proportion: Optional[float] = None
    request_distribution: Optional[str] = None  # zipfian | latest | uniform; null: the preset's
    zipfian_constant: float = generators.ZIPFIAN_CONSTANT
    max_scan_length: int = 100  # maxscanlength (YCSB default)
    scan_length_distribution: str = "uniform"  # scanlengthdistribution
    mode: str = "open"  # open: a target rate, latency from each intended start; closed: threads
    target_ops_per_s: float = 100.0  # open loop: YCSB's -target
    arrival: str = "uniform"  # uniform: YCSB's even pacing; poisson: exponential gaps
    threads: int = 8  # client sessions (YCSB -threads); closed loop: concurrency
    think_time_ms: float = 0.0  # closed loop: pause between a client's operations


@dataclass
class OpStream:
    """The run's operations as columns (plain lists: the drivers' inner loops index them)."""

    times: Optional[np.ndarray]  # intended starts (open loop); None in closed loop
    kinds: np.ndarray
    keys: np.ndarray
    scan_lens: np.ndarray
    clients: np.ndarray

    def columns(self) -> tuple[list, list, list, list, list]:
        times = self.times.tolist() if self.times is not None else [0.0] * len(self.kinds)
        return times, self.kinds.tolist(), self.keys.tolist(), self.scan_lens.tolist(), self.clients.tolist()

    def __len__(self) -> int:
        return len(self.kinds)


class Ycsb(Workload):
    name = "ycsb"
    description = "YCSB core workloads A-F: zipfian/latest/uniform keys, open loop at a target rate or closed loop"
    kind = "kv"
    Params = YcsbParams

    def __init__(self, params: YcsbParams, seed: int) -> None:
        super().__init__(params, seed)
        self.mix = mix_of(params)
        self.distribution = params.request_distribution or PRESETS[params.preset]["distribution"]

    @classmethod
    def check(cls, params: YcsbParams) -> list[ConfigIssue]:
        if params.preset not in PRESETS:
            return [ConfigIssue("workload.preset", params.preset, f"allowed: {', '.join(PRESETS)}")]
        issues = []
        for key in ("record_count", "operation_count", "field_count", "field_length", "max_scan_length", "threads"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 1"))
        for key in PROPORTION_KEYS:
            value = getattr(params, key)
            if value is not None and not 0.0 <= value <= 1.0:
                issues.append(ConfigIssue(f"workload.{key}", value, "must be in [0, 1]"))
        if not issues and sum(mix_of(params)) <= 0:
            issues.append(ConfigIssue("workload.read_proportion", params.read_proportion,
                                      "the operation proportions must not all be 0"))
        choices = (("request_distribution", DISTRIBUTIONS), ("mode", MODES), ("arrival", ARRIVALS),
                   ("scan_length_distribution", SCAN_LENGTHS))
        for key, allowed in choices:
            value = getattr(params, key)
            if value is not None and value not in allowed:
                issues.append(ConfigIssue(f"workload.{key}", value, f"allowed: {', '.join(allowed)}"))
        if not 0.0 < params.zipfian_constant < 1.0:
            issues.append(ConfigIssue("workload.zipfian_constant", params.zipfian_constant,
                                      "must be in (0, 1) (Gray's generator)"))
        if params.target_ops_per_s <= 0:
            issues.append(ConfigIssue("workload.target_ops_per_s", params.target_ops_per_s, "must be > 0"))
        if params.think_time_ms < 0:
            issues.append(ConfigIssue("workload.think_time_ms", params.think_time_ms, "must be >= 0"))
        return issues

    # -- what a kv system asks --------------------------------------------------------
    @property
    def open_loop(self) -> bool:
        return self.params.mode == "open"

    @property
    def clients(self) -> int:
        return self.params.threads

    @property
    def think_time_s(self) -> float:
        return self.params.think_time_ms / 1e3

    def load(self) -> KvLoad:
        p = self.params
        return KvLoad(records=p.record_count, record_bytes=p.field_count * p.field_length, field_bytes=p.field_length)

    def operations(self) -> OpStream:
        p = self.params
        rng = np.random.default_rng(self.seed)
        n = p.operation_count
        mix = np.asarray(self.mix, dtype=np.float64)
        kinds = rng.choice(len(OP_NAMES), size=n, p=mix / mix.sum()).astype(np.int64)
        inserted = np.cumsum(kinds == INSERT)  # inserts issued up to and including op i
        keys = np.empty(n, dtype=np.int64)
        is_insert = kinds == INSERT
        keys[is_insert] = p.record_count - 1 + inserted[is_insert]
        newest = p.record_count - 1 + inserted - is_insert  # highest key inserted before op i
        keys[~is_insert] = self._choose(rng, newest[~is_insert], int(is_insert.sum()))
        scan_lens = np.zeros(n, dtype=np.int64)
        scans = kinds == SCAN
        scan_lens[scans] = self._scan_lengths(rng, int(scans.sum()))
        clients = np.arange(n, dtype=np.int64) % p.threads
        return OpStream(self._times(rng, n) if self.open_loop else None, kinds, keys, scan_lens, clients)

    def _choose(self, rng: Any, newest: np.ndarray, expected_inserts: int) -> np.ndarray:
        """Keys for reads/updates/scans/rmw, never beyond the newest inserted key."""
        p = self.params
        if self.distribution == "latest":
            return generators.skewed_latest(rng, newest, p.zipfian_constant)
        if self.distribution == "uniform":
            return np.floor(rng.random(len(newest)) * (newest + 1)).astype(np.int64)
        # YCSB sizes the zipfian key space for the inserts to come (x2 "fudge factor") and
        # redraws keys not inserted yet; folding them back onto inserted keys is the same shape.
        space = p.record_count + 2 * expected_inserts
        keys = generators.scrambled_zipfian(rng, len(newest), space, p.zipfian_constant)
        return np.where(keys > newest, keys % (newest + 1), keys)

    def _scan_lengths(self, rng: Any, count: int) -> np.ndarray:
        p = self.params
        if p.scan_length_distribution == "zipfian":
            zetan = generators.zeta(p.max_scan_length, p.zipfian_constant)
            return 1 + generators.zipfian_ranks(rng.random(count), p.max_scan_length, p.zipfian_constant, zetan)
        return rng.integers(1, p.max_scan_length + 1, size=count, dtype=np.int64)

    def _times(self, rng: Any, n: int) -> np.ndarray:
        rate = self.params.target_ops_per_s
        if self.params.arrival == "poisson":
            return np.cumsum(rng.exponential(1.0 / rate, size=n))
        return np.arange(n, dtype=np.float64) / rate


def mix_of(params: YcsbParams) -> tuple[float, ...]:
    """Proportions in OP_NAMES order: explicit values win over the preset's."""
    preset = PRESETS.get(params.preset, PRESETS["a"])["mix"]
    return tuple(preset[i] if getattr(params, key) is None else float(getattr(params, key))
                 for i, key in enumerate(PROPORTION_KEYS))

