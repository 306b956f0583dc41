"""An iterative Chord lookup as a state machine, sans-I/O.

The querying node contacts each hop itself (SIGCOMM'01 6.1, "iterative style"): it asks
a node for the key; the node answers either "Found: my successor list" (the key lies
within the list's span; with r = 1, between the node and its successor) or "Closer: ask
one of these". The querier then asks the owner, the first live entry at or past the key,
to confirm. A hop that does not answer within the timeout is marked dead and the lookup
falls back on the next-best candidate it knows (a lower finger or a successor, from any
earlier answer), or asks the closest node that answered again, naming the dead, as the
ToN'03 paper's lookups continue through the next-best finger after a failure.

The driver (``overlay.py``) performs each returned action and feeds back the reply or
the timeout; this class decides what to do next and counts hops and timeouts.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from plugins.storage.chord.routing import Closer, Found, NotMine, Owned


@dataclass(frozen=True)
class Query:
    node: int  # ask this node for the key...
    exclude: tuple[int, ...] = ()  # ...naming the nodes found dead so far, so it suggests others


@dataclass(frozen=True)
class Confirm:
    node: int  # ask this node whether it owns the key


@dataclass(frozen=True)
class Done:
    owner: int
    successors: tuple[int, ...]  # the owner's successor list (a joining node copies it)


@dataclass(frozen=True)
class Failed:
    reason: str  # "no_candidate" | "rpc_limit"


Action = Query | Confirm | Done | Failed
PRECEDING_FALLBACKS = 3  # entries of a Found list just before the key kept as candidates


class IterativeLookup:
    """Candidates ordered by clockwise distance to the key: the closest preceding known
    node is always asked next, so in a stable ring the path is exactly Chord's."""

    __slots__ = ("key", "size", "max_rpcs", "skip", "pending", "queried", "dead", "owners", "claimed", "confirmed",
                 "best", "asked", "hops", "timeouts", "rpcs")

    def __init__(self, key: int, m: int, max_rpcs: int, skip: tuple[int, ...] = ()) -> None:
        self.key = key
        self.size = 1 << m
        self.max_rpcs = max_rpcs
        self.skip = frozenset(skip)  # never contact these (a joining node skips itself)
        self.pending: list[tuple[int, int]] = []  # (distance to key, node): a heap
        self.queried: set[int] = set()
        self.dead: set[int] = set()
        self.owners: list[int] = []  # successor list from the last Found, to confirm in order
        self.claimed: Done | None = None  # a live node that disowned the key for a predecessor we are checking
        self.confirmed: set[int] = set()  # nodes asked to confirm that disowned the key
        self.best: tuple[int, int] | None = None  # (distance to key, node): the closest node that answered
        self.asked: dict[int, int] = {}  # node -> how many dead nodes we knew of when we asked it
        self.hops = 0  # answered queries: the path length
        self.timeouts = 0
        self.rpcs = 0  # every request sent, answered or not

    def start(self, origin: int, local: Found | Closer) -> Action:
        """The querying node's own step (its own table, no message)."""
        return self.on_reply(origin, local, local=True)

    def start_at(self, node: int) -> Action:
        """A node without a table (joining) starts at a bootstrap node."""
        self._candidate(node)
        return self._next()

    def on_reply(self, node: int, reply: Found | Closer, local: bool = False) -> Action:
        """``node`` answered (``local``: the querying node consulted its own table)."""
        self.hops += not local
        self.queried.add(node)
        self.asked.setdefault(node, 0)
        distance = (self.key - node) % self.size
        if self.best is None or distance < self.best[0]:
            self.best = (distance, node)
        self._absorb(node, reply)
        return self._next()

    def on_confirm(self, node: int, reply: Owned | NotMine) -> Action:
        if isinstance(reply, Owned):
            return Done(node, reply.successors)
        # The node's predecessor follows the key: if it is alive it joined in between and
        # owns the key (ask it in turn); if it does not answer, this node is the owner.
        self.claimed = Done(node, reply.successors)
        self.confirmed.add(node)
        self.owners = [] if reply.predecessor in self.confirmed else [reply.predecessor]
        return self._next()

    def on_timeout(self, node: int) -> Action:
        self.timeouts += 1
        self.dead.add(node)
        return self._next()

    def _absorb(self, node: int, reply: Found | Closer) -> None:
        key, size, pending = self.key, self.size, self.pending
        if type(reply) is Closer:
            for candidate in reply.candidates:
                heapq.heappush(pending, ((key - candidate) % size, candidate))
            return
        # Successors at or past the key are the owner and its fallbacks, in order; the few
        # just before it are the closest preceding nodes (if every owner has died).
        succs = reply.successors
        reach = (key - node) % size or size
        lo, hi = 0, len(succs)  # binary search: the list is in ring order from ``node``
        while lo < hi:
            mid = (lo + hi) // 2
            if ((succs[mid] - node) % size or size) >= reach:  # a lone node lists itself: the whole circle
                hi = mid
            else:
                lo = mid + 1
        self.owners = list(succs[lo:])
        for successor in succs[max(0, lo - PRECEDING_FALLBACKS):lo]:
            heapq.heappush(pending, ((key - successor) % size, successor))

    def _candidate(self, node: int) -> None:
        heapq.heappush(self.pending, ((self.key - node) % self.size, node))

    def _usable(self, node: int) -> bool:
        return node not in self.dead and node not in self.skip

    def _next(self) -> Action:
        if self.rpcs >= self.max_rpcs:
            return Failed("rpc_limit")
        while self.owners:
            owner = self.owners.pop(0)
            if self._usable(owner):
                self.rpcs += 1
                return Confirm(owner)
        if self.claimed is not None:
            return self.claimed
        pending, best = self.pending, self.best
        while pending:  # the closest preceding candidate, if it makes progress past the best node so far
            distance, node = pending[0]
            if node in self.queried or not self._usable(node):
                heapq.heappop(pending)
                continue
            if best is not None and distance >= best[0]:
                break
            heapq.heappop(pending)
            return self._query(node)
        if best is not None and self.asked.get(best[1], 0) < len(self.dead):
            # Every candidate it gave has died: ask it again, naming the dead (the next finger).
            return self._query(best[1])
        while pending:  # backtrack: candidates from earlier, farther answers
            _, node = heapq.heappop(pending)
            if node not in self.queried and self._usable(node):
                return self._query(node)
        return Failed("no_candidate")

    def _query(self, node: int) -> Query:
        self.rpcs += 1
        self.asked[node] = len(self.dead)
        return Query(node, tuple(self.dead))
