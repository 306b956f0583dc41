"""Chord nodes on the simulated cluster: the I/O around the sans-I/O protocol.

Scale: a Chord ring is made of *virtual* nodes, several per machine (``VNode``: an
address host:port, an id, a ``Routing``), as the Chord paper's own Internet experiment
ran "multiple independent copies of the Chord node software" at each site (SIGCOMM'01
Fig. 13) and its load-balance study mapped several virtual nodes to each real one
(6.2). Messages between two virtual nodes of one machine pay no network latency;
a machine's crash takes all of its virtual nodes down at once.

Cost of a message: the cluster's one-way latency between the two machines, plus
serialisation at the slower NIC, plus ``rpc_cpu_s`` of reference-core work at the
receiver (scaled by its speed and slow-down, no queueing). A message is lost when the
receiving machine is down or cut off by a partition, or the virtual node has failed; the
sender then learns nothing until its ``rpc_timeout_s`` expires.

Events: each hop of a lookup is ONE simulation event (the request's arrival): the hop's
answer is computed there and the querier's next decision, which depends only on the
lookup's own state, is taken at once; the next request's arrival is scheduled at
reply time + one-way delay. Maintenance RPCs (stabilize, check_predecessor) change the
caller's tables, so their replies are events of their own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from plugins.storage.chord.lookup import Confirm, Done, Failed, IterativeLookup, Query
from plugins.storage.chord.ring import chord_id, stable_tables
from plugins.storage.chord.routing import Closer, Owned, Routing

LOOKUP, MAINTENANCE = "lookup", "maintenance"
ADDRESS_BYTES = 6  # IPv4 address + UDP port next to each id on the wire


@dataclass
class Traffic:
    messages: int = 0
    bytes: float = 0.0
    timeouts: int = 0


@dataclass
class LookupStats:
    """What the workload's lookups did (maintenance lookups are not counted here)."""

    issued: int = 0
    correct: int = 0
    incorrect: int = 0  # completed, but the owner was not the key's true live successor
    abandoned: int = 0  # the querying node died during its lookup
    key_lost: int = 0  # the key's owner in the initial ring had failed (its data is gone)
    failed: dict[str, int] = field(default_factory=dict)
    hops: list[int] = field(default_factory=list)
    timeouts: list[int] = field(default_factory=list)


