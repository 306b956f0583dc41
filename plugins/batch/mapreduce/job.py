"""One MapReduce job: the program, its splits, and what each task computes.

The job object is the program binary plus its specification, as shipped to every worker:
what a map or reduce task *computes* (real records when materialized, counts and sizes
when modelled). Who runs which task, when, and with which data is decided by the master
and the workers through messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from plugins.batch.mapreduce.layout import Split
from plugins.batch.mapreduce.programs import Pair, Program, Shape, hash_partition, pair_bytes


@dataclass
class MapResult:
    out_bytes: float
    out_records: float
    cpu_s: float
    regions: list[list[Pair]] | None = None  # materialized: one list per reduce partition
    sizes: np.ndarray | None = None


@dataclass
class ReduceResult:
    in_records: float
    out_bytes: float
    out_records: float
    cpu_s: float
    pairs: list[Pair] | None = None


class Job:
    def __init__(self, jid: int, name: str, program: Program, splits: list[Split], R: int, combiner: bool,
                 partitioner: str, records: list[Any] | None, fetch_rounds: int, done: Any) -> None:
        self.jid = jid
        self.name = name
        self.program = program
        self.splits = splits
        self.M = len(splits)
        self.R = R
        self.combiner = combiner and program.has_combiner
        self.partition = (lambda key, n: hash_partition(key, n)) if partitioner == "hash" else program.partition
        self.records = records
        self.materialized = records is not None
        self.min_batch = max(1, math.ceil(self.M / max(1, fetch_rounds)))
        self.done = done
        self.map_data: dict[int, MapResult] = {}  # attempt id -> its output (materialized)
        self.attempt_output: dict[int, list[Pair]] = {}
        self.outputs: list[list[Pair] | None] = [None] * R
        self.output_bytes = 0.0
        self.input_bytes = float(sum(s.nbytes for s in splits))
        self.input_records = int(sum(s.records for s in splits))
        if not self.materialized:
            self._model()

    # -- modelled plane -------------------------------------------------------------
    def _model(self) -> None:
        prog = self.program
        cache: dict[int, tuple[Shape, float]] = {}
        out_bytes = np.zeros(self.M)
        out_records = np.zeros(self.M)
        self.map_cpu = np.zeros(self.M)
        for split in self.splits:
            if split.records not in cache:
                mapped = prog.map_shape(split.records, split.nbytes)
                cpu = prog.map_cpu(split.records, split.nbytes, mapped.records, mapped.nbytes)
                shape = mapped
                if self.combiner:
                    shape = prog.combine_shape(split.records, split.nbytes, mapped)
                    cpu += prog.combine_cpu(mapped.records)
                cache[split.records] = (shape, cpu)
            shape, cpu = cache[split.records]
            out_bytes[split.index], out_records[split.index], self.map_cpu[split.index] = shape.nbytes, shape.records, cpu
        self.map_out_bytes = out_bytes
        self.map_out_records = out_records
        self.shares = np.asarray(prog.shares(self.R, self.combiner), dtype=np.float64)
        self.reduce_in_bytes = out_bytes.sum() * self.shares
        self.reduce_in_records = out_records.sum() * self.shares
        out_r, out_b = prog.output_shapes(self.R, self.reduce_in_bytes, self.reduce_in_records)
        self.reduce_out_records = np.asarray(out_r, dtype=np.float64)
        self.reduce_out_bytes = np.asarray(out_b, dtype=np.float64)

    # -- map ------------------------------------------------------------------------
    def run_map(self, m: int, aid: int) -> MapResult:
        if not self.materialized:
            return MapResult(float(self.map_out_bytes[m]), float(self.map_out_records[m]), float(self.map_cpu[m]))
        split = self.splits[m]
        prog = self.program
        emitted, emitted_bytes = 0, 0
        pairs: list[Pair] = []
        groups: dict[Any, list[Any]] = {}
        first = split.first_record
        for offset, record in enumerate(self.records[first:first + split.records]):
            for pair in prog.map(first + offset, record):
                emitted += 1
                emitted_bytes += pair_bytes(pair)
                if self.combiner:
                    groups.setdefault(pair[0], []).append(pair[1])
                else:
                    pairs.append(pair)
        cpu = prog.map_cpu(split.records, split.nbytes, emitted, emitted_bytes)
        if self.combiner:
            cpu += prog.combine_cpu(emitted)
            pairs = [out for key, values in groups.items() for out in prog.combine(key, values)]
        regions: list[list[Pair]] = [[] for _ in range(self.R)]
        sizes = np.zeros(self.R)
        for pair in pairs:
            r = self.partition(pair[0], self.R)
            regions[r].append(pair)
            sizes[r] += pair_bytes(pair)
        result = MapResult(float(sizes.sum()), float(len(pairs)), cpu, regions, sizes)
        self.map_data[aid] = result
        return result

    def region_bytes(self, r: int, maps: np.ndarray, attempts: np.ndarray) -> np.ndarray:
        """Bytes of partition ``r`` in each of these map outputs."""
        if not self.materialized:
            return self.map_out_bytes[maps] * self.shares[r]
        return np.array([self.map_data[int(a)].sizes[r] for a in attempts], dtype=np.float64)

    # -- reduce ---------------------------------------------------------------------
    def run_reduce(self, r: int, attempts: list[int], in_bytes: float) -> ReduceResult:
        prog = self.program
        if not self.materialized:
            records = float(self.reduce_in_records[r])
            out = float(self.reduce_out_bytes[r])
            return ReduceResult(records, out, float(self.reduce_out_records[r]), prog.reduce_cpu(records, in_bytes, out))
        pairs = [pair for a in attempts for pair in self.map_data[a].regions[r]]
        pairs.sort(key=itemgetter(0))  # stable: equal keys keep their fetch order
        output: list[Pair] = []
        i = 0
        while i < len(pairs):
            key = pairs[i][0]
            j = i
            while j < len(pairs) and pairs[j][0] == key:
                j += 1
            output.extend(prog.reduce(key, [v for _, v in pairs[i:j]]))
            i = j
        out_bytes = float(sum(pair_bytes(p) for p in output))
        return ReduceResult(len(pairs), out_bytes, len(output), prog.reduce_cpu(len(pairs), in_bytes, out_bytes), output)

    def commit(self, r: int, aid: int, out_bytes: float) -> None:
        """The first finished attempt of a reduce task wins (an atomic rename in GFS)."""
        self.output_bytes += out_bytes
        if self.materialized:
            self.outputs[r] = self.attempt_output.pop(aid, [])
