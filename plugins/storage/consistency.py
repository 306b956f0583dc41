"""Operation history and consistency checker for replicated key-value stores.

A system records every operation as it completes: what was invoked, when it completed,
whether it succeeded, the value and the version. Every write has a unique id (its
*version*) and names its *parents*: the versions the client had seen when it wrote (the
context of its last read of the key). Those links form the exact causal history of each
key, kept by the checker alone (ghost state the system never consults): a version
*covers* a write when that write is the version itself or one of its ancestors.

The graph, not the system's vector clocks, is the judge on purpose: clocks can be
truncated (a design choice), and per-server clocks can order two concurrent writes that
went through the same coordinator as if one had seen the other (the anomaly that led to
dotted version vectors). A checker that trusted the clocks would miss both.

The checker judges the history against the design's promise:

* **stale read**: a read whose versions do not cover the last write acknowledged before
  the read was invoked. Counted always, also when the promise allows it (sloppy quorums
  under partition count as ``stale_reads_sloppy``: counted, not hidden).
* **violation**: a stale read where the promise holds -- R + W > N, the read's R answers
  and the write's W acknowledgements all came from the key's home replicas (strict
  quorums), under the same membership. A correct Dynamo has none; a variant that
  acknowledges before W replicas answer has some.
* **lost write**: an acknowledged write that, at the end of the run (after heal, hinted
  handoff and anti-entropy), no version on a surviving replica covers.
"""

from __future__ import annotations

import struct
from array import array
from bisect import insort
from typing import Any, Callable, Iterable

import numpy as np

RECENT_ACKS = 8  # acknowledged writes remembered per key for the staleness check
NO_PARENT = -1  # the records loaded before the run have version -1
# One recorded operation, packed as it is recorded (one C call), and the same layout to
# move buffered rows into the typed columns with NumPy.
ROW = struct.Struct("<bqddbqq")  # kind, key, invoke, complete, ok, value, versions
ROW_DTYPE = np.dtype([("kind", "i1"), ("key", "<i8"), ("invoke", "<f8"), ("complete", "<f8"), ("ok", "i1"),
                      ("value", "<i8"), ("versions", "<i8")])
FLUSH_BYTES = ROW.size * 65536  # buffered rows moved into the columns at a time


