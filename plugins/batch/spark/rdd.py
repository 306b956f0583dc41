"""Resilient Distributed Datasets (Zaharia et al., NSDI'12): the API and the lineage.

An RDD is a read-only, partitioned collection described by its lineage: its parent RDDs,
the dependency on each (narrow: a partition needs a bounded set of parent partitions;
wide/shuffle: it needs every parent partition) and the function that computes a
partition from its parents. Transformations only build lineage (lazy evaluation);
actions (``count``, ``collect``, ``reduce``, ``take``, ``saveAsTextFile``) hand the final
RDD to the DAG scheduler, which cuts it into stages and runs tasks on the cluster.

Actions are simulation generators: a driver program writes ``n = yield from rdd.count()``.

Both data planes run the same lineage: a partition's data is a ``Part`` holding real
records (materialized) or only a record count and a byte size (modelled). Every
transformation takes optional model hints (``ratio``: output records per input record,
``out_bytes``: bytes per output record, ``keys``: expected distinct keys among n records)
used only in the modelled plane, and CPU hints (reference-core seconds per record / byte)
charged identically in both.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable, Optional, Sequence

from plugins.batch.spark import costs as C
from plugins.batch.workloads.base import record_size

SAMPLE = 64  # records sized per partition to estimate its bytes (deterministic stride)


# -- partition data -----------------------------------------------------------------------
@dataclass
class Part:
    """One partition's data: real records, or (modelled) only a count and a size."""

    items: Optional[list]
    n: float
    nbytes: float


def part_of(items: list) -> Part:
    return Part(items, len(items), estimate_bytes(items))


def estimate_bytes(items: Sequence[Any]) -> float:
    n = len(items)
    if n == 0:
        return 0.0
    step = max(1, n // SAMPLE)
    sample = items[::step][:SAMPLE]
    return sum(record_size(x) for x in sample) / len(sample) * n


def stable_hash(key: Any) -> int:
    """crc32 of the key's text: never Python's salted ``hash()`` (determinism)."""
    return zlib.crc32(str(key).encode())


# -- partitioners -------------------------------------------------------------------------
class HashPartitioner:
    def __init__(self, n: int) -> None:
        self.num_partitions = int(n)

    def partition(self, key: Any) -> int:
        return stable_hash(key) % self.num_partitions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashPartitioner) and other.num_partitions == self.num_partitions

    def __hash__(self) -> int:
        return self.num_partitions


class RangePartitioner:
    """Keys in key order across partitions; ``fraction(key)`` gives the key's quantile in
    [0, 1) (Spark samples the keys to find it; a workload with a known key distribution,
    like TeraSort's uniform keys, can state it, as the OSDI'04 sort did)."""

    def __init__(self, n: int, fraction: Callable[[Any], float]) -> None:
        self.num_partitions = int(n)
        self.fraction = fraction

    def partition(self, key: Any) -> int:
        return min(self.num_partitions - 1, int(self.fraction(key) * self.num_partitions))


# -- dependencies ---------------------------------------------------------------------------
class NarrowDependency:
    def __init__(self, rdd: "RDD") -> None:
        self.rdd = rdd

    def parents(self, p: int) -> list[int]:
        return [p]


class RangeDependency(NarrowDependency):
    def __init__(self, rdd: "RDD", out_start: int) -> None:
        super().__init__(rdd)
        self.out_start = out_start

    def parents(self, p: int) -> list[int]:
        q = p - self.out_start
        return [q] if 0 <= q < self.rdd.num_partitions else []


class ShuffleDependency:
    """A wide dependency: every child partition reads a bucket of every parent partition."""

    def __init__(self, ctx: "SparkContext", rdd: "RDD", partitioner: Any, aggregate: Optional[Callable] = None,
                 map_side_combine: bool = False, keys: Optional[Callable[[float], float]] = None,
                 out_bytes: Optional[float] = None) -> None:
        self.rdd = rdd
        self.partitioner = partitioner
        self.aggregate = aggregate
        self.map_side_combine = map_side_combine and aggregate is not None
        self.keys = keys  # modelled: expected distinct keys among n records
        self.out_bytes = out_bytes  # modelled: bytes per combined record
        self.shuffle_id = ctx.new_shuffle_id()