class VNode:
    """One Chord node: a host:port address, its id, its routing state, its timers."""

    __slots__ = ("overlay", "host", "port", "id", "routing", "alive", "joined", "inc", "suspects", "orphan", "served",
                 "ticking")

    def __init__(self, overlay: Overlay, host: Any, port: int, node_id: int) -> None:
        self.overlay = overlay
        self.host, self.port, self.id = host, port, node_id
        self.alive = True  # False once this Chord process has failed (churn, mass failure)
        self.joined = False
        self.inc = 0  # incarnation: callbacks of an earlier life are ignored
        self.orphan = False  # lost every successor: must rejoin
        self.suspects: deque[tuple[int, float]] = deque()  # (node dropped on a timeout, when)
        self.routing = Routing(node_id, overlay.m, overlay.r)
        self.served = 0  # lookup requests this node answered (request load)
        self.ticking = False  # the periodic maintenance timers of this life are running

    @property
    def live(self) -> bool:
        return self.alive and self.host.alive

    def current(self, inc: int) -> bool:
        return self.inc == inc and self.alive and self.host.alive

    def reset(self, new_life: bool = True) -> None:
        """Empty tables: a restarted process (RAM is lost in a crash; its timers and
        in-flight lookups die with it), or, ``new_life=False``, one that must rejoin."""
        if new_life:
            self.inc += 1
            self.ticking = False
        self.joined = False
        self.orphan = False
        self.suspects.clear()
        self.routing = Routing(self.id, self.overlay.m, self.overlay.r)

    # -- periodic maintenance -------------------------------------------------------
    def start_maintenance(self) -> None:
        ov = self.overlay
        if not ov.p.maintenance or self.ticking:
            return
        self.ticking = True
        for task, period in (("stabilize", ov.p.stabilize_s), ("fix_fingers", ov.p.fix_fingers_s),
                             ("check_predecessor", ov.p.check_predecessor_s)):
            ov.at(ov.rt.now + period * ov.rng_maint.random(), self._tick, task, period, self.inc)

    def _tick(self, task: str, period: float, inc: int) -> None:
        if not self.current(inc):
            return
        getattr(self, task)()
        ov = self.overlay
        jitter = ov.p.period_jitter
        ov.at(ov.rt.now + period * (1 - jitter + 2 * jitter * ov.rng_maint.random()), self._tick, task, period, inc)

    def stabilize(self) -> None:
        routing = self.routing
        if not routing.successors:
            if self.orphan:
                self.rejoin()  # lost every successor: only a fresh join can reconnect us
            elif routing.adopt_predecessor_as_successor():
                self._notify_successor()  # the first node learns of the second
            return
        succ = routing.successor
        ov = self.overlay
        ov.call(self, succ, ov.header, _successor_state, partial(self._on_successor_state, succ),
                partial(self._on_successor_timeout, succ))

    def _on_successor_state(self, succ: int, state: tuple[int | None, list[int]]) -> None:
        self.routing.on_successor_state(succ, state[0], state[1])
        self._notify_successor()

    def _on_successor_timeout(self, succ: int) -> None:
        self.forget(succ)
        if self.routing.successors:
            self.stabilize()  # try the next successor at once (ToN'03: first live entry of the list)
        else:
            self.rejoin()

    def _notify_successor(self) -> None:
        ov = self.overlay
        ov.tell(self, self.routing.successor, ov.header + ov.entry, partial(_notify, self.id))

    def check_predecessor(self) -> None:
        ov = self.overlay
        pred = self.routing.predecessor
        if pred is not None:
            ov.call(self, pred, ov.header, _ping, _ignore, partial(self._on_predecessor_timeout, pred))
        if ov.p.reprobe_suspects and self.suspects:
            # Nodes dropped on a timeout may have been cut off, not dead: once a partition
            # heals, re-adopting them merges the two rings (the ring merge of Shafaat,
            # Ghodsi and Haridi, "Handling network partitions and mergers in structured
            # overlay networks", IEEE P2P 2007).
            suspect, since = self.suspects.popleft()
            ov.call(self, suspect, ov.header, _ping, partial(self._on_suspect_alive, suspect),
                    partial(self._on_suspect_silent, suspect, since))

    def _on_predecessor_timeout(self, pred: int) -> None:
        if self.routing.predecessor == pred:
            self.routing.predecessor = None
            self._suspect(pred)

    def _on_suspect_alive(self, node: int, _reply: Any) -> None:
        if self.routing.consider(node):
            self.stabilize()

    def _on_suspect_silent(self, node: int, since: float) -> None:
        if self.overlay.rt.now - since < self.overlay.p.reprobe_for_s:
            self.suspects.append((node, since))  # still cut off, or dead: try again later

    def fix_fingers(self) -> None:
        nxt = self.routing.next_finger()
        if nxt is not None:
            index, start = nxt
            self.overlay.lookup(self, start, MAINTENANCE, on_done=partial(self._on_finger, index))

    def _on_finger(self, index: int, done: Done) -> None:
        self.routing.set_finger(index, done.owner)

    # -- failures seen, joins -------------------------------------------------------
    def forget(self, dead: int) -> None:
        """``dead`` timed out: drop it from every table and remember it as a suspect."""
        had_successors = bool(self.routing.successors)
        self.routing.drop(dead)
        if had_successors and not self.routing.successors:
            self.orphan = True
        self._suspect(dead)

    def _suspect(self, node: int) -> None:
        if all(node != known for known, _ in self.suspects):
            self.suspects.append((node, self.overlay.rt.now))
            if len(self.suspects) > 2 * self.overlay.r:
                self.suspects.popleft()

    def join(self, bootstrap: int) -> None:
        """Find our successor through any member (ToN'03 Fig. 6 ``join``)."""
        self.overlay.lookup(self, self.id, MAINTENANCE, start_at=bootstrap, skip=(self.id,),
                            on_done=self._on_joined, on_fail=self._on_join_failed)

    def _on_joined(self, done: Done) -> None:
        self.routing.set_successors([done.owner, *done.successors])
        self.joined = True
        self.overlay.add_member(self)
        self.start_maintenance()
        self.stabilize()

    def _on_join_failed(self) -> None:
        ov = self.overlay
        ov.at(ov.rt.now + ov.p.stabilize_s, self._retry_join, self.inc)

    def _retry_join(self, inc: int) -> None:
        if self.current(inc):
            self.overlay.start_join(self)

    def rejoin(self) -> None:
        ov = self.overlay
        ov.counters["rejoins"] += 1
        ov.remove_member(self)
        suspects = list(self.suspects)  # a live process keeps what it learnt: they may merge rings later
        self.reset(new_life=False)
        self.suspects.extend(suspects)
        ov.start_join(self)


