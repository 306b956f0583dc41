"""Spark (Zaharia et al., "Resilient Distributed Datasets", NSDI'12) on the simulated cluster.

A driver on ``driver_node`` runs the workload's driver program (``programs.py``) against
the RDD API (``rdd.py``); executors on the other nodes run its tasks. The DAG scheduler
cuts jobs into stages at shuffles, the task scheduler places tasks with delay scheduling,
the block manager caches persisted partitions within the nodes' RAM (LRU), and lost
partitions (a crashed executor's cache and shuffle outputs) are recomputed from lineage.
Input is stored as replicated blocks (HDFS), placed by the MapReduce plugin's rack-aware
``Placement`` and cut by its ``make_splits``. Mechanisms are switches in ``system.*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generator, Optional

from harness.api import ConfigIssue, cluster_size, System
from plugins.batch.mapreduce.layout import Placement, make_splits
from plugins.batch.spark import costs as C
from plugins.batch.spark.cache import LEVELS, BlockManager
from plugins.batch.spark.programs import PROGRAMS
from plugins.batch.spark.rdd import InputRDD, NarrowDependency, SparkContext
from plugins.batch.spark.scheduler import SparkJobFailed, TaskScheduler

MIB = float(1 << 20)


@dataclass
class SparkParams:
    executors: Optional[int] = None  # nodes running an executor; None: every node but the driver's
    executor_cores: Optional[int] = None  # task slots per executor; None: the node's cores
    driver_node: int = 0
    partitions: Optional[int] = None  # input partitions; None: max(blocks, total task slots)
    shuffle_partitions: Optional[int] = None  # None: the parent RDD's partition count
    split_mb: float = 128.0  # HDFS block size (Hadoop 2 default)
    input_replication: int = 3
    cache: bool = True  # programs persist the RDDs they reuse (iterative jobs)
    storage_level: str = "MEMORY_ONLY"  # MEMORY_ONLY | MEMORY_AND_DISK | DISK_ONLY
    storage_fraction: float = C.STORAGE_FRACTION  # share of usable RAM for cached blocks
    memory_expansion: float = C.MEMORY_EXPANSION  # deserialized / serialized size
    delay_scheduling: bool = True  # wait for a node-local slot before going rack-local / remote
    locality_wait_s: float = 3.0  # spark.locality.wait (per locality level)
    broadcast: bool = True  # broadcast variables: once per executor (false: inside every task)
    max_fetch_flows: int = 64  # a reduce task's fetches travel as at most this many flows
    max_stage_attempts: int = 8
    task_max_failures: int = 4  # spark.task.maxFailures
    program: Optional[str] = None  # driver program; None: the workload's name
    check_output: bool = True  # compare materialized output with the reference


class Spark(System):
    name = "spark"
    description = "Spark RDDs (NSDI'12): lineage, stages, caching, delay scheduling, recomputation"
    Params = SparkParams
    serves = ("batch",)

    @classmethod
    def check(cls, params: SparkParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        issues = []
        for key in ("executors", "executor_cores", "partitions", "shuffle_partitions"):
            value = getattr(params, key)
            if value is not None and value < 1:
                issues.append(ConfigIssue(f"system.{key}", value, "must be >= 1 (or null for the default)"))
        for key in ("input_replication", "max_stage_attempts", "task_max_failures", "max_fetch_flows"):
            if getattr(params, key) < 1:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1"))
        for key in ("split_mb", "memory_expansion"):
            if getattr(params, key) <= 0:
                issues.append(ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0"))
        if params.locality_wait_s < 0:
            issues.append(ConfigIssue("system.locality_wait_s", params.locality_wait_s, "must be >= 0"))
        if not 0 <= params.storage_fraction <= 1:
            issues.append(ConfigIssue("system.storage_fraction", params.storage_fraction, "must be in [0, 1]"))
        if params.storage_level not in LEVELS:
            issues.append(ConfigIssue("system.storage_level", params.storage_level, f"allowed: {', '.join(LEVELS)}"))
        if not 0 <= params.driver_node < nodes:
            issues.append(ConfigIssue("system.driver_node", params.driver_node, f"must be a node id in [0, {nodes - 1}]"))
        if params.executors is not None and params.executors > max(1, nodes - 1):
            issues.append(ConfigIssue("system.executors", params.executors, f"at most {max(1, nodes - 1)} on this cluster"))
        if params.program is not None and params.program not in PROGRAMS:
            issues.append(ConfigIssue("system.program", params.program, f"allowed: {', '.join(sorted(PROGRAMS))}"))
        return issues

    # -- set-up -------------------------------------------------------------------------------
    def deploy(self) -> None:
        rt, p = self.rt, self.params
        self.driver = rt.nodes[p.driver_node]
        others = [n for n in rt.nodes if n is not self.driver] or [self.driver]
        if p.executors is not None and p.executors < len(others):
            picked = {n.id for n in rt.rng("spark/executors").sample(others, p.executors)}
            others = [n for n in others if n.id in picked]
        self.executors = others
        storage = [n for n in rt.nodes if n is not self.driver] or [self.driver]
        self.placement = Placement(storage, rt.rng("spark/input-placement"))
        self.blocks = BlockManager(rt, list(rt.nodes), p.storage_fraction, p.memory_expansion)
        self.tasks = TaskScheduler(self)
        self._inputs: dict[str, Any] = {}

    def on_node_recover(self, node: Any) -> None:
        tasks = getattr(self, "tasks", None)
        if tasks is not None:
            tasks.executor_back(node)  # the cluster manager restarts the (empty) executor

    def check_driver(self) -> None:
        if not self.driver.alive:
            raise SparkJobFailed(f"the driver's node {self.driver.name} crashed: the application fails")

    def count(self, name: str, n: float = 1) -> None:
        self.rt.recorder.count(name, n)

    def add(self, name: str, amount: float, unit: str) -> None:
        self.rt.recorder.add(name, amount, unit)

    @property
    def dag(self) -> Any:
        return self.sc.dag

    @property
    def slots(self) -> int:
        return sum(int(self.params.executor_cores or n.cores) for n in self.executors)

    def input_rdd(self, sc: SparkContext, workload: Any, parse_cpu: float) -> InputRDD:
        """The workload's input file: blocks placed once (rack-aware, replicated)."""
        data = workload.input()
        key = workload.name
        if key not in self._inputs:
            P = self.params.partitions or max(math.ceil(data.nbytes / (self.params.split_mb * MIB)), self.slots)
            P = max(1, min(P, data.records))
            splits = make_splits(data.records, data.nbytes, P, f"spark-input/{workload.name}")
            for split in splits:
                split.replicas = self.placement.replicas(self.params.input_replication)
                for node in split.replicas:
                    self.rt.place(node, split.file, split.nbytes)
            self._inputs[key] = splits
        records = workload.records() if data.materialized else None
        return InputRDD(sc, self._inputs[key], records, parse_cpu, name=f"input:{workload.name}")

    def preferred(self, rdd: Any, p: int) -> list[Any]:
        """Where partition ``p`` of ``rdd`` is best computed: a cached copy, its input block,
        or (through narrow dependencies) its parents' preferences."""
        if rdd.storage_level is not None:
            locs = self.blocks.locations((rdd.id, p))
            if locs:
                return locs
        own = rdd.preferred(p)
        if own:
            return own
        for dep in rdd.deps:
            if isinstance(dep, NarrowDependency):
                for q in dep.parents(p):
                    found = self.preferred(dep.rdd, q)
                    if found:
                        return found
        return []

    # -- the run --------------------------------------------------------------------------------
    def run(self, workload: Any) -> Generator[Any, Any, None]:
        rt, p = self.rt, self.params
        self.deploy()
        rt.recorder.primary_ops = ("task",)
        data = workload.input()
        sc = SparkContext(self, data.materialized, p.shuffle_partitions, default_parallelism=self.slots)
        self.sc = sc
        name = p.program or workload.name
        if name not in PROGRAMS:
            raise SparkJobFailed(f"no Spark program for workload {name!r}; available: {', '.join(sorted(PROGRAMS))}")
        program, check = PROGRAMS[name]
        began = rt.now
        output = yield from program(sc, workload, p)
        job_time = rt.now - began
        if data.materialized and p.check_output:
            check(workload, output)
        self.record(workload, data, job_time)

    def record(self, workload: Any, data: Any, job_time: float) -> None:
        rec, sc = self.rt.recorder, self.sc
        rec.work_done(data.records * workload.iterations, "records")
        rec.value("job_time", job_time, "s")
        rec.value("input_bytes", data.nbytes, "B")
        rec.value("executors", len(self.executors), "nodes")
        rec.value("jobs", sc.dag.jobs, "jobs")
        rec.value("stages", sc.dag.next_stage_id, "stages")
        for sid in sorted(sc.dag.stage_times):
            rec.value(f"stage_{sid}_time", sc.dag.stage_times[sid], "s")
        for name in ("recomputed_partitions", "cache_hits", "cache_misses", "cache_evictions", "bytes_read",
                     "bytes_shuffled", "bytes_written"):
            rec.add(name, 0.0, "B" if name.startswith("bytes") else "")
        total = sum(max(1, st.rdd.num_partitions) for st in sc.dag.shuffle_stages.values())
        rec.value("map_partitions", total, "partitions")
        if sc.iteration_times:
            rec.value("iteration_first", sc.iteration_times[0], "s")
            if len(sc.iteration_times) > 1:
                rest = sc.iteration_times[1:]
                rec.value("iteration_rest_mean", sum(rest) / len(rest), "s")
        if getattr(sc, "accumulated", None) is not None:
            rec.value("accumulator_points", sc.accumulated, "records")
