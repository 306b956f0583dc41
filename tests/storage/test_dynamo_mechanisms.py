"""Each Dynamo mechanism shows its effect in the numbers, and the checker catches broken variants.

Runs are small (8 Raspberry Pi 3 nodes, 2,000 YCSB-A operations at most) and cached per
module, so the file runs in well under a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.testing import metrics_of, run_config

# A hot key space at a high rate: reads race the replication of the writes before them.
HOT = ["workload.record_count=5", "workload.target_ops_per_s=1000", "workload.operation_count=2000"]
CRASH = ["faults=dynamo_crash"]  # one node down from 5 s to 15 s of a 20 s run
ONLY = {  # one repair mechanism at a time after the crash
    "none": ["system.hinted_handoff=false", "system.read_repair=false", "system.anti_entropy=false"],
    "handoff": ["system.read_repair=false", "system.anti_entropy=false"],
    "read_repair": ["system.hinted_handoff=false", "system.anti_entropy=false"],
    "anti_entropy": ["system.hinted_handoff=false", "system.read_repair=false"],
}
_cache: dict[tuple[str, ...], dict[str, float]] = {}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("dynamo")

    def run(*overrides: str) -> dict[str, float]:
        key = tuple(overrides)
        if key not in _cache:
            record = run_config(["system=dynamo", "workload=ycsb", "rerun=true", *overrides], Path(root),
                                f"run{len(_cache)}")
            assert record["status"] == "ok", record["error"]
            _cache[key] = {name: value for name, (value, _unit) in metrics_of(record).items()}
        return _cache[key]

    return run


def test_strict_quorums_never_serve_stale_data_and_broken_variants_are_caught(results: Any) -> None:
    correct = results(*HOT)
    assert correct["consistency_violations"] == 0 and correct["stale_reads"] == 0
    assert correct["acked_writes_lost"] == 0 and correct["reads_checked"] > 900
    for broken in ("ack_before_quorum", "read_one_replica"):
        assert results(*HOT, f"system.unsafe={broken}")["consistency_violations"] > 0, broken
    weak = results(*HOT, "system.R=1", "system.W=1")  # R + W <= N promises nothing: stale, not violations
    assert weak["stale_reads"] > 0 and weak["consistency_violations"] == 0


def test_the_papers_vector_clocks_lose_concurrent_updates_that_dotted_clocks_keep(results: Any) -> None:
    assert results(*HOT, "system.clocks=vector")["acked_writes_lost"] > 0
    assert results(*HOT)["acked_writes_lost"] == 0


def test_siblings_reach_the_client_and_merge_keeps_every_cart_item(results: Any) -> None:
    lww = results(*HOT)
    assert lww["reads_with_siblings"] > 0 and lww["max_siblings"] >= 2
    assert lww["lww_discarded_siblings"] > 0, "last-writer-wins drops the other siblings' updates"
    cart = results(*HOT, "system.reconcile=merge")
    assert cart["cart_items_lost"] == 0 and cart["lww_discarded_siblings"] == 0


def test_clock_truncation_creates_false_siblings(results: Any) -> None:
    many_coordinators = [*HOT, "system.write_context=session", "system.routing=server"]
    full = results(*many_coordinators)
    cut = results(*many_coordinators, "system.clock_max_entries=1")
    assert full["clock_truncations"] == 0 and cut["clock_truncations"] > 0
    assert cut["reads_with_siblings"] > full["reads_with_siblings"]


def test_sloppy_quorum_keeps_writes_available_and_hints_go_home(results: Any) -> None:
    sloppy = results(*CRASH, "system.W=3")
    strict = results(*CRASH, "system.W=3", "system.sloppy_quorum=false")
    assert sloppy["availability"] > strict["availability"] + 0.05
    assert sloppy["hinted_writes"] > 0 and sloppy["hints_delivered"] == sloppy["hinted_writes"]
    assert sloppy["hints_pending"] == 0 and sloppy["bytes_hinted_handoff"] > 0
    assert strict["hinted_writes"] == 0
    assert sloppy["acked_writes_lost"] == strict["acked_writes_lost"] == 0


def test_each_repair_mechanism_brings_a_recovered_node_up_to_date(results: Any) -> None:
    left_alone = results(*CRASH, *ONLY["none"])
    assert left_alone["divergent_keys"] > 20 and left_alone["hints_pending"] > 0
    handoff = results(*CRASH, *ONLY["handoff"])
    assert handoff["hints_delivered"] > 0 and handoff["divergent_keys"] < left_alone["divergent_keys"] / 5
    repaired = results(*CRASH, *ONLY["read_repair"])
    assert repaired["read_repairs"] > 0 and repaired["bytes_read_repair"] > 0
    assert repaired["divergent_keys"] < left_alone["divergent_keys"]
    synced = results(*CRASH, *ONLY["anti_entropy"])
    assert synced["divergent_keys"] == 0 and synced["anti_entropy_versions_repaired"] > 0
    assert synced["bytes_anti_entropy"] > 10 * results()["bytes_anti_entropy"], "in-sync replicas exchange only roots"


def test_partitions_give_counted_stale_reads_but_lose_nothing(results: Any) -> None:
    split = results("faults=dynamo_partition")
    assert split["stale_reads_sloppy"] > 0 and split["consistency_violations"] == 0
    assert split["acked_writes_lost"] == 0 and split["hints_delivered"] > 0


def test_corrupted_ranges_are_detected_and_rewritten_by_anti_entropy(results: Any) -> None:
    standard = results("faults=standard")
    assert standard["corrupt_replica_reads"] > 0 and standard["anti_entropy_ranges_rewritten"] > 0
    assert standard["acked_writes_lost"] == 0


def test_client_driven_routing_saves_the_load_balancer_and_forwarding_hops(results: Any) -> None:
    client, server = results(), results("system.routing=server")
    assert client["forwarded_requests"] == 0 and server["forwarded_requests"] > 1000
    assert server["latency_p50"] > client["latency_p50"] * 1.1


def test_joins_and_leaves_move_only_the_affected_keys(results: Any) -> None:
    join = results("system.initial_members=7", "+system.membership=[{at_s:5,op:join,node:7}]")
    leave = results("+system.membership=[{at_s:5,op:leave,node:3}]")
    for change in (join, leave):
        assert change["membership_changes"] == 1 and change["bytes_membership"] > 0
        # about N/n of the 1,000 keys gain a replica; a full reshuffle would move them all
        assert 200 < change["membership_keys_moved"] < 600
        assert change["acked_writes_lost"] == 0 and change["consistency_violations"] == 0


def test_more_virtual_nodes_balance_keys_better(results: Any) -> None:
    few = results("system.tokens_per_node=1", "workload.operation_count=300")
    many = results("system.tokens_per_node=64", "workload.operation_count=300")
    assert many["keys_imbalance"] < few["keys_imbalance"]


def test_bad_quorums_and_membership_are_one_clear_line() -> None:
    with pytest.raises(ConfigError, match=r"system.R=4: must be in \[1, N=3\]"):
        validate(compose_config(["system=dynamo", "workload=ycsb", "system.R=4"]))
    with pytest.raises(ConfigError, match=r"system.membership\[0\].node=2: is already a member"):
        validate(compose_config(["system=dynamo", "workload=ycsb", "+system.membership=[{at_s:1,op:join,node:2}]"]))
    with pytest.raises(ConfigError, match="system.unsafe='maybe'"):
        validate(compose_config(["system=dynamo", "workload=ycsb", "system.unsafe=maybe"]))


def test_closed_loop_clients_are_bounded_by_their_own_latency(results: Any) -> None:
    closed = results("workload.mode=closed", "workload.threads=4", "workload.operation_count=1000")
    assert closed["ops_ok"] == 1000
    # Little's law with 4 clients always busy: throughput x latency ~ 4
    assert 2.5 < closed["throughput"] * closed["latency_p50"] < 5.5