# -- what a contacted node answers (sans-I/O routing underneath) ----------------------
def _successor_state(node: VNode) -> tuple[tuple[int | None, list[int]], float]:
    ov = node.overlay
    return (node.routing.predecessor, list(node.routing.successors)), ov.header + ov.entry * (1 + len(node.routing.successors))


def _ping(node: VNode) -> tuple[bool, float]:
    return True, node.overlay.header


def _notify(candidate: int, node: VNode) -> None:
    node.routing.on_notify(candidate)


def _ignore(*_args: Any) -> None:
    return None


class _LookupRun:
    """One lookup in flight: the machine plus what the driver needs around it."""

    __slots__ = ("machine", "origin", "inc", "traffic", "kind", "intended", "sent_at", "on_done", "on_fail")

    def __init__(self, machine: IterativeLookup, origin: VNode, traffic: Traffic, kind: str, intended: float,
                 on_done: Callable[[Done], None] | None, on_fail: Callable[[], None] | None) -> None:
        self.machine, self.origin, self.inc, self.traffic, self.kind = machine, origin, origin.inc, traffic, kind
        self.intended, self.sent_at = intended, intended
        self.on_done, self.on_fail = on_done, on_fail


class Overlay:
    """The ring: its nodes, their messages, the lookup driver, and the oracle that
    judges lookups (the true successor among live members)."""

    def __init__(self, rt: Any, params: Any, r: int) -> None:
        self.rt, self.env, self.p, self.m, self.r = rt, rt.env, params, params.id_bits, r
        # Hot-path copies of parameters (dataclass attribute chains cost per hop).
        self.k, self.rpc_cpu_s, self.timeout_s = params.reply_candidates, params.rpc_cpu_s, params.rpc_timeout_s
        id_bytes = -(-self.m // 8)
        self.header = float(params.header_bytes)
        self.entry = float(id_bytes + ADDRESS_BYTES)
        self.find_request = self.header + id_bytes
        self.directory: dict[int, VNode] = {}
        self.vnodes: list[VNode] = []
        self.members: list[int] = []  # ids of joined, not failed nodes: the oracle's ring
        self.next_port: dict[int, int] = {}
        self.rng_maint = rt.rng("chord/maintenance")
        self.rng_boot = rt.rng("chord/bootstrap")
        self.traffic = {LOOKUP: Traffic(), MAINTENANCE: Traffic()}
        self.stats = LookupStats()
        self.counters = {"joins": 0, "failures": 0, "rejoins": 0}
        self.outstanding = 0
        self.last_completion = 0.0
        self._links: dict[tuple[int, int], tuple[float, float]] = {}
        self.on_idle: Callable[[], None] | None = None  # called when no workload lookup is in flight
        self._member_seconds, self._members_changed = 0.0, rt.now

    # -- nodes --------------------------------------------------------------------------
    def add_vnode(self, host: Any) -> VNode | None:
        """A new Chord process on ``host``: the next free port; id = SHA-1("host:port").
        None when no free id turns up (a tiny identifier space already full)."""
        port = self.next_port.get(host.id, 4000)
        node_id = chord_id(f"{host.name}:{port}", self.m)
        tries = 0
        while node_id in self.directory:  # an id collision: the address is unusable, take the next port
            port, tries = port + 1, tries + 1
            if tries > 64 + 4 * min(1 << self.m, 1 << 20):
                return None
            node_id = chord_id(f"{host.name}:{port}", self.m)
        self.next_port[host.id] = port + 1
        vnode = VNode(self, host, port, node_id)
        self.directory[node_id] = vnode
        self.vnodes.append(vnode)
        return vnode

    def build_stable(self) -> None:
        """Give every node the tables the protocol converges to (``ring.stable_tables``)."""
        ids = sorted(self.directory)
        tables = stable_tables(ids, self.m, self.r)
        for node_id in ids:
            t = tables.pop(node_id)
            vnode = self.directory[node_id]
            vnode.routing = Routing(node_id, self.m, self.r, t.successors if len(ids) > 1 else [], t.predecessor, t.fingers)
            vnode.joined = True
        self.member_seconds()
        self.members = ids

    def add_member(self, vnode: VNode) -> None:
        i = bisect_left(self.members, vnode.id)
        if i == len(self.members) or self.members[i] != vnode.id:
            self.member_seconds()
            self.members.insert(i, vnode.id)

    def remove_member(self, vnode: VNode) -> None:
        i = bisect_left(self.members, vnode.id)
        if i < len(self.members) and self.members[i] == vnode.id:
            self.member_seconds()
            del self.members[i]

    def member_seconds(self) -> float:
        """Ring members integrated over time so far (per-node rates divide by this)."""
        now = self.env.now
        self._member_seconds += len(self.members) * (now - self._members_changed)
        self._members_changed = now
        return self._member_seconds

    def fail(self, vnode: VNode) -> None:
        """This Chord process stops (fail-stop, no goodbye): its messages go unanswered."""
        vnode.alive = False
        vnode.inc += 1
        self.remove_member(vnode)
        self.counters["failures"] += 1

    def random_member(self, rng: Any, near: Any = None, tries: int = 64) -> VNode | None:
        """A live member chosen uniformly (by rejection), reachable from machine ``near``."""
        members = self.members
        for _ in range(tries):
            if not members:
                return None
            vnode = self.directory[members[rng.randrange(len(members))]]
            if vnode.live and vnode.joined and (near is None or self.rt.reachable(near, vnode.host)):
                return vnode
        return None

    def start_join(self, vnode: VNode) -> None:
        """Join through a random live member; the first node alone forms the ring."""
        bootstrap = self.random_member(self.rng_boot, near=vnode.host)
        if bootstrap is None or bootstrap is vnode:
            if not any(self.directory[i].live for i in self.members):
                vnode.joined = True
                self.add_member(vnode)
                vnode.start_maintenance()
                return
            vnode._on_join_failed()
            return
        self.counters["joins"] += 1
        vnode.join(bootstrap.id)

    def owner_of(self, key: int) -> int | None:
        """The oracle: the first live member at or after ``key``."""
        members = self.members
        n = len(members)
        i = bisect_left(members, key)
        for k in range(n):
            node_id = members[(i + k) % n]
            if self.directory[node_id].host.alive:
                return node_id
        return None

    # -- messages -----------------------------------------------------------------------
    def at(self, when: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` at simulated time ``when``: one kernel event, no process.

        (``rt.timer`` with its cancel handle costs a third more per hop; nothing here
        is ever cancelled, so the kernel's timeout is used directly.)"""
        env = self.env
        env.timeout(max(0.0, when - env.now)).callbacks.append(lambda _event: fn(*args))

    def delay(self, src: Any, dst: Any, nbytes: float) -> float:
        """One-way latency plus serialisation at the slower NIC (0 on the same machine)."""
        link = self._links.get((src.id, dst.id))
        if link is None:
            latency = self.rt.topology.one_way_latency_s(src, dst)
            inv_bw = 0.0 if src.id == dst.id else 1.0 / min(src.nic_Bps, dst.nic_Bps)
            link = self._links[(src.id, dst.id)] = (latency, inv_bw)
        return link[0] + nbytes * link[1]

    def service(self, host: Any) -> float:
        return self.rpc_cpu_s / host.speed * host.cpu_slow

    def answers(self, src: VNode, dst: VNode) -> bool:
        """Does ``dst`` get ``src``'s request (and ``src`` the reply)?"""
        host = dst.host
        return dst.alive and host.alive and (src.host is host or self.rt.reachable(src.host, host))

    def _count(self, kind: str, nbytes: float) -> None:
        t = self.traffic[kind]
        t.messages += 1
        t.bytes += nbytes

    def call(self, src: VNode, dst_id: int, nbytes: float, handle: Callable[[VNode], tuple[Any, float]],
             on_reply: Callable[[Any], None], on_timeout: Callable[[], None]) -> None:
        """A maintenance RPC: request, the destination's answer, the reply as its own event."""
        dst = self.directory[dst_id]
        self._count(MAINTENANCE, nbytes)
        self.at(self.rt.now + self.delay(src.host, dst.host, nbytes), self._call_arrives,
                src, src.inc, dst, self.rt.now, handle, on_reply, on_timeout)

    def _call_arrives(self, src: VNode, inc: int, dst: VNode, sent_at: float, handle: Any, on_reply: Any, on_timeout: Any) -> None:
        if not src.current(inc):
            return
        if self.answers(src, dst):
            reply, nbytes = handle(dst)
            self._count(MAINTENANCE, nbytes)
            when = self.rt.now + self.service(dst.host) + self.delay(dst.host, src.host, nbytes)
            self.at(when, _if_current, src, inc, on_reply, reply)
        else:
            self.traffic[MAINTENANCE].timeouts += 1
            self.at(sent_at + self.p.rpc_timeout_s, _if_current, src, inc, on_timeout)

    def tell(self, src: VNode, dst_id: int, nbytes: float, handle: Callable[[VNode], None]) -> None:
        """A one-way message (notify)."""
        dst = self.directory[dst_id]
        self._count(MAINTENANCE, nbytes)
        self.at(self.rt.now + self.delay(src.host, dst.host, nbytes), self._told, src, dst, handle)

    def _told(self, src: VNode, dst: VNode, handle: Callable[[VNode], None]) -> None:
        if self.answers(src, dst):
            handle(dst)

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, origin: VNode, key: int, kind: str, *, start_at: int | None = None, skip: tuple[int, ...] = (),
               on_done: Callable[[Done], None] | None = None, on_fail: Callable[[], None] | None = None) -> None:
        """Start an iterative lookup of ``key`` by ``origin`` now."""
        machine = IterativeLookup(key, self.m, self.p.max_lookup_rpcs, skip)
        now = self.env.now
        run = _LookupRun(machine, origin, self.traffic[kind], kind, now, on_done, on_fail)
        if kind == LOOKUP:
            self.outstanding += 1
        if start_at is None:
            action = machine.start(origin.id, origin.routing.find(key, self.k))
        else:
            action = machine.start_at(start_at)
        self._act(run, action, now)

    def _act(self, run: _LookupRun, action: Any, when: float) -> None:
        """Carry out ``action`` at time ``when`` (>= now): send it, or finish the lookup."""
        origin, machine = run.origin, run.machine
        kind = type(action)  # exact type tests: this runs once per hop
        while (kind is Query or kind is Confirm) and action.node == origin.id:
            # Asking oneself costs no message.
            if kind is Query:
                action = machine.on_reply(origin.id, origin.routing.find(machine.key, self.k, action.exclude), local=True)
            else:
                action = machine.on_confirm(origin.id, origin.routing.owns(machine.key))
            kind = type(action)
        if kind is Query or kind is Confirm:
            dst = self.directory[action.node]
            nbytes = self.find_request + (self.entry * len(action.exclude) if kind is Query else 0.0)
            traffic = run.traffic
            traffic.messages += 1
            traffic.bytes += nbytes
            run.sent_at = when
            self.at(when + self.delay(origin.host, dst.host, nbytes), self._arrives, run, action, dst)
        elif kind is Done:
            self._finish(run, when, action)
        else:
            self._finish(run, when, None, action)

    def _arrives(self, run: _LookupRun, action: Any, dst: VNode) -> None:
        origin, machine = run.origin, run.machine
        if not origin.current(run.inc):
            self._finish(run, self.env.now, None, None)  # the querier itself is gone
            return
        if not self.answers(origin, dst):
            run.traffic.timeouts += 1
            if origin.joined:
                origin.forget(dst.id)
            self._act(run, machine.on_timeout(dst.id), run.sent_at + self.timeout_s)
            return
        key = machine.key
        if type(action) is Query:
            reply = dst.routing.find(key, self.k, action.exclude)
            nbytes = self.header + self.entry * len(reply.candidates if type(reply) is Closer else reply.successors)
            if run.kind == LOOKUP:
                dst.served += 1
            nxt = machine.on_reply(dst.id, reply)
        else:
            reply = dst.routing.owns(key)
            nbytes = self.header + self.entry * (len(reply.successors) if type(reply) is Owned else 1)
            nxt = machine.on_confirm(dst.id, reply)
        traffic = run.traffic
        traffic.messages += 1
        traffic.bytes += nbytes
        self._act(run, nxt, self.env.now + self.service(dst.host) + self.delay(dst.host, origin.host, nbytes))

    def _finish(self, run: _LookupRun, when: float, done: Done | None, failed: Failed | None = None) -> None:
        if run.kind == LOOKUP:
            self._record(run, when, done, failed)
            return
        if done is not None and run.on_done is not None:
            self.at(when, _if_current, run.origin, run.inc, run.on_done, done)
        elif done is None and run.on_fail is not None:
            self.at(when, _if_current, run.origin, run.inc, run.on_fail)

    def _record(self, run: _LookupRun, when: float, done: Done | None, failed: Failed | None) -> None:
        stats, machine = self.stats, run.machine
        if done is not None:
            stats.hops.append(machine.hops)
            stats.timeouts.append(machine.timeouts)
            self.rt.recorder.latency("lookup", when - run.intended)
            if done.owner == self.owner_of(machine.key):
                stats.correct += 1
            else:
                stats.incorrect += 1
        elif failed is not None:
            stats.failed[failed.reason] = stats.failed.get(failed.reason, 0) + 1
            stats.timeouts.append(machine.timeouts)
        else:
            stats.abandoned += 1
        self.last_completion = max(self.last_completion, when)
        self.outstanding -= 1
        if self.outstanding == 0 and self.on_idle is not None:
            self.on_idle()


def _if_current(vnode: VNode, inc: int, fn: Callable[..., None], *args: Any) -> None:
    if vnode.current(inc):
        fn(*args)
