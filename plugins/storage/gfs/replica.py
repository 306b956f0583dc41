"""One chunk replica's contents, as a chunkserver's disk holds them (pure).

Record appends are tracked record by record: a region is (offset, length, kind, id)
with kind ``record`` or ``pad``; bytes below ``length`` that no region covers are
*garbage* (a write that reached another replica but not this one: GFS 3.3's
"inconsistent" region, which readers reject by its record checksum). Other data
(pre-loaded files, overwrites) is one opaque ``data`` region; overwrites only record
their serial numbers, which is what the consistency check compares across replicas.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Optional

Region = tuple[float, float, str, Optional[int]]  # offset, length, kind, record id


@dataclass
class Replica:
    handle: int
    version: int
    length: float = 0.0
    regions: list[Region] = field(default_factory=list)  # sorted by offset, non-overlapping
    serials: list[int] = field(default_factory=list)  # mutations applied, in order

    def put(self, offset: float, nbytes: float, kind: str, rid: Optional[int] = None) -> None:
        """Write a region; whatever it overlaps is replaced (a new primary may reuse the
        offset of an append that was never acknowledged)."""
        end = offset + nbytes
        regions = self.regions
        if not regions or offset >= regions[-1][0] + regions[-1][1]:
            regions.append((offset, nbytes, kind, rid))  # the common case: past the end
        else:
            lo = bisect.bisect_left(regions, (offset,))
            if lo > 0 and regions[lo - 1][0] + regions[lo - 1][1] > offset:
                lo -= 1
            hi = lo
            while hi < len(regions) and regions[hi][0] < end:
                hi += 1
            regions[lo:hi] = [(offset, nbytes, kind, rid)]
        self.length = max(self.length, end)

    def overwrite(self, offset: float, nbytes: float) -> None:
        """Opaque data written at a client's offset (may extend the chunk)."""
        end = offset + nbytes
        if end > self.length:
            self.regions = [(0.0, end, "data", None)]
            self.length = end

    def fill(self, nbytes: float) -> None:
        """Opaque data (a pre-loaded chunk)."""
        self.regions = [(0.0, nbytes, "data", None)]
        self.length = nbytes

    def scan(self, start: float = 0.0, end: Optional[float] = None) -> tuple[list[int], float, float]:
        """What a reader of [start, end) finds: record ids in order, padding bytes, and
        garbage bytes (holes). Records only partly inside the range are not returned."""
        end = self.length if end is None else min(end, self.length)
        records: list[int] = []
        pad = covered = 0.0
        for offset, n, kind, rid in self.regions:
            lo, hi = max(offset, start), min(offset + n, end)
            if hi <= lo:
                continue
            covered += hi - lo
            if kind == "pad":
                pad += hi - lo
            elif kind == "record" and offset >= start and offset + n <= end:
                records.append(rid)  # type: ignore[arg-type]
        return records, pad, max(0.0, (end - start) - covered)

    def has(self, offset: float, rid: int) -> bool:
        i = bisect.bisect_left(self.regions, (offset,))
        return i < len(self.regions) and self.regions[i][0] == offset and self.regions[i][3] == rid

    def copy(self) -> Replica:
        return Replica(self.handle, self.version, self.length, list(self.regions), list(self.serials))
