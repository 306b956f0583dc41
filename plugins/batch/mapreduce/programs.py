"""MapReduce user programs for the batch workloads: map, combine, reduce, partition.

A program serves both planes. Materialized: the system calls ``map``/``combine``/
``reduce`` on real records and ``check`` compares the output with the workload's
reference. Modelled: ``map_shape``/``combine_shape``/``shares``/``output_shapes`` give
counts and sizes from the workload's distributions, so the control logic runs unchanged
on 10^10 records. CPU costs are charged from the same formulas in both planes, using
the constants of ``costs.py``.

Programs are looked up by name in ``PROGRAMS`` (``system.program``, default: the
workload's name), so a test or a user can register a variant.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import numpy as np

from plugins.batch.mapreduce import costs as C
from plugins.batch.workloads.base import check_close, check_pairs, mismatch, record_size
from plugins.batch.workloads.sort import KEY_BYTES, key_fraction

Pair = tuple[Any, Any]
INT_BYTES = 8


@dataclass(frozen=True)
class Shape:
    """Counts and bytes of a stream of records (modelled plane)."""

    records: float
    nbytes: float


def hash_partition(key: Any, R: int) -> int:
    """The default partitioner: a stable hash (crc32 of the key's text), never ``hash()``."""
    return zlib.crc32(str(key).encode()) % R


class Program:
    """Base class; subclasses set ``name`` and override what differs."""

    name: ClassVar[str] = ""
    default_R: ClassVar[int | None] = None  # None: the system's default
    has_combiner: ClassVar[bool] = False

    def __init__(self, workload: Any, state: Any = None) -> None:
        self.w = workload
        self.state = state

    # -- user functions (materialized plane) -----------------------------------------
    def map(self, key: Any, value: Any) -> Iterable[Pair]:
        raise NotImplementedError

    def combine(self, key: Any, values: list[Any]) -> Iterable[Pair]:
        return self.reduce(key, values)

    def reduce(self, key: Any, values: list[Any]) -> Iterable[Pair]:
        raise NotImplementedError

    def partition(self, key: Any, R: int) -> int:
        return hash_partition(key, R)

    # -- CPU (reference-core seconds) -------------------------------------------------
    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        return C.RECORD_S * records + C.EMIT_S * emitted + C.COPY_BYTE_S * emitted_bytes

    def combine_cpu(self, records: float) -> float:
        return C.HASH_UPDATE_S * records

    def reduce_cpu(self, records: float, nbytes: float, out_bytes: float) -> float:
        """Sort (n log2 n comparisons), group and reduce, encode the output."""
        sort = C.COMPARE_S * records * math.log2(records) if records > 1 else 0.0
        return sort + C.RECORD_S * records + C.COPY_BYTE_S * (nbytes + out_bytes)

    # -- modelled plane ---------------------------------------------------------------
    def map_shape(self, records: float, nbytes: float) -> Shape:
        raise NotImplementedError

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        return mapped

    def shares(self, R: int, combined: bool) -> np.ndarray:
        """Fraction of the intermediate data that each reduce partition receives."""
        return np.full(R, 1.0 / R)

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Output (records, bytes) per partition, given each partition's input."""
        return reduce_in_records, reduce_in

    # -- results ------------------------------------------------------------------------
    def check(self, outputs: list[list[Pair]]) -> None:
        """Raise ``OutputMismatch`` unless ``outputs`` (per partition) is the reference."""
        raise NotImplementedError

    def next_state(self, outputs: list[list[Pair]]) -> Any:
        return self.state

    def check_state(self, state: Any) -> None:
        check_close(state, self.w.reference(), self.w.name)


def _all_pairs(outputs: list[list[Pair]]) -> list[Pair]:
    return [pair for part in outputs for pair in part]


# -- text ------------------------------------------------------------------------------
class _Text(Program):
    """Shared shape helpers for Zipf-text programs."""

    def _partitions(self, R: int) -> np.ndarray:
        cache = self.w.__dict__.setdefault("_mr_partitions", {})
        if R not in cache:
            cache[R] = np.fromiter((zlib.crc32(w.encode()) % R for w in self.w.vocabulary.words),
                                   dtype=np.int64, count=self.w.vocabulary.size)
        return cache[R]

    def _presence(self, draws: float) -> np.ndarray:
        cache = self.w.__dict__.setdefault("_mr_presence", {})
        key = round(draws, 6)
        if key not in cache:
            cache[key] = self.w.vocabulary.presence(draws)
        return cache[key]

    def _by_partition(self, R: int, weights: np.ndarray) -> np.ndarray:
        return np.bincount(self._partitions(R), weights=weights, minlength=R)


class WordCountProgram(_Text):
    name = "wordcount"
    has_combiner = True

    def map(self, key: Any, value: str) -> Iterable[Pair]:
        for word in value.split():
            yield (word, 1)

    def reduce(self, key: Any, values: list[int]) -> Iterable[Pair]:
        yield (key, sum(values))

    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        return super().map_cpu(records, nbytes, emitted, emitted_bytes) + C.TOKENIZE_BYTE_S * nbytes

    def map_shape(self, records: float, nbytes: float) -> Shape:
        words = records * self.w.words_per_record
        return Shape(words, words * (self.w.vocabulary.mean_length + INT_BYTES))

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        present = self._presence(records * self.w.words_per_record)
        return Shape(float(present.sum()), float(present @ (self.w.vocabulary.lengths + INT_BYTES)))

    def shares(self, R: int, combined: bool) -> np.ndarray:
        weights = self._presence(1e6) if combined else self.w.vocabulary.pmf
        part = self._by_partition(R, weights * (self.w.vocabulary.lengths + INT_BYTES))
        return part / part.sum()

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = self._presence(self.w.cfg["records"] * self.w.words_per_record)
        records = self._by_partition(R, present)
        nbytes = self._by_partition(R, present * (self.w.vocabulary.lengths + INT_BYTES))
        return records, nbytes

    def check(self, outputs: list[list[Pair]]) -> None:
        check_pairs(self.w.name, outputs, self.w.reference())


class InvertedIndexProgram(_Text):
    name = "inverted_index"
    has_combiner = True

    def map(self, key: int, value: str) -> Iterable[Pair]:
        for word in sorted(set(value.split())):
            yield (word, (key,))

    def reduce(self, key: str, values: list[tuple[int, ...]]) -> Iterable[Pair]:
        yield (key, tuple(sorted(doc for docs in values for doc in docs)))

    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        dedup = C.HASH_UPDATE_S * records * self.w.words_per_record
        return super().map_cpu(records, nbytes, emitted, emitted_bytes) + C.TOKENIZE_BYTE_S * nbytes + dedup

    def map_shape(self, records: float, nbytes: float) -> Shape:
        postings = records * self.w.distinct_per_record()
        return Shape(postings, postings * (self.w.vocabulary.mean_length + INT_BYTES))

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        present = self._presence(records * self.w.words_per_record)
        return Shape(float(present.sum()), float(present @ self.w.vocabulary.lengths) + INT_BYTES * mapped.records)

    def shares(self, R: int, combined: bool) -> np.ndarray:
        part = self._by_partition(R, self.w.vocabulary.pmf * (self.w.vocabulary.lengths + INT_BYTES))
        return part / part.sum()

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        present = self._presence(self.w.cfg["records"] * self.w.words_per_record)
        postings = self.w.cfg["records"] * self.w.distinct_per_record()
        records = self._by_partition(R, present)
        weights = present * self.w.vocabulary.lengths + INT_BYTES * postings * self.w.vocabulary.pmf
        return records, self._by_partition(R, weights)

    def check(self, outputs: list[list[Pair]]) -> None:
        reference = {w: tuple(docs) for w, docs in self.w.reference().items()}
        check_pairs(self.w.name, outputs, reference)


class GrepProgram(Program):
    name = "grep"
    default_R = 1  # OSDI'04 section 5.2: "the entire output is placed in one file (R = 1)"

    def map(self, key: int, value: str) -> Iterable[Pair]:
        if self.w.cfg["pattern"] in value:
            yield (key, value)

    def reduce(self, key: int, values: list[str]) -> Iterable[Pair]:
        for value in values:
            yield (key, value)

    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        return super().map_cpu(records, nbytes, emitted, emitted_bytes) + C.SCAN_BYTE_S * nbytes

    def map_shape(self, records: float, nbytes: float) -> Shape:
        hits = records * self.w.match_rate
        return Shape(hits, hits * (INT_BYTES + self.w.record_bytes()))

    def check(self, outputs: list[list[Pair]]) -> None:
        got = sorted(_all_pairs(outputs))
        want = self.w.reference()
        if got != want:
            raise mismatch(self.w.name, f"{len(got)} matching records, expected {len(want)}"
                            + ("" if len(got) != len(want) else " (same count, different records)"))


class SortProgram(Program):
    """OSDI'04 section 5.3: map emits (10-byte key, whole line); reduce is the identity;
    a range partitioner that knows the key distribution keeps partitions in key order."""

    name = "sort"

    def map(self, key: int, value: str) -> Iterable[Pair]:
        yield (value[:KEY_BYTES], value)

    def reduce(self, key: str, values: list[str]) -> Iterable[Pair]:
        for value in values:
            yield (value, None)  # the output file holds the sorted lines themselves

    def partition(self, key: str, R: int) -> int:
        return min(R - 1, int(key_fraction(key) * R))

    def map_shape(self, records: float, nbytes: float) -> Shape:
        return Shape(records, records * KEY_BYTES + nbytes)

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return reduce_in_records, reduce_in_records * self.w.record_bytes()

    def check(self, outputs: list[list[Pair]]) -> None:
        got = [line for line, _ in _all_pairs(outputs)]
        want = self.w.reference()
        if got == want:
            return
        keys = [line[:KEY_BYTES] for line in got]
        if all(a <= b for a, b in zip(keys, keys[1:])) and sorted(got) == want:
            return  # equal keys may come out in either order
        if len(got) != len(want):
            raise mismatch(self.w.name, f"{len(got)} records, expected {len(want)}")
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        raise mismatch(self.w.name, f"record {first} is {got[first][:KEY_BYTES]!r}..., expected {want[first][:KEY_BYTES]!r}...")


class LogRegProgram(Program):
    """One gradient-descent iteration: map emits each point's gradient, the combiner and
    the single reducer sum them; the driver updates the weights (the next job's state)."""

    name = "logreg"
    default_R = 1
    has_combiner = True

    def map(self, key: int, value: Any) -> Iterable[Pair]:
        from plugins.batch.workloads.ml import logreg_gradient

        yield (0, logreg_gradient(self.state, value))

    def reduce(self, key: int, values: list[tuple[float, ...]]) -> Iterable[Pair]:
        yield (key, tuple(math.fsum(col) for col in zip(*values)))

    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        return super().map_cpu(records, nbytes, emitted, emitted_bytes) + C.FLOP_S * 4 * self.w.dims * records

    def map_shape(self, records: float, nbytes: float) -> Shape:
        return Shape(records, records * (INT_BYTES + INT_BYTES * self.w.dims))

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        return Shape(1.0, INT_BYTES * (1 + self.w.dims))

    def combine_cpu(self, records: float) -> float:
        return C.FLOP_S * self.w.dims * records

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros(R)
        out[0] = 1.0
        return out, out * INT_BYTES * (1 + self.w.dims)

    def next_state(self, outputs: list[list[Pair]]) -> Any:
        pairs = _all_pairs(outputs)
        total = pairs[0][1] if pairs else tuple(0.0 for _ in range(self.w.dims))
        return self.w.step(self.state, total, self.w.cfg["records"])

    def check(self, outputs: list[list[Pair]]) -> None:
        pass  # checked on the final state (check_state)


class KMeansProgram(Program):
    """One Lloyd iteration: map assigns each point to its nearest center and emits
    (center, (coordinates..., 1)); combiner and reducer sum; the driver averages."""

    name = "kmeans"
    default_R = 1
    has_combiner = True

    def map(self, key: int, value: tuple[float, ...]) -> Iterable[Pair]:
        from plugins.batch.workloads.ml import nearest

        yield (nearest(self.state, value), value + (1.0,))

    def reduce(self, key: int, values: list[tuple[float, ...]]) -> Iterable[Pair]:
        yield (key, tuple(math.fsum(col) for col in zip(*values)))

    def map_cpu(self, records: float, nbytes: float, emitted: float, emitted_bytes: float) -> float:
        distances = C.FLOP_S * 3 * self.w.dims * self.w.k * records
        return super().map_cpu(records, nbytes, emitted, emitted_bytes) + distances

    def map_shape(self, records: float, nbytes: float) -> Shape:
        return Shape(records, records * (INT_BYTES + INT_BYTES * (self.w.dims + 1)))

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        k = min(float(self.w.k), records)
        return Shape(k, k * INT_BYTES * (self.w.dims + 2))

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        records = np.zeros(R)
        records[0] = self.w.k
        return records, records * INT_BYTES * (self.w.dims + 2)

    def next_state(self, outputs: list[list[Pair]]) -> Any:
        sums = dict(_all_pairs(outputs))
        centers = []
        for i, old in enumerate(self.state):
            if i in sums and sums[i][-1] > 0:
                total = sums[i]
                centers.append(tuple(v / total[-1] for v in total[:-1]))
            else:
                centers.append(old)
        return tuple(centers)

    def check(self, outputs: list[list[Pair]]) -> None:
        pass


class PageRankProgram(Program):
    """One PageRank iteration: map sends rank/outdegree along each out-link; combiner and
    reducer sum the contributions; the driver applies damping (the next job's state).

    Simplification (docs/results.md): the rank vector is the job's state, as logreg's
    weights are, rather than travelling with the adjacency records as in a textbook
    MapReduce PageRank; the input (the graph) is the same every iteration.
    """

    name = "pagerank"
    has_combiner = True

    def map(self, key: int, value: tuple[int, tuple[int, ...]]) -> Iterable[Pair]:
        vertex, links = value
        share = self.state[vertex] / len(links)
        for dst in links:
            yield (dst, share)

    def reduce(self, key: int, values: list[float]) -> Iterable[Pair]:
        yield (key, math.fsum(values))

    def map_shape(self, records: float, nbytes: float) -> Shape:
        edges = records * self.w.edges / self.w.vertices
        return Shape(edges, edges * 2 * INT_BYTES)

    def combine_shape(self, records: float, nbytes: float, mapped: Shape) -> Shape:
        v = float(self.w.vertices)
        distinct = v * -math.expm1(-mapped.records / v)  # destinations hit at least once (uniform approximation)
        return Shape(distinct, distinct * 2 * INT_BYTES)

    def output_shapes(self, R: int, reduce_in: np.ndarray, reduce_in_records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        records = np.full(R, self.w.vertices / R)
        return records, records * 2 * INT_BYTES

    def next_state(self, outputs: list[list[Pair]]) -> Any:
        return self.w.step(dict(_all_pairs(outputs)))

    def check(self, outputs: list[list[Pair]]) -> None:
        pass


PROGRAMS: dict[str, type[Program]] = {
    p.name: p
    for p in (WordCountProgram, InvertedIndexProgram, GrepProgram, SortProgram, LogRegProgram, KMeansProgram, PageRankProgram)
}


def program_for(name: str, workload: Any, state: Any = None) -> Program:
    try:
        return PROGRAMS[name](workload, state)
    except KeyError:
        raise KeyError(f"no MapReduce program named {name!r}; available: {', '.join(sorted(PROGRAMS))}") from None


def pair_bytes(pair: Pair) -> int:
    return record_size(pair[0]) + record_size(pair[1])