# -- the RDD --------------------------------------------------------------------------------
class RDD:
    def __init__(self, ctx: "SparkContext", deps: list, num_partitions: int, partitioner: Any = None,
                 name: str = "") -> None:
        self.ctx = ctx
        self.id = ctx.new_rdd_id()
        self.deps = deps
        self.num_partitions = int(num_partitions)
        self.partitioner = partitioner
        self.storage_level: Optional[str] = None
        self.name = name or type(self).__name__
        self.broadcasts: tuple = ()

    def __repr__(self) -> str:
        return f"<{self.name} #{self.id} [{self.num_partitions}]>"

    # -- computing a partition (inside a task) ------------------------------------------
    def compute(self, p: int, tc: Any) -> Part:
        raise NotImplementedError

    def iterator(self, p: int, tc: Any) -> Part:
        if self.storage_level is not None:
            return tc.get_or_compute(self, p)
        return self.compute(p, tc)

    def preferred(self, p: int) -> list[Any]:
        return []

    # -- persistence -----------------------------------------------------------------------
    def persist(self, level: str = "MEMORY_ONLY") -> "RDD":
        from plugins.batch.spark.cache import LEVELS

        if level not in LEVELS:
            raise ValueError(f"storage level {level!r}: allowed {', '.join(LEVELS)}")
        self.storage_level = level
        return self

    def cache(self) -> "RDD":
        return self.persist("MEMORY_ONLY")

    def unpersist(self) -> "RDD":
        self.storage_level = None
        self.ctx.unpersist(self)
        return self

    # -- narrow transformations ------------------------------------------------------------
    def _narrow(self, fn: Callable[[int, list], list], name: str, cpu_record: float, cpu_byte: float,
                ratio: float, out_bytes: Optional[float], keep_partitioner: bool, broadcasts: Iterable) -> "RDD":
        rdd = MapPartitionsRDD(self, fn, name, cpu_record, cpu_byte, ratio, out_bytes,
                               self.partitioner if keep_partitioner else None)
        rdd.broadcasts = tuple(broadcasts)
        return rdd

    def map(self, f: Callable, cpu: float = C.RECORD_S, cpu_byte: float = 0.0, out_bytes: Optional[float] = None,
            broadcasts: Iterable = ()) -> "RDD":
        return self._narrow(lambda p, xs: [f(x) for x in xs], "map", cpu, cpu_byte, 1.0, out_bytes, False, broadcasts)

    def flatMap(self, f: Callable, cpu: float = C.RECORD_S, cpu_byte: float = 0.0, ratio: float = 1.0,
                out_bytes: Optional[float] = None, broadcasts: Iterable = ()) -> "RDD":
        return self._narrow(lambda p, xs: [y for x in xs for y in f(x)], "flatMap", cpu, cpu_byte, ratio, out_bytes,
                            False, broadcasts)

    def filter(self, f: Callable, cpu: float = C.RECORD_S, cpu_byte: float = 0.0, ratio: float = 0.5,
               broadcasts: Iterable = ()) -> "RDD":
        return self._narrow(lambda p, xs: [x for x in xs if f(x)], "filter", cpu, cpu_byte, ratio, None, True,
                            broadcasts)

    def mapPartitions(self, f: Callable[[Iterable], Iterable], cpu: float = C.RECORD_S, cpu_byte: float = 0.0,
                      ratio: float = 1.0, out_bytes: Optional[float] = None, preservesPartitioning: bool = False,
                      broadcasts: Iterable = ()) -> "RDD":
        return self._narrow(lambda p, xs: list(f(iter(xs))), "mapPartitions", cpu, cpu_byte, ratio, out_bytes,
                            preservesPartitioning, broadcasts)

    def mapValues(self, f: Callable, cpu: float = C.RECORD_S, out_bytes: Optional[float] = None,
                  broadcasts: Iterable = ()) -> "RDD":
        return self._narrow(lambda p, xs: [(k, f(v)) for k, v in xs], "mapValues", cpu, 0.0, 1.0, out_bytes, True,
                            broadcasts)

    def sample(self, withReplacement: bool, fraction: float, seed: int = 0) -> "RDD":
        if withReplacement:
            raise NotImplementedError("sample(withReplacement=True) is not implemented")

        def fn(p: int, xs: list) -> list:
            rng = random.Random(f"sample:{seed}:{p}")  # str seeds hash with SHA-512: stable
            return [x for x in xs if rng.random() < fraction]

        return self._narrow(fn, "sample", C.RECORD_S, 0.0, fraction, None, True, ())

    def union(self, other: "RDD") -> "RDD":
        return UnionRDD(self.ctx, [self, other])

    # -- wide transformations --------------------------------------------------------------
    def _shuffle_partitions(self, n: Optional[int]) -> int:
        return int(n or self.ctx.default_shuffle_partitions or self.num_partitions)

    def reduceByKey(self, f: Callable, numPartitions: Optional[int] = None, keys: Optional[Callable] = None,
                    out_bytes: Optional[float] = None, map_side_combine: bool = True) -> "RDD":
        part = HashPartitioner(self._shuffle_partitions(numPartitions))
        if self.partitioner == part:  # already partitioned: no shuffle, aggregate in place
            def fn(p: int, xs: list) -> list:
                acc: dict = {}
                for k, v in xs:
                    acc[k] = f(acc[k], v) if k in acc else v
                return list(acc.items())
            ratio = 1.0
            return self._narrow(fn, "reduceByKey(local)", C.HASH_UPDATE_S, 0.0, ratio, out_bytes, True, ())
        return ShuffledRDD(self, part, aggregate=f, map_side_combine=map_side_combine, keys=keys,
                           out_bytes=out_bytes, name="reduceByKey")

    def groupByKey(self, numPartitions: Optional[int] = None, keys: Optional[Callable] = None) -> "RDD":
        return ShuffledRDD(self, HashPartitioner(self._shuffle_partitions(numPartitions)), group=True, keys=keys,
                           name="groupByKey")

    def partitionBy(self, partitioner: Any) -> "RDD":
        if self.partitioner == partitioner:
            return self
        return ShuffledRDD(self, partitioner, name="partitionBy")

    def sortByKey(self, partitioner: Any) -> "RDD":
        return ShuffledRDD(self, partitioner, sort=True, name="sortByKey")

    def join(self, other: "RDD", numPartitions: Optional[int] = None) -> "RDD":
        part = self.partitioner if self.partitioner is not None and numPartitions is None else \
            HashPartitioner(self._shuffle_partitions(numPartitions))
        cg = CoGroupedRDD(self.ctx, [self, other], part)

        def fn(p: int, xs: list) -> list:
            return [(k, (v, w)) for k, (vs, ws) in xs for v in vs for w in ws]

        return cg._narrow(fn, "join", C.RECORD_S, 0.0, 1.0, None, True, ())

    # -- actions (generators) --------------------------------------------------------------
    def count(self) -> Generator[Any, Any, float]:
        results = yield from self.ctx.run_job(self, lambda part, tc: part.n, "count")
        return sum(results)

    def collect(self) -> Generator[Any, Any, Optional[list]]:
        results = yield from self.ctx.run_job(self, _collect, "collect")
        if not self.ctx.materialized:
            return None
        return [x for items in results for x in items]

    def reduce(self, f: Callable) -> Generator[Any, Any, Any]:
        def part_reduce(part: Part, tc: Any) -> Any:
            tc.cpu += C.RECORD_S * part.n
            tc.result_bytes += part.nbytes / part.n if part.n else 0.0
            if part.items is None or not part.items:
                return _EMPTY
            acc = part.items[0]
            for x in part.items[1:]:
                acc = f(acc, x)
            return acc

        results = yield from self.ctx.run_job(self, part_reduce, "reduce")
        if not self.ctx.materialized:
            return None
        values = [r for r in results if r is not _EMPTY]
        if not values:
            raise ValueError("reduce() of an empty RDD")
        acc = values[0]
        for v in values[1:]:
            acc = f(acc, v)
        return acc

    def take(self, n: int) -> Generator[Any, Any, Optional[list]]:
        """Scan partitions in growing batches (1, then 4x more) until ``n`` records."""
        got: list = []
        count = 0.0
        start, batch = 0, 1
        while start < self.num_partitions and count < n:
            parts = list(range(start, min(self.num_partitions, start + batch)))
            results = yield from self.ctx.run_job(self, lambda part, tc: _take(part, tc, n), "take", parts)
            for r in results:
                count += r[0]
                if r[1] is not None:
                    got.extend(r[1])
            start += batch
            batch *= 4
        return got[:n] if self.ctx.materialized else None

    def saveAsTextFile(self, path: str) -> Generator[Any, Any, Optional[list]]:
        def save(part: Part, tc: Any) -> Any:
            tc.cpu += C.COPY_BYTE_S * part.nbytes
            tc.writes.append((f"{path}/part-{tc.partition:05d}", part.nbytes))
            tc.output_bytes += part.nbytes
            return part.items

        results = yield from self.ctx.run_job(self, save, "saveAsTextFile")
        return results if self.ctx.materialized else None


