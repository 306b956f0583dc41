"""Spark driver programs for the batch workloads, written against the RDD API.

Each program is a generator ``program(sc, workload, params)`` (actions are ``yield
from``), returns its output (None in the modelled plane), and has a ``check`` that
compares a materialized output with the workload's reference (``OutputMismatch`` on a
difference). The model hints (``ratio``, ``out_bytes``, ``keys``) come from the workload's
own distributions and matter only in the modelled plane; CPU hints use the constants of
``costs.py`` (MapReduce's, shared).

Iterative programs (logreg, kmeans, pagerank) persist the RDD they reuse (unless
``system.cache=false``) and record each iteration's time in ``sc.iteration_times``.
"""

from __future__ import annotations

from typing import Any, Callable, Generator

from plugins.batch.spark import costs as C
from plugins.batch.spark.rdd import HashPartitioner, RangePartitioner
from plugins.batch.workloads.base import check_close, check_pairs, mismatch

INT_BYTES = 8


def _add(a: Any, b: Any) -> Any:
    return a + b


def _vadd(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b))


# -- wordcount ------------------------------------------------------------------------------
def wordcount(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    mean_len = w.vocabulary.mean_length
    lines = sc.input(w)
    words = lines.flatMap(lambda kv: kv[1].split(), cpu=C.RECORD_S, cpu_byte=C.TOKENIZE_BYTE_S,
                          ratio=w.words_per_record, out_bytes=mean_len)
    pairs = words.map(lambda word: (word, 1), cpu=C.EMIT_S, out_bytes=mean_len + INT_BYTES)
    counts = pairs.reduceByKey(_add, keys=w.vocabulary.distinct, out_bytes=mean_len + INT_BYTES)
    return (yield from counts.saveAsTextFile("wordcount/out"))


def check_wordcount(w: Any, output: list) -> None:
    check_pairs(w.name, output, w.reference())


# -- inverted index ----------------------------------------------------------------------------
def inverted_index(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    """word -> sorted ids of the documents holding it: one posting per distinct word of a
    document, merged per word by reduceByKey (map-side combine, as the MapReduce program's
    combiner), then sorted."""
    mean_len = w.vocabulary.mean_length
    docs = sc.input(w)
    # Merging postings conserves their bytes, which one size per record cannot say: a
    # map-side combined record is a word with the postings of one partition, the final
    # one a word with all of its postings (set by the mapValues that sorts them).
    per_partition = w.cfg["records"] / max(docs.num_partitions, 1)
    combined_bytes = mean_len + INT_BYTES * _postings_per_word(w, per_partition)
    entry_bytes = mean_len + INT_BYTES * _postings_per_word(w, w.cfg["records"])
    pairs = docs.flatMap(lambda kv: [(word, (kv[0],)) for word in sorted(set(kv[1].split()))], cpu=C.RECORD_S,
                         cpu_byte=C.TOKENIZE_BYTE_S, ratio=w.distinct_per_record(), out_bytes=mean_len + INT_BYTES)
    merged = pairs.reduceByKey(_add, keys=w.vocabulary.distinct, out_bytes=combined_bytes)
    index = merged.mapValues(lambda ids: tuple(sorted(ids)), out_bytes=entry_bytes)
    return (yield from index.saveAsTextFile("inverted_index/out"))


def _postings_per_word(w: Any, documents: float) -> float:
    """Mean postings-list length of a word over ``documents`` documents."""
    postings = documents * w.distinct_per_record()
    return postings / max(w.vocabulary.distinct(documents * w.words_per_record), 1.0)


def check_inverted_index(w: Any, output: list) -> None:
    check_pairs(w.name, output, {word: tuple(ids) for word, ids in w.reference().items()})


# -- grep -------------------------------------------------------------------------------------
def grep(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    pattern = w.cfg["pattern"]
    lines = sc.input(w)
    hits = lines.filter(lambda kv: pattern in kv[1], cpu=C.RECORD_S, cpu_byte=C.SCAN_BYTE_S, ratio=w.match_rate)
    return (yield from hits.saveAsTextFile("grep/out"))


def check_grep(w: Any, output: list) -> None:
    got = sorted(x for part in output for x in part)
    want = w.reference()
    if got != want:
        raise mismatch(w.name, f"{len(got)} matching records, expected {len(want)}")


# -- sort ---------------------------------------------------------------------------------------
def sort(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    from plugins.batch.workloads.sort import KEY_BYTES, key_fraction

    lines = sc.input(w)
    keyed = lines.map(lambda kv: (kv[1][:KEY_BYTES], kv[1]), cpu=C.RECORD_S, out_bytes=w.record_bytes() + KEY_BYTES)
    R = params.shuffle_partitions or lines.num_partitions
    ordered = keyed.sortByKey(RangePartitioner(R, key_fraction))
    lines_out = ordered.map(lambda kv: kv[1], cpu=C.RECORD_S, out_bytes=w.record_bytes())
    return (yield from lines_out.saveAsTextFile("sort/out"))


def check_sort(w: Any, output: list) -> None:
    got = [x for part in output for x in part]
    want = w.reference()
    if got != want:
        if len(got) != len(want):
            raise mismatch(w.name, f"{len(got)} records, expected {len(want)}")
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        raise mismatch(w.name, f"record {first} is {got[first][:10]!r}..., expected {want[first][:10]!r}...")


# -- logistic regression ------------------------------------------------------------------------
def logreg(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    from plugins.batch.workloads.ml import logreg_gradient

    d = w.dims
    points = sc.input(w, parse_cpu=C.PARSE_NUMBER_S * (1 + d)).map(lambda kv: kv[1], cpu=C.RECORD_S)
    if params.cache:
        points.persist(params.storage_level)
    seen = sc.accumulator(0)
    state = w.initial_state()
    n = int(w.cfg["records"])
    for _ in range(w.iterations):
        began = sc.now
        bc = sc.broadcast(state, nbytes=INT_BYTES * d)

        def gradient(p: Any, bc: Any = bc) -> tuple:
            seen.add(1)
            return logreg_gradient(bc.value, p)

        grads = points.map(gradient, cpu=C.RECORD_S + C.FLOP_S * 4 * d, out_bytes=INT_BYTES * d, broadcasts=[bc])
        total = yield from grads.reduce(_vadd)
        if sc.materialized:
            state = w.step(state, total, n)
        sc.iteration_times.append(sc.now - began)
    sc.accumulated = seen.value
    if sc.materialized and seen.value != n * w.iterations:
        raise mismatch(w.name, f"accumulator counted {seen.value} points, expected {n * w.iterations}")
    return state


def check_state(w: Any, state: Any) -> None:
    check_close(state, w.reference(), w.name)


# -- k-means --------------------------------------------------------------------------------------
def kmeans(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    from plugins.batch.workloads.ml import nearest

    d, k = w.dims, w.k
    points = sc.input(w, parse_cpu=C.PARSE_NUMBER_S * d).map(lambda kv: kv[1], cpu=C.RECORD_S)
    if params.cache:
        points.persist(params.storage_level)
    centers = w.initial_state()
    for _ in range(w.iterations):
        began = sc.now
        bc = sc.broadcast(centers, nbytes=INT_BYTES * d * k)
        assigned = points.map(lambda x, bc=bc: (nearest(bc.value, x), x + (1.0,)),
                              cpu=C.RECORD_S + C.FLOP_S * 3 * d * k, out_bytes=INT_BYTES * (d + 2), broadcasts=[bc])
        sums = assigned.reduceByKey(_vadd, numPartitions=min(k, points.num_partitions),
                                    keys=lambda n: min(n, float(k)), out_bytes=INT_BYTES * (d + 2))
        result = yield from sums.collect()
        if sc.materialized:
            got = dict(result)
            centers = tuple(
                tuple(v / got[i][-1] for v in got[i][:-1]) if i in got and got[i][-1] > 0 else centers[i]
                for i in range(k))
        sc.iteration_times.append(sc.now - began)
    return centers


# -- PageRank ---------------------------------------------------------------------------------------
def pagerank(sc: Any, w: Any, params: Any) -> Generator[Any, Any, Any]:
    """NSDI'12 section 3.2.2: links partitioned and cached, ranks co-partitioned with them,
    so the per-iteration join is narrow and only the contributions are shuffled."""
    n = w.vertices
    damping = w.damping
    base = (1.0 - damping) / n
    avg = w.edges / n
    P = params.shuffle_partitions or sc.default_parallelism
    part = HashPartitioner(P)
    links = sc.input(w).map(lambda kv: kv[1], cpu=C.RECORD_S).partitionBy(part)
    if params.cache:
        links.persist(params.storage_level)
    ranks = links.mapValues(lambda dsts: 1.0 / n, out_bytes=2 * INT_BYTES)
    for _ in range(w.iterations):
        began = sc.now
        contribs = links.join(ranks).flatMap(
            lambda kv: [(dst, kv[1][1] / len(kv[1][0])) for dst in kv[1][0]],
            cpu=C.RECORD_S + C.EMIT_S * avg, ratio=avg, out_bytes=2 * INT_BYTES)
        everyone = contribs.union(links.mapValues(lambda dsts: 0.0, out_bytes=2 * INT_BYTES))
        ranks = everyone.reduceByKey(_add, numPartitions=P, keys=lambda m: min(m, float(n)),
                                     out_bytes=2 * INT_BYTES).mapValues(lambda s: base + damping * s)
        ranks.persist(params.storage_level) if params.cache else None
        yield from ranks.count()  # materialize this iteration (as the paper's loop does per step)
        sc.iteration_times.append(sc.now - began)
    final = yield from ranks.collect()
    if not sc.materialized:
        return None
    got = dict(final)
    return tuple(got.get(v, base) for v in range(n))


PROGRAMS: dict[str, tuple[Callable, Callable]] = {
    "wordcount": (wordcount, check_wordcount),
    "inverted_index": (inverted_index, check_inverted_index),
    "grep": (grep, check_grep),
    "sort": (sort, check_sort),
    "logreg": (logreg, check_state),
    "kmeans": (kmeans, check_state),
    "pagerank": (pagerank, check_state),
}
