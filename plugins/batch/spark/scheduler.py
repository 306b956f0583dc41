"""The DAG scheduler and the task scheduler (NSDI'12 section 5.1; EuroSys'10 delay scheduling).

DAG scheduler: an action's final RDD is cut into *stages* at shuffle (wide) dependencies;
narrow dependencies are pipelined inside one stage, so a task computes a whole chain of
map/filter/... on one partition without materializing the intermediate RDDs. A stage
that ends in a shuffle is a *shuffle map stage* (its tasks write bucketed map outputs,
registered with the map-output tracker); the last is the *result stage*. Before running a
stage the scheduler runs its missing parent stages; a parent whose map outputs are all
available, or an RDD whose partitions are all cached, is not recomputed (skipped stages).

Faults: a task that finds a map output missing or unreachable reports a *fetch failure*;
the stage attempt ends, the lost map outputs are unregistered, the parent stage re-runs
*only the lost partitions* from lineage, and the stage is resubmitted. A crashed executor
loses its running tasks (re-queued), its cached blocks and its shuffle outputs.

Task scheduler: each executor has ``executor_cores`` slots. Free slots are offered tasks
preferring data locality: node-local (the input block or cached partition is there),
then, after ``locality_wait_s`` without a local launch, rack-local, then, after as long
again, any node (delay scheduling, Zaharia et al., EuroSys'10).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generator, Optional

from plugins.batch.spark import costs as C
from plugins.batch.spark.rdd import NarrowDependency, Part, ShuffleDependency, part_of

_CURRENT: list = [None]


def current_task() -> Optional["TaskContext"]:
    return _CURRENT[0]


class FetchFailed(Exception):
    def __init__(self, shuffle_ids: list[int], node: Any) -> None:
        super().__init__(f"fetch failed: shuffles {shuffle_ids} from {getattr(node, 'name', node)}")
        self.shuffle_ids = shuffle_ids
        self.node = node


class SparkJobFailed(Exception):
    pass


@dataclass
class MapStatus:
    node: Any
    sizes: list[float]
    counts: list[float]
    pre_n: float  # records before map-side combine
    blocks: Optional[list[Part]]  # materialized buckets (the shuffle file's content)


class Uniform:
    """A modelled map output's per-reducer sizes: the same value for every reducer
    (O(1) memory instead of R floats per map task at paper scale)."""

    def __init__(self, value: float, n: int) -> None:
        self.value = value
        self.n = n

    def __getitem__(self, i: int) -> float:
        return self.value

    def __iter__(self):  # noqa: ANN204
        return iter([self.value] * self.n)


class MapOutputTracker:
    def __init__(self) -> None:
        self.outputs: dict[int, list[Optional[MapStatus]]] = {}
        self._by_node: dict[int, list[tuple[Any, float, float]]] = {}

    def by_node(self, sid: int) -> Optional[tuple[list[tuple[Any, float, float]], float]]:
        """Modelled outputs of a complete shuffle aggregated per source node:
        [(node, bytes per reducer, records per reducer)], and the records before combining."""
        if sid not in self._by_node:
            if any(st is None or st.blocks is not None for st in self.outputs[sid]):
                return None
            agg: dict[int, list] = {}
            for st in self.outputs[sid]:
                entry = agg.setdefault(st.node.id, [st.node, 0.0, 0.0])
                entry[1] += st.sizes[0]
                entry[2] += st.counts[0]
            pre = sum(st.pre_n for st in self.outputs[sid])
            self._by_node[sid] = [tuple(agg[k]) for k in sorted(agg)]
            self._pre = getattr(self, "_pre", {})
            self._pre[sid] = pre
        return self._by_node[sid], self._pre[sid]

    def set(self, sid: int, p: int, status: Optional[MapStatus]) -> None:
        self.outputs[sid][p] = status
        self._by_node.pop(sid, None)

    def ensure(self, sid: int, m: int) -> None:
        if sid not in self.outputs:
            self.outputs[sid] = [None] * m

    def missing(self, sid: int) -> list[int]:
        return [i for i, s in enumerate(self.outputs[sid]) if s is None]

    def remove_node(self, node_id: int, sid: Optional[int] = None) -> int:
        removed = 0
        for s in sorted(self.outputs) if sid is None else [sid]:
            outs = self.outputs[s]
            for i, st in enumerate(outs):
                if st is not None and st.node.id == node_id:
                    outs[i] = None
                    removed += 1
                    self._by_node.pop(s, None)
        return removed


class Stage:
    def __init__(self, sid: int, rdd: Any, shuffle_dep: Optional[ShuffleDependency], partitions: list[int],
                 func: Optional[Callable] = None) -> None:
        self.id = sid
        self.rdd = rdd
        self.shuffle_dep = shuffle_dep
        self.partitions = partitions
        self.func = func
        self.results: dict[int, Any] = {}
        self.completed_once: set[int] = set()
        self.broadcasts = _stage_broadcasts(rdd)

    @property
    def is_map(self) -> bool:
        return self.shuffle_dep is not None

    def run_partition(self, p: int, tc: "TaskContext") -> Any:
        part = self.rdd.iterator(p, tc)
        if not self.is_map:
            return self.func(part, tc)
        dep = self.shuffle_dep
        R = dep.partitioner.num_partitions
        tc.cpu += C.EMIT_S * part.n
        if part.items is not None:
            buckets: list = [{} if dep.map_side_combine else [] for _ in range(R)]
            f = dep.aggregate
            for k, v in part.items:
                b = buckets[dep.partitioner.partition(k)]
                if dep.map_side_combine:
                    b[k] = f(b[k], v) if k in b else v
                else:
                    b.append((k, v))
            if dep.map_side_combine:
                tc.cpu += C.HASH_UPDATE_S * part.n
                buckets = [list(b.items()) for b in buckets]
            blocks = [part_of(b) for b in buckets]
            sizes = [b.nbytes for b in blocks]
            counts = [float(b.n) for b in blocks]
        else:
            blocks = None
            n_out = part.n
            per = part.nbytes / part.n if part.n else 0.0
            if dep.map_side_combine:
                tc.cpu += C.HASH_UPDATE_S * part.n
                if dep.keys is not None:
                    n_out = min(part.n, dep.keys(part.n))
                if dep.out_bytes is not None:
                    per = dep.out_bytes
            counts = Uniform(n_out / R, R)
            sizes = Uniform(n_out * per / R, R)
        total = sizes.value * R if isinstance(sizes, Uniform) else sum(sizes)
        tc.cpu += C.COPY_BYTE_S * total
        tc.writes.append((f"spark/shuffle_{dep.shuffle_id}_{p}", total))
        tc.shuffle_write_bytes += total
        return MapStatus(tc.node, sizes, counts, part.n, blocks)


def _stage_broadcasts(rdd: Any) -> list[Any]:
    seen, out, stack = set(), [], [rdd]
    while stack:
        r = stack.pop()
        if r.id in seen:
            continue
        seen.add(r.id)
        for bc in r.broadcasts:
            if bc not in out:
                out.append(bc)
        for dep in r.deps:
            if isinstance(dep, NarrowDependency):
                stack.append(dep.rdd)
    return out


class TaskContext:
    """What one task does, collected while its real code runs; ``charge`` then spends the
    modelled time (reads, fetches, CPU, cache puts, writes) on the runtime."""

    def __init__(self, system: Any, stage: Stage, partition: int, node: Any) -> None:
        self.sys = system
        self.stage = stage
        self.partition = partition
        self.node = node
        self.cpu = 0.0
        self.reads: list[Any] = []
        self.fetches: dict[int, float] = {}
        self.fetch_sids: dict[int, list[int]] = {}
        self.cache_reads: list[tuple[str, Any, float]] = []
        self.to_cache: list[tuple[Any, tuple[int, int], Part]] = []
        self.writes: list[tuple[str, float]] = []
        self.result_bytes = 0.0
        self.output_bytes = 0.0
        self.shipped_bytes = 0.0
        self.shuffle_write_bytes = 0.0
        self.acc_updates: list[tuple[Any, Any]] = []

    # -- called by RDD code while computing ---------------------------------------------------
    def read_input(self, split: Any) -> None:
        self.reads.append(split)

    def fetch(self, dep: ShuffleDependency, p: int) -> tuple[list[Part], float]:
        tracker = self.sys.dag.tracker
        statuses = tracker.outputs.get(dep.shuffle_id)
        if statuses is None:
            raise FetchFailed([dep.shuffle_id], None)
        blocks: list[Part] = []
        pre = 0.0
        aggregated = tracker.by_node(dep.shuffle_id) if not self.sys.sc.materialized else None
        if aggregated is not None:
            nodes, pre = aggregated
            for node, size, count in nodes:
                blocks.append(Part(None, count, size))
                if size > 0:
                    self.fetches[node.id] = self.fetches.get(node.id, 0.0) + size
                    sids = self.fetch_sids.setdefault(node.id, [])
                    if dep.shuffle_id not in sids:
                        sids.append(dep.shuffle_id)
            return blocks, pre
        for st in statuses:
            if st is None:
                raise FetchFailed([dep.shuffle_id], None)
            pre += st.pre_n
            if st.blocks is not None:
                blocks.append(st.blocks[p])
            else:
                blocks.append(Part(None, st.counts[p], st.sizes[p]))
            if st.sizes[p] > 0:
                nid = st.node.id
                self.fetches[nid] = self.fetches.get(nid, 0.0) + st.sizes[p]
                sids = self.fetch_sids.setdefault(nid, [])
                if dep.shuffle_id not in sids:
                    sids.append(dep.shuffle_id)
        return blocks, pre

    def get_or_compute(self, rdd: Any, p: int) -> Part:
        bm = self.sys.blocks
        key = (rdd.id, p)
        got = bm.get(self.node, key)
        if got is not None:
            where, src, part, nbytes = got
            self.sys.count("cache_hits")
            if where != "memory":
                self.cache_reads.append((where, src, float(part.nbytes)))
                self.cpu += C.COPY_BYTE_S * part.nbytes  # deserialize
            return part
        self.sys.count("cache_misses")
        if key in bm.lost:
            bm.lost.discard(key)
            self.sys.count("recomputed_partitions")
        part = rdd.compute(p, self)
        self.to_cache.append((rdd, key, part))
        return part

    def accumulate(self, acc: Any, x: Any) -> None:
        self.acc_updates.append((acc, x))

    # -- spending the modelled time -------------------------------------------------------------
    def charge(self) -> Generator[Any, Any, None]:
        from harness.api import CorruptBlock, MissingBlock, NodeDown, Unreachable

        sys, rt, node = self.sys, self.sys.rt, self.node
        for bc in self.stage.broadcasts:
            if sys.params.broadcast:
                if node.id in bc.holders:
                    continue
                if node.id in bc.inflight:  # another task on this executor is fetching it
                    yield bc.inflight[node.id]
                    continue
                arrived = bc.inflight[node.id] = rt.event()
                alive = [sys.rt.nodes[h] for h in bc.holders if sys.rt.nodes[h].alive]
                src = alive[-1] if alive else sys.driver  # peers serve copies (BitTorrent-like)
                try:
                    yield rt.transfer(src, node, bc.nbytes)
                    bc.holders.append(node.id)
                    sys.add("bytes_broadcast", bc.nbytes, "B")
                finally:
                    del bc.inflight[node.id]
                    arrived.succeed()
            else:  # shipped inside every task's closure
                yield rt.transfer(sys.driver, node, bc.nbytes)
                sys.add("bytes_broadcast", bc.nbytes, "B")
        if self.shipped_bytes:
            yield rt.transfer(sys.driver, node, self.shipped_bytes)
        for split in self.reads:
            replicas = [n for n in split.replicas if n.alive]
            order = [n for n in replicas if n.id == node.id] + [n for n in replicas if n.id != node.id]
            done = False
            for src in order:
                try:
                    yield rt.read(src, split.nbytes, file=split.file, verify=True)
                    if src.id != node.id:
                        yield rt.transfer(src, node, split.nbytes)
                    done = True
                    break
                except (CorruptBlock, MissingBlock, NodeDown, Unreachable):
                    if not node.alive:
                        raise NodeDown(node.name) from None
                    sys.count("input_read_retries")
            if not done:
                raise SparkJobFailed(f"no live replica of {split.file}")
            sys.add("bytes_read", split.nbytes, "B")
        for where, src, nbytes in self.cache_reads:
            if where in ("disk", "remote-disk"):
                yield rt.read(src, nbytes)
            if src.id != node.id:
                yield rt.transfer(src, node, nbytes)
        if self.fetches:
            srcs = sorted(self.fetches)
            flows = {s: self.fetches[s] for s in srcs}
            cap = sys.params.max_fetch_flows
            if len(srcs) > cap:
                # At scale, fetches from many sources travel as ``cap`` aggregate flows, each
                # from one of the sources it stands for (event-count bound; bytes preserved).
                flows = {}
                for i, s in enumerate(srcs):
                    rep = srcs[i % cap]
                    flows[rep] = flows.get(rep, 0.0) + self.fetches[s]
            procs = [rt.transfer(rt.nodes[s], node, b) for s, b in sorted(flows.items())]
            try:
                yield rt.all_of(procs)
            except (NodeDown, Unreachable):
                if not node.alive:
                    raise NodeDown(node.name) from None
                bad = [s for s in srcs if not rt.nodes[s].alive or not rt.reachable(rt.nodes[s], node)]
                if not bad:
                    raise
                raise FetchFailed(self.fetch_sids[bad[0]], rt.nodes[bad[0]]) from None
            total = sum(self.fetches.values())
            sys.add("bytes_shuffled", total, "B")
            sys.add("bytes_shuffled_remote", sum(b for s, b in self.fetches.items() if s != node.id), "B")
        if self.cpu > 0:
            yield rt.compute(node, self.cpu)
        for rdd, key, part in self.to_cache:
            size, evicted, disk_bytes = sys.blocks.put(node, key, part, rdd.storage_level or "MEMORY_ONLY")
            for ev_key, _ in evicted:
                rt.free(node, sys.blocks.owner(ev_key))
                sys.count("cache_evictions")
            if size > 0:
                from harness.api import OutOfMemory

                try:
                    yield rt.alloc(node, sys.blocks.owner(key), size)
                except OutOfMemory:
                    sys.blocks.drop(node, key)
                    sys.count("cache_oom_drops")
            if disk_bytes > 0:
                yield rt.write(node, disk_bytes)
        for file, nbytes in self.writes:
            if nbytes > 0:
                yield rt.write(node, nbytes, file=file)
        if self.shuffle_write_bytes:
            sys.add("bytes_shuffle_written", self.shuffle_write_bytes, "B")
        if self.output_bytes:
            sys.add("bytes_written", self.output_bytes, "B")
        if self.result_bytes and node.id != sys.driver.id:
            yield rt.transfer(node, sys.driver, self.result_bytes)


class DAGScheduler:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.tracker = MapOutputTracker()
        self.shuffle_stages: dict[int, Stage] = {}
        self.next_stage_id = 0
        self.stage_times: dict[int, float] = {}
        self.jobs = 0
        self.last_job_stages: list[Stage] = []

    def _new_id(self) -> int:
        self.next_stage_id += 1
        return self.next_stage_id - 1

    def shuffle_stage(self, dep: ShuffleDependency) -> Stage:
        st = self.shuffle_stages.get(dep.shuffle_id)
        if st is None:
            # parents first, so stage ids follow execution order as in Spark
            for parent_dep in self._shuffle_deps(dep.rdd):
                self.shuffle_stage(parent_dep)
            st = Stage(self._new_id(), dep.rdd, dep, list(range(dep.rdd.num_partitions)))
            self.shuffle_stages[dep.shuffle_id] = st
            self.tracker.ensure(dep.shuffle_id, dep.rdd.num_partitions)
        return st

    @staticmethod
    def _shuffle_deps(rdd: Any, blocks: Any = None) -> list[ShuffleDependency]:
        """The shuffle dependencies reachable from ``rdd`` through narrow ones (one stage's
        boundary). With ``blocks``, fully cached RDDs are not looked through."""
        out, seen, stack = [], set(), [rdd]
        while stack:
            r = stack.pop()
            if r.id in seen:
                continue
            seen.add(r.id)
            if blocks is not None and r.storage_level is not None and blocks.fully_cached(r):
                continue
            for dep in r.deps:
                if isinstance(dep, ShuffleDependency):
                    if dep not in out:
                        out.append(dep)
                else:
                    stack.append(dep.rdd)
        return sorted(out, key=lambda d: d.shuffle_id)

    def plan(self, rdd: Any) -> list[Stage]:
        """Every stage a job on ``rdd`` consists of, parents first (no execution)."""
        order: list[Stage] = []

        def visit(stage: Stage) -> None:
            for dep in self._shuffle_deps(stage.rdd):
                parent = self.shuffle_stage(dep)
                if parent not in order:
                    visit(parent)
            if stage not in order:
                order.append(stage)

        visit(Stage(-1, rdd, None, list(range(rdd.num_partitions))))
        return order

    def missing_parents(self, stage: Stage) -> list[Stage]:
        blocks = self.ctx.system.blocks
        out = []
        for dep in self._shuffle_deps(stage.rdd, blocks):
            parent = self.shuffle_stage(dep)
            if self.tracker.missing(dep.shuffle_id):
                out.append(parent)
        return out

    def missing(self, stage: Stage) -> list[int]:
        if stage.is_map:
            return self.tracker.missing(stage.shuffle_dep.shuffle_id)
        return [p for p in stage.partitions if p not in stage.results]

    def run_job(self, rdd: Any, func: Callable, name: str, partitions: Optional[list[int]] = None) -> Generator:
        system = self.ctx.system
        parts = list(range(rdd.num_partitions)) if partitions is None else list(partitions)
        final = Stage(self._new_id(), rdd, None, parts, func)
        self.jobs += 1
        self.last_job_stages = [s for s in self.plan(rdd) if s.id != -1] + [final]
        started = system.rt.now
        yield from self.submit(final)
        system.rt.recorder.latency("job", system.rt.now - started)
        return [final.results[p] for p in parts]

    def submit(self, stage: Stage) -> Generator[Any, Any, None]:
        system = self.ctx.system
        attempts = 0
        while True:
            system.check_driver()
            for parent in self.missing_parents(stage):
                yield from self.submit(parent)
            todo = self.missing(stage)
            if not todo:
                return
            attempts += 1
            if attempts > system.params.max_stage_attempts:
                raise SparkJobFailed(f"stage {stage.id} failed {attempts - 1} times")
            began = system.rt.now
            yield from system.tasks.run_stage(stage, todo)
            system.count("stage_attempts")
            self.stage_times[stage.id] = self.stage_times.get(stage.id, 0.0) + system.rt.now - began


class TaskScheduler:
    """Offers executor slots to a stage's tasks, with delay scheduling for locality."""

    def __init__(self, system: Any) -> None:
        self.sys = system
        self.rt = system.rt
        p = system.params
        self.executors = system.executors
        self.slots = {n.id: int(p.executor_cores or n.cores) for n in self.executors}
        self.busy = {n.id: 0 for n in self.executors}
        self.wait = p.locality_wait_s if p.delay_scheduling else 0.0
        self.lost: set[int] = set()
        self.failures: dict[tuple[int, int], int] = {}

    def executor_lost(self, node: Any) -> None:
        if node.id in self.lost:
            return
        self.lost.add(node.id)
        self.sys.count("executors_lost")
        self.sys.dag.tracker.remove_node(node.id)
        self.sys.blocks.node_lost(node)
        for bc in self.sys.sc.broadcasts:  # its copies of broadcast values died with it
            if node.id in bc.holders:
                bc.holders.remove(node.id)

    def executor_back(self, node: Any) -> None:
        self.lost.discard(node.id)
        self.busy[node.id] = 0

    def run_stage(self, stage: Stage, partitions: list[int]) -> Generator[Any, Any, None]:
        rt, sys = self.rt, self.sys
        pending: dict[int, None] = {}
        prefs: dict[int, list[int]] = {}
        by_node: dict[int, deque] = {}
        by_rack: dict[str, deque] = {}
        no_pref: deque = deque()

        def add(p: int) -> None:
            pending[p] = None
            prefs[p] = [n.id for n in self.sys.preferred(stage.rdd, p) if n.id not in self.lost]
            if not prefs[p]:
                no_pref.append(p)
            for nid in prefs[p]:
                by_node.setdefault(nid, deque()).append(p)
                by_rack.setdefault(rt.nodes[nid].rack, deque()).append(p)

        for p in partitions:
            add(p)
        out: list[tuple] = []
        state = {"wake": rt.event(), "running": 0, "aborted": False, "last_local": rt.now, "add": add}

        def pick(node: Any) -> tuple[Optional[int], str]:
            q = by_node.get(node.id)
            while q:
                p = q[0]
                if p in pending:
                    return p, "node_local"
                q.popleft()
            while no_pref:
                p = no_pref[0]
                if p in pending:
                    return p, "no_pref"
                no_pref.popleft()
            elapsed = rt.now - state["last_local"]
            if elapsed >= self.wait:
                q = by_rack.get(node.rack)
                while q:
                    p = q[0]
                    if p in pending:
                        return p, "rack_local"
                    q.popleft()
            if elapsed >= 2 * self.wait:
                for p in pending:
                    return p, "any"
            return None, ""

        while (pending and not state["aborted"]) or state["running"]:
            sys.check_driver()
            if not state["aborted"]:
                progress = True
                while progress and pending:
                    progress = False
                    for node in self.executors:
                        if not node.alive or node.id in self.lost or self.busy[node.id] >= self.slots[node.id]:
                            continue
                        p, level = pick(node)
                        if p is None:
                            continue
                        del pending[p]
                        self.busy[node.id] += 1
                        state["running"] += 1
                        progress = True
                        sys.count(f"tasks_{level}")
                        if level in ("node_local", "no_pref"):
                            state["last_local"] = rt.now
                        rt.spawn(self._task(stage, p, node, out, state))
            if not state["running"]:
                if not any(n.alive and n.id not in self.lost for n in self.executors):
                    raise SparkJobFailed("no live executors")
                if not pending or state["aborted"]:
                    break
            waits = [state["wake"]]
            if pending and not state["aborted"]:
                elapsed = rt.now - state["last_local"]
                nxt = self.wait - elapsed if elapsed < self.wait else 2 * self.wait - elapsed
                if nxt > 0:
                    waits.append(rt.sleep(nxt + 1e-9))
                elif not state["running"]:
                    waits.append(rt.sleep(1e-3))
            yield rt.any_of(waits)
            if state["wake"].triggered:
                state["wake"] = rt.event()
            done, out[:] = list(out), []
            for outcome in done:
                self._handle(stage, outcome, pending, state)

    def _handle(self, stage: Stage, outcome: tuple, pending: dict, state: dict) -> None:
        sys = self.sys
        kind, p, node = outcome[0], outcome[1], outcome[2]
        state["running"] -= 1
        if node.id in self.busy:
            self.busy[node.id] = max(0, self.busy[node.id] - 1)
        if kind == "ok":
            value, tc, duration = outcome[3], outcome[4], outcome[5]
            sys.rt.recorder.latency("task", duration)
            sys.count("tasks")
            if stage.is_map:
                if not node.alive:
                    self.executor_lost(node)
                    state["add"](p)
                    return
                sid = stage.shuffle_dep.shuffle_id
                if sys.dag.tracker.outputs[sid][p] is None:
                    sys.dag.tracker.set(sid, p, value)
                    if p in stage.completed_once:
                        sys.count("recomputed_partitions")
                    else:
                        for acc, x in tc.acc_updates:
                            acc.merge(x)
                    stage.completed_once.add(p)
            elif p not in stage.results:
                stage.results[p] = value
                for acc, x in tc.acc_updates:
                    acc.merge(x)
        elif kind == "fetch":
            err: FetchFailed = outcome[3]
            sys.count("fetch_failures")
            if err.node is not None:
                if not err.node.alive:
                    self.executor_lost(err.node)
                else:
                    for sid in err.shuffle_ids:
                        sys.dag.tracker.remove_node(err.node.id, sid)
            state["aborted"] = True
        elif kind == "lost":
            sys.count("tasks_lost")
            self.executor_lost(node)
            if not state["aborted"]:
                state["add"](p)
        elif kind == "retry":
            key = (stage.id, p)
            self.failures[key] = self.failures.get(key, 0) + 1
            sys.count("task_failures")
            if self.failures[key] >= sys.params.task_max_failures:
                raise SparkJobFailed(f"task {p} of stage {stage.id} failed {self.failures[key]} times: {outcome[3]}")
            if not state["aborted"]:
                state["add"](p)
        else:
            raise outcome[3]

    def _task(self, stage: Stage, p: int, node: Any, out: list, state: dict) -> Generator[Any, Any, None]:
        from harness.api import NodeDown, OutOfMemory, Unreachable

        rt = self.rt
        started = rt.now
        tc = TaskContext(self.sys, stage, p, node)
        try:
            yield rt.compute(node, C.TASK_LAUNCH_S)
            _CURRENT[0] = tc
            try:
                value = stage.run_partition(p, tc)
            finally:
                _CURRENT[0] = None
            yield from tc.charge()
            if not node.alive:
                raise NodeDown(node.name)
            out.append(("ok", p, node, value, tc, rt.now - started))
        except FetchFailed as exc:
            out.append(("fetch", p, node, exc))
        except (NodeDown, Unreachable, OutOfMemory) as exc:
            out.append(("lost" if not node.alive else "retry", p, node, exc))
        except Exception as exc:  # a bug or a mismatch: fail the job, named
            out.append(("error", p, node, exc))
        if not state["wake"].triggered:
            state["wake"].succeed()
