"""The fault schedule: each kind at its time, on its target, undone after its duration."""

from __future__ import annotations

from omegaconf import OmegaConf

from harness.config.schema import FaultEvent, FaultsConfig
from harness.sim.faults import FaultInjector
from test_runtime import make_runtime


def faults(*events: FaultEvent, **extra) -> object:
    return OmegaConf.structured(FaultsConfig(name="t", events=list(events), **extra))


def observe(rt, times):
    seen = []

    def body():
        for t in times:
            yield rt.sleep(t - rt.now)
            seen.append([(n.alive, n.cpu_slow, n.disk_slow) for n in rt.nodes])

    proc = rt.spawn(body())
    rt.kernel.run_until(proc)
    return seen


def test_crash_with_duration_recovers_and_systems_hear_of_it():
    rt = make_runtime(nodes=3)
    recovered = []
    rt.recover_listeners.append(lambda node: recovered.append((node.id, rt.now)))
    FaultInjector(rt, faults(FaultEvent(kind="crash", at_s=1, target="node:1", duration_s=2))).start()
    seen = observe(rt, [0.5, 1.5, 3.5])
    assert [alive for alive, _, _ in seen[1]] == [True, False, True]
    assert all(alive for alive, _, _ in seen[2])
    assert recovered == [(1, 3.0)]
    assert rt.nodes[1].stats.down_s == 2.0


def test_slow_node_factor_applies_then_clears():
    rt = make_runtime(nodes=2)
    FaultInjector(rt, faults(FaultEvent(kind="slow", at_s=1, target="node:0", factor=5, duration_s=1))).start()
    seen = observe(rt, [1.5, 2.5])
    assert seen[0][0] == (True, 5.0, 5.0) and seen[1][0] == (True, 1.0, 1.0)


def test_slow_fault_slows_only_the_named_resources():
    rt = make_runtime(nodes=2)
    event = FaultEvent(kind="slow", at_s=1, target="node:0", factor=100, resources=["cpu"])
    FaultInjector(rt, faults(event)).start()
    seen = observe(rt, [1.5])
    assert seen[0] == [(True, 100.0, 1.0), (True, 1.0, 1.0)]


def test_partition_between_racks_then_heal():
    rt = make_runtime(nodes=4, racks=2)
    event = FaultEvent(kind="partition", at_s=1, target="rack:n-r0", peer="rack:n-r1", duration_s=1)
    FaultInjector(rt, faults(event)).start()
    a, _, c, _ = rt.nodes
    states = []

    def body():
        for t in (0.5, 1.5, 2.5):
            yield rt.sleep(t - rt.now)
            states.append(rt.reachable(a, c))

    rt.kernel.run_until(rt.spawn(body()))
    assert states == [True, False, True]


def test_corruption_marks_a_share_of_stored_files():
    rt = make_runtime(nodes=1)
    for i in range(20):
        rt.place(rt.nodes[0], f"block-{i}", 1e6)
    FaultInjector(rt, faults(FaultEvent(kind="corrupt", at_s=0, target="node:0", fraction=0.25))).start()
    observe(rt, [1])
    assert len(rt.nodes[0].corrupted) == 5


def test_random_targets_and_random_crashes_follow_the_seed():
    def crashed(seed: int) -> list[int]:
        rt = make_runtime(nodes=10, seed=seed)
        FaultInjector(rt, faults(FaultEvent(kind="crash", at_s=0, target="random", count=3))).start()
        seen = observe(rt, [1])
        return [i for i, (alive, *_) in enumerate(seen[0]) if not alive]

    assert crashed(1) == crashed(1) and len(crashed(1)) == 3
    assert any(crashed(1) != crashed(s) for s in range(2, 6))

    rt = make_runtime(nodes=20, seed=3)
    FaultInjector(rt, faults(crash_rate_per_node_hour=3600.0, mean_recovery_s=None)).start()
    seen = observe(rt, [5])  # a crash per node-second on average: nearly all are down by 5 s
    assert sum(not alive for alive, *_ in seen[0]) >= 18


def test_excluded_nodes_are_never_picked():
    def crashed(seed: int) -> set[int]:
        rt = make_runtime(nodes=4, seed=seed)
        event = FaultEvent(kind="crash", at_s=0, target="random", count=3, exclude="node:0")
        FaultInjector(rt, faults(event)).start()
        return {i for i, (alive, *_) in enumerate(observe(rt, [1])[0]) if not alive}

    assert all(crashed(seed) == {1, 2, 3} for seed in range(5)), "three of the four, never the master"
