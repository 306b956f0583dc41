"""Chord on the simulated cluster: the protocol converges to the stable ring, repairs
itself after failures, merges after a partition, and each mechanism shows in the numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from omegaconf import OmegaConf

from harness.config.schema import ClusterConfig, HardwareProfile, NodeGroup
from harness.metrics.recorder import Recorder
from harness.sim.cluster import Topology, build_nodes
from harness.sim.kernel import Kernel
from harness.sim.runtime import Runtime
from plugins.storage.chord.ring import stable_tables
from plugins.storage.chord.system import Chord, ChordParams
from plugins.storage.chord.workload import ChordLookups, ChordLookupsParams

FAST = dict(stabilize_s=0.5, fix_fingers_s=0.2, check_predecessor_s=0.5, rpc_timeout_s=0.2)


def simulate(params: ChordParams, work: ChordLookupsParams, machines: int = 4, seed: int = 1,
             during: Callable[[Runtime], None] | None = None) -> tuple[Chord, dict[str, float]]:
    """One run on ``machines`` nodes; ``during(rt)`` may schedule faults before it starts."""
    kernel = Kernel(seed, wall_timeout_s=120, max_sim_time_s=1e6)
    cluster = OmegaConf.structured(ClusterConfig(name="t", groups=[NodeGroup(name="n", count=machines)]))
    nodes = build_nodes(kernel.env, cluster, OmegaConf.structured(HardwareProfile(name="t")))
    rt = Runtime(kernel, nodes, Topology(cluster, nodes), Recorder())
    chord = Chord(params, rt)
    rt.recover_listeners.append(chord.on_node_recover)
    if during is not None:
        during(rt)
    kernel.run_until(rt.spawn(chord.run(ChordLookups(work, seed=seed))))
    metrics, _ = rt.recorder.summarize(rt.now)
    return chord, {m.name: m.value for m in metrics}


def assert_converged(chord: Chord) -> None:
    """Every live member holds exactly the tables ``stable_tables`` computes for the live ids."""
    ov = chord.overlay
    live = [i for i in ov.members if ov.directory[i].live]
    expected = stable_tables(live, ov.m, ov.r)
    for node_id in live:
        routing, want = ov.directory[node_id].routing, expected[node_id]
        assert routing.successors == want.successors, node_id
        assert routing.predecessor == want.predecessor, node_id
        assert routing.fingers == want.fingers, node_id


def test_joins_stabilize_and_fix_fingers_reach_the_stable_tables() -> None:
    params = ChordParams(nodes=24, id_bits=12, successors=4, build="joins", join_spacing_s=0.5, settle_s=40, **FAST)
    chord, m = simulate(params, ChordLookupsParams(lookups=50, rate_per_s=50))
    assert_converged(chord)
    assert m["lookups_correct"] == 50 and m["successor_pointer_error_rate"] == 0


def test_after_a_mass_failure_stabilization_repairs_every_table() -> None:
    params = ChordParams(nodes=48, id_bits=16, successors=6, **FAST)
    work = ChordLookupsParams(lookups=100, rate_per_s=10, start_s=30, fail_fraction=0.3, fail_at_s=1)
    chord, m = simulate(params, work)
    assert m["chord_failures"] == round(0.3 * 48)
    assert_converged(chord)  # check_predecessor, stabilize and fix_fingers replaced every dead pointer
    assert m["lookup_failure_rate"] == 0 and m["lookup_timeouts_mean"] == 0


def _mass_failure(successors: int, maintenance: bool, start_s: float) -> dict[str, float]:
    params = ChordParams(nodes=128, id_bits=32, successors=successors, maintenance=maintenance, **FAST)
    work = ChordLookupsParams(lookups=300, rate_per_s=100, start_s=start_s, fail_fraction=0.4, fail_at_s=0.1)
    return simulate(params, work)[1]


def test_successor_lists_keep_lookups_working_before_stabilization() -> None:
    with_list = _mass_failure(successors=14, maintenance=False, start_s=0.2)
    without = _mass_failure(successors=1, maintenance=False, start_s=0.2)
    assert with_list["lookup_timeouts_mean"] > 0.3  # tables still name the dead...
    assert with_list["lookup_failure_rate"] < 0.02  # ...yet lookups reach the live successor
    assert without["lookup_failure_rate"] > 0.1  # r = 1: a dead successor strands the lookup


def test_stabilization_removes_the_timeouts() -> None:
    before = _mass_failure(successors=14, maintenance=True, start_s=0.2)
    after = _mass_failure(successors=14, maintenance=True, start_s=20)
    assert after["lookup_timeouts_mean"] < 0.1 * before["lookup_timeouts_mean"]
    assert after["latency_p99"] < before["latency_p99"]


def test_path_length_grows_as_half_log_n() -> None:
    hops = {}
    for n in (16, 1024):
        params = ChordParams(nodes=n, id_bits=32, successors=1, maintenance=False)
        hops[n] = simulate(params, ChordLookupsParams(lookups=400, rate_per_s=1000, keys=1000))[1]["lookup_hops_mean"]
    assert abs(hops[16] - 2) < 0.8 and abs(hops[1024] - 5) < 0.8
    assert hops[1024] - hops[16] > 2


def test_churn_with_maintenance_keeps_lookups_correct() -> None:
    base = ChordParams(nodes=64, id_bits=32, **FAST)
    work = ChordLookupsParams(lookups=300, rate_per_s=15, churn_rate_per_s=1.0)
    _, kept = simulate(base, work)
    _, neglected = simulate(replace(base, maintenance=False), work)
    assert kept["chord_failures"] > 10 and kept["chord_churn_joins"] > 10
    assert kept["lookup_failure_rate"] < 0.05
    assert neglected["lookup_failure_rate"] > kept["lookup_failure_rate"] + 0.05
    assert kept["maintenance_messages"] > 0 and neglected["maintenance_messages"] < kept["maintenance_messages"] / 4


def _partitioned(reprobe: bool) -> tuple[Chord, dict[str, float]]:
    def cut_one_machine(rt: Runtime) -> None:
        cut: list[Any] = []
        rt.timer(2.0, lambda: cut.append(rt.partition(frozenset({3}), None)))
        rt.timer(6.0, lambda: rt.heal(cut[0]))

    params = ChordParams(nodes=32, id_bits=32, successors=4, reprobe_suspects=reprobe, **FAST)
    return simulate(params, ChordLookupsParams(lookups=200, rate_per_s=8), during=cut_one_machine)


def test_re_probing_dropped_nodes_merges_the_ring_after_a_partition() -> None:
    merged, m = _partitioned(reprobe=True)
    split, s = _partitioned(reprobe=False)
    assert m["successor_pointer_error_rate"] == 0
    assert_converged(merged)
    assert s["successor_pointer_error_rate"] > 0  # plain Chord: the cut-off nodes' sub-ring persists
    assert s["lookups_incorrect"] > m["lookups_incorrect"]


def test_a_crashed_machine_rejoins_with_its_addresses() -> None:
    def crash_and_recover(rt: Runtime) -> None:
        rt.timer(2.0, lambda: rt.crash(rt.nodes[1]))
        rt.timer(5.0, lambda: rt.recover(rt.nodes[1]))

    params = ChordParams(nodes=32, id_bits=32, successors=4, **FAST)
    chord, m = simulate(params, ChordLookupsParams(lookups=200, rate_per_s=10), during=crash_and_recover)
    assert m["ring_nodes_live"] == 32 and m["chord_joins"] >= 8  # the machine's 8 Chord nodes came back
    assert_converged(chord)
    assert m["maintenance_rpc_timeouts"] > 0 and m["lookup_failure_rate"] < 0.05
