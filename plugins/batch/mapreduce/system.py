"""MapReduce (Dean & Ghemawat, OSDI 2004) on the simulated cluster.

One master and a worker per node; the input is cut into M splits stored as replicated
blocks; map tasks write R regions to local disk; reduce tasks fetch their region of
every map output (while maps still run), sort, reduce and write replicated output. The
master schedules by locality, pings workers, re-executes the work of failed ones and
launches backup tasks near the end of each phase. Each mechanism is a switch in
``system.*`` so its effect can be measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generator, Optional

from harness.api import ConfigIssue, cluster_size, System
from plugins.batch.mapreduce.job import Job
from plugins.batch.mapreduce.layout import Placement, make_splits
from plugins.batch.mapreduce.master import JobRun, Master
from plugins.batch.mapreduce.programs import PROGRAMS, program_for
from plugins.batch.mapreduce.shuffle import ShuffleModel
from plugins.batch.mapreduce.worker import Worker

MIB = float(1 << 20)
PARTITIONERS = ("default", "hash")


class MasterFailed(Exception):
    """The master's node crashed: OSDI'04 section 3.3 -- the computation is aborted."""


@dataclass
class MapReduceParams:
    M: Optional[int] = None  # map tasks; None: input / split_mb, at least 4 per map slot
    R: Optional[int] = None  # reduce tasks; None: the program's choice, else one per reduce slot
    split_mb: float = 64.0  # GFS chunk size: the paper's 64 MB splits
    input_replication: int = 3  # GFS default
    output_replication: int = 1  # replicas of each output file (the paper's sort used 2)
    map_slots: int = 1  # concurrent map tasks per worker
    reduce_slots: int = 1  # "each machine executes at most one reduce task at a time"
    locality: bool = True  # prefer node-local, then rack-local splits
    combiner: bool = True  # use the program's combiner, if it has one
    backup_tasks: bool = True  # speculative copies of the last in-progress tasks
    backup_budget: float = 0.05  # ...for at most this share of a phase's tasks (see master.backup_phase)
    heartbeat_s: float = 10.0  # the master pings workers silent for this long
    failure_timeout_s: float = 30.0  # ...and marks them failed after this much silence
    reduce_start: float = 0.0  # share of maps done before reduce tasks are scheduled
    parallel_fetches: int = 1  # fetch RPCs in flight per reduce task (see docs/results.md)
    fetch_rounds: int = 10  # a reducer fetches once at least M / fetch_rounds new outputs exist
    serve_flush_s: float = 30.0  # granularity (s of disk time) at which served fetches occupy disks
    shuffle_page_cache: bool = False  # False: every fetch reads the map worker's local disk (OSDI'04 3.1)
    page_cache_mb: Optional[float] = None  # per node; None: RAM - os_reserved - the worker's buffers
    min_flow_mb: float = 64.0  # at scale, a reducer's fetched bytes move in flows of at least this
    map_buffer_mb: float = 100.0  # map output buffer (memory)
    sort_buffer_mb: float = 100.0  # in-memory sort; bigger partitions are sorted externally
    startup_s: Optional[float] = None  # None: worker_launch_s per worker (see docs)
    worker_launch_s: float = 0.034  # program propagation and start-up, per worker
    workers: Optional[int] = None  # nodes running a worker; None: every node but the master's
    master_node: int = 0
    program: Optional[str] = None  # user program; None: the workload's name
    partitioner: str = "default"  # default (the program's) | hash
    check_output: bool = True  # compare materialized output with the reference


class MapReduce(System):
    name = "mapreduce"
    description = "MapReduce (OSDI'04): locality scheduling, re-execution, backup tasks, combiner"
    Params = MapReduceParams
    serves = ("batch",)

    @classmethod
    def check(cls, params: MapReduceParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        issues = []
        for key in ("M", "R", "workers"):
            value = getattr(params, key)
            if value is not None and value < 1:
                issues.append(ConfigIssue(f"system.{key}", value, "must be >= 1 (or null for the default)"))
        for key in ("input_replication", "output_replication", "map_slots", "reduce_slots",
                    "parallel_fetches", "fetch_rounds"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1"))
        for key in ("split_mb", "heartbeat_s", "map_buffer_mb", "sort_buffer_mb", "serve_flush_s", "min_flow_mb"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0"))
        if params.failure_timeout_s <= params.heartbeat_s:
            issues.append(ConfigIssue("system.failure_timeout_s", params.failure_timeout_s,
                                      f"must be > system.heartbeat_s ({params.heartbeat_s})"))
        for key in ("backup_budget", "reduce_start"):
            if not 0 <= getattr(params, key) <= 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be in [0, 1]"))
        if not 0 <= params.master_node < nodes:
            issues.append(ConfigIssue("system.master_node", params.master_node, f"must be a node id in [0, {nodes - 1}]"))
        if params.workers is not None and params.workers > max(1, nodes - 1):
            issues.append(ConfigIssue("system.workers", params.workers, f"at most {max(1, nodes - 1)} on this cluster"))
        if params.program is not None and params.program not in PROGRAMS:
            issues.append(ConfigIssue("system.program", params.program, f"allowed: {', '.join(sorted(PROGRAMS))}"))
        if params.partitioner not in PARTITIONERS:
            issues.append(ConfigIssue("system.partitioner", params.partitioner, f"allowed: {', '.join(PARTITIONERS)}"))
        if params.startup_s is not None and params.startup_s < 0:
            issues.append(ConfigIssue("system.startup_s", params.startup_s, "must be >= 0"))
        return issues

    # -- set-up ---------------------------------------------------------------------
    def deploy(self) -> tuple[list[Any], float]:
        rt, p = self.rt, self.params
        self.master_node = rt.nodes[p.master_node]
        others = [n for n in rt.nodes if n is not self.master_node] or [self.master_node]
        if p.workers is not None and p.workers < len(others):
            picked = rt.rng("mapreduce/workers").sample(others, p.workers)
            others_set = {n.id for n in picked}
            worker_nodes = [n for n in others if n.id in others_set]
        else:
            worker_nodes = others
        storage = [n for n in rt.nodes if n is not self.master_node] or [self.master_node]
        self.worker_anon_bytes = (p.map_slots * p.map_buffer_mb + p.reduce_slots * p.sort_buffer_mb) * MIB
        self.shuffle = ShuffleModel(rt, p.parallel_fetches, p.serve_flush_s, p.min_flow_mb, self.worker_anon_bytes,
                                    p.shuffle_page_cache, p.page_cache_mb)
        self.input_placement = Placement(storage, rt.rng("mapreduce/input-placement"))
        self.output_placement = Placement(storage, rt.rng("mapreduce/output-placement"))
        self.jobs: dict[int, Job] = {}
        self.master = Master(self, self.master_node)
        self.master_procs = [rt.spawn(self.master.serve(), node=self.master_node),
                             rt.spawn(self.master.monitor(), node=self.master_node)]
        self.workers = {n.id: Worker(self, n) for n in worker_nodes}
        for worker in self.workers.values():
            worker.start()
        startup = p.startup_s if p.startup_s is not None else p.worker_launch_s * len(worker_nodes)
        rt.spawn(self.master.start_scheduling(startup), node=self.master_node)
        return worker_nodes, startup

    def job(self, jid: int) -> Job | None:
        return self.jobs.get(jid)

    def on_node_recover(self, node: Any) -> None:
        worker = getattr(self, "workers", {}).get(node.id)
        if worker is not None:
            worker.start()  # the cluster scheduler restarts the worker process

    # -- the run --------------------------------------------------------------------
    def run(self, workload: Any) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        worker_nodes, startup = self.deploy()
        rt.recorder.primary_ops = ("map_task", "reduce_task")
        rt.recorder.value("startup", startup, "s")
        rt.recorder.value("workers", len(worker_nodes), "nodes")
        data = workload.input()
        slots = len(worker_nodes) * p.map_slots
        M = p.M or max(math.ceil(data.nbytes / (p.split_mb * MIB)), 4 * slots)
        M = max(1, min(M, data.records))
        splits = make_splits(data.records, data.nbytes, M, "input")
        for split in splits:
            split.replicas = self.input_placement.replicas(p.input_replication)
            for node in split.replicas:
                rt.place(node, split.file, split.nbytes)
        records = workload.records() if data.materialized else None
        state = workload.initial_state()
        name = p.program or workload.name
        program = None
        times: list[float] = []
        runs: list[JobRun] = []
        for iteration in range(workload.iterations):
            program = program_for(name, workload, state)
            R = p.R or program.default_R or len(worker_nodes) * p.reduce_slots
            job = Job(iteration + 1, f"job{iteration + 1}", program, splits, R, p.combiner, p.partitioner,
                      records, p.fetch_rounds, rt.event())
            self.jobs[job.jid] = job
            began = rt.now
            jr = self.master.begin(job)
            yield rt.any_of([job.done, *self.master_procs])
            if not job.done.triggered:
                raise MasterFailed(f"the master's node {self.master_node.name} crashed: MapReduce aborts the job")
            if jr.error is not None:
                raise jr.error
            times.append(rt.now - began)
            runs.append(jr)
            if records is not None:
                if p.check_output and not workload.iterative:
                    program.check(job.outputs)
                state = program.next_state(job.outputs)
        if records is not None and p.check_output and workload.iterative and program is not None:
            program.check_state(state)
        self.shuffle.finish()
        self.record(runs, times, data, workload.iterations)

    def record(self, runs: list[JobRun], times: list[float], data: Any, iterations: int) -> None:
        rec = self.rt.recorder
        rec.work_done(data.records * iterations, "records")
        rec.value("input_bytes", data.nbytes * iterations, "B")
        rec.value("bytes_output", sum(jr.job.output_bytes for jr in runs), "B")
        rec.value("map_tasks", runs[0].job.M if runs else 0, "tasks")
        rec.value("reduce_tasks", runs[0].job.R if runs else 0, "tasks")
        rec.value("map_phase", sum(jr.maps_finished_at - jr.first_map for jr in runs), "s")
        rec.value("shuffle_phase", sum(jr.shuffle_end - jr.first_reduce for jr in runs), "s")
        rec.value("reduce_phase", sum(jr.finished_at - jr.first_sort for jr in runs), "s")
        if iterations > 1:
            rec.value("iteration_first", times[0], "s")
            rec.value("iteration_rest_mean", sum(times[1:]) / (len(times) - 1), "s")
