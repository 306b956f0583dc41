"""Operator logic, sans I/O: records, the filter/detect decisions, window and join state.

Nothing here knows about nodes, time passing or the network: the engine hands each
function a record and the current time and routes what comes back. Windows are in
processing time (the operator's clock when a record arrives), as Flink's processing-time
windows: a window ending at ``e`` holds the records that arrived in ``(e - length, e]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class Record:
    """One item in flight. ``born``: creation time of the newest source reading it stands for."""

    __slots__ = ("born", "key", "weight", "u_filter", "u_alert", "kind", "window_end", "branch")

    def __init__(self, born: float, key: int, weight: float, u_filter: float = 0.0, u_alert: float = 1.0,
                 kind: str = "reading", window_end: float = 0.0, branch: int = 0) -> None:
        self.born = born
        self.key = key
        self.weight = weight  # source readings this record accounts for (aggregates sum them)
        self.u_filter = u_filter  # the reading's draw for the filter
        self.u_alert = u_alert  # ...and for the detector
        self.kind = kind  # reading | alert | aggregate | joined
        self.window_end = window_end
        self.branch = branch  # the edge site the reading came from


def keep(record: Record, selectivity: float) -> bool:
    """The filter's decision (the reading's value is above the threshold)."""
    return record.u_filter < selectivity


def alert(record: Record, fraction: float) -> Record | None:
    """The detector flags an anomaly: a side output straight to the sink (weight 0)."""
    if record.u_alert < fraction:
        return Record(record.born, record.key, 0.0, kind="alert", branch=record.branch)
    return None


@dataclass
class _Cell:
    weight: float = 0.0
    born: float = 0.0


@dataclass
class WindowState:
    """Keyed tumbling (``length == slide``) or sliding windows over processing time."""

    length: float
    slide: float
    cells: dict[tuple[float, int], _Cell] = field(default_factory=dict)  # (window end, key)

    def ends_for(self, now: float) -> list[float]:
        """Ends of the windows a record arriving at ``now`` belongs to."""
        first = math.floor(now / self.slide + 1e-9) + 1
        count = round(self.length / self.slide)
        return [round((first + i) * self.slide, 9) for i in range(count)]

    def add(self, record: Record, now: float) -> int:
        """Count ``record`` in each window it falls in; its weight is shared among them, so the
        readings a sliding window's outputs account for still add up to the readings in."""
        ends = self.ends_for(now)
        share = record.weight / len(ends)
        for end in ends:
            cell = self.cells.setdefault((end, record.key), _Cell())
            cell.weight += share
            cell.born = max(cell.born, record.born)
        return len(ends)

    def fire(self, now: float, branch: int) -> list[Record]:
        """Aggregates of every window that has ended by ``now``, in (end, key) order."""
        due = sorted(k for k in self.cells if k[0] <= now + 1e-9)
        out = []
        for end, key in due:
            cell = self.cells.pop((end, key))
            out.append(Record(cell.born, key, cell.weight, kind="aggregate", window_end=end, branch=branch))
        return out

    def __len__(self) -> int:
        return len(self.cells)


@dataclass
class JoinState:
    """Matches the same (window, key) aggregate from every branch; late or lost ones time out."""

    branches: int
    wait_s: float
    cells: dict[tuple[float, int], dict[int, Record]] = field(default_factory=dict)
    partial: int = 0

    def add(self, record: Record) -> Record | None:
        cell = self.cells.setdefault((record.window_end, record.key), {})
        cell[record.branch] = record
        if len(cell) == self.branches:
            return self._joined(self.cells.pop((record.window_end, record.key)))
        return None

    def expire(self, now: float) -> list[Record]:
        """Emit what arrived of windows older than the wait (a branch was slow or lost data)."""
        due = sorted(k for k in self.cells if k[0] + self.wait_s <= now + 1e-9)
        self.partial += len(due)
        return [self._joined(self.cells.pop(k)) for k in due]

    @staticmethod
    def _joined(parts: dict[int, Record]) -> Record:
        first = next(iter(parts.values()))
        born = max(r.born for r in parts.values())
        weight = sum(r.weight for r in parts.values())
        return Record(born, first.key, weight, kind="joined", window_end=first.window_end)

    def __len__(self) -> int:
        return len(self.cells)
