"""The simulated side of a live migration: the guest's application, the copy rounds, the
switch-over, the post-copy push and fault handling, and the metrics. Decisions (stop
conditions, batches, push order) come from ``policy``; page versions from ``pages``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

import numpy as np

from harness.api import NodeDown, OutOfMemory, Unreachable
from plugins.edge.migration.costs import COMPRESSORS, MB, SCAN_REF_S_PER_PAGE
from plugins.edge.migration.pages import PageLedger, PageSpace, layout, sample_touched
from plugins.edge.migration.policy import PostcopyPusher, PrecopyPolicy, RoundPlanner, RoundStats

HANDSHAKE_BYTES = 4096.0  # the source's first message to a candidate destination
RECOVERY_POLL_S = 0.1  # a post-copy paused by a cut link retries this often (postcopy_recovery)
LATE_FACTOR = 1.5  # an application step slower than this many quanta counts as degraded


class VmLost(Exception):
    """The guest's state is no longer complete anywhere (or its host died)."""


class Aborted(Exception):
    """The attempt failed while the source still held everything: the guest stays there."""


class App:
    """The guest's application: steps of ``quantum`` seconds of work on its current host.

    A step needs ``cpu_cores x quantum`` of the host's CPU and sends ``net_share`` of the
    host's NIC worth of replies to a client node, so a migration competing for the NIC or
    the CPU slows it. A pause request takes effect between steps (a vCPU pauses at once
    when idle). ``before_step`` is where post-copy makes the step fault on missing pages.
    """

    def __init__(self, rt: Any, spec: Any, host: Any, client: Any, quantum: float) -> None:
        self.rt, self.host, self.client, self.quantum = rt, host, client, quantum
        self.cpu_node_s = spec.cpu_cores * quantum
        self.net_bytes = spec.net_share * host.nic_Bps * quantum if client is not None else 0.0
        self.work_s = 0.0
        self.progress: list[tuple[float, float]] = [(rt.now, 0.0)]
        self.before_step: Callable[[float], Generator[Any, Any, None]] | None = None
        self.on_lost: Callable[[str], None] = lambda _reason: None
        self.stopped = False
        self.lost_reason = ""
        self.late_s = 0.0
        self.steps_failed = 0
        self._pause: Any = None
        self._resume: Any = None
        self._wake: Any = None

    # -- control (called by the migration) --------------------------------------------
    def request_pause(self) -> Any:
        self._pause = self.rt.event()
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()
        if self.stopped:
            self._pause.succeed()
        return self._pause

    def resume(self, host: Any) -> None:
        self.host = host
        resume, self._resume = self._resume, None
        if resume is not None:
            resume.succeed()

    def stop(self) -> None:
        self.stopped = True
        for event in (self._resume, self._wake, self._pause):
            if event is not None and not event.triggered:
                event.succeed()

    # -- the process -------------------------------------------------------------------
    def run(self) -> Generator[Any, Any, None]:
        rt = self.rt
        intended = rt.now
        while not self.stopped:
            if self._pause is not None:
                yield from self._paused()
                continue
            host = self.host
            try:
                if self.before_step is not None:
                    yield from self.before_step(self.quantum)
                yield rt.all_of(self._step(host))
            except VmLost as lost:
                return self._lose(str(lost))
            except NodeDown:
                if not host.alive:
                    return self._lose(f"host {host.name} crashed")
                self.steps_failed += 1  # the client is down: this step's replies are lost
            except Unreachable:
                self.steps_failed += 1
            intended = self._account(intended)
            if intended > rt.now:
                self._wake = rt.event()
                yield rt.any_of([rt.sleep(intended - rt.now), self._wake])

    def _paused(self) -> Generator[Any, Any, None]:
        pause, self._pause = self._pause, None
        self._resume = self.rt.event()
        pause.succeed()
        yield self._resume

    def _step(self, host: Any) -> list[Any]:
        ops = [self.rt.compute(host, self.cpu_node_s * host.speed)]
        if self.net_bytes > 0 and self.client is not host:
            ops.append(self.rt.transfer(host, self.client, self.net_bytes))
        return ops

    def _account(self, intended: float) -> float:
        """Book one finished step; return when the next one is due (no backlog kept)."""
        now = self.rt.now
        self.work_s += self.quantum
        self.progress.append((now, self.work_s))
        delay = now - intended
        self.rt.recorder.latency("app_step", delay)
        if delay > LATE_FACTOR * self.quantum:
            self.late_s += delay - self.quantum
        return max(intended + self.quantum, now)

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.stop()
        self.on_lost(reason)

    def work_between(self, t0: float, t1: float) -> float:
        times, work = zip(*self.progress)
        return float(np.interp(t1, times, work) - np.interp(t0, times, work))


