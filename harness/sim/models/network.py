"""Flow-level network: max-min fair sharing of link capacity, recomputed incrementally.

A transfer is one *flow* over a path of links (bytes per second everywhere). Rates follow
max-min fairness, computed by progressive filling: every unfrozen flow's rate rises at the
same pace until a link on its path saturates (or it reaches its own rate cap); the flows of
that link freeze and the rest keep rising (Bertsekas & Gallager, *Data Networks*, 6.5.2).
This is the "fluid" model SimGrid validated for TCP bulk transfers (Velho et al., ACM
TOMACS 2013), without SimGrid's TCP-window and RTT corrections; see docs/models.md.

Incremental recomputation, exact: after a change (flows added or removed, a capacity
changed) only some flows are re-filled, on the capacity the others leave them:

1. Progressive filling freezes flows in increasing rate order, and a change cannot alter
   the filling below the lowest level theta at which it is felt (the removed flow's rate,
   the level at which an added flow's first link would saturate, 0 for a capacity
   change). Flows slower than theta keep their rates.
2. Starting from the changed links, flows at or above theta join the re-filled set, and
   the search continues through *saturated* links only: a link with spare capacity
   couples nothing.
3. After the filling, every link whose load changed is checked against the max-min
   condition (each flow has a bottleneck: a saturated link where no flow is faster, or
   its own cap). Flows outside the set that lost their bottleneck, or run faster than
   the new fair level of a link they share, join it and the filling is redone.

Step 3 makes the result identical to a full recomputation (tests compare the two on
random scenarios); steps 1-2 only decide how little work that takes. Cost per event is
proportional to the flows coupled to the change through saturated links: small when
contention is local, all of them in a fully loaded all-to-all shuffle.
"""

from __future__ import annotations

import heapq
import math
from typing import Hashable, Iterable, Sequence

DONE_BYTES = 1e-6  # remaining bytes below this count as delivered (float rounding)
INF = math.inf


class _Flow:
    __slots__ = ("fid", "seq", "path", "size", "remaining", "rate", "t_last", "cap", "version", "bottleneck")

    def __init__(self, fid: int, seq: int, path: tuple[int, ...], size: float, now: float, cap: float) -> None:
        self.fid = fid
        self.seq = seq
        self.path = path
        self.size = size
        self.remaining = size
        self.rate = 0.0
        self.t_last = now
        self.cap = cap
        self.version = 0
        self.bottleneck = -1  # link index it froze on in the last filling; -1: its own cap


class _LinkView:
    """One link as seen by one recomputation (members re-filled, the rest held fixed)."""

    __slots__ = ("members", "anchored", "residual", "fixed_load")

    def __init__(self) -> None:
        self.members: list[_Flow] = []
        self.anchored: list[_Flow] = []  # non-members whose bottleneck is this link
        self.residual = 0.0
        self.fixed_load = 0.0  # load of the flows held fixed


