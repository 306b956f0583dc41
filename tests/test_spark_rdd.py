"""Spark's RDD API and DAG planning, without a cluster: lazy lineage and stage cutting."""

from __future__ import annotations

from plugins.batch.spark.rdd import HashPartitioner, NarrowDependency, ShuffleDependency, SparkContext


def _sc() -> SparkContext:
    return SparkContext(None, materialized=True, default_parallelism=4)


def test_transformations_are_lazy() -> None:
    sc = _sc()
    calls = []
    rdd = sc.parallelize(range(10), 2).map(lambda x: calls.append(x) or x)
    assert calls == []  # nothing ran: only lineage was built
    assert isinstance(rdd.deps[0], NarrowDependency)


def test_reduce_by_key_after_map_is_two_stages() -> None:
    sc = _sc()
    rdd = sc.parallelize(["a b", "b c"], 2).flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    stages = sc.dag.plan(rdd)
    assert len(stages) == 2
    assert stages[0].is_map and not stages[1].is_map
    assert isinstance(rdd.deps[0], ShuffleDependency)


def test_map_then_filter_pipelines_into_one_stage() -> None:
    sc = _sc()
    rdd = sc.parallelize(range(100), 4).map(lambda x: x * 2).filter(lambda x: x % 3 == 0)
    assert len(sc.dag.plan(rdd)) == 1


def test_join_of_copartitioned_rdds_needs_no_shuffle() -> None:
    sc = _sc()
    part = HashPartitioner(4)
    links = sc.parallelize([(i, i + 1) for i in range(20)], 4).partitionBy(part)
    ranks = links.mapValues(lambda v: 1.0)
    joined = links.join(ranks)
    # one shuffle (partitionBy) then a narrow join: two stages, not three
    assert len(sc.dag.plan(joined)) == 2
    other = sc.parallelize([(i, 0) for i in range(20)], 3)
    assert len(sc.dag.plan(links.join(other))) == 3  # the unpartitioned side is shuffled


def test_union_and_groupby_stage_count() -> None:
    sc = _sc()
    a = sc.parallelize([(1, 1)], 2)
    b = sc.parallelize([(2, 2)], 3)
    u = a.union(b)
    assert u.num_partitions == 5
    assert len(sc.dag.plan(u)) == 1
    assert len(sc.dag.plan(u.groupByKey().map(lambda kv: kv).reduceByKey(lambda x, y: x))) == 3