class SourceWrites:
    """The source's log-dirty bitmap: pages the application wrote since the last clean."""

    def __init__(self, app: App, space: PageSpace, ledger: PageLedger, rng: Any) -> None:
        self.app, self.space, self.ledger, self.rng = app, space, ledger, rng
        self.since = app.work_s
        self.dirty = np.zeros(space.total, dtype=bool)

    def advance(self) -> None:
        """Apply the writes of the work done since the last call."""
        pages = sample_touched(self.space, self.app.work_s - self.since, self.rng)
        self.since = self.app.work_s
        self.ledger.write_at_source(pages)
        self.dirty[pages] = True

    def clean(self) -> np.ndarray:
        pages = np.flatnonzero(self.dirty)
        self.dirty[:] = False
        return pages


@dataclass
class Attempt:
    """One try at moving the guest from ``src`` to ``dst``."""

    src: Any
    dst: Any
    ledger: PageLedger
    writes: SourceWrites
    rounds: int = 0
    pages_sent: int = 0
    wire_bytes: float = 0.0
    final_bytes: float = 0.0
    downtime_s: float = 0.0
    paused_at: float = 0.0
    switched_at: float | None = None
    released_at: float | None = None
    stop_reason: str = ""
    round_log: list[tuple[int, float]] = field(default_factory=list)  # (pages sent, seconds) per live round
    source_gone: bool = False
    # post-copy
    pusher: PostcopyPusher | None = None
    inflight: np.ndarray | None = None
    batch_events: dict[int, Any] = field(default_factory=dict)
    next_batch_id: int = 0
    push_done: bool = False
    faults_in_progress: int = 0
    fault_pages: int = 0
    pushed_pages: int = 0
    finished: bool = False
    lost_reason: str = ""
    done: Any = None


@dataclass
class Totals:
    attempts: int = 0
    aborts: int = 0
    rounds: int = 0
    pages_sent: int = 0
    wire_bytes: float = 0.0
    final_bytes: float = 0.0
    downtime_s: float = 0.0
    fault_pages: int = 0
    pushed_pages: int = 0
    pages_lost: int = 0
    early_releases: int = 0
    stale_reads: int = 0
    lost_updates: int = 0
    dependency_s: float = 0.0
    lost_after_switchover: bool = False
    round_log: list[tuple[int, float]] = field(default_factory=list)
    stop_reasons: list[str] = field(default_factory=list)