class FlowNetwork:
    """Links with capacities and the flows crossing them; all times are absolute seconds.

    ``min_interval_s`` (default 0: exact) lets a large run trade accuracy for speed: rates
    are then recomputed at most once per interval of simulated time, so a new flow may wait
    up to one interval for its first rate and capacity freed by a finished flow may sit idle
    as long. Capacities are never exceeded either way.
    """

    def __init__(self, min_interval_s: float = 0.0) -> None:
        if not math.isfinite(min_interval_s) or min_interval_s < 0:
            raise ValueError(f"min_interval_s={min_interval_s!r}: expected a finite number >= 0")
        self._interval = float(min_interval_s)
        self._last_solve = -INF
        self._urgent = False
        self._link_index: dict[Hashable, int] = {}
        self._link_names: list[Hashable] = []
        self._capacity: list[float] = []
        self._link_flows: list[dict[int, _Flow]] = []  # active flows per link, in start order
        self._carried: list[float] = []  # bytes delivered across each link up to settlement
        self._load: list[float] = []  # sum of the current rates of the flows on each link
        self._anchored: list[dict[int, _Flow]] = []  # flows whose bottleneck each link is
        self._flows: dict[int, _Flow] = {}  # active flows, in start order
        self._seq = 0
        self._clock = 0.0
        self._heap: list[tuple[float, int, int, int]] = []  # (finish, seq, flow, version)
        self._done: dict[int, tuple[int, float]] = {}  # finished, not yet returned: flow -> (seq, size)
        # Changes since the last rate computation:
        self._dirty = False
        self._theta = INF
        self._new: dict[int, None] = {}
        self._seeds: dict[int, None] = {}
        self.recomputed_flows = 0  # flows re-filled so far (a cost counter for benchmarks)

    # -- topology -------------------------------------------------------------------
    def add_link(self, link: Hashable, capacity_Bps: float) -> None:
        if link in self._link_index:
            raise ValueError(f"link {link!r} already exists")
        _require_rate("capacity_Bps", capacity_Bps)
        self._link_index[link] = len(self._link_names)
        self._link_names.append(link)
        self._capacity.append(float(capacity_Bps))
        self._link_flows.append({})
        self._carried.append(0.0)
        self._load.append(0.0)
        self._anchored.append({})

    def set_capacity(self, link: Hashable, capacity_Bps: float, now: float) -> None:
        """Change a link's capacity at ``now`` (0 stalls its flows until it comes back)."""
        _require_rate("capacity_Bps", capacity_Bps)
        index = self._index(link)
        self._advance_to(now)
        if self._capacity[index] == capacity_Bps:
            return
        self._capacity[index] = float(capacity_Bps)
        self._mark_changed((index,), 0.0)
        self._urgent = True  # a smaller capacity must never be exceeded, even briefly

    def capacity(self, link: Hashable) -> float:
        return self._capacity[self._index(link)]

    # -- flows ----------------------------------------------------------------------
    def start_flow(
        self,
        flow: int,
        path: Sequence[Hashable],
        nbytes: float,
        now: float,
        rate_cap_Bps: float | None = None,
    ) -> None:
        """Start moving ``nbytes`` along ``path`` at ``now``.

        A zero-byte flow, or one with an empty path and no rate cap, finishes at ``now``.
        """
        if flow in self._flows or flow in self._done:
            raise ValueError(f"flow {flow!r} is already active")
        if not math.isfinite(nbytes) or nbytes < 0:
            raise ValueError(f"nbytes={nbytes!r}: expected a finite number >= 0")
        if rate_cap_Bps is not None and (not math.isfinite(rate_cap_Bps) or rate_cap_Bps <= 0):
            raise ValueError(f"rate_cap_Bps={rate_cap_Bps!r}: expected a finite number > 0")
        links = tuple(self._index(link) for link in path)
        if len(set(links)) != len(links):
            raise ValueError(f"path {list(path)!r} crosses a link twice")
        self._advance_to(now)
        seq = self._seq
        self._seq += 1
        if nbytes <= DONE_BYTES or (not links and rate_cap_Bps is None):
            for link in links:
                self._carried[link] += nbytes
            self._done[flow] = (seq, float(nbytes))
            return
        cap = INF if rate_cap_Bps is None else float(rate_cap_Bps)
        record = _Flow(flow, seq, links, float(nbytes), self._clock, cap)
        self._flows[flow] = record
        for link in links:
            self._link_flows[link][flow] = record
        self._new[flow] = None
        self._mark_changed(links, INF)

    def cancel_flow(self, flow: int, now: float) -> float:
        """Stop a flow at ``now``; returns the bytes it delivered."""
        if flow not in self._flows and flow not in self._done:
            raise KeyError(flow)
        self._advance_to(now)
        if flow in self._done:  # it finished at or before ``now`` but was not reported yet
            return self._done.pop(flow)[1]
        record = self._flows[flow]
        self._settle(record)
        self._remove(record)
        return record.size - record.remaining

    def advance(self, now: float) -> list[int]:
        """Progress every flow to ``now``; remove and return finished flows in start order."""
        self._advance_to(now)
        finished = sorted(self._done.items(), key=lambda item: item[1][0])
        self._done.clear()
        return [flow for flow, _ in finished]

    def next_completion(self) -> float | None:
        """Absolute time of the earliest completion at current rates (None if none can progress)."""
        self._solve()
        if self._done:
            return self._clock
        entry = self._peek()
        finish = None if entry is None else entry[0]
        if self._dirty:  # a deferred recomputation is an event too
            due = self._solve_due()
            finish = due if finish is None else min(finish, due)
        return finish

    def rate(self, flow: int) -> float:
        self._solve()
        record = self._flows.get(flow)
        if record is None:
            if flow in self._done:
                return 0.0
            raise KeyError(flow)
        return record.rate

    def remaining(self, flow: int) -> float:
        """Bytes still to deliver as of the last time the network was advanced to."""
        self._solve()
        record = self._flows.get(flow)
        if record is None:
            if flow in self._done:
                return 0.0
            raise KeyError(flow)
        return max(0.0, record.remaining - record.rate * (self._clock - record.t_last))

    @property
    def active_flows(self) -> int:
        return len(self._flows)

    @property
    def now(self) -> float:
        return self._clock

    @property
    def link_bytes(self) -> dict[Hashable, float]:
        """Bytes carried per link so far, including in-flight progress (accounting)."""
        self._solve()
        carried = list(self._carried)
        for record in self._flows.values():
            moved = min(record.remaining, record.rate * (self._clock - record.t_last))
            for link in record.path:
                carried[link] += moved
        return {name: carried[i] for i, name in enumerate(self._link_names)}

    # -- time -----------------------------------------------------------------------
    def _advance_to(self, now: float) -> None:
        if not math.isfinite(now):
            raise ValueError(f"now={now!r}: expected a finite time")
        if now < self._clock - _time_tolerance(self._clock):
            raise ValueError(f"now={now!r} is before the network's clock {self._clock!r}")
        now = max(now, self._clock)
        while True:
            self._solve()
            entry = self._peek()
            finish = INF if entry is None else entry[0]
            due = self._solve_due() if self._dirty else INF
            if min(finish, due) > now + _time_tolerance(now):
                break
            if due < finish:
                self._clock = max(self._clock, min(due, now))
                self._solve(force=True)
                continue
            self._clock = max(self._clock, min(finish, now))
            self._complete_due(finish + _time_tolerance(finish))
        self._clock = now

    def _complete_due(self, until: float) -> None:
        """Finish every flow predicted to end by ``until`` (ties within float noise end together)."""
        while self._heap and self._heap[0][0] <= until:
            _, _, fid, version = heapq.heappop(self._heap)
            record = self._flows.get(fid)
            if record is None or record.version != version:
                continue
            self._settle(record)
            for link in record.path:  # float dust between predicted and actual finish
                self._carried[link] += record.remaining
            record.remaining = 0.0
            self._remove(record)
            self._done[fid] = (record.seq, record.size)

    def _settle(self, record: _Flow) -> None:
        """Bring a flow's delivered bytes up to the clock at its current rate."""
        elapsed = self._clock - record.t_last
        if elapsed > 0 and record.rate > 0:
            moved = min(record.remaining, record.rate * elapsed)
            record.remaining -= moved
            if record.remaining <= DONE_BYTES:
                moved += record.remaining
                record.remaining = 0.0
            for link in record.path:
                self._carried[link] += moved
        record.t_last = self._clock

    def _remove(self, record: _Flow) -> None:
        """Take a flow out and note which links (and from which rate up) it affected."""
        del self._flows[record.fid]
        for link in record.path:
            flows_here = self._link_flows[link]
            del flows_here[record.fid]
            self._load[link] = self._load[link] - record.rate if flows_here else 0.0
        if record.bottleneck >= 0:
            self._anchored[record.bottleneck].pop(record.fid, None)
        if record.fid in self._new:
            del self._new[record.fid]  # never got a rate: nothing else depended on it
            self._mark_changed(record.path, INF)
        else:
            self._mark_changed(record.path, record.rate)
        record.version += 1

    def _peek(self) -> tuple[float, int, int, int] | None:
        heap = self._heap
        while heap:
            _, _, fid, version = heap[0]
            record = self._flows.get(fid)
            if record is not None and record.version == version:
                return heap[0]
            heapq.heappop(heap)
        return None

    # -- rates ----------------------------------------------------------------------
    def _mark_changed(self, links: Iterable[int], theta: float) -> None:
        self._dirty = True
        self._theta = min(self._theta, theta)
        for link in links:
            self._seeds[link] = None

    def _solve_due(self) -> float:
        return self._last_solve + self._interval

    def _solve(self, force: bool = False) -> None:
        """Re-fill the flows a change can affect; see the module docstring.

        The member set starts from the changed links and grows through saturated links
        only (an unsaturated link couples nothing). After each filling, every link whose
        load changed is checked against the max-min conditions; a flow outside the set that
        lost its bottleneck, or that runs faster than the new fair level of a link it
        shares, joins the set and the filling is redone. The result is exact.
        """
        if not self._dirty:
            return
        if not (force or self._urgent) and self._interval > 0 and self._clock < self._solve_due():
            return  # deferred: _advance_to runs it when its time comes
        self._last_solve = self._clock
        self._urgent = False
        theta = min(self._theta, self._entry_level())
        threshold = theta * (1.0 - 1e-9) - 1e-12
        members: dict[int, _Flow] = {fid: self._flows[fid] for fid in self._new}
        visited: dict[int, None] = {}
        start = list(self._seeds)
        while True:
            self._grow(members, start, visited, threshold)
            touched = dict(visited)
            for record in members.values():
                touched.update(dict.fromkeys(record.path))
            views = self._residuals(members, touched)
            rates, bottleneck = self._fill(members, views)
            late = self._violations(views, visited, threshold, rates, bottleneck)
            if not late:
                break
            start = []
            for record in late:
                members[record.fid] = record
                start.extend(record.path)
        self._apply(members, rates, bottleneck)
        self.recomputed_flows += len(members)
        self._dirty = False
        self._theta = INF
        self._new = {}
        self._seeds = {}
        if len(self._heap) > 2 * len(self._flows) + 64:
            self._rebuild_heap()

    def _entry_level(self) -> float:
        """Lowest fill level at which a link carrying a new flow would saturate.

        Below it, the new flows change nothing: on each such link the old flows frozen
        below the level keep their rates, and the link has room for everyone else.
        """
        if not self._new:
            return INF
        arriving: dict[int, int] = {}
        for fid in self._new:
            for link in self._flows[fid].path:
                arriving[link] = arriving.get(link, 0) + 1
        level = INF
        for link, count in arriving.items():
            others = sorted(r.rate for f, r in self._link_flows[link].items() if f not in self._new)
            level = min(level, _saturation_level(self._capacity[link], others, count))
        return level

    def _grow(self, members: dict[int, _Flow], start: list[int], visited: dict[int, None], threshold: float) -> None:
        """Add flows at or above ``threshold`` reachable from ``start`` through saturated links.

        ``start`` links are scanned even when unsaturated (they changed); links reached
        later are scanned only when saturated.
        """
        queue = [link for link in start if link not in visited]
        visited.update(dict.fromkeys(queue))
        link_flows, load, capacity = self._link_flows, self._load, self._capacity
        while queue:
            link = queue.pop()
            for fid, record in link_flows[link].items():
                if fid in members or record.rate < threshold:
                    continue
                members[fid] = record
                for other in record.path:
                    if other not in visited and load[other] >= capacity[other] * (1.0 - 1e-9) - 1e-9:
                        visited[other] = None
                        queue.append(other)

    def _residuals(self, members: dict[int, _Flow], links: dict[int, None]) -> dict[int, _LinkView]:
        """Per link: member flows, the capacity the others leave them, and the non-members
        whose bottleneck the link is (for the max-min check). O(members + anchored)."""
        views = {link: _LinkView() for link in links}
        for record in members.values():
            for link in record.path:
                view = views[link]
                view.members.append(record)
                view.fixed_load -= record.rate  # becomes load - members' old rates below
        load, capacity, anchored = self._load, self._capacity, self._anchored
        for link, view in views.items():
            fixed = load[link] + view.fixed_load
            fixed = fixed if fixed > 0.0 else 0.0
            view.fixed_load = fixed
            left = capacity[link] - fixed
            view.residual = left if left > 0.0 else 0.0
            if anchored[link]:
                view.anchored = [r for fid, r in anchored[link].items() if fid not in members]
        return views

    @staticmethod
    def _fill(members: dict[int, _Flow], views: dict[int, _LinkView]) -> tuple[dict[int, float], dict[int, int]]:
        """Progressive filling of ``members`` on the residual capacities.

        Returns each member's rate and bottleneck (the link it froze on; -1 for its cap).
        The heap holds each link's fair share (residual / unfrozen flows) lazily: freezing
        flows at the current (lowest) level can only raise other links' shares, so a popped
        entry that is too low is pushed back with its current share, and no entry is ever
        too high.
        """
        on_link = {link: view.members for link, view in views.items() if view.members}
        residual = {link: views[link].residual for link in on_link}
        count = {link: len(records) for link, records in on_link.items()}
        heap = [(residual[link] / n, link) for link, n in count.items()]
        heapq.heapify(heap)
        caps = sorted((r.cap, r.seq, r.fid) for r in members.values() if r.cap < INF)
        cap_at = 0
        rates: dict[int, float] = {}
        bottleneck: dict[int, int] = {}
        heappop, heapreplace = heapq.heappop, heapq.heapreplace
        while len(rates) < len(members):
            share = INF
            while heap:
                stored, link = heap[0]
                n = count[link]
                if n == 0:
                    heappop(heap)
                    continue
                share = residual[link] / n
                if share > stored * (1.0 + 1e-12):
                    heapreplace(heap, (share, link))
                    continue
                break
            while cap_at < len(caps) and caps[cap_at][2] in rates:
                cap_at += 1
            if cap_at < len(caps) and caps[cap_at][0] <= share:
                frozen = [members[caps[cap_at][2]]]
                share = caps[cap_at][0]
                link = -1
            else:
                link = heappop(heap)[1]
                frozen = [r for r in on_link[link] if r.fid not in rates]
            for record in frozen:
                rates[record.fid] = share
                bottleneck[record.fid] = link
                for other in record.path:
                    left = residual[other] - share
                    residual[other] = left if left > 0.0 else 0.0
                    count[other] -= 1
        return rates, bottleneck

    def _violations(
        self,
        views: dict[int, _LinkView],
        scanned: dict[int, None],
        threshold: float,
        rates: dict[int, float],
        bottleneck: dict[int, int],
    ) -> list[_Flow]:
        """Flows outside the member set that the new member rates leave unfair.

        Max-min holds iff every flow has a bottleneck: a saturated link on which no flow is
        faster (or its own cap). Links no member uses keep their loads and rates, so only
        these links can break it, in two ways: a non-member is faster than the level
        members froze at on a link they share, or a non-member's bottleneck now has slack
        or a faster member. On scanned links every non-member is below ``threshold``, so
        the first case needs a scan only where members froze lower than that.
        """
        late: dict[int, _Flow] = {}
        for link, view in views.items():
            level = -1.0
            fastest = 0.0
            load = view.fixed_load
            for record in view.members:
                rate = rates[record.fid]
                load += rate
                if rate > fastest:
                    fastest = rate
                if bottleneck[record.fid] == link and rate > level:
                    level = rate
            if level >= 0.0 and (link not in scanned or level < threshold):
                limit = level * (1.0 + 1e-9) + 1e-12
                for fid, record in self._link_flows[link].items():
                    if record.rate > limit and fid not in rates:
                        late[fid] = record
            if not view.anchored:
                continue
            slack = load < self._capacity[link] * (1.0 - 1e-9) - 1e-9
            for record in view.anchored:
                if slack or fastest > record.rate * (1.0 + 1e-9) + 1e-12:
                    late[record.fid] = record
        return list(late.values())

    def _apply(self, members: dict[int, _Flow], rates: dict[int, float], bottleneck: dict[int, int]) -> None:
        heap = self._heap
        new = self._new
        load = self._load
        anchored = self._anchored
        for fid, record in members.items():
            rate = rates[fid]
            link = bottleneck[fid]
            if link != record.bottleneck:
                if record.bottleneck >= 0:
                    anchored[record.bottleneck].pop(fid, None)
                if link >= 0:
                    anchored[link][fid] = record
                record.bottleneck = link
            if fid not in new and _same_rate(record.rate, rate):
                continue
            self._settle(record)
            for link in record.path:
                load[link] += rate - record.rate
            record.rate = rate
            record.version += 1
            if rate > 0:
                finish = self._clock + record.remaining / rate
                heapq.heappush(heap, (finish, record.seq, fid, record.version))

    def _rebuild_heap(self) -> None:
        heap = []
        for record in self._flows.values():
            if record.rate > 0:
                finish = record.t_last + record.remaining / record.rate
                heap.append((finish, record.seq, record.fid, record.version))
        heapq.heapify(heap)
        self._heap = heap

    def _index(self, link: Hashable) -> int:
        try:
            return self._link_index[link]
        except KeyError:
            raise KeyError(f"unknown link {link!r}") from None


def _saturation_level(capacity: float, rates: list[float], arriving: int) -> float:
    """Smallest level x with sum(min(r, x) for r in rates) + arriving * x >= capacity.

    ``rates`` are the link's existing flows (ascending); flows slower than x keep their
    rate, the others and the ``arriving`` ones rise together to x.
    """
    frozen = 0.0
    for i, rate in enumerate(rates):
        rising = len(rates) - i + arriving
        level = (capacity - frozen) / rising
        if level <= rate:
            return max(0.0, level)
        frozen += rate
    return max(0.0, (capacity - frozen) / arriving)


def _same_rate(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def _time_tolerance(t: float) -> float:
    """A few ulps of ``t``: times closer than this are the same instant to SimPy."""
    return 64.0 * math.ulp(max(1.0, abs(t)))


def _require_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={value!r}: expected a finite number >= 0 (bytes per second)")