_EMPTY = object()


def _collect(part: Part, tc: Any) -> Optional[list]:
    tc.result_bytes += part.nbytes
    return part.items


def _take(part: Part, tc: Any, n: int) -> tuple[float, Optional[list]]:
    k = min(part.n, n)
    tc.result_bytes += part.nbytes * (k / part.n) if part.n else 0.0
    return k, (part.items[:n] if part.items is not None else None)


class MapPartitionsRDD(RDD):
    def __init__(self, parent: RDD, fn: Callable[[int, list], list], name: str, cpu_record: float, cpu_byte: float,
                 ratio: float, out_bytes: Optional[float], partitioner: Any) -> None:
        super().__init__(parent.ctx, [NarrowDependency(parent)], parent.num_partitions, partitioner, name)
        self.parent = parent
        self.fn = fn
        self.cpu_record, self.cpu_byte = cpu_record, cpu_byte
        self.ratio, self.out_bytes = ratio, out_bytes

    def compute(self, p: int, tc: Any) -> Part:
        src = self.parent.iterator(p, tc)
        tc.cpu += self.cpu_record * src.n + self.cpu_byte * src.nbytes
        if src.items is not None:
            return part_of(self.fn(p, src.items))
        n = src.n * self.ratio
        per = self.out_bytes if self.out_bytes is not None else (src.nbytes / src.n if src.n else 0.0)
        return Part(None, n, n * per)


