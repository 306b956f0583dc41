"""Sort: TeraSort-style fixed-size records with uniformly random keys.

The OSDI'04 benchmark sorts 10^10 100-byte records whose first 10 bytes are the key
(the TeraSort/Sort Benchmark format, Gray's "Datamation" sort). Keys here are drawn
uniformly from a 36-symbol alphabet whose order matches byte order, so a range
partitioner that knows the distribution (as the paper's did) splits them evenly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from harness.api import ConfigIssue
from plugins.batch.workloads.base import BatchWorkload

KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # ascending in byte order
KEY_BYTES = 10


def key_fraction(key: str, digits: int = 4) -> float:
    """Where ``key`` falls in [0, 1) under the uniform key distribution (first ``digits``)."""
    value = 0.0
    scale = 1.0
    for ch in key[:digits]:
        scale /= len(KEY_ALPHABET)
        value += KEY_ALPHABET.index(ch) * scale
    return value


@dataclass
class SortParams:
    scale: str = "tiny"
    records: Optional[int] = None
    record_bytes: int = 100  # 10-byte key + 90-byte value
    materialize: Optional[bool] = None


class Sort(BatchWorkload):
    name = "sort"
    description = "Sort 100-byte records by their 10-byte key (OSDI'04 sort / TeraSort)"
    Params = SortParams
    PRESETS = {
        "tiny": {"records": 2_000},
        "small": {"records": 100_000},
        "large": {"records": 100_000_000},  # 10 GB
        "paper": {"records": 10_000_000_000},  # 1 TB: OSDI'04 section 5.3
    }

    def record_bytes(self) -> float:
        return float(self.cfg["record_bytes"])

    def input_files(self) -> int:
        return 1000 if self.cfg["records"] >= 10**9 else 1

    def _generate(self) -> list[str]:
        rng = np.random.default_rng([self.seed, 0x736F72])
        n, size = int(self.cfg["records"]), int(self.cfg["record_bytes"])
        keys = rng.integers(0, len(KEY_ALPHABET), (n, KEY_BYTES))
        filler = "." * (size - KEY_BYTES - 10)
        return ["".join(KEY_ALPHABET[c] for c in keys[i]) + f"{i:010d}" + filler for i in range(n)]

    def _reference_of(self, records: list[str]) -> list[str]:
        return sorted(records)

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        if cfg["record_bytes"] < KEY_BYTES + 10:
            return [ConfigIssue("workload.record_bytes", cfg["record_bytes"], f"must be >= {KEY_BYTES + 10}")]
        return []
