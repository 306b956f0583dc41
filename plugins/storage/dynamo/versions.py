"""Vector clocks, versions and one replica's store (Dynamo, section 4.4). Pure: no simulator.

A clock is a dict ``node -> counter``. Version B *descends* from A when B's clock is >= A's
in every entry; otherwise two versions are concurrent and both are kept as siblings, for
the client to reconcile. A coordinator's counter is ``max(its last counter + 1, now in
microseconds)``: increasing per node as Dynamo's sequence numbers are, and comparable
across nodes, so it doubles as the per-entry timestamp Dynamo keeps to truncate clocks
("when the number of (node, counter) pairs reaches a threshold, the oldest pair is removed").
With ``clocks=dotted`` (the default) "has seen" is judged by the coordinator's dot against the
writer's causal context instead (see ``dominates``), which keeps the same clocks but no longer
orders two concurrent writes that went through one coordinator.

Replica state is kept along simulated time: each stored version has the instant it became
visible on that replica and the instant a newer version superseded it. The request path
computes replica round trips ahead of time (see ``coordinator``), so a write's arrival at a
replica may lie in the future; a read asks for the versions live at its own service time.
"""

from __future__ import annotations

from typing import Iterable, Optional

INF = float("inf")
Clock = dict[int, int]


def descends(a: Clock, b: Clock) -> bool:
    """a >= b entry-wise (a has seen everything b has)."""
    for node, counter in b.items():
        if a.get(node, 0) < counter:
            return False
    return True


def merge(clocks: Iterable[Clock]) -> Clock:
    out: Clock = {}
    for clock in clocks:
        for node, counter in clock.items():
            if counter > out.get(node, 0):
                out[node] = counter
    return out


def next_counter(last: int, at: float) -> int:
    return max(last + 1, int(at * 1e6))


def truncate(clock: Clock, max_entries: int) -> Clock:
    """Drop the oldest entries (smallest counter = least recently advanced) beyond the limit."""
    if len(clock) <= max_entries:
        return clock
    keep = sorted(clock.items(), key=lambda item: (item[1], item[0]))[-max_entries:]
    return dict(keep)


class Version:
    """One written value: its vector clock (maybe truncated), the causal context the client
    supplied (the clock without the coordinator's new entry), write id, coordinator's
    timestamp (for last-writer-wins), the dot its coordinator advanced, and the value."""

    __slots__ = ("clock", "context", "wid", "ts", "coord", "counter", "value")

    def __init__(self, clock: Clock, context: Clock, wid: int, ts: float, coord: int, counter: int,
                 value: object) -> None:
        self.clock, self.context, self.wid, self.ts = clock, context, wid, ts
        self.coord, self.counter, self.value = coord, counter, value

    def __repr__(self) -> str:
        return f"<Version w{self.wid} {self.clock}>"


def dominates(a: Version, b: Version, dotted: bool) -> bool:
    """Has ``a``'s writer seen ``b``? Dynamo's vector clocks answer by comparing clocks,
    which wrongly orders two concurrent writes through the same coordinator (the second
    gets a higher counter of that node); dotted version vectors (Preguica et al. 2012,
    Riak 2.0) ask whether ``b``'s dot is in ``a``'s causal context."""
    if dotted:
        return a.context.get(b.coord, 0) >= b.counter
    return descends(a.clock, b.clock)


def frontier(versions: Iterable[Version], dotted: bool = True) -> list[Version]:
    """Syntactic reconciliation: the versions no other one has seen (siblings)."""
    out: list[Version] = []
    for v in versions:
        if any(o is v or o.coord == v.coord and o.counter == v.counter for o in out):
            continue
        if any(dominates(o, v, dotted) for o in out):
            continue
        out = [o for o in out if not dominates(v, o, dotted)]
        out.append(v)
    return out


class ReplicaStore:
    """One node's versions, by key: entries ``[version, visible_from, superseded_at]``.

    ``floor`` is the earliest instant any future request can observe (the issue time of the
    operation being computed: later operations start no earlier); versions superseded
    before it can never be read again and are dropped as the key is touched.
    """

    __slots__ = ("data", "dotted")

    def __init__(self, dotted: bool = True) -> None:
        self.data: dict[int, list[list]] = {}
        self.dotted = dotted

    def apply(self, key: int, version: Version, at: float, floor: float) -> bool:
        """Store ``version`` from time ``at``; returns False if it was already there."""
        entries = self.data.get(key)
        new = [version, at, INF]
        if entries is None:
            self.data[key] = [new]
            return True
        dotted = self.dotted
        expired = False
        for e in entries:
            old = e[0]
            if old is version or (old.coord == version.coord and old.counter == version.counter):
                if at < e[1]:
                    e[1] = at  # the same version arriving earlier by another path
                return False
            if e[2] <= floor:
                expired = True
                continue
            if dominates(version, old, dotted):  # the new one supersedes the old (from when both are here)
                cut = e[1] if e[1] > at else at
                if cut < e[2]:
                    e[2] = cut
            elif dominates(old, version, dotted):  # an older version arriving late: visible only until the newer one
                cut = e[1] if e[1] > at else at
                if cut < new[2]:
                    new[2] = cut
        if expired:
            entries[:] = [e for e in entries if e[2] > floor]
        entries.append(new)
        return True

    def read(self, key: int, at: float) -> list[Version]:
        """The versions live on this replica at time ``at`` (siblings when more than one)."""
        entries = self.data.get(key)
        if not entries:
            return []
        if len(entries) == 1:
            e = entries[0]
            return [e[0]] if e[1] <= at < e[2] else []
        return [e[0] for e in entries if e[1] <= at < e[2]]

    def keys(self) -> list[int]:
        return list(self.data)

    def drop(self, key: int) -> Optional[list[list]]:
        return self.data.pop(key, None)

    def __len__(self) -> int:
        return len(self.data)
