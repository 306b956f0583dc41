"""The MapReduce master: task state, locality-aware scheduling, failure detection,
re-execution, backup tasks and the log of map-output locations reducers poll.

It follows OSDI'04 section 3: tasks are idle, in-progress or completed; the master
pings workers and marks silent ones failed; a failed worker's in-progress tasks and
its completed map tasks (their output lived on its local disk) go back to idle; near
the end of a phase the remaining in-progress tasks get backup executions and the first
to finish wins. All of it runs on the master's node and talks to workers only through
messages.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator

import numpy as np

from plugins.batch.mapreduce import messages as msg
from plugins.batch.mapreduce.messages import MASTER_PORT, WORKER_PORT

if TYPE_CHECKING:
    from plugins.batch.mapreduce.job import Job
    from plugins.batch.mapreduce.system import MapReduce

PENDING, RUNNING, DONE = "pending", "running", "done"
MAX_TASK_FAILURES = 4  # attempts of one task that may fail before the job is aborted
FETCH_FAILURE_REPORTS = 3  # reducer reports that condemn a map output (fewer if fewer reducers)


class JobFailed(Exception):
    """The job cannot complete (a task failed too often, data lost, no workers left)."""


@dataclass
class Attempt:
    aid: int
    kind: str  # "map" | "reduce"
    task: int
    node: int
    incarnation: int
    start: float
    backup: bool
    live: bool = True


@dataclass
class Task:
    index: int
    state: str = PENDING
    live: list[int] = field(default_factory=list)  # live attempt ids
    winner: int | None = None
    log_index: int = -1  # map: its entry in the output log
    failures: int = 0
    fetch_failures: int = 0
    backed_up: bool = False
    ran: bool = False  # an attempt was ever launched (so a later one is a re-execution)


@dataclass
class WorkerInfo:
    node: Any
    incarnation: int
    last_heard: float
    map_free: int
    reduce_free: int
    alive: bool = True
    running: dict[int, None] = field(default_factory=dict)
    done_maps: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.node.id


class OutputLog:
    """Where each completed map output lives, in completion order (grows; entries are
    invalidated, never removed, so reducers' cursors stay meaningful)."""

    def __init__(self, capacity: int) -> None:
        capacity = max(16, capacity)
        self.maps = np.zeros(capacity, dtype=np.int64)
        self.nodes = np.zeros(capacity, dtype=np.int64)
        self.generations = np.zeros(capacity, dtype=np.int64)
        self.attempts = np.zeros(capacity, dtype=np.int64)
        self.marks = np.zeros(capacity)
        self.sizes = np.zeros(capacity)
        self.valid = np.zeros(capacity, dtype=bool)
        self.size = 0

    def append(self, task: int, node: int, generation: int, aid: int, mark: float, size: float) -> int:
        if self.size == len(self.maps):
            for name in ("maps", "nodes", "generations", "attempts", "marks", "sizes", "valid"):
                old = getattr(self, name)
                setattr(self, name, np.concatenate([old, np.zeros_like(old)]))
        i = self.size
        self.maps[i], self.nodes[i], self.generations[i], self.attempts[i] = task, node, generation, aid
        self.marks[i], self.sizes[i] = mark, size
        self.valid[i] = True
        self.size += 1
        return i

    def update(self, cursor: int, map_phase_over: bool) -> msg.ShuffleUpdate:
        idx = (np.flatnonzero(self.valid[cursor:self.size]) + cursor).astype(np.int32)
        return msg.ShuffleUpdate(self.size, idx, self, map_phase_over)


class JobRun:
    """The master's bookkeeping for one job."""

    def __init__(self, job: Job, locality: bool) -> None:
        self.job = job
        self.maps = [Task(i) for i in range(job.M)]
        self.reduces = [Task(i) for i in range(job.R)]
        self.attempts: dict[int, Attempt] = {}
        self.node_q: dict[int, deque[int]] = {}
        self.rack_q: dict[str, deque[int]] = {}
        self.any_q: deque[int] = deque()
        self.reduce_q: deque[int] = deque()
        self.pending_maps = 0
        self.pending_reduces = 0
        self.running_maps: dict[int, None] = {}  # in-progress map tasks, oldest first
        self.running_reduces: dict[int, None] = {}
        self.unbacked = {"map": {}, "reduce": {}}  # in-progress tasks without a backup, oldest first
        self.backups = {"map": 0, "reduce": 0}  # backup attempts launched per phase
        self.durations: dict[str, list[float]] = {"map": [], "reduce": []}  # completed tasks', sorted
        self.maps_done = 0
        self.reduces_done = 0
        self.log = OutputLog(job.M + job.M // 8)
        self.parked: list[tuple[int, int, msg.ShufflePoll]] = []
        self.poll_seq = itertools.count()
        self.latest_poll: dict[int, int] = {}
        self.complete = False
        self.error: Exception | None = None
        self.locality = locality
        self.started_at = math.nan
        self.first_map = math.inf
        self.maps_finished_at = math.nan
        self.first_reduce = math.inf
        self.shuffle_end = 0.0
        self.first_sort = math.inf
        self.finished_at = math.nan
        for split in job.splits:
            self.enqueue_map(split.index)
        for r in range(job.R):
            self.reduce_q.append(r)
        self.pending_reduces = job.R

    def enqueue_map(self, m: int) -> None:
        self.pending_maps += 1
        if self.locality:
            racks = []
            for node in self.job.splits[m].replicas:
                self.node_q.setdefault(node.id, deque()).append(m)
                if node.rack not in racks:
                    racks.append(node.rack)
            for rack in racks:
                self.rack_q.setdefault(rack, deque()).append(m)
        self.any_q.append(m)

    def pop_map(self, queue: deque[int] | None) -> int | None:
        while queue:
            m = queue.popleft()
            if self.maps[m].state == PENDING:
                return m
        return None


class Master:
    def __init__(self, system: MapReduce, node: Any) -> None:
        self.sys = system
        self.rt = system.rt
        self.node = node
        self.p = system.params
        self.workers: dict[int, WorkerInfo] = {}
        self.idle_map: dict[int, WorkerInfo] = {}
        self.idle_reduce: dict[int, WorkerInfo] = {}
        self.current: JobRun | None = None
        self.aids = itertools.count(1)
        self.scheduling = False  # False during start-up
        self.no_workers_since: float | None = None
        self.handlers = {
            msg.Register: self.on_register,
            msg.MapDone: self.on_map_done,
            msg.ReduceDone: self.on_reduce_done,
            msg.TaskFailed: self.on_task_failed,
            msg.ShufflePoll: self.on_poll,
            msg.FetchFailed: self.on_fetch_failed,
        }

    # -- processes ------------------------------------------------------------------
    def serve(self) -> Generator[Any, Any, None]:
        rt = self.rt
        while True:
            get = rt.recv(self.node, MASTER_PORT)
            try:
                message = yield get
            finally:
                if not get.triggered:
                    get.cancel()
            self.handlers[type(message)](message)

    def monitor(self) -> Generator[Any, Any, None]:
        """Ping workers that have been silent for a heartbeat; fail those silent too long."""
        rt, p = self.rt, self.p
        while True:
            yield rt.sleep(p.heartbeat_s)
            now = rt.now
            for w in list(self.workers.values()):
                if not w.alive:
                    # A worker declared dead may only have been cut off: if it answers, it
                    # is told to drop its work and register again.
                    self.ping(w)
                    continue
                silent = now - w.last_heard
                if silent > p.failure_timeout_s:
                    self.fail_worker(w, "missed heartbeats")
                elif silent >= p.heartbeat_s:
                    self.ping(w)
            self.check_progress_possible(now)

    def ping(self, w: WorkerInfo) -> None:
        """The worker daemon answers from its RPC server, without queueing behind tasks."""
        self.rt.ask(self.node, w.node, self.sys.workers[w.id].answer_ping, self.on_pong)

    def start_scheduling(self, delay: float) -> Generator[Any, Any, None]:
        yield self.rt.sleep(delay)
        self.scheduling = True
        self.schedule()

    # -- jobs -----------------------------------------------------------------------
    def begin(self, job: Job) -> JobRun:
        jr = JobRun(job, self.p.locality)
        jr.started_at = self.rt.now
        self.current = jr
        self.schedule()
        return jr

    def finish(self, jr: JobRun, error: Exception | None = None) -> None:
        if jr.complete:
            return
        jr.complete = True
        jr.error = error
        jr.finished_at = self.rt.now
        for aid, att in list(jr.attempts.items()):
            if att.live:
                self.kill(jr, att)
        jr.job.done.succeed()

    # -- workers --------------------------------------------------------------------
    def heard(self, node_id: int, incarnation: int) -> WorkerInfo | None:
        """The worker that sent a message, or None if the message is stale."""
        w = self.workers.get(node_id)
        if w is not None and w.alive and w.incarnation == incarnation:
            w.last_heard = self.rt.now
            return w
        if w is None or (not w.alive and w.incarnation == incarnation):
            self.rt.send(self.node, self.rt.nodes[node_id], msg.Reregister(), port=WORKER_PORT)
        return None

    def on_register(self, m: msg.Register) -> None:
        old = self.workers.get(m.node)
        if old is not None and old.alive:
            if m.incarnation <= old.incarnation:
                return
            self.fail_worker(old, "restarted")
        node = self.rt.nodes[m.node]
        w = WorkerInfo(node, m.incarnation, self.rt.now, self.p.map_slots, self.p.reduce_slots)
        self.workers[m.node] = w
        self.idle_map[w.id] = w
        self.idle_reduce[w.id] = w
        self.no_workers_since = None
        self.schedule()

    def on_pong(self, m: msg.Pong) -> None:
        self.heard(m.node, m.incarnation)

    def fail_worker(self, w: WorkerInfo, why: str) -> None:
        if not w.alive:
            return
        w.alive = False
        self.rt.recorder.count("workers_failed")
        self.idle_map.pop(w.id, None)
        self.idle_reduce.pop(w.id, None)
        jr = self.current
        if jr is None or jr.complete:
            return
        for aid in list(w.running):
            att = jr.attempts.get(aid)
            if att is not None and att.live:
                self.end_attempt(jr, att, w)
                self.requeue_if_orphaned(jr, att)
        for m in w.done_maps:
            self.lose_map_output(jr, m)
        w.done_maps = []
        self.schedule()

    def lose_map_output(self, jr: JobRun, m: int) -> None:
        """A completed map's output is gone: re-execute it if any reducer may still need it."""
        task = jr.maps[m]
        if task.state != DONE or jr.reduces_done == jr.job.R:
            return
        jr.log.valid[task.log_index] = False
        task.state = PENDING
        task.winner = None
        task.fetch_failures = 0
        jr.maps_done -= 1
        jr.enqueue_map(m)
        self.rt.recorder.count("reexecuted_maps")

    def requeue_if_orphaned(self, jr: JobRun, att: Attempt) -> None:
        task = (jr.maps if att.kind == "map" else jr.reduces)[att.task]
        if task.state != RUNNING or task.live:
            return
        task.state = PENDING
        task.backed_up = False
        jr.unbacked[att.kind].pop(att.task, None)
        if att.kind == "map":
            jr.running_maps.pop(att.task, None)
            jr.enqueue_map(att.task)
        else:
            jr.running_reduces.pop(att.task, None)
            jr.reduce_q.appendleft(att.task)
            jr.pending_reduces += 1
        self.rt.recorder.count(f"reexecuted_{att.kind}s")

    def check_progress_possible(self, now: float) -> None:
        jr = self.current
        if jr is None or jr.complete or not self.scheduling:
            return
        if any(w.alive for w in self.workers.values()):
            self.no_workers_since = None
            return
        if self.no_workers_since is None:
            self.no_workers_since = now
        elif now - self.no_workers_since > 10 * self.p.failure_timeout_s:
            self.finish(jr, JobFailed("every worker has failed; the job cannot make progress"))

    # -- attempts -------------------------------------------------------------------
    def launch(self, jr: JobRun, w: WorkerInfo, kind: str, t: int, backup: bool = False) -> None:
        aid = next(self.aids)
        now = self.rt.now
        att = Attempt(aid, kind, t, w.id, w.incarnation, now, backup)
        jr.attempts[aid] = att
        task = (jr.maps if kind == "map" else jr.reduces)[t]
        task.live.append(aid)
        w.running[aid] = None
        if kind == "map":
            w.map_free -= 1
            if task.state == PENDING:
                jr.pending_maps -= 1
                jr.running_maps[t] = None
                jr.unbacked["map"][t] = None
            jr.first_map = min(jr.first_map, now)
            message: Any = msg.RunMap(jr.job.jid, aid, t)
        else:
            w.reduce_free -= 1
            if task.state == PENDING:
                jr.pending_reduces -= 1
                jr.running_reduces[t] = None
                jr.unbacked["reduce"][t] = None
            jr.first_reduce = min(jr.first_reduce, now)
            message = msg.RunReduce(jr.job.jid, aid, t)
        task.state = RUNNING
        task.ran = True
        if backup:
            task.backed_up = True
            jr.unbacked[kind].pop(t, None)
            jr.backups[kind] += 1
            self.rt.recorder.count("backup_tasks")
        self.rt.send(self.node, w.node, message, port=WORKER_PORT)

    def end_attempt(self, jr: JobRun, att: Attempt, w: WorkerInfo | None) -> None:
        att.live = False
        task = (jr.maps if att.kind == "map" else jr.reduces)[att.task]
        if att.aid in task.live:
            task.live.remove(att.aid)
        w = w or self.workers.get(att.node)
        if w is None or w.incarnation != att.incarnation or att.aid not in w.running:
            return
        del w.running[att.aid]
        if not w.alive:
            return
        if att.kind == "map":
            w.map_free += 1
            self.idle_map[w.id] = w
        else:
            w.reduce_free += 1
            self.idle_reduce[w.id] = w

    def kill(self, jr: JobRun, att: Attempt) -> None:
        w = self.workers.get(att.node)
        self.end_attempt(jr, att, w)
        if w is not None and w.alive:
            self.rt.send(self.node, w.node, msg.Kill(att.aid), port=WORKER_PORT)

    def attempt_of(self, jr: JobRun | None, job: int, aid: int, node: int, incarnation: int) -> tuple[Attempt | None, WorkerInfo | None]:
        w = self.heard(node, incarnation)
        if jr is None or jr.job.jid != job or w is None:
            return None, w
        att = jr.attempts.get(aid)
        return (att if att is not None and att.live else None), w

    def on_map_done(self, m: msg.MapDone) -> None:
        jr = self.current
        att, w = self.attempt_of(jr, m.job, m.aid, m.node, m.incarnation)
        if att is None:
            return
        self.end_attempt(jr, att, w)
        task = jr.maps[att.task]
        if task.state == DONE:
            self.schedule()
            return
        now = self.rt.now
        task.state = DONE
        task.winner = att.aid
        jr.running_maps.pop(att.task, None)
        jr.unbacked["map"].pop(att.task, None)
        jr.maps_done += 1
        task.log_index = jr.log.append(att.task, att.node, att.incarnation, att.aid, m.mark, m.out_bytes)
        w.done_maps.append(att.task)
        self.rt.recorder.latency("map_task", now - att.start)
        bisect.insort(jr.durations["map"], now - att.start)
        if att.backup:
            self.rt.recorder.count("backup_wins")
        for other in list(task.live):
            self.kill(jr, jr.attempts[other])
        if jr.maps_done == jr.job.M:
            jr.maps_finished_at = now
        self.answer_polls(jr)
        self.schedule()

    def on_reduce_done(self, m: msg.ReduceDone) -> None:
        jr = self.current
        att, w = self.attempt_of(jr, m.job, m.aid, m.node, m.incarnation)
        if att is None:
            return
        self.end_attempt(jr, att, w)
        task = jr.reduces[att.task]
        if task.state == DONE:
            self.schedule()
            return
        now = self.rt.now
        task.state = DONE
        task.winner = att.aid
        jr.running_reduces.pop(att.task, None)
        jr.unbacked["reduce"].pop(att.task, None)
        jr.reduces_done += 1
        jr.shuffle_end = max(jr.shuffle_end, m.shuffle_end)
        jr.first_sort = min(jr.first_sort, m.shuffle_end)
        jr.job.commit(att.task, att.aid, m.out_bytes)
        self.rt.recorder.latency("reduce_task", now - att.start)
        bisect.insort(jr.durations["reduce"], now - att.start)
        if att.backup:
            self.rt.recorder.count("backup_wins")
        for other in list(task.live):
            self.kill(jr, jr.attempts[other])
        if jr.reduces_done == jr.job.R:
            self.finish(jr)
            return
        self.schedule()

    def on_task_failed(self, m: msg.TaskFailed) -> None:
        jr = self.current
        att, w = self.attempt_of(jr, m.job, m.aid, m.node, m.incarnation)
        if att is None:
            return
        self.end_attempt(jr, att, w)
        task = (jr.maps if att.kind == "map" else jr.reduces)[att.task]
        task.failures += 1
        self.rt.recorder.count("failed_attempts")
        if task.failures >= MAX_TASK_FAILURES:
            self.finish(jr, JobFailed(f"{att.kind} task {att.task} failed {task.failures} times; last: {m.reason}"))
            return
        self.requeue_if_orphaned(jr, att)
        self.schedule()

    # -- the shuffle log ------------------------------------------------------------
    def on_poll(self, m: msg.ShufflePoll) -> None:
        jr = self.current
        att, _w = self.attempt_of(jr, m.job, m.aid, m.node, m.incarnation)
        if att is None:
            return
        seq = next(jr.poll_seq)
        jr.latest_poll[m.aid] = seq
        if jr.maps_done == jr.job.M or jr.log.size - m.cursor >= m.want:
            self.reply(jr, m)
        else:
            heapq.heappush(jr.parked, (m.cursor + m.want, seq, m))

    def answer_polls(self, jr: JobRun) -> None:
        over = jr.maps_done == jr.job.M
        while jr.parked and (over or jr.parked[0][0] <= jr.log.size):
            _, seq, m = heapq.heappop(jr.parked)
            att = jr.attempts.get(m.aid)
            if att is not None and att.live and jr.latest_poll.get(m.aid) == seq:
                self.reply(jr, m)

    def reply(self, jr: JobRun, m: msg.ShufflePoll) -> None:
        update = jr.log.update(m.cursor, jr.maps_done == jr.job.M)
        self.rt.send(self.node, self.rt.nodes[m.node], update, nbytes=update.nbytes, port=msg.attempt_port(m.aid))

    def on_fetch_failed(self, m: msg.FetchFailed) -> None:
        jr = self.current
        att, _w = self.attempt_of(jr, m.job, m.aid, m.node, m.incarnation)
        if att is None:
            return
        self.rt.recorder.count("fetch_failures", len(m.log_indices))
        limit = max(1, min(FETCH_FAILURE_REPORTS, jr.job.R))
        for index in m.log_indices:
            if not jr.log.valid[index]:
                continue
            task = jr.maps[int(jr.log.maps[index])]
            task.fetch_failures += 1
            if task.fetch_failures >= limit:
                owner = self.workers.get(int(jr.log.nodes[index]))
                if owner is not None and task.index in owner.done_maps:
                    owner.done_maps.remove(task.index)
                self.lose_map_output(jr, task.index)
        self.schedule()

    # -- scheduling -----------------------------------------------------------------
    def schedule(self) -> None:
        jr = self.current
        if jr is None or jr.complete or not self.scheduling:
            return
        if self.map_work(jr):
            for w in list(self.idle_map.values()):
                self.fill_maps(jr, w)
                if not self.map_work(jr):
                    break
        if self.reduce_work(jr):
            for w in list(self.idle_reduce.values()):
                self.fill_reduces(jr, w)
                if not self.reduce_work(jr):
                    break

    def map_work(self, jr: JobRun) -> bool:
        return jr.pending_maps > 0 or self.backup_phase(jr, "map")

    def reduce_work(self, jr: JobRun) -> bool:
        if jr.maps_done < self.p.reduce_start * jr.job.M:
            return False
        return jr.pending_reduces > 0 or self.backup_phase(jr, "reduce")

    def backup_phase(self, jr: JobRun, kind: str) -> bool:
        """Close to completion (OSDI'04 3.6): no task of the phase is left to start, the
        backup budget is not spent, and the longest-running task without a backup is late."""
        if not self.p.backup_tasks or not jr.unbacked[kind]:
            return False
        total, pending = (jr.job.M, jr.pending_maps) if kind == "map" else (jr.job.R, jr.pending_reduces)
        if pending > 0 or jr.backups[kind] >= max(1, math.ceil(self.p.backup_budget * total)):
            return False
        return self.late(jr, kind, next(iter(jr.unbacked[kind])))

    def late(self, jr: JobRun, kind: str, t: int) -> bool:
        """Running longer than the phase's median completed task: one on time needs no copy."""
        durations = jr.durations[kind]
        task = (jr.maps if kind == "map" else jr.reduces)[t]
        if not durations or not task.live:
            return False
        return self.rt.now - jr.attempts[task.live[0]].start > durations[len(durations) // 2]

    def fill_maps(self, jr: JobRun, w: WorkerInfo) -> None:
        while w.alive and w.map_free > 0:
            if jr.pending_maps > 0:
                t, where = self.pick_map(jr, w)
                if t is None:
                    break
                self.rt.recorder.count(f"locality_{where}")
                self.launch(jr, w, "map", t)
            else:
                t = self.pick_backup(jr, "map", w) if self.backup_phase(jr, "map") else None
                if t is None:
                    break
                self.launch(jr, w, "map", t, backup=True)
        if w.map_free <= 0 or not w.alive:
            self.idle_map.pop(w.id, None)

    def fill_reduces(self, jr: JobRun, w: WorkerInfo) -> None:
        while w.alive and w.reduce_free > 0:
            if jr.pending_reduces > 0:
                t = self.pop_reduce(jr)
                if t is None:
                    break
                self.launch(jr, w, "reduce", t)
            else:
                t = self.pick_backup(jr, "reduce", w) if self.backup_phase(jr, "reduce") else None
                if t is None:
                    break
                self.launch(jr, w, "reduce", t, backup=True)
        if w.reduce_free <= 0 or not w.alive:
            self.idle_reduce.pop(w.id, None)

    def pop_reduce(self, jr: JobRun) -> int | None:
        while jr.reduce_q:
            r = jr.reduce_q.popleft()
            if jr.reduces[r].state == PENDING:
                return r
        return None

    def pick_map(self, jr: JobRun, w: WorkerInfo) -> tuple[int | None, str]:
        """Node-local first, then rack-local, then any (OSDI'04 section 3.4)."""
        if jr.locality:
            for queue in (jr.node_q.get(w.id), jr.rack_q.get(w.node.rack)):
                t = jr.pop_map(queue)
                if t is not None:
                    return t, self.where(jr, t, w)
        t = jr.pop_map(jr.any_q)
        return (t, self.where(jr, t, w)) if t is not None else (None, "")

    @staticmethod
    def where(jr: JobRun, t: int, w: WorkerInfo) -> str:
        replicas = jr.job.splits[t].replicas
        if any(n.id == w.id for n in replicas):
            return "node_local"
        if any(n.rack == w.node.rack for n in replicas):
            return "rack_local"
        return "remote"

    def pick_backup(self, jr: JobRun, kind: str, w: WorkerInfo) -> int | None:
        """The longest-running late task without a backup, not already on ``w``."""
        tasks = jr.maps if kind == "map" else jr.reduces
        for t in jr.unbacked[kind]:
            if not self.late(jr, kind, t):
                return None  # oldest first: the rest started later still
            task = tasks[t]
            if len(task.live) == 1 and jr.attempts[task.live[0]].node != w.id:
                return t
        return None
