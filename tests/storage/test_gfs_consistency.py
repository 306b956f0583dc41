"""The checker judges GFS's record-append promise: every acknowledged append stays
readable after any single chunkserver failure. It passes the real design under faults
and catches a deliberately broken variant that acknowledges after the primary's write."""

from __future__ import annotations

from plugins.storage.gfs import simkit
from plugins.storage.gfs.checker import AppendHistory, judge

TRIO = {"name": "trio", "rack_uplink_gbit": 1.0, "groups": [
    {"name": "master", "count": 1}, {"name": "chunkserver", "count": 3}, {"name": "client", "count": 2}]}
PRIMARY_DIES = {"name": "primary-dies", "events": [{"kind": "crash", "at_s": 1.0, "target": "node:1"}]}
SMALL = {"workload.records_per_producer": 16}


def test_the_design_keeps_its_promise_when_the_primary_dies() -> None:
    m = simkit.run("gfs_appends", cluster=TRIO, faults=PRIMARY_DIES, overrides={"system.lease_s": 5.0, **SMALL}).metrics
    assert m["appends_acked"] == 64
    assert m["append_violations"] == m["appends_lost"] == m["appends_at_risk"] == 0


def test_the_checker_catches_acks_sent_before_the_secondaries_have_the_record() -> None:
    broken = {"system.append_ack": "primary", "system.lease_s": 5.0, **SMALL}
    quiet = simkit.run("gfs_appends", cluster=TRIO, overrides=broken).metrics
    assert quiet["appends_at_risk"] == quiet["appends_acked"]  # one failure away from loss, every time
    killed = simkit.run("gfs_appends", cluster=TRIO, faults=PRIMARY_DIES, overrides=broken).metrics
    assert killed["appends_lost"] > 0  # ...and the primary's death makes it real
    assert killed["append_violations"] >= killed["appends_lost"]


def test_the_standard_fault_schedule_breaks_no_acknowledged_append() -> None:
    m = simkit.run("gfs_appends", faults="standard").metrics
    assert m["node_crashes"] == 1 and m["appends_acked"] > 0
    assert m["append_violations"] == 0 and m["appends_unread"] == 0


def test_judge_counts_lost_and_at_risk_records_once_each() -> None:
    history = AppendHistory()
    for rid, holders in ((1, 3), (2, 1), (3, 0)):
        history.invoke(rid, 0.0)
        history.acked[rid] = type("A", (), {"holders": holders})()
    verdict = judge(history, {1: {4, 5}, 2: {4}}, replication=3, consumers=0)
    assert verdict["appends_at_risk"][0] == 2  # records 2 and 3 had fewer than two copies at ack
    assert verdict["appends_lost"][0] == 1  # record 3 is gone
    assert verdict["append_violations"][0] == 2
    assert verdict["appends_single_copy_at_end"][0] == 1
