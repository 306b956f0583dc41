"""The request path: routing, the coordinator, R/W quorums, sloppy quorum, read repair.

One ``get`` or ``put`` is computed in full when it is issued (see ``service``): the client
reaches a coordinator (directly with client-driven routing, through a load balancer and
possibly a forwarding node with server-driven routing), the coordinator sends the request
to the first N healthy nodes of the key's preference list (stand-ins from further down the
ring, carrying a hint, replace nodes it believes down), each replica serves it through its
CPU and disk queues and answers, and the coordinator answers the client at the W-th (R-th)
reply, or fails after its timeout when too few replies can come. Replica state changes are
stamped with the instant they happen on that replica, so a read sees what each replica held
when it served the read.
"""

from __future__ import annotations

from heapq import heapreplace
from typing import Any, Iterator, Optional

from plugins.storage.dynamo.versions import Version, add_version, frontier, live_at, truncate

INF = float("inf")


class Reply:
    """What a get returns to the client library."""

    __slots__ = ("ok", "done", "versions", "strict")

    def __init__(self, ok: bool, done: float, versions: list[Version], strict: bool) -> None:
        self.ok, self.done, self.versions, self.strict = ok, done, versions, strict


class RequestPath:
    """Computes gets and puts. The hot loops read plain lists (latencies, per-byte times,
    queue heads) rather than calling helpers: a run may compute millions of them."""

    def __init__(self, dynamo: Any) -> None:
        d = dynamo
        p = d.params
        self.d = d
        self.nodes = d.rt.nodes
        self.reachable = d.rt.reachable
        self.stores = d.stores
        self.queues = d.queues
        self.latency = d.delays.latency
        self.per_byte = d.delays.per_byte
        self.detector = d.detector
        self.suspects = d.detector.suspects
        self.hints = d.hints
        self.counters = [0] * len(self.nodes)
        self.N, self.R, self.W = p.N, p.R, p.W
        self.sloppy = p.sloppy_quorum
        self.dotted = p.clocks == "dotted"
        self.client_driven = p.routing == "client"
        self.read_repair = p.read_repair
        self.unsafe = p.unsafe
        self.read_quorum = 1 if p.unsafe == "read_one_replica" else p.R
        self.quorum_max = max(self.read_quorum, p.W)  # replies the usual path relies on
        self.timeout = p.request_timeout_ms / 1e3
        self.retries = p.client_retries
        self.clock_max = p.clock_max_entries
        self.coord_cpu = p.coordinator_cpu_us / 1e6
        self.replica_cpu = p.replica_cpu_us / 1e6
        self.forward_cpu = p.forward_cpu_us / 1e6
        self.lb_s = p.load_balancer_ms / 1e3
        self.meta = p.message_overhead_bytes
        self.record = d.record_bytes
        self.write_bytes = self.meta + self.record
        self.lb_rng = d.rt.rng("dynamo/load-balancer")
        costs = d.storage_costs
        self.append_s = [c.append_s for c in costs]
        self.append_device = [c.append_device_bytes for c in costs]
        self.miss_read_s = [c.miss_read_s for c in costs]
        self.hit_ratio = [c.hit_ratio for c in costs]
        self.always_hit = all(h >= 1.0 for h in self.hit_ratio)
        self.usual_possible = self.client_driven and self.always_hit  # see ``usual_coordinator``
        self.queues.set_append(self.append_s, self.record, self.append_device)
        # what the usual path's inlined queue jobs read (see ``usual_get``)
        q = self.queues
        self.factors, self.cpu_free, self.cpu_busy = q.factors, q.cpu_free, q.cpu_busy
        self.disk_free, self.disk_busy, self.disk_written, self.device_written = (
            q.disk_free, q.disk_busy, q.disk_written, q.device_written)
        self.coord_job_s = [self.coord_cpu * inverse for inverse in q.inverse_speed]
        self.replica_job_s = [self.replica_cpu * inverse for inverse in q.inverse_speed]
        self.data = [store.data for store in self.stores]
        # key -> the entries lists its home replicas hold (in preference order), so the usual
        # path finds them with one lookup instead of N. A list object stays the same while the
        # replica holds the key (entries change in place); only keys a node does not replicate
        # are ever dropped (handoff, membership), and a ring change clears this.
        self.home_entries: dict[int, tuple[list, ...]] = {}
        self.served = [0] * len(self.nodes)  # replica requests per node (load balance) ...
        # ... and those of the usual path, counted per key range of ``counted_ring`` (one
        # request there is one for each home replica of the range): see ``served_counts``
        self.counted_ring = d.ring
        self.served_by_range = [0] * len(d.ring)
        self.usual_ring = self._usual_ring()
        self.bytes_sent = 0.0  # every request and reply message
        self.read_repairs = 0
        self.read_repair_bytes = 0.0
        self.corrupt_replies = 0
        self.hinted_writes = 0
        self.forwards = 0
        self.route_failures = 0  # no coordinator could be reached
        self.quorum_failures = 0  # too few replicas answered
        self.truncations = 0  # vector clocks cut to clock_max_entries

    def served_counts(self) -> list[int]:
        """Replica requests served per node (what the load-balance metrics count)."""
        self._fold_range_counts()
        return self.served

    def ring_switched(self) -> None:
        """``Dynamo.switch_ring`` has just replaced the ring."""
        self._fold_range_counts()
        self.usual_ring = self._usual_ring()
        self.home_entries.clear()

    def _fold_range_counts(self) -> None:
        """Move the usual path's per-range counts to the nodes (while the ring they were
        counted under is known) and count afresh under the current ring."""
        served = self.served
        for pref, count in zip(self.counted_ring.preference, self.served_by_range):
            if count:
                for node in pref:
                    served[node] += count
        self.counted_ring = self.d.ring
        self.served_by_range = [0] * len(self.d.ring)

    def _usual_ring(self) -> Any:
        """The ring when the usual path may serve requests at all, else None."""
        ring = self.d.ring
        return ring if self.usual_possible and ring.replicas >= self.quorum_max else None

    def send(self, a: int, b: int, nbytes: float) -> float:
        """A message's one-way delay: latency + bytes at the slower NIC (as ``rt.send``)."""
        if a == b:
            return 0.0
        self.bytes_sent += nbytes
        return self.latency[a][b] + nbytes * self.per_byte[a][b]

    # -- routing ------------------------------------------------------------------------
    def route(self, host: int, key: int, at: float, index: int) -> tuple[int, float, int]:
        """(coordinator, when the request reaches it, range) or (-1, when the client gives up, range)."""
        d = self.d
        ring = d.ring
        rix = d.key_ranges[key]
        if self.client_driven and d.client_ring is ring and not self.suspects[host]:
            pref = ring.preference[rix]
            first = pref[index % len(pref)]  # the client library picks one of the top N itself
            if first == host:
                return first, at, rix
            node = self.nodes[first]
            if node.alive and self.reachable(self.nodes[host], node):
                return first, at + self.send(host, first, self.write_bytes), rix
        return self._route(host, key, at, index, ring, rix)

    def _route(self, host: int, key: int, at: float, index: int, ring: Any, rix: int) -> tuple[int, float, int]:
        """Routing when something is unusual: suspected nodes, a stale view, a load balancer."""
        d = self.d
        pref = ring.preference[rix]
        if self.client_driven:
            view = d.client_ring
            vrix = rix if view is ring else d.keys.range_in(view, key)
            first, t = self._reach(host, self._candidates(host, view, vrix, index, at), at)
        else:  # a load balancer hands the request to any live node the client can reach
            first = self._balance(host, at)
            t = at + self.lb_s + (self.send(host, first, self.write_bytes) if first >= 0 else self.timeout)
        if first < 0:
            self.route_failures += 1
            return -1, t, rix
        if first in pref:
            return first, t, rix
        # Not one of the key's top N (load balancer, or a client's stale membership view):
        # forward to the first healthy node of the preference list (Dynamo section 4.5).
        self.forwards += 1
        t = self.queues.cpu(first, t, self.forward_cpu)
        target, t = self._reach(first, self._candidates(first, ring, rix, 0, t), t)
        if target < 0:
            self.route_failures += 1
        return target, t, rix

    def _candidates(self, viewer: int, ring: Any, rix: int, index: int, at: float) -> Iterator[int]:
        """Nodes to try, best first: the top N ``viewer`` believes up (rotated by ``index`` to
        spread coordination), then the healthy nodes further down the ring, then anyone."""
        pref = ring.preference[rix]
        n, healthy = len(pref), self.detector.healthy
        for step in range(n):
            node = pref[(index + step) % n]
            if node == viewer or healthy(viewer, node, at):
                yield node
        for node in ring.walk(rix)[n:]:
            if node == viewer or healthy(viewer, node, at):
                yield node
        yield pref[index % n]  # all suspected: probe one anyway

    def _reach(self, src: int, candidates: Iterator[int], t: float) -> tuple[int, float]:
        """Send to the first candidate that answers; each silent one costs a timeout."""
        nodes, reachable = self.nodes, self.reachable
        for attempt, node in enumerate(candidates):
            if attempt > self.retries:
                break
            if node == src:
                return src, t
            if nodes[node].alive and reachable(nodes[src], nodes[node]):
                return node, t + self.send(src, node, self.write_bytes)
            self.detector.no_answer(src, node, t)
            t += self.timeout
        return -1, t

    def _balance(self, host: int, at: float) -> int:
        members = self.d.ring.members
        nodes, h = self.nodes, self.nodes[host]
        for _ in range(4):
            node = members[int(self.lb_rng.random() * len(members))]
            if nodes[node].alive and self.reachable(h, nodes[node]):
                return node
        live = [m for m in members if nodes[m].alive and self.reachable(h, nodes[m])]
        return live[int(self.lb_rng.random() * len(live))] if live else -1

    def targets(self, coord: int, rix: int, at: float) -> list[tuple[int, int]]:
        """(replica, home it stands in for or -1): the first N healthy nodes (sloppy quorum)."""
        ring = self.d.ring
        if not self.sloppy or not self.suspects[coord]:
            return ring.targets[rix]
        pref = ring.preference[rix]
        healthy = self.detector.healthy
        out: list[tuple[int, int]] = []
        stand_ins = iter(n for n in ring.walk(rix)[len(pref):] if n == coord or healthy(coord, n, at))
        for node in pref:
            if node == coord or healthy(coord, node, at):
                out.append((node, -1))
            else:
                sub = next(stand_ins, None)
                if sub is not None:
                    out.append((sub, node))
        return out

    # -- replicas -----------------------------------------------------------------------
    def _replica_write(self, node: int, arrive: float) -> float:
        """CPU, then the log append: when the write is durable on ``node`` (``put`` inlines this)."""
        self.served[node] += 1
        return self.queues.append(node, self.queues.cpu(node, arrive, self.replica_cpu))

    # -- put ----------------------------------------------------------------------------
    def put(self, host: int, key: int, at: float, index: int, context: Optional[dict], value: Any
            ) -> tuple[bool, float, list[Version], bool]:
        """(acknowledged, when the client knows, the versions the coordinator answered with --
        the new one first, then any concurrent siblings (dotted clocks) -- strict quorum)."""
        coord, t, rix = self.route(host, key, at, index)
        if coord < 0:
            return False, t, [], False
        cpu, append = self.queues.cpu, self.queues.append
        t = cpu(coord, t, self.coord_cpu)
        version = self._new_version(coord, t, index, context, value)
        shipped = self._shipped(coord, key, version, t)
        floor = self.d.floor
        nodes, reachable, stores = self.nodes, self.reachable, self.stores
        latency, per_byte = self.latency[coord], self.per_byte[coord]  # delays are symmetric
        meta, replica_cpu, served_count = self.meta, self.replica_cpu, self.served
        out_bytes = self.write_bytes
        cnode = nodes[coord]
        replies: list[tuple[float, int]] = []
        sent = 0.0
        targets = self.d.ring.targets[rix] if not self.suspects[coord] else self.targets(coord, rix, t)
        for node, home in targets:
            if node == coord:
                arrive = t
            elif nodes[node].alive and reachable(cnode, nodes[node]):
                arrive = t + latency[node] + out_bytes * per_byte[node]
                sent += out_bytes + meta
            else:
                self.detector.no_answer(coord, node, t)
                continue
            served_count[node] += 1  # the replica's CPU, then its log append
            applied = append(node, cpu(node, arrive, replica_cpu))
            for v in shipped:
                stores[node].apply(key, v, applied, floor)
            if home >= 0:
                for v in shipped:
                    self.hints.add(node, home, key, v, applied)
                self.hinted_writes += 1
            replies.append((applied if node == coord else applied + latency[node] + meta * per_byte[node], home))
        self.bytes_sent += sent
        if len(replies) < self.W:
            self.quorum_failures += 1
            return False, t + self.timeout + self.send(coord, host, meta), shipped, False
        replies.sort()
        quorum = replies[: self.W]
        acked = quorum[-1][0] if self.unsafe != "ack_before_quorum" else replies[0][0]
        strict = all(home < 0 for _, home in quorum)
        return True, acked + self.send(coord, host, meta), shipped, strict

    def _shipped(self, coord: int, key: int, version: Version, at: float) -> list[Version]:
        """What the coordinator sends its replicas: the new version, and with dotted clocks the
        siblings it holds beside it, so no replica ever has a version without the concurrent
        ones it sits beside."""
        shipped = [version]
        if self.dotted:
            seen = version.context  # ``dominates(version, old, True)``, inlined
            for old, _visible, superseded in self.stores[coord].data.get(key, ()):
                if superseded > at and seen.get(old.coord, 0) < old.counter:
                    shipped.append(old)
        return shipped

    def _new_version(self, coord: int, at: float, wid: int, context: Optional[dict], value: Any) -> Version:
        """The coordinator advances its own entry of the client's context (section 4.4)."""
        last = self.counters[coord]
        counter = self.counters[coord] = max(last + 1, int(at * 1e6))  # ``next_counter``, inlined
        if context is None:
            return Version({coord: counter}, {}, wid, at, coord, counter, value)
        clock = dict(context)
        clock[coord] = counter
        if len(clock) > self.clock_max:
            clock = truncate(clock, self.clock_max)
            self.truncations += 1
            context = {n: c for n, c in context.items() if n in clock}
        return Version(clock, context, wid, at, coord, counter, value)

    # -- get ----------------------------------------------------------------------------
    def get(self, host: int, key: int, at: float, index: int) -> Reply:
        coord, t, rix = self.route(host, key, at, index)
        if coord < 0:
            return Reply(False, t, [], False)
        cpu = self.queues.cpu
        t = cpu(coord, t, self.coord_cpu)
        nodes, reachable, stores = self.nodes, self.reachable, self.stores
        latency, per_byte = self.latency[coord], self.per_byte[coord]  # delays are symmetric
        meta, record, replica_cpu, served_count = self.meta, self.record, self.replica_cpu, self.served
        cnode = nodes[coord]
        always_hit = self.always_hit
        key_pos = 0 if always_hit else self.d.keys.positions[key]
        rfile = self.d.range_files[rix]
        replies: list[tuple[float, int, int, list[Version]]] = []
        silent, errors_at, sent = False, t, 0.0
        targets = self.d.ring.targets[rix] if not self.suspects[coord] else self.targets(coord, rix, t)
        for node, home in targets:
            target = nodes[node]
            if node == coord:
                arrive = t
            elif target.alive and reachable(cnode, target):
                arrive = t + latency[node] + meta * per_byte[node]
                sent += meta
            else:
                self.detector.no_answer(coord, node, t)
                silent = True
                continue
            served_count[node] += 1
            served = cpu(node, arrive, replica_cpu)
            if not always_hit and (key_pos & 1023) >= self.hit_ratio[node] * 1024:
                served = self.queues.disk(node, served, self.miss_read_s[node], record, 0.0, 0.0)
            if target.corrupted and rfile in target.corrupted:
                self.corrupt_replies += 1  # the block's checksum fails: an error, not a value
                errors_at = max(errors_at, served + latency[node] + meta * per_byte[node])
                continue
            versions = stores[node].read(key, served)
            if node != coord:
                nbytes = meta + record * (len(versions) or 1)
                served += latency[node] + nbytes * per_byte[node]
                sent += nbytes
            replies.append((served, node, home, versions))
        self.bytes_sent += sent
        need = self.read_quorum
        if len(replies) < need:
            self.quorum_failures += 1
            # With a silent replica the coordinator waits out its timeout; with only errors it knows at once.
            gave_up = t + self.timeout if silent else max([errors_at] + [r[0] for r in replies])
            return Reply(False, gave_up + self.send(coord, host, meta), [], False)
        replies.sort()
        quorum_at, _, home, siblings = replies[need - 1]
        strict = home < 0
        agree = len(siblings) == 1
        only = siblings[0] if agree else None
        for r in replies:  # the usual case: every replica answered with the same single version
            if len(r[3]) != 1 or r[3][0] is not only:
                agree = False
                break
        if not agree:
            quorum = replies[:need]
            siblings = _reconcile([r[3] for r in quorum], self.dotted)
            strict = all(r[2] < 0 for r in quorum)
            if self.read_repair and len(replies) > 1:
                self._repair(coord, key, replies)
        elif need > 1:
            strict = all(r[2] < 0 for r in replies[:need])
        done = quorum_at + self.send(coord, host, meta + record * (len(siblings) or 1))
        return Reply(True, done, siblings, strict)

    # -- the usual case, fused ------------------------------------------------------------
    # Nearly every request of a run meets no fault: the client's view of the ring is current,
    # the coordinator is reachable and suspects no one, and each of the key's home replicas is
    # up, reachable, holds no corrupted file and serves reads from its page cache. For those
    # requests ``usual_get`` and ``usual_put`` compute exactly what ``get`` and ``put`` compute
    # (same queue jobs in the same order, same float operations) without the checks, the
    # stand-ins and the failure branches. ``usual_coordinator`` decides, before anything is
    # charged, so the general path can take over with no state changed.
    def usual_coordinator(self, host: int, key: int, index: int) -> tuple[int, int]:
        """(coordinator, range) when a request of ``host`` for ``key`` is usual, else (-1, -1)."""
        d = self.d
        ring = self.usual_ring
        suspects = self.suspects
        if ring is None or d.client_ring is not ring or suspects[host]:
            return -1, -1
        rix = d.key_ranges[key]
        pref = ring.preference[rix]
        coord = pref[index % len(pref)]  # as ``route``: the client library picks one of the top N
        if suspects[coord]:
            return -1, -1
        nodes, reachable = self.nodes, self.reachable
        cnode = nodes[coord]
        if coord != host and not (cnode.alive and reachable(nodes[host], cnode)):
            return -1, -1
        for node in pref:
            target = nodes[node]
            if target.corrupted or (node != coord and not (target.alive and reachable(cnode, target))):
                return -1, -1
        return coord, rix

    def _home_entries_of(self, key: int, pref: tuple[int, ...]) -> tuple[Optional[list], ...]:
        """The entries lists of ``key`` on its home replicas ``pref`` (None where one holds none)."""
        data = self.data
        lists = tuple([data[node].get(key) for node in pref])
        if None not in lists:
            self.home_entries[key] = lists
        return lists

    def _reach_usual(self, host: int, coord: int, at: float) -> float:
        """When the client's request reaches the coordinator (``route``'s direct hop)."""
        if coord == host:
            return at
        nbytes = self.write_bytes
        self.bytes_sent += nbytes
        return at + (self.latency[host][coord] + nbytes * self.per_byte[host][coord])

    def _coordinator_job(self, coord: int, at: float) -> float:
        """The coordinator's CPU job, as ``ServiceQueues.cpu`` runs it: when it ends."""
        seconds = self.coord_job_s[coord] * self.nodes[coord].cpu_slow * next(self.factors)
        free = self.cpu_free[coord]
        end = (free[0] if free[0] > at else at) + seconds
        heapreplace(free, end)
        self.cpu_busy[coord] += seconds
        return end

    def usual_get(self, host: int, coord: int, rix: int, key: int, at: float) -> tuple[float, list[Version]]:
        """``get`` in the usual case: (when the client has the answer, the sibling versions);
        it always succeeds, from the home replicas (a strict quorum)."""
        t = self._reach_usual(host, coord, at)
        t = self._coordinator_job(coord, t)
        # CPU jobs exactly as ``ServiceQueues.cpu`` runs them, inlined (this is the hottest
        # loop of a run): the mean cost on that node times the next service-time factor,
        # started when the earliest core is free.
        nodes, factors, cpu_free, cpu_busy = self.nodes, self.factors, self.cpu_free, self.cpu_busy
        replica_job_s = self.replica_job_s
        latency, per_byte = self.latency[coord], self.per_byte[coord]  # delays are symmetric
        meta, record = self.meta, self.record
        replies: list[tuple[float, int, int, list[Version]]] = []
        singles: list[Optional[Version]] = []  # each reply's version when it has exactly one
        sent = 0.0
        self.served_by_range[rix] += 1  # served by each home replica
        pref = self.d.ring.preference[rix]
        home_entries = self.home_entries.get(key) or self._home_entries_of(key, pref)
        for node, entries in zip(pref, home_entries):
            if node == coord:
                arrive = t
            else:
                arrive = t + latency[node] + meta * per_byte[node]
            seconds = replica_job_s[node] * nodes[node].cpu_slow * next(factors)
            free = cpu_free[node]
            served = (free[0] if free[0] > arrive else arrive) + seconds
            heapreplace(free, served)
            cpu_busy[node] += seconds
            # ``ReplicaStore.read``, inlined for a key's usual shapes: one version, or (once it
            # has been written) the old one superseded by the new one
            if entries is None:
                versions = []
            elif len(entries) == 1:
                version, visible, superseded = entries[0]
                versions = [version] if visible <= served < superseded else []
            elif len(entries) == 2:
                (old, old_from, old_until), (new, new_from, new_until) = entries
                if old_from <= served < old_until:
                    versions = [old, new] if new_from <= served < new_until else [old]
                else:
                    versions = [new] if new_from <= served < new_until else []
            else:
                versions = live_at(entries, served)
            singles.append(versions[0] if len(versions) == 1 else None)
            if node != coord:  # the request and the reply (bytes are whole numbers: any order sums exactly)
                nbytes = meta + record * (len(versions) or 1)
                sent += meta + nbytes
                served += latency[node] + nbytes * per_byte[node]
            replies.append((served, node, -1, versions))
        self.bytes_sent += sent
        replies.sort()
        need = self.read_quorum
        quorum_at, siblings = replies[need - 1][0], replies[need - 1][3]
        # The usual case: every replica answered with the same single version (``count``
        # compares Versions by identity). Otherwise the coordinator reconciles and repairs.
        if singles[0] is None or singles.count(singles[0]) != len(singles):
            siblings = _reconcile([answer[3] for answer in replies[:need]], self.dotted)
            if self.read_repair and len(replies) > 1:
                self._repair(coord, key, replies)
        if coord == host:
            return quorum_at, siblings
        nbytes = meta + record * (len(siblings) or 1)
        self.bytes_sent += nbytes
        return quorum_at + (latency[host] + nbytes * per_byte[host]), siblings

    def usual_put(self, host: int, coord: int, rix: int, key: int, at: float, index: int,
                  context: Optional[dict], value: Any) -> tuple[float, list[Version]]:
        """``put`` in the usual case: (when the client knows, the versions the coordinator
        answered with); it is always acknowledged, by home replicas (a strict quorum)."""
        t = self._reach_usual(host, coord, at)
        t = self._coordinator_job(coord, t)
        # CPU jobs and log appends exactly as ``ServiceQueues.cpu`` and ``append`` run them, inlined.
        nodes, factors, cpu_free, cpu_busy = self.nodes, self.factors, self.cpu_free, self.cpu_busy
        version = self._new_version(coord, t, index, context, value)
        pref = self.d.ring.preference[rix]
        home_entries = self.home_entries.get(key) or self._home_entries_of(key, pref)
        shipped = self._shipped(coord, key, version, t)
        floor, stores, dotted = self.d.floor, self.stores, self.dotted
        latency, per_byte = self.latency[coord], self.per_byte[coord]  # delays are symmetric
        meta, record, out_bytes = self.meta, self.record, self.write_bytes
        replica_job_s, disk_free, disk_busy = self.replica_job_s, self.disk_free, self.disk_busy
        append_s, disk_written, device_written = self.append_s, self.disk_written, self.device_written
        append_device = self.append_device
        acks: list[float] = []
        sent = 0.0
        self.served_by_range[rix] += 1  # served by each home replica
        for node, entries in zip(pref, home_entries):  # the replica's CPU, then its log append
            if node == coord:
                arrive = t
            else:
                arrive = t + latency[node] + out_bytes * per_byte[node]
                sent += out_bytes + meta
            target = nodes[node]
            seconds = replica_job_s[node] * target.cpu_slow * next(factors)
            free = cpu_free[node]
            served = (free[0] if free[0] > arrive else arrive) + seconds
            heapreplace(free, served)
            cpu_busy[node] += seconds
            seconds = append_s[node] * target.disk_slow
            free = disk_free[node]
            applied = (free[0] if free[0] > served else served) + seconds
            heapreplace(free, applied)
            disk_busy[node] += seconds
            disk_written[node] += record
            device_written[node] += append_device[node]
            acks.append(applied if node == coord else applied + latency[node] + meta * per_byte[node])
            for v in shipped:
                if entries is not None:
                    add_version(entries, v, applied, floor, dotted)  # ``ReplicaStore.apply``
                else:
                    stores[node].apply(key, v, applied, floor)
        self.bytes_sent += sent
        acks.sort()
        acked = acks[self.W - 1] if self.unsafe != "ack_before_quorum" else acks[0]
        if coord == host:
            return acked, shipped
        self.bytes_sent += meta
        return acked + (latency[host] + meta * per_byte[host]), shipped

    def _repair(self, coord: int, key: int, replies: list[tuple[float, int, int, list[Version]]]) -> None:
        """Read repair (section 5): once every reply is in, push the newest versions to the
        replicas that answered with stale ones."""
        latest = _reconcile([r[3] for r in replies], self.dotted)
        last_reply = replies[-1][0]
        for _, node, home, versions in replies:
            if home >= 0:
                continue  # a stand-in holds the key only until its hint is delivered
            missing = [v for v in latest if v not in versions]  # (Versions compare by identity)
            if not missing:
                continue
            nbytes = self.meta + self.record * len(missing)
            arrive = last_reply + self.send(coord, node, nbytes)
            applied = self._replica_write(node, arrive)
            for version in missing:
                self.stores[node].apply(key, version, applied, self.d.floor)
            self.read_repairs += 1
            self.read_repair_bytes += nbytes


def _reconcile(answers: list[list[Version]], dotted: bool) -> list[Version]:
    """The sibling set the coordinator returns: the frontier of every answer's versions."""
    only = None
    for answer in answers:
        if len(answer) > 1 or (answer and only is not None and answer[0] is not only):
            return frontier((v for answer in answers for v in answer), dotted)
        if answer:
            only = answer[0]
    return [] if only is None else [only]
