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
        coord, counter = v.coord, v.counter
        for o in out:  # already there, or seen by one that is (``dominates(o, v)``, inlined when dotted)
            if o is v or (o.counter == counter and o.coord == coord) or (
                    o.context.get(coord, 0) >= counter if dotted else descends(o.clock, v.clock)):
                break
        else:
            out = [o for o in out if not dominates(v, o, dotted)]
            out.append(v)
    return out


def live_at(entries: list[tuple], at: float) -> list[Version]:
    """The versions of ``entries`` live at time ``at``, in stored order (a plain loop: a
    comprehension costs twice as much for the two or three entries a hot key has)."""
    live = []
    for version, visible, superseded in entries:
        if visible <= at < superseded:
            live.append(version)
    return live


Entry = tuple[Version, float, float]  # (version, visible_from, superseded_at)


def add_version(entries: list[Entry], version: Version, at: float, floor: float, dotted: bool) -> bool:
    """``ReplicaStore.apply`` to the entries a replica already holds for a key (see there)."""
    coord, counter, seen = version.coord, version.counter, version.context
    until = INF  # when the new version stops being visible
    expired = 0
    for i, e in enumerate(entries):
        old, visible, superseded = e
        if old is version or (old.counter == counter and old.coord == coord):
            if at < visible:
                entries[i] = (old, at, superseded)  # the same version arriving earlier by another path
            return False
        if superseded <= floor:
            expired += 1
            stale = e
            continue
        # ``dominates`` both ways, inlined for dotted clocks: every replica write runs this loop.
        if (seen.get(old.coord, 0) >= old.counter) if dotted else descends(version.clock, old.clock):
            cut = visible if visible > at else at  # the new one supersedes the old (from when both are here)
            if cut < superseded:
                entries[i] = (old, visible, cut)
        elif (old.context.get(coord, 0) >= counter) if dotted else descends(old.clock, version.clock):
            # an older version arriving late: visible only until the newer one
            cut = visible if visible > at else at
            if cut < until:
                until = cut
    if expired == 1 and at > floor:
        # The usual case: the version the key had before its last write. (Cuts made above
        # are >= at > floor, so no other entry expired; and no two entries hold the same
        # version, so ``remove`` finds this one.)
        entries.remove(stale)
    elif expired:
        entries[:] = [e for e in entries if e[2] > floor]
    entries.append((version, at, until))
    return True


class ReplicaStore:
    """One node's versions, by key: a list of entries ``(version, visible_from, superseded_at)``.

    Entries are tuples, replaced rather than changed when a time moves: a read then touches
    one object per entry, and the records loaded before the run can share theirs.

    ``floor`` is the earliest instant any future request can observe (the issue time of the
    operation being computed: later operations start no earlier); versions superseded
    before it can never be read again and are dropped as the key is touched.
    """

    __slots__ = ("data", "dotted")

    def __init__(self, dotted: bool = True) -> None:
        self.data: dict[int, list[Entry]] = {}
        self.dotted = dotted

    def apply(self, key: int, version: Version, at: float, floor: float) -> bool:
        """Store ``version`` from time ``at``; returns False if it was already there."""
        entries = self.data.get(key)
        if entries is None:
            self.data[key] = [(version, at, INF)]
            return True
        return add_version(entries, version, at, floor, self.dotted)

    def read(self, key: int, at: float) -> list[Version]:
        """The versions live on this replica at time ``at`` (siblings when more than one)."""
        entries = self.data.get(key)
        if not entries:
            return []
        if len(entries) == 1:
            e = entries[0]
            return [e[0]] if e[1] <= at < e[2] else []
        return live_at(entries, at)

    def keys(self) -> list[int]:
        return list(self.data)

    def drop(self, key: int) -> Optional[list[Entry]]:
        return self.data.pop(key, None)

    def __len__(self) -> int:
        return len(self.data)
