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

from typing import Any, Iterator, Optional

from plugins.storage.dynamo.versions import Version, dominates, frontier, next_counter, truncate

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
        self.queues.set_append(self.append_s, self.record, self.append_device)
        self.served = [0] * len(self.nodes)  # replica requests per node (load balance)
        self.coordinated = [0] * len(self.nodes)
        self.bytes_sent = 0.0  # every request and reply message
        self.read_repairs = 0
        self.read_repair_bytes = 0.0
        self.corrupt_replies = 0
        self.hinted_writes = 0
        self.forwards = 0
        self.route_failures = 0  # no coordinator could be reached
        self.quorum_failures = 0  # too few replicas answered
        self.truncations = 0  # vector clocks cut to clock_max_entries

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
        self.coordinated[coord] += 1
        cpu, append = self.queues.cpu, self.queues.append
        t = cpu(coord, t, self.coord_cpu)
        version = self._new_version(coord, t, index, context, value)
        # With dotted clocks the coordinator ships the siblings it holds along with the new
        # version, so no replica ever has a version without the concurrent ones it sits beside.
        shipped = [version]
        if self.dotted:
            for old, _visible, superseded in self.stores[coord].data.get(key, ()):
                if superseded > t and not dominates(version, old, True):
                    shipped.append(old)
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

    def _new_version(self, coord: int, at: float, wid: int, context: Optional[dict], value: Any) -> Version:
        """The coordinator advances its own entry of the client's context (section 4.4)."""
        counter = self.counters[coord] = next_counter(self.counters[coord], at)
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
        self.coordinated[coord] += 1
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

    def _repair(self, coord: int, key: int, replies: list[tuple[float, int, int, list[Version]]]) -> None:
        """Read repair (section 5): once every reply is in, push the newest versions to the
        replicas that answered with stale ones."""
        latest = _reconcile([r[3] for r in replies], self.dotted)
        last_reply = replies[-1][0]
        for _, node, home, versions in replies:
            if home >= 0:
                continue  # a stand-in holds the key only until its hint is delivered
            missing = [v for v in latest if not any(v is x for x in versions)]
            if not missing:
                continue
            nbytes = self.meta + self.record * len(missing)
            arrive = last_reply + self.send(coord, node, nbytes)
            applied = self._replica_write(node, arrive)
            for version in missing:
                self.stores[node].apply(key, version, applied, self.d.floor)
            self.read_repairs += 1
            self.read_repair_bytes += nbytes


def _first(reply: tuple) -> float:
    return reply[0]


def _reconcile(answers: list[list[Version]], dotted: bool) -> list[Version]:
    """The sibling set the coordinator returns: the frontier of every answer's versions."""
    only = None
    for answer in answers:
        if len(answer) > 1 or (answer and only is not None and answer[0] is not only):
            return frontier((v for answer in answers for v in answer), dotted)
        if answer:
            only = answer[0]
    return [] if only is None else [only]