class History:
    """The run's operations, columnar (a million operations fit in tens of MB)."""

    def __init__(self, promise: bool, keep_ops: bool = True) -> None:
        self.promise = promise  # R + W > N: strict quorums intersect
        self.keep_ops = keep_ops
        # columns: one entry per recorded operation
        self.kind = array("b")  # 0 write, 1 read
        self.key = array("q")
        self.invoke = array("d")
        self.complete = array("d")
        self.ok = array("b")
        self.value = array("q")  # the version written, or the newest version read (-1: none)
        self.versions = array("l")  # a write: 1; a read: how many sibling versions it saw
        self.rows = bytearray()  # recent rows (``ROW``), not yet in the columns
        self._pack = ROW.pack
        # the causal graph: version -> its first parent (dense), and any further parents
        self._first_parent = array("q")
        self._more_parents: dict[int, tuple[int, ...]] = {}
        # checker state
        self._acks: dict[int, list[tuple[float, int, bool, int]]] = {}
        self._acked: dict[int, list[int]] = {}
        self.reads = 0
        self.stale_reads = 0
        self.stale_reads_sloppy = 0
        self.violations = 0
        self.sibling_reads = 0
        self.siblings_seen = 0
        self.max_siblings = 0
        self.acked_writes = 0
        self.lost_writes: int | None = None

    # -- recording ------------------------------------------------------------------
    def write(self, key: int, invoke: float, complete: float, ok: bool, version: int, parents: tuple[int, ...],
              strict: bool, epoch: int) -> None:
        """A write of ``version`` (ids are >= 0 and increase with the start time), made by a
        client that had seen ``parents``."""
        self._link(version, parents)
        if self.keep_ops:
            rows = self.rows
            rows += self._pack(0, key, invoke, complete, ok, version, 1)
            if len(rows) >= FLUSH_BYTES:
                self._flush()
        if not ok:
            return
        self.acked_writes += 1
        acks = self._acks.get(key)
        entry = (complete, version, strict, epoch)
        if acks is None:
            self._acks[key] = [entry]
            self._acked[key] = [version]
            return
        if not acks or complete >= acks[-1][0]:
            acks.append(entry)
        else:
            insort(acks, entry)
        if len(acks) > RECENT_ACKS:
            del acks[0]
        self._acked[key].append(version)

    def read(self, key: int, invoke: float, complete: float, ok: bool, versions: list[int], strict: bool,
             epoch: int) -> bool:
        """Record a read that returned sibling ``versions``; returns True when it was stale."""
        n = len(versions)
        if self.keep_ops:
            rows = self.rows
            rows += self._pack(1, key, invoke, complete, ok, versions[0] if n == 1 else max(versions, default=-1), n)
            if len(rows) >= FLUSH_BYTES:
                self._flush()
        if not ok:
            return False
        self.reads += 1
        if n > 1:
            self.sibling_reads += 1
            if n > self.max_siblings:
                self.max_siblings = n
        self.siblings_seen += n
        last = self._last_ack_at(key, invoke)
        if last is None:
            return False
        target = last[1]
        if target in versions or self.covers(versions, target):
            return False
        return self._stale(strict, epoch, last)

    def read_one(self, key: int, invoke: float, complete: float, version: int, strict: bool, epoch: int) -> bool:
        """``read`` of a successful read that returned the one version ``version`` (the usual
        case, without a list to build)."""
        if self.keep_ops:
            rows = self.rows
            rows += self._pack(1, key, invoke, complete, True, version, 1)
            if len(rows) >= FLUSH_BYTES:
                self._flush()
        self.reads += 1
        self.siblings_seen += 1
        last = self._last_ack_at(key, invoke)
        if last is None:
            return False
        target = last[1]
        if target == version or self.covers((version,), target):
            return False
        return self._stale(strict, epoch, last)

    def _last_ack_at(self, key: int, invoke: float) -> Any:
        """The last write of ``key`` acknowledged before ``invoke``, or None."""
        acks = self._acks.get(key)
        if not acks:
            return None
        last = acks[-1]
        return last if last[0] < invoke else self._last_ack_before(acks, invoke)

    def _stale(self, strict: bool, epoch: int, last_ack: tuple[float, int, bool, int]) -> bool:
        """Count a stale read: a violation when the promise held for it and the write it missed."""
        _, _, write_strict, write_epoch = last_ack
        self.stale_reads += 1
        if self.promise and strict and write_strict and epoch == write_epoch:
            self.violations += 1
        else:
            self.stale_reads_sloppy += 1
        return True

    def _link(self, version: int, parents: tuple[int, ...]) -> None:
        first = self._first_parent
        if len(first) <= version:
            first.extend([NO_PARENT] * (version + 1 - len(first) + 4096))
        if len(parents) == 1:  # the usual case: the one version the writer had read
            parent = parents[0]
            first[version] = parent if parent >= 0 else NO_PARENT  # the loaded records have no history
            return
        if parents and min(parents) < 0:
            parents = tuple(p for p in parents if p >= 0)  # the loaded records have no history
        first[version] = parents[0] if parents else NO_PARENT
        if len(parents) > 1:
            self._more_parents[version] = parents[1:]

    def parents(self, version: int) -> tuple[int, ...]:
        if version < 0 or version >= len(self._first_parent):
            return ()
        first = self._first_parent[version]
        if first == NO_PARENT:
            return ()
        more = self._more_parents.get(version)
        return (first,) + more if more else (first,)

    def covers(self, versions: Iterable[int], target: int) -> bool:
        """Is ``target`` one of ``versions`` or an ancestor of one? Parents always started
        before their children, so the walk never goes below ``target``."""
        stack = [v for v in versions if v >= target]
        seen: set[int] = set()
        while stack:
            version = stack.pop()
            if version == target:
                return True
            if version in seen:
                continue
            seen.add(version)
            stack.extend(p for p in self.parents(version) if p >= target)
        return False

    @staticmethod
    def _last_ack_before(acks: list, invoke: float) -> tuple[float, int, bool, int] | None:
        for entry in reversed(acks):
            if entry[0] < invoke:
                return entry
        return None

    def _flush(self) -> None:
        """Move buffered rows into the typed columns."""
        if not self.rows:
            return
        table = np.frombuffer(bytes(self.rows), dtype=ROW_DTYPE)
        columns = (self.kind, self.key, self.invoke, self.complete, self.ok, self.value, self.versions)
        for name, column in zip(ROW_DTYPE.names, columns):
            column.frombytes(table[name].astype(column.typecode).tobytes())
        self.rows.clear()

    # -- durability -----------------------------------------------------------------
    def acked_keys(self) -> set[int]:
        return set(self._acked)

    def check_durability(self, surviving: Callable[[int], Iterable[int]]) -> int:
        """Count acknowledged writes that no version surviving at the end covers.
        ``surviving(key)`` gives the versions stored on replicas that are up."""
        lost = 0
        first_parent, more_parents = self._first_parent, self._more_parents  # ``parents``, inlined
        linked = len(first_parent)
        for key, written in self._acked.items():
            reached: set[int] = set()
            stack = list(surviving(key))
            floor = min(written)  # >= 0: the walk never meets a loaded record's -1
            while stack:
                version = stack.pop()
                if version in reached or version < floor:
                    continue
                reached.add(version)
                if version < linked:
                    parent = first_parent[version]
                    if parent != NO_PARENT:
                        stack.append(parent)
                        more = more_parents.get(version)
                        if more:
                            stack.extend(more)
            lost += sum(1 for version in written if version not in reached)
        self.lost_writes = lost
        return lost

    # -- results --------------------------------------------------------------------
    def metrics(self) -> list[tuple[str, float, str]]:
        out = [
            ("reads_checked", self.reads, "reads"),
            ("stale_reads", self.stale_reads, "reads"),
            ("stale_read_ratio", self.stale_reads / self.reads if self.reads else 0.0, "ratio"),
            ("stale_reads_sloppy", self.stale_reads_sloppy, "reads"),
            ("consistency_violations", self.violations, "reads"),
            ("reads_with_siblings", self.sibling_reads, "reads"),
            ("sibling_versions_seen", self.siblings_seen, "versions"),
            ("max_siblings", self.max_siblings, "versions"),
            ("acked_writes", self.acked_writes, "writes"),
        ]
        if self.lost_writes is not None:
            out.append(("acked_writes_lost", self.lost_writes, "writes"))
        return out

    def record_to(self, recorder: Any) -> None:
        for name, value, unit in self.metrics():
            recorder.value(name, value, unit)

    def __len__(self) -> int:
        self._flush()
        return len(self.kind)

    def columns(self) -> dict[str, array]:
        self._flush()
        return {"kind": self.kind, "key": self.key, "invoke": self.invoke, "complete": self.complete, "ok": self.ok,
                "value": self.value, "versions": self.versions}
