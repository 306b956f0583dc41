"""MapReduce through the harness, as a user runs it: correctness and each mechanism's effect."""

from __future__ import annotations

import pytest

from harness.testing import metrics_of, run_config

BASE = ["system=mapreduce", "cluster=two_tier", "hardware=x86_server"]


def run(tmp_path, *overrides: str, job: str = "run") -> dict[str, float]:
    record = run_config([*BASE, *overrides, "rerun=true"], tmp_path, job)
    assert record["status"] == "ok", record["error"]
    return {name: value for name, (value, _unit) in metrics_of(record).items()}


@pytest.mark.parametrize("workload", ["wordcount", "grep", "sort", "inverted_index"])
def test_materialized_output_is_checked_and_correct(tmp_path, workload):
    found = run(tmp_path, f"workload={workload}")
    assert found["throughput"] > 0 and found["makespan"] > 0


def test_a_wrong_reduce_function_fails_the_run(tmp_path):
    # grep's program applied to a word-count workload produces other output than the reference.
    record = run_config([*BASE, "workload=wordcount", "system.program=grep", "rerun=true"], tmp_path)
    assert record["status"] == "failed"
    assert "mapreduce" in record["error"]


def test_locality_scheduling_keeps_most_maps_node_local(tmp_path):
    on = run(tmp_path, "workload=sort", "workload.scale=small", job="on")
    off = run(tmp_path, "workload=sort", "workload.scale=small", "system.locality=false", job="off")
    assert on.get("locality_node_local", 0) > off.get("locality_node_local", 0)


def test_a_worker_crash_is_survived_by_re_execution(tmp_path):
    found = run(tmp_path, "workload=sort", "workload.scale=small", "faults=crash_one",
                "faults.events.0.at_s=2.9", "system.heartbeat_s=0.2", "system.failure_timeout_s=0.5")
    assert found.get("workers_failed", 0) >= 1
    assert found.get("reexecuted_maps", 0) + found.get("reexecuted_reduces", 0) > 0


def test_backup_tasks_shorten_a_job_with_a_straggler(tmp_path):
    slow = ["workload=sort", "workload.scale=small", "faults.events=[{kind: slow, at_s: 0, target: 'node:5', factor: 20}]"]
    with_backups = run(tmp_path, *slow, job="with")
    without = run(tmp_path, *slow, "system.backup_tasks=false", job="without")
    assert with_backups.get("backup_tasks", 0) > 0
    assert with_backups["makespan"] < without["makespan"]


def test_the_combiner_cuts_shuffled_bytes(tmp_path):
    on = run(tmp_path, "workload=wordcount", job="on")
    off = run(tmp_path, "workload=wordcount", "system.combiner=false", job="off")
    assert on["bytes_shuffled"] < off["bytes_shuffled"]


def test_same_seed_same_metrics_and_another_seed_differs(tmp_path):
    a = run(tmp_path, "workload=wordcount", "seed=1", job="a")
    b = run(tmp_path, "workload=wordcount", "seed=1", job="b")
    c = run(tmp_path, "workload=wordcount", "seed=2", job="c")
    assert a == b and a != c
