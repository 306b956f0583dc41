"""GFS's consistency promise for record append, checked against a run's history.

The promise (GFS 2.7.1, 3.3): a record append is applied *at least once* atomically, at
an offset GFS chooses; once acknowledged, it is readable. The checker judges the
stronger form the issue asks for: **every acknowledged record append is readable at
least once after any single chunkserver failure.** Two ways to break it are counted:

* *at risk*: when the append was acknowledged, fewer than two live chunkservers held the
  record at the acknowledged offset, so one failure right then would have lost it;
* *lost*: at the end of the run no live chunkserver holds an intact, current copy
  (not stale, not corrupted) of the record anywhere in the file.

The history is the client's view (invoke, ack with handle and offset, failure); the
replicas are inspected as an omniscient observer would (what the disks hold), never
through the system's own bookkeeping. Duplicates and padding are what at-least-once
costs; readers (the consumers) skip them, and they are reported, not judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from plugins.storage.gfs.chunkserver import chunk_file


@dataclass
class Ack:
    time: float
    handle: int
    offset: float
    holders: int  # live chunkservers holding it at ack time


@dataclass
class AppendHistory:
    chunkservers: dict[int, Any] = field(default_factory=dict)  # id -> ChunkServer
    invoked: dict[int, float] = field(default_factory=dict)
    acked: dict[int, Ack] = field(default_factory=dict)
    failed: dict[int, float] = field(default_factory=dict)
    written: dict[int, set[tuple[int, int, float]]] = field(default_factory=dict)  # rid -> {(cs, handle, offset)}
    consumed: dict[int, int] = field(default_factory=dict)  # rid -> times read by consumers
    padding_read: float = 0.0
    garbage_read: float = 0.0

    def invoke(self, rid: int, now: float) -> None:
        self.invoked.setdefault(rid, now)

    def on_replica_write(self, cs: int, handle: int, offset: float, rid: int) -> None:
        self.written.setdefault(rid, set()).add((cs, handle, offset))

    def ack(self, rid: int, now: float, handle: int, offset: float) -> None:
        holders = {cs for cs, h, off in self.written.get(rid, ()) if h == handle and off == offset
                   and self._holds(cs, handle, offset, rid)}
        self.acked[rid] = Ack(now, handle, offset, len(holders))

    def fail(self, rid: int, now: float) -> None:
        self.failed[rid] = now

    def consume(self, records: Iterable[int], padding: float, garbage: float) -> None:
        for rid in records:
            self.consumed[rid] = self.consumed.get(rid, 0) + 1
        self.padding_read += padding
        self.garbage_read += garbage

    def _holds(self, cs_id: int, handle: int, offset: float, rid: int) -> bool:
        cs = self.chunkservers[cs_id]
        replica = cs.replicas.get(handle)
        return cs.node.alive and replica is not None and replica.has(offset, rid)


def final_holders(chunkservers: Iterable[Any], handles: Iterable[int], versions: dict[int, int]) -> dict[int, set[int]]:
    """rid -> live chunkservers holding an intact, current copy, at the end of the run."""
    wanted = set(handles)
    held: dict[int, set[int]] = {}
    for cs in chunkservers:
        if not cs.node.alive:
            continue
        for handle, replica in cs.replicas.items():
            if handle not in wanted or replica.version < versions.get(handle, 0):
                continue
            if handle in cs.bad or chunk_file(handle) in cs.node.corrupted:
                continue
            for _off, _n, kind, rid in replica.regions:
                if kind == "record":
                    held.setdefault(rid, set()).add(cs.id)
    return held


def file_layout(chunkservers: Iterable[Any], handles: list[int], versions: dict[int, int]) -> tuple[int, float]:
    """Duplicate records and padding bytes in the file as one current replica of each
    chunk holds it (the cost of at-least-once)."""
    seen: dict[int, int] = {}
    padding = 0.0
    live = [cs for cs in chunkservers if cs.node.alive]
    for handle in handles:
        copies = [cs.replicas[handle] for cs in live if handle in cs.replicas
                  and cs.replicas[handle].version >= versions.get(handle, 0)]
        if not copies:
            continue
        replica = max(copies, key=lambda r: r.length)
        for _off, n, kind, rid in replica.regions:
            if kind == "record":
                seen[rid] = seen.get(rid, 0) + 1
            elif kind == "pad":
                padding += n
    return sum(c - 1 for c in seen.values()), padding


def judge(history: AppendHistory, holders: dict[int, set[int]], replication: int,
          consumers: int) -> dict[str, tuple[float, str]]:
    """The checker's verdict as metrics (name -> (value, unit))."""
    need = min(2, replication)
    at_risk = {rid for rid, ack in history.acked.items() if ack.holders < need}
    lost = {rid for rid in history.acked if not holders.get(rid)}
    single = {rid for rid in history.acked if len(holders.get(rid, ())) == 1}
    verdict = {
        "appends_acked": (len(history.acked), "records"),
        "appends_failed": (len(history.failed), "records"),
        "appends_lost": (len(lost), "records"),
        "appends_at_risk": (len(at_risk), "records"),
        "append_violations": (len(lost | at_risk), "records"),
        "appends_single_copy_at_end": (len(single), "records"),
    }
    if consumers:
        reads = sum(history.consumed.values())
        verdict.update({
            "appends_unread": (len([r for r in history.acked if r not in history.consumed]), "records"),
            "records_consumed": (len(history.consumed), "records"),
            "duplicate_records_read": (reads - len(history.consumed), "records"),
            "padding_bytes_skipped": (history.padding_read, "B"),
            "garbage_bytes_skipped": (history.garbage_read, "B"),
        })
    return verdict