class Migration:
    """Runs the guest, migrates it once (with retries of aborted pre-copies), reports."""

    def __init__(self, rt: Any, params: Any, spec: Any) -> None:
        self.rt, self.p, self.spec = rt, params, spec
        self.page_bytes = float(params.page_kib * 1024)
        self.space = layout(
            memory_pages=math.ceil(spec.memory_bytes / self.page_bytes),
            fs_pages=math.ceil(spec.fs_bytes / self.page_bytes),
            tiers=spec.tiers,
            write_rate=spec.write_rate_pages_s,
            access_rate=spec.access_rate_pages_s,
            fs_write_rate=spec.fs_write_rate_pages_s,
            run_pages=spec.locality_pages,
            rng=rt.np_rng("migration/layout"),
        )
        self.ratio, self.compress_s_per_mb, self.decompress_s_per_mb = COMPRESSORS[params.compression]
        self.totals = Totals()
        self.src = rt.nodes[params.source]
        self.client = self._client_node()
        self.app: App | None = None
        self.failed_destinations: list[Any] = []
        self.touch_rng = rt.np_rng("migration/destination/touch")
        self.dst_write_rng = rt.np_rng("migration/destination/writes")

    def _client_node(self) -> Any:
        """Where the guest's clients are: the first node that is neither end of the move."""
        ends = {self.p.source, self.p.destination}
        others = [n for i, n in enumerate(self.rt.nodes) if i not in ends]
        return others[0] if others and self.spec.net_share > 0 else None

    # -- the run -----------------------------------------------------------------------
    def run(self) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.p
        try:
            yield rt.alloc(self.src, "guest", self.spec.memory_bytes)
        except OutOfMemory:
            raise RuntimeError(f"the guest ({self.spec.memory_bytes / MB:.0f} MB) does not fit on {self.src.name}") from None
        app = self.app = App(rt, self.spec, self.src, self.client, p.app_quantum_s)
        rt.spawn(app.run())
        yield rt.sleep(p.warmup_s)
        started = rt.now
        outcome = "lost" if app.stopped else "aborted"
        while outcome == "aborted" and self.totals.attempts < p.max_attempts:
            if self.totals.attempts:
                yield rt.sleep(p.retry_delay_s)
            outcome = yield from self._attempt(app)
        ended = rt.now
        yield rt.sleep(p.cooldown_s)
        app.stop()
        self._report(app, outcome, started, ended)

    def _attempt(self, app: App) -> Generator[Any, Any, str]:
        self.totals.attempts += 1
        if app.stopped:
            return "lost"
        dst = yield from self._pick_destination()
        if dst is None:
            return self._abort()
        ledger = PageLedger(self.space.total)
        attempt = Attempt(self.src, dst, ledger, SourceWrites(app, self.space, ledger, self.rt.np_rng(f"migration/writes/{self.totals.attempts}")))
        try:
            yield self.rt.alloc(dst, "guest", self.spec.memory_bytes)
            yield from self._strategy(attempt)
        except (Aborted, OutOfMemory, NodeDown, Unreachable):
            self._discard_destination(attempt)
            self.failed_destinations.append(dst)
            if app.stopped or not self.src.alive:
                return self._close(attempt, "lost")
            return self._close(attempt, self._abort())
        except VmLost:
            app.stop()
            return self._close(attempt, "lost")
        return self._close(attempt, "done")

    def _pick_destination(self) -> Generator[Any, Any, Any]:
        """The configured destination, else the next node that answers; the client's node
        and destinations that already failed an attempt come last."""
        nodes, p = self.rt.nodes, self.p
        order = [p.destination] + [i for i in range(len(nodes)) if i not in (p.source, p.destination)]
        order.sort(key=lambda i: (nodes[i] in self.failed_destinations, nodes[i] is self.client))
        for index in order:
            try:
                yield self.rt.transfer(self.src, nodes[index], HANDSHAKE_BYTES)
                return nodes[index]
            except (NodeDown, Unreachable):
                if not self.src.alive:
                    return None
        return None

    def _strategy(self, a: Attempt) -> Generator[Any, Any, None]:
        p = self.p
        if p.strategy == "stop_and_copy":
            yield from self._stop_and_copy(a, everything=True)
            return
        if p.strategy == "postcopy":
            yield from self._postcopy(a)
            return
        yield from self._live_rounds(a, self._policy())
        if p.strategy == "hybrid" and p.hybrid_finish == "postcopy":
            yield from self._postcopy(a)
        else:
            yield from self._stop_and_copy(a, everything=False)

    def _policy(self) -> PrecopyPolicy:
        p, mbit = self.p, 1e6 / 8
        return PrecopyPolicy(
            page_bytes=self.page_bytes,
            max_rounds=p.hybrid_rounds if p.strategy == "hybrid" else p.max_rounds,
            min_dirty_pages=p.min_dirty_pages,
            max_sent_factor=p.max_sent_factor,
            stop_on_dirty_rate=p.stop_on_dirty_rate,
            adaptive_rate=p.rate_limit == "adaptive",
            start_rate_Bps=p.start_rate_mbit * mbit,
            max_rate_Bps=p.max_rate_mbit * mbit,
            rate_step_Bps=p.rate_step_mbit * mbit,
        )

    # -- pre-copy ----------------------------------------------------------------------
    def _live_rounds(self, a: Attempt, policy: PrecopyPolicy) -> Generator[Any, Any, None]:
        """Copy while the guest runs, round after round, until the policy says stop."""
        to_send = np.arange(self.space.total)
        rate = policy.first_rate()
        while True:
            a.rounds += 1
            start, sent, wire = self.rt.now, 0, 0.0
            planner = RoundPlanner(to_send, self.p.batch_pages, self.p.skip_redirtied)
            pattern = "seq" if a.rounds == 1 else "rand"
            while not planner.done:
                a.writes.advance()
                batch = planner.next_batch(a.writes.dirty)
                if batch.size:
                    wire += yield from self._send_live(a, batch, rate, pattern)
                    sent += batch.size
            a.writes.advance()
            stats = RoundStats(a.rounds, sent, planner.skipped, int(np.count_nonzero(a.writes.dirty)),
                               self.rt.now - start, wire, a.pages_sent, self.space.total)
            decision = policy.after_round(stats)
            rate = decision.next_rate_Bps
            a.round_log.append((sent, stats.duration_s))
            if decision.stop:
                a.stop_reason = decision.reason
                return
            to_send = a.writes.clean()

    def _send_live(self, a: Attempt, pages: np.ndarray, rate: float | None, pattern: str) -> Generator[Any, Any, float]:
        try:
            return (yield from self._send(a, pages, rate, pattern))
        except (NodeDown, Unreachable) as failure:
            raise Aborted(f"pre-copy round {a.rounds}: {failure}") from None

    def _stop_and_copy(self, a: Attempt, everything: bool) -> Generator[Any, Any, None]:
        """Pause, copy what the destination lacks, hand over; the source goes last."""
        yield from self._pause(a)
        to_send = np.arange(self.space.total) if everything else a.writes.clean()
        if self.p.deliberate_bug in ("skip_stop_and_copy", "release_source_early"):
            if self.p.deliberate_bug == "release_source_early":
                self._release_source(a)
            to_send = to_send[:0]
        try:
            if to_send.size:
                a.final_bytes += yield from self._send(a, to_send, None, "seq" if everything else "rand")
            yield self.rt.transfer(a.src, a.dst, self.spec.state_bytes)
            a.wire_bytes += self.spec.state_bytes
            yield self.rt.sleep(self.spec.resume_s)
            if not a.dst.alive:
                raise NodeDown(a.dst.name)
        except (NodeDown, Unreachable) as failure:
            if not a.src.alive or a.source_gone:
                raise VmLost(f"stop-and-copy: {failure}") from None
            self._resume(a, a.src)
            raise Aborted(f"stop-and-copy: {failure}") from None
        a.switched_at = self.rt.now
        self._release_source(a)
        self._resume(a, a.dst)

    def _pause(self, a: Attempt) -> Generator[Any, Any, None]:
        yield self.app.request_pause()
        if self.app.stopped:
            raise VmLost(self.app.lost_reason or "guest stopped")
        a.paused_at = self.rt.now
        a.writes.advance()

    def _resume(self, a: Attempt, host: Any) -> None:
        a.downtime_s += self.rt.now - a.paused_at
        self.app.resume(host)

    def _release_source(self, a: Attempt) -> None:
        """Free the source's copy: checked against the ledger (the invariant of the run)."""
        if a.released_at is not None:
            return
        a.released_at = self.rt.now
        a.source_gone = True
        stale = int(a.ledger.stale_pages().size)
        if stale:
            self.totals.early_releases += 1
            self.totals.pages_lost += stale
        if a.src.alive:
            self.rt.free(a.src, "guest")

    # -- post-copy ---------------------------------------------------------------------
    def _postcopy(self, a: Attempt) -> Generator[Any, Any, None]:
        """Hand over the CPU state at once; pages follow by push and on fault."""
        rt = self.rt
        yield from self._pause(a)
        needed = a.ledger.stale_pages()
        try:
            yield rt.transfer(a.src, a.dst, self.spec.state_bytes)
            a.wire_bytes += self.spec.state_bytes
            yield rt.sleep(self.spec.resume_s)
            if not a.dst.alive:
                raise NodeDown(a.dst.name)
        except (NodeDown, Unreachable) as failure:
            if not a.src.alive:
                raise VmLost(f"post-copy switch-over: {failure}") from None
            self._resume(a, a.src)
            raise Aborted(f"post-copy switch-over: {failure}") from None
        # From here on the destination runs the guest and only the source has the rest.
        a.switched_at = rt.now
        a.pusher = PostcopyPusher(needed, self.space.total, self.p.push_batch_pages, self.p.prepaging)
        a.inflight = np.full(self.space.total, -1, dtype=np.int64)
        a.done = rt.event()
        self.app.on_lost = lambda reason: self._fail(a, reason)
        self.app.before_step = lambda quantum: self._step_faults(a, quantum)
        self._resume(a, a.dst)
        if self.p.deliberate_bug == "release_source_early":
            self._release_source(a)
            a.push_done = True
            self._maybe_done(a)
        else:
            rt.spawn(self._push(a))
        yield a.done
        if a.lost_reason:
            raise VmLost(a.lost_reason)
        if not a.source_gone:
            self.app.before_step = None
        self._release_source(a)

    def _push(self, a: Attempt) -> Generator[Any, Any, None]:
        while not a.finished:
            batch = a.pusher.next_batch()
            if batch.size == 0:
                break
            batch_id, event = a.next_batch_id, self.rt.event()
            a.next_batch_id += 1
            a.inflight[batch] = batch_id
            a.batch_events[batch_id] = event
            try:
                yield from self._send_postcopy(a, batch, "seq")
            except VmLost as lost:
                event.succeed()
                return self._fail(a, str(lost))
            a.inflight[batch] = -1
            del a.batch_events[batch_id]
            event.succeed()
            a.pushed_pages += batch.size
        a.push_done = True
        self._maybe_done(a)

    def _step_faults(self, a: Attempt, quantum: float) -> Generator[Any, Any, None]:
        """One application step at the destination: pages it touches must be there."""
        accessed = sample_touched(self.space, quantum, self.touch_rng, "access")
        writes = sample_touched(self.space, quantum, self.dst_write_rng, "write")
        touched = np.union1d(accessed, writes)
        if a.source_gone or self.p.deliberate_bug == "no_fault_handling":
            a.ledger.read_at_destination(touched)  # served from whatever is there
        else:
            yield from self._resolve_faults(a, touched)
        a.ledger.write_at_destination(writes)

    def _resolve_faults(self, a: Attempt, touched: np.ndarray) -> Generator[Any, Any, None]:
        missing = touched[~a.ledger.current(touched) & ~a.ledger.dst_local[touched]]
        if missing.size == 0:
            return
        flying = a.inflight[missing]
        demand = missing[flying < 0]
        if demand.size:
            a.pusher.take(demand)
            a.pusher.note_fault(demand)
            a.faults_in_progress += 1
            started = self.rt.now
            try:
                # Each fault is a request and a reply; one vCPU waits for them in turn.
                rtt = 2 * self.rt.topology.one_way_latency_s(a.src, a.dst)
                yield self.rt.sleep(demand.size * rtt)
                yield from self._send_postcopy(a, demand, "rand")
            finally:
                a.faults_in_progress -= 1
            a.fault_pages += demand.size
            self.rt.recorder.latency("page_fault", (self.rt.now - started) / demand.size)
            self._maybe_done(a)
        for batch_id in np.unique(flying[flying >= 0]):
            event = a.batch_events.get(int(batch_id))
            if event is not None and not event.triggered:
                yield event

    def _send_postcopy(self, a: Attempt, pages: np.ndarray, pattern: str) -> Generator[Any, Any, float]:
        """Post-copy cannot fall back: a dead end loses the guest; a cut link pauses it
        (``postcopy_recovery``) or loses it."""
        while True:
            if a.finished:
                raise VmLost(a.lost_reason or "migration already failed")
            try:
                return (yield from self._send(a, pages, None, pattern))
            except NodeDown:
                raise VmLost(f"{'source' if not a.src.alive else 'destination'} crashed during post-copy") from None
            except Unreachable:
                if not self.p.postcopy_recovery:
                    raise VmLost("link cut during post-copy") from None
                yield self.rt.sleep(RECOVERY_POLL_S)

    def _fail(self, a: Attempt, reason: str) -> None:
        if a.finished:
            return
        a.finished, a.lost_reason = True, reason
        self.app.stop()
        a.done.succeed()

    def _maybe_done(self, a: Attempt) -> None:
        if a.push_done and a.faults_in_progress == 0 and not a.finished:
            a.finished = True
            a.done.succeed()

    # -- moving pages --------------------------------------------------------------------
    def _send(self, a: Attempt, pages: np.ndarray, rate: float | None, pattern: str) -> Generator[Any, Any, float]:
        """Copy ``pages`` as they are now: scan and (optionally) compress at the source, the
        flow, decompress at the destination, disk I/O for file-system blocks. Returns wire bytes."""
        rt, p = self.rt, self.p
        raw = pages.size * self.page_bytes
        wire = raw / self.ratio
        versions = a.ledger.snapshot(pages)
        started = rt.now
        ops = [rt.transfer(a.src, a.dst, wire), rt.compute(a.src, pages.size * SCAN_REF_S_PER_PAGE)]
        if self.compress_s_per_mb:
            ops.append(rt.compute(a.src, raw / MB * self.compress_s_per_mb, threads=p.compress_threads))
            ops.append(rt.compute(a.dst, raw / MB * self.decompress_s_per_mb, threads=p.compress_threads))
        fs_bytes = float(np.count_nonzero(self.space.is_fs(pages))) * self.page_bytes
        if fs_bytes:
            ops += [rt.read(a.src, fs_bytes, pattern), rt.write(a.dst, fs_bytes, pattern)]
        yield rt.all_of(ops)
        a.ledger.receive(pages, versions)
        a.pages_sent += pages.size
        a.wire_bytes += wire
        if rate is not None and wire / rate > rt.now - started:
            yield rt.sleep(wire / rate - (rt.now - started))
        return wire

    # -- endings -----------------------------------------------------------------------
    def _abort(self) -> str:
        self.totals.aborts += 1
        return "aborted"

    def _discard_destination(self, a: Attempt) -> None:
        if a.dst.alive:
            self.rt.free(a.dst, "guest")

    def _close(self, a: Attempt, outcome: str) -> str:
        t = self.totals
        t.rounds += a.rounds
        t.pages_sent += a.pages_sent
        t.wire_bytes += a.wire_bytes
        t.final_bytes += a.final_bytes
        t.downtime_s += a.downtime_s
        t.fault_pages += a.fault_pages
        t.pushed_pages += a.pushed_pages
        t.stale_reads += a.ledger.stale_reads
        t.lost_updates += a.ledger.lost_updates
        if a.stop_reason:
            t.stop_reasons.append(a.stop_reason)
        if outcome == "done":
            t.round_log = a.round_log
        if a.switched_at is not None and a.released_at is not None:
            t.dependency_s += a.released_at - a.switched_at
        if outcome == "lost" and a.switched_at is not None:
            t.lost_after_switchover = True
        return outcome

    def _report(self, app: App, outcome: str, started: float, ended: float) -> None:
        rec, t = self.rt.recorder, self.totals
        window = ended - started
        lost_work = max(0.0, window - app.work_between(started, ended))
        guest_pages = self.space.total
        rec.primary_ops = ("app_step",)
        values = {
            "migration_time": (window, "s"),
            "downtime": (t.downtime_s, "s"),
            "bytes_migrated": (t.wire_bytes + t.attempts * HANDSHAKE_BYTES, "B"),
            "final_copy_bytes": (t.final_bytes, "B"),
            "migration_rounds": (t.rounds, "rounds"),
            "pages_sent": (t.pages_sent, "pages"),
            "sent_per_guest_page": (t.pages_sent / guest_pages, "ratio"),
            "pages_fetched_on_fault": (t.fault_pages, "pages"),
            "pages_pushed": (t.pushed_pages, "pages"),
            "residual_dependency_time": (t.dependency_s, "s"),
            "app_work_lost": (lost_work, "s"),
            "app_slowdown": (lost_work / window if window > 0 else 0.0, "ratio"),
            "app_degraded_time": (app.late_s, "s"),
            "app_steps_failed": (app.steps_failed, "steps"),  # replies lost: the client was down or cut off
            "pages_lost": (t.pages_lost, "pages"),
            "source_released_early": (t.early_releases, "count"),
            "stale_reads": (t.stale_reads, "pages"),
            "lost_updates": (t.lost_updates, "pages"),
            "migration_succeeded": (1.0 if outcome == "done" else 0.0, "bool"),
            "vm_lost": (1.0 if outcome == "lost" else 0.0, "bool"),
            "vm_lost_after_switchover": (1.0 if t.lost_after_switchover else 0.0, "bool"),
            "migration_aborts": (t.aborts, "count"),
            "migration_attempts": (t.attempts, "count"),
            "guest_bytes": (guest_pages * self.page_bytes, "B"),
        }
        if t.round_log:
            values["first_round_time"] = (t.round_log[0][1], "s")
            values["last_live_round_pages"] = (t.round_log[-1][0], "pages")
        for reason in t.stop_reasons:
            values[f"stop_{reason}"] = (1.0, "bool")
        for name, (value, unit) in values.items():
            rec.value(name, float(value), unit)
        rec.work_done(app.work_s, "app-s")