class UnionRDD(RDD):
    def __init__(self, ctx: "SparkContext", rdds: list[RDD]) -> None:
        deps, at = [], 0
        for r in rdds:
            deps.append(RangeDependency(r, at))
            at += r.num_partitions
        super().__init__(ctx, deps, at, None, "union")

    def _locate(self, p: int) -> tuple[RDD, int]:
        for dep in self.deps:
            q = dep.parents(p)
            if q:
                return dep.rdd, q[0]
        raise IndexError(p)

    def compute(self, p: int, tc: Any) -> Part:
        rdd, q = self._locate(p)
        return rdd.iterator(q, tc)


class ParallelCollectionRDD(RDD):
    """``sc.parallelize``: data held by the driver, shipped inside the tasks."""

    def __init__(self, ctx: "SparkContext", data: list, slices: int) -> None:
        super().__init__(ctx, [], slices, None, "parallelize")
        n = len(data)
        self.slices = [data[i * n // slices:(i + 1) * n // slices] for i in range(slices)]

    def compute(self, p: int, tc: Any) -> Part:
        part = part_of(list(self.slices[p]))
        tc.shipped_bytes += part.nbytes
        return part


class InputRDD(RDD):
    """A stored input file (HadoopRDD): one partition per block, preferring its replicas.
    Records are ``(index, record)`` pairs, the index standing in for Hadoop's offset key."""

    def __init__(self, ctx: "SparkContext", splits: list, records: Optional[list], parse_cpu: float,
                 name: str = "input") -> None:
        super().__init__(ctx, [], len(splits), None, name)
        self.splits = splits
        self.records = records
        self.parse_cpu = parse_cpu  # reference-core s per record to deserialize/parse

    def preferred(self, p: int) -> list[Any]:
        return [n for n in self.splits[p].replicas if n.alive]

    def compute(self, p: int, tc: Any) -> Part:
        split = self.splits[p]
        tc.read_input(split)
        tc.cpu += (C.RECORD_S + self.parse_cpu) * split.records + C.COPY_BYTE_S * split.nbytes
        if self.records is None:
            return Part(None, split.records, split.nbytes)
        first = split.first_record
        items = [(i, self.records[i]) for i in range(first, first + split.records)]
        return Part(items, split.records, split.nbytes)


class ShuffledRDD(RDD):
    def __init__(self, parent: RDD, partitioner: Any, aggregate: Optional[Callable] = None,
                 map_side_combine: bool = False, group: bool = False, sort: bool = False,
                 keys: Optional[Callable] = None, out_bytes: Optional[float] = None, name: str = "shuffled") -> None:
        dep = ShuffleDependency(parent.ctx, parent, partitioner, aggregate, map_side_combine, keys, out_bytes)
        super().__init__(parent.ctx, [dep], partitioner.num_partitions, partitioner, name)
        self.dep = dep
        self.group = group
        self.sort = sort

    def compute(self, p: int, tc: Any) -> Part:
        blocks, pre_total = tc.fetch(self.dep, p)
        n_in = sum(b.n for b in blocks)
        bytes_in = sum(b.nbytes for b in blocks)
        tc.cpu += C.COPY_BYTE_S * bytes_in + C.RECORD_S * n_in
        if self.dep.aggregate is not None or self.group:
            tc.cpu += C.HASH_UPDATE_S * n_in
        if self.sort and n_in > 1:
            import math

            tc.cpu += C.COMPARE_S * n_in * math.log2(n_in)
        if all(b.items is not None for b in blocks) and (blocks or self.ctx.materialized):
            return part_of(self._merge([b.items for b in blocks]))
        # modelled
        n_out = n_in
        if (self.dep.aggregate is not None or self.group) and self.dep.keys is not None:
            n_out = min(n_in, self.dep.keys(pre_total) / self.num_partitions)
        if self.group and self.dep.keys is None:
            n_out = n_in
        per = self.dep.out_bytes if self.dep.out_bytes is not None else (bytes_in / n_in if n_in else 0.0)
        nbytes = bytes_in if self.group else n_out * per
        return Part(None, n_out, nbytes)

    def _merge(self, lists: list[list]) -> list:
        f = self.dep.aggregate
        if f is not None:
            acc: dict = {}
            for items in lists:
                for k, v in items:
                    acc[k] = f(acc[k], v) if k in acc else v
            out = list(acc.items())
        elif self.group:
            groups: dict = {}
            for items in lists:
                for k, v in items:
                    groups.setdefault(k, []).append(v)
            out = list(groups.items())
        else:
            out = [x for items in lists for x in items]
        if self.sort:
            out.sort(key=lambda kv: kv[0])
        return out


class CoGroupedRDD(RDD):
    """For each key, the list of values from each parent: ``(k, (vs_0, vs_1, ...))``.
    A parent already partitioned by the same partitioner is a narrow dependency."""

    def __init__(self, ctx: "SparkContext", rdds: list[RDD], partitioner: Any) -> None:
        deps: list = []
        for r in rdds:
            if r.partitioner == partitioner:
                deps.append(NarrowDependency(r))
            else:
                deps.append(ShuffleDependency(ctx, r, partitioner))
        super().__init__(ctx, deps, partitioner.num_partitions, partitioner, "cogroup")

    def compute(self, p: int, tc: Any) -> Part:
        groups: dict = {}
        parts: list[Part] = []
        materialized = True
        for i, dep in enumerate(self.deps):
            if isinstance(dep, ShuffleDependency):
                blocks, _ = tc.fetch(dep, p)
                tc.cpu += sum(C.COPY_BYTE_S * b.nbytes + C.HASH_UPDATE_S * b.n for b in blocks)
                lists = [b.items for b in blocks]
                parts.extend(blocks)
            else:
                part = dep.rdd.iterator(p, tc)
                tc.cpu += C.HASH_UPDATE_S * part.n
                lists = [part.items]
                parts.append(part)
            if any(items is None for items in lists):
                materialized = False
                continue
            for items in lists:
                for k, v in items:
                    groups.setdefault(k, tuple([] for _ in self.deps))[i].append(v)
        if materialized:
            return part_of(list(groups.items()))
        n = max((b.n for b in parts), default=0.0)
        return Part(None, n, sum(b.nbytes for b in parts))


# -- shared variables -----------------------------------------------------------------------
class Broadcast:
    """A read-only value shipped to each executor once (when ``broadcast`` is on) instead
    of inside every task's closure."""

    def __init__(self, bid: int, value: Any, nbytes: float) -> None:
        self.id = bid
        self.value = value
        self.nbytes = float(nbytes)
        self.holders: list[int] = []  # node ids that have a copy (in order of arrival)
        self.inflight: dict[int, Any] = {}  # node id -> event: a copy is on its way there


class Accumulator:
    """Add-only from tasks; the driver applies each successful task's updates once."""

    def __init__(self, aid: int, zero: Any, add: Callable[[Any, Any], Any]) -> None:
        self.id = aid
        self.value = zero
        self._add = add

    def add(self, x: Any) -> None:
        from plugins.batch.spark.scheduler import current_task

        tc = current_task()
        if tc is None:  # on the driver
            self.value = self._add(self.value, x)
        else:
            tc.accumulate(self, x)

    def merge(self, x: Any) -> None:
        self.value = self._add(self.value, x)


# -- the driver's handle ----------------------------------------------------------------------
class SparkContext:
    """The driver program's entry point: creates RDDs, broadcasts, accumulators, runs jobs."""

    def __init__(self, system: Any = None, materialized: bool = True, default_shuffle_partitions: Optional[int] = None,
                 default_parallelism: int = 2) -> None:
        self.system = system
        self.materialized = materialized
        self.default_shuffle_partitions = default_shuffle_partitions
        self.default_parallelism = default_parallelism
        self._rdd_ids = 0
        self._shuffle_ids = 0
        self._bc_ids = 0
        self.broadcasts: list[Broadcast] = []
        self.accumulators: list[Accumulator] = []
        from plugins.batch.spark.scheduler import DAGScheduler

        self.dag = DAGScheduler(self)
        self.iteration_times: list[float] = []

    def new_rdd_id(self) -> int:
        self._rdd_ids += 1
        return self._rdd_ids - 1

    def new_shuffle_id(self) -> int:
        self._shuffle_ids += 1
        return self._shuffle_ids - 1

    def parallelize(self, data: list, numSlices: Optional[int] = None) -> RDD:
        return ParallelCollectionRDD(self, list(data), int(numSlices or self.default_parallelism))

    def input(self, workload: Any, parse_cpu: float = 0.0) -> RDD:
        return self.system.input_rdd(self, workload, parse_cpu)

    def broadcast(self, value: Any, nbytes: Optional[float] = None) -> Broadcast:
        self._bc_ids += 1
        size = nbytes if nbytes is not None else (record_size(value) if value is not None else 0.0)
        bc = Broadcast(self._bc_ids - 1, value, size)
        self.broadcasts.append(bc)
        return bc

    def accumulator(self, zero: Any = 0, add: Callable[[Any, Any], Any] = lambda a, b: a + b) -> Accumulator:
        acc = Accumulator(len(self.accumulators), zero, add)
        self.accumulators.append(acc)
        return acc

    def unpersist(self, rdd: RDD) -> None:
        if self.system is not None:
            self.system.blocks.remove_rdd(rdd.id)

    def run_job(self, rdd: RDD, func: Callable, name: str, partitions: Optional[list[int]] = None) -> Generator:
        if self.system is None:
            raise RuntimeError("this SparkContext has no cluster (planning only)")
        return self.dag.run_job(rdd, func, name, partitions)

    @property
    def now(self) -> float:
        return self.system.rt.now
