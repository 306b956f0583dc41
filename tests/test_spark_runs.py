"""Spark on the simulated cluster: outputs, caching, lineage recomputation, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.testing import PluginConformance, metrics_of, run_config

BASE = ["system=spark", "cluster=small_rack", "rerun=true"]


def _run(tmp_path: Path, *overrides: str, job: str = "run") -> dict:
    return run_config([*BASE, *overrides], tmp_path, job)


class TestSparkConformance(PluginConformance):
    system = "spark"
    workload = "wordcount"


@pytest.mark.parametrize("workload", ["wordcount", "inverted_index", "grep", "sort", "kmeans", "pagerank"])
def test_materialized_output_matches_reference(tmp_path: Path, workload: str) -> None:
    record = _run(tmp_path, f"workload={workload}")
    assert record["status"] == "ok", record["error"]  # the run checks its output against the reference


def test_wrong_output_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins.batch.spark import programs

    def double_count(sc, w, params):  # a buggy user program: counts every word twice
        lines = sc.input(w)
        pairs = lines.flatMap(lambda kv: [(x, 2) for x in kv[1].split()])
        return (yield from pairs.reduceByKey(lambda a, b: a + b).saveAsTextFile("bad"))

    monkeypatch.setitem(programs.PROGRAMS, "wordcount", (double_count, programs.check_wordcount))
    record = _run(tmp_path, "workload=wordcount")
    assert record["status"] == "failed"
    assert "differs from the reference" in record["error"]


def test_wordcount_has_two_stages_and_metrics(tmp_path: Path) -> None:
    m = metrics_of(_run(tmp_path, "workload=wordcount"))
    assert m["stages"][0] == 2
    assert m["stage_0_time"][0] > 0 and m["stage_1_time"][0] > 0
    assert m["bytes_read"][0] > 0 and m["bytes_shuffled"][0] > 0 and m["bytes_written"][0] > 0
    assert m["latency_task_p50"][0] > 0
    assert m["recomputed_partitions"][0] == 0


def test_cached_logreg_later_iterations_are_faster(tmp_path: Path) -> None:
    cached = metrics_of(_run(tmp_path, "workload=logreg", "workload.scale=small", job="c"))
    uncached = metrics_of(_run(tmp_path, "workload=logreg", "workload.scale=small", "system.cache=false", job="u"))
    assert cached["cache_hits"][0] > 0 and uncached["cache_hits"][0] == 0
    assert cached["iteration_rest_mean"][0] < cached["iteration_first"][0]
    assert cached["iteration_rest_mean"][0] < uncached["iteration_rest_mean"][0]
    assert cached["accumulator_points"][0] == uncached["accumulator_points"][0] == 20_000 * 10


def test_cache_is_bounded_by_ram(tmp_path: Path) -> None:
    # a tiny storage budget: not every partition fits, the rest are recomputed from lineage
    full = metrics_of(_run(tmp_path, "workload=logreg", "workload.scale=small", "system.partitions=28", job="f"))
    tight = metrics_of(_run(tmp_path, "workload=logreg", "workload.scale=small", "system.storage_fraction=0.0005",
                            "system.partitions=28", job="t"))
    assert full["cache_misses"][0] == 28
    assert tight["cache_misses"][0] > 28
    assert tight["cache_hits"][0] < full["cache_hits"][0]


def _crash_at_reduce(tmp_path: Path, workload: str = "wordcount") -> tuple[dict, dict]:
    clean = _run(tmp_path, f"workload={workload}", job="clean")
    assert clean["status"] == "ok", clean["error"]
    at = metrics_of(clean)["stage_0_time"][0] + 0.005  # just after the map stage: its outputs are needed
    crashed = _run(tmp_path, f"workload={workload}",
                   f"faults.events=[{{kind: crash, at_s: {at}, target: 'node:3', count: 1}}]", job="crash")
    return clean, crashed


def test_crash_recomputes_only_lost_partitions(tmp_path: Path) -> None:
    clean, crashed = _crash_at_reduce(tmp_path)
    assert crashed["status"] == "ok", crashed["error"]  # output still equals the reference
    m = metrics_of(crashed)
    total = metrics_of(clean)["tasks"][0]
    assert m["node_crashes"][0] == 1 and m["executors_lost"][0] == 1
    assert 0 < m["recomputed_partitions"][0] < total
    assert m["recomputed_partitions"][0] < total / 2


def test_crash_loses_cached_partitions_which_are_recomputed(tmp_path: Path) -> None:
    clean = metrics_of(_run(tmp_path, "workload=logreg", job="clean"))
    at = clean["iteration_first"][0] + 0.01
    record = _run(tmp_path, "workload=logreg", f"faults.events=[{{kind: crash, at_s: {at}, target: 'node:2', count: 1}}]",
                  job="crash")
    assert record["status"] == "ok", record["error"]
    m = metrics_of(record)
    assert 0 < m["recomputed_partitions"][0] < clean["cache_misses"][0]


def test_same_seed_same_metrics_with_a_crash(tmp_path: Path) -> None:
    a = _run(tmp_path, "workload=wordcount", "seed=5", "faults=crash_one", job="a")
    b = _run(tmp_path, "workload=wordcount", "seed=5", "faults=crash_one", job="b")
    assert a["status"] == b["status"]
    assert a["metrics"] == b["metrics"]
    c = _run(tmp_path, "workload=sort", "seed=5", "system.delay_scheduling=false", job="c")
    d = _run(tmp_path, "workload=sort", "seed=5", "system.delay_scheduling=false", job="d")
    assert c["metrics"] == d["metrics"]


def test_modelled_plane_runs_the_same_program(tmp_path: Path) -> None:
    record = _run(tmp_path, "workload=wordcount", "workload.scale=large", "hardware=x86_server")
    assert record["status"] == "ok", record["error"]
    m = metrics_of(record)
    assert m["stages"][0] == 2 and m["bytes_shuffled"][0] > 0


def test_broadcast_ships_once_per_executor(tmp_path: Path) -> None:
    on = metrics_of(_run(tmp_path, "workload=logreg", job="on"))
    off = metrics_of(_run(tmp_path, "workload=logreg", "system.broadcast=false", job="off"))
    assert 0 < on["bytes_broadcast"][0] < off["bytes_broadcast"][0]


def test_delay_scheduling_raises_locality(tmp_path: Path) -> None:
    args = ["workload=grep", "workload.scale=small", "system.executor_cores=1", "system.partitions=28"]
    on = metrics_of(_run(tmp_path, *args, job="on"))
    off = metrics_of(_run(tmp_path, *args, "system.delay_scheduling=false", job="off"))
    assert on["tasks_node_local"][0] > off["tasks_node_local"][0]
    assert off.get("tasks_rack_local", (0,))[0] + off.get("tasks_any", (0,))[0] > 0
