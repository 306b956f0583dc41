"""Each MapReduce mechanism does what it claims, measured by switching it off."""

from __future__ import annotations

import math

from plugins.batch.mapreduce import simkit

RACKS = {"name": "racks", "groups": [{"name": "w", "count": 24, "racks": 4}], "rack_uplink_gbit": 1.0}
SLOW = {"name": "slow", "events": [{"kind": "slow", "at_s": 0, "target": "node:2", "factor": 10}]}


def test_locality_makes_most_maps_node_local() -> None:
    on = simkit.run("sort", hardware="x86_server", cluster=RACKS, overrides={"workload.scale": "small"}).metrics
    off = simkit.run("sort", hardware="x86_server", cluster=RACKS,
                     overrides={"workload.scale": "small", "system.locality": False}).metrics
    maps = on["map_tasks"]
    assert on["locality_node_local"] > 0.8 * maps
    assert off.get("locality_node_local", 0) < 0.5 * on["locality_node_local"]
    assert off.get("locality_remote", 0) > on.get("locality_remote", 0)


def test_worker_crash_mid_map_is_reexecuted_and_output_stays_correct() -> None:
    crash = {"name": "crash", "events": [{"kind": "crash", "at_s": 1.5, "target": "node:3"}]}
    base = simkit.run("wordcount").metrics
    result = simkit.run("wordcount", faults=crash)  # the output is checked inside the run
    m = result.metrics
    assert m["workers_failed"] >= 1
    assert m.get("reexecuted_maps", 0) + m.get("reexecuted_reduces", 0) >= 1
    assert m["makespan"] > base["makespan"]


def test_worker_that_restarts_loses_its_map_outputs() -> None:
    crash = {"name": "crash", "events": [{"kind": "crash", "at_s": 1.5, "target": "node:3", "duration_s": 2.0}]}
    m = simkit.run("wordcount", faults=crash).metrics
    assert m["reexecuted_maps"] >= 1


def test_backup_tasks_shorten_the_job_when_a_node_is_slow() -> None:
    with_backups = simkit.run("wordcount", faults=SLOW).metrics
    without = simkit.run("wordcount", faults=SLOW, overrides={"system.backup_tasks": False}).metrics
    assert with_backups["backup_tasks"] >= 1
    assert with_backups["backup_wins"] >= 1
    assert without.get("backup_tasks", 0) == 0
    assert with_backups["makespan"] < 0.8 * without["makespan"]




def test_backups_stay_within_their_budget() -> None:
    """At most backup_budget x tasks of each phase get a copy, late tasks only."""
    m = simkit.run("sort", hardware="x86_server", cluster=RACKS, faults=SLOW,
                   overrides={"workload.scale": "small", "system.backup_budget": 0.1}).metrics
    budget = sum(max(1, math.ceil(0.1 * n)) for n in (m["map_tasks"], m["reduce_tasks"]))
    assert 1 <= m["backup_tasks"] <= budget
    assert m["backup_wins"] >= 1


def test_backups_overtake_a_machine_with_slow_cpus() -> None:
    """OSDI'04 3.6's disabled-caches machine: its CPU is 50x slower, its disk is not."""
    cpu = {"name": "cpu", "events": [{"kind": "slow", "at_s": 0, "target": "node:2", "factor": 50, "resources": ["cpu"]}]}
    def makespan(backups: bool) -> float:
        return simkit.run("sort", hardware="x86_server", cluster=RACKS, faults=cpu,
                          overrides={"workload.scale": "small", "system.backup_tasks": backups}).metrics["makespan"]

    assert makespan(True) < 0.8 * makespan(False)

def test_combiner_reduces_shuffled_bytes() -> None:
    on = simkit.run("wordcount").metrics
    off = simkit.run("wordcount", overrides={"system.combiner": False}).metrics
    assert on["bytes_shuffled"] < 0.5 * off["bytes_shuffled"]


def test_same_seed_same_metrics_different_seed_different() -> None:
    a = simkit.run("wordcount", seed=7).metrics
    b = simkit.run("wordcount", seed=7).metrics
    c = simkit.run("wordcount", seed=8).metrics
    assert a == b
    assert a != c


def test_master_crash_aborts_the_job() -> None:
    import pytest

    from plugins.batch.mapreduce.system import MasterFailed

    crash = {"name": "crash", "events": [{"kind": "crash", "at_s": 1.0, "target": "node:0"}]}
    with pytest.raises(MasterFailed):
        simkit.run("wordcount", faults=crash)
