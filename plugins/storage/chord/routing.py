"""One Chord node's routing state and every decision it makes, sans-I/O.

No clock, no network, no randomness: the simulated node (``overlay.py``) feeds in what
arrived and sends what these methods return. Names follow the ToN'03 pseudocode
(Fig. 5 and 6 there): ``find`` is the step of ``find_successor`` a contacted node runs,
``closest_preceding`` is ``closest_preceding_node`` extended to the successor list,
``on_successor_state`` + ``on_notify`` are ``stabilize``/``notify``, ``next_finger`` +
``set_finger`` are ``fix_fingers``, ``drop`` is what a timeout teaches.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from plugins.storage.chord.ring import finger_start, in_half_open, in_open


@dataclass(frozen=True)
class Found:
    """The key lies within this node's successor list: its owner is the first live entry
    at or past the key (entries before it are the closest preceding nodes)."""

    successors: tuple[int, ...]


@dataclass(frozen=True)
class Closer:
    """Not mine to answer: these nodes precede the key more closely (closest first)."""

    candidates: tuple[int, ...]


@dataclass(frozen=True)
class Owned:
    """The contacted node is responsible for the key (key in (predecessor, node])."""

    successors: tuple[int, ...]


@dataclass(frozen=True)
class NotMine:
    """The contacted node's predecessor follows the key: someone joined in between (or
    the predecessor pointer names a node that has died since)."""

    predecessor: int
    successors: tuple[int, ...]


class Routing:
    """Finger table, successor list and predecessor of the node ``me``.

    Change the tables through the methods below: they keep ``_view`` (every known node
    sorted by distance from me, for a binary search per lookup step) up to date.
    """

    __slots__ = ("me", "m", "r", "size", "successors", "predecessor", "fingers", "next_index", "_view")

    def __init__(
        self,
        me: int,
        m: int,
        r: int,
        successors: list[int] | None = None,
        predecessor: int | None = None,
        fingers: list[int | None] | None = None,
    ) -> None:
        self.me, self.m, self.r, self.size = me, m, r, 1 << m
        self.successors: list[int] = list(successors or [])
        self.predecessor = predecessor
        self.fingers: list[int | None] = list(fingers) if fingers is not None else [None] * m
        self.next_index = 0  # fix_fingers' round-robin position
        self._view: tuple[list[int], list[int]] | None = None  # (distances from me, nodes), ascending

    @property
    def successor(self) -> int:
        """First successor; a node that knows none (alone, or lost them all) is its own."""
        return self.successors[0] if self.successors else self.me

    # -- lookups ----------------------------------------------------------------------
    def find(self, key: int, k: int, exclude: tuple[int, ...] = ()) -> Found | Closer:
        """One step of an iterative lookup, answered by this node.

        The key's owner is known here when the key falls within the span of the successor
        list: it is the first successor at or past the key (those after it are the
        fallbacks if it has died). With r = 1 this is the paper's test "key in (n,
        successor]"; a longer list answers a hop earlier and survives a dead immediate
        successor (ToN'03: the successor list serves lookups as well as stabilization).
        """
        succs = self.successors
        if not succs:
            return Found((self.me,))
        if (succs[-1] - self.me) % self.size >= ((key - self.me) % self.size or self.size):
            return Found(tuple(succs))  # the querier picks the entries at or past the key
        return Closer(tuple(self.closest_preceding(key, k, exclude)))

    def closest_preceding(self, key: int, k: int, exclude: tuple[int, ...] = ()) -> list[int]:
        """Up to ``k`` known nodes (fingers and successors) in (me, key) not in
        ``exclude``, closest to the key first: ``closest_preceding_node`` of the paper,
        extended to the successor list and to a few fallbacks."""
        distances, nodes = self._view or self._build_view()
        span = (key - self.me) % self.size or self.size  # candidates lie strictly between 0 and span from me
        j = bisect_left(distances, span)
        found: list[int] = []
        while j > 0 and len(found) < k:
            j -= 1
            if nodes[j] not in exclude:
                found.append(nodes[j])
        return found

    def _build_view(self) -> tuple[list[int], list[int]]:
        me, size = self.me, self.size
        known = {(n - me) % size: n for n in (*self.fingers, *self.successors) if n is not None and n != me}
        order = sorted(known)
        self._view = (order, [known[d] for d in order])
        return self._view

    def owns(self, key: int) -> Owned | NotMine:
        """Answer to "are you responsible for key?" (the lookup's last step)."""
        pred = self.predecessor
        if pred is None or pred == self.me or in_half_open(key, pred, self.me):
            return Owned(tuple(self.successors))
        return NotMine(pred, tuple(self.successors))

    # -- stabilize / notify -----------------------------------------------------------
    def on_successor_state(self, succ: int, its_predecessor: int | None, its_successors: list[int]) -> int:
        """Reconcile with the successor's view; return the (new) successor to notify.

        ToN'03 (section IV, stabilization with successor lists): adopt the successor's
        predecessor if it sits between us, then copy the successor's list, drop its last
        entry and prepend the successor.
        """
        head = [succ]
        if its_predecessor is not None and in_open(its_predecessor, self.me, succ):
            head = [its_predecessor, succ]
        self._set_successors(self._clean(head + list(its_successors)))
        return self.successor

    def set_successors(self, nodes: list[int]) -> None:
        """A joining node copies its successor's list behind it."""
        self._set_successors(self._clean(nodes))

    def adopt_predecessor_as_successor(self) -> bool:
        """Alone on the ring but notified by someone: make it the successor (the ring of 2)."""
        if self.successors or self.predecessor is None or self.predecessor == self.me:
            return False
        self._set_successors([self.predecessor])
        return True

    def on_notify(self, candidate: int) -> bool:
        """``candidate`` thinks it might be our predecessor."""
        if candidate == self.me:
            return False
        if self.predecessor is None or in_open(candidate, self.predecessor, self.me):
            self.predecessor = candidate
            return True
        return False

    def consider(self, node: int) -> bool:
        """A live node we had dropped (or just learnt of) may be a closer successor."""
        if node != self.me and (not self.successors or in_open(node, self.me, self.successor)):
            self._set_successors(self._clean([node] + self.successors))
            return True
        return False

    def drop(self, dead: int) -> None:
        """``dead`` did not answer: forget it everywhere."""
        if dead in self.successors:
            self._set_successors([s for s in self.successors if s != dead])
        if self.predecessor == dead:
            self.predecessor = None
        fingers = self.fingers
        if dead in fingers:
            self._view = None
            for i in range(self.m):
                if fingers[i] == dead:
                    fingers[i] = None

    def _set_successors(self, nodes: list[int]) -> None:
        if nodes != self.successors:
            self.successors = nodes
            self._view = None

    def _clean(self, nodes: list[int]) -> list[int]:
        """Distinct, in ring order from me, stopping where the list wraps back to me, r long."""
        out: list[int] = []
        for n in nodes:
            if n == self.me:
                break
            if n not in out:
                out.append(n)
            if len(out) == self.r:
                break
        return out

    # -- fix_fingers --------------------------------------------------------------------
    def next_finger(self) -> tuple[int, int] | None:
        """The next finger that needs a lookup, as (index, start).

        Fingers whose start falls in (me, successor] are the successor: set locally,
        without a lookup (only ~log2 N of the m fingers need one).
        """
        succ = self.successor
        if succ == self.me:
            return None
        covered = min(self.m, ((succ - self.me) % self.size).bit_length())  # 2^i <= gap to the successor
        if self.next_index < covered:
            fill = [succ] * (covered - self.next_index)
            if self.fingers[self.next_index:covered] != fill:
                self.fingers[self.next_index:covered] = fill
                self._view = None
            self.next_index = covered % self.m
            if covered == self.m:
                return None
        i = self.next_index
        self.next_index = (i + 1) % self.m
        return i, finger_start(self.me, i, self.m)

    def set_finger(self, i: int, node: int) -> None:
        """finger[i] = node = successor(start_i); later fingers whose start lies in
        [start_i, node] have the same successor and are set too."""
        start_i = finger_start(self.me, i, self.m)
        reach = (node - start_i) % self.size
        j = i
        while j < self.m and (finger_start(self.me, j, self.m) - start_i) % self.size <= reach:
            if self.fingers[j] != node:
                self.fingers[j] = node
                self._view = None
            j += 1
        if j > i + 1:
            self.next_index = j % self.m
