"""The runtime API on a tiny hand-built cluster: each mechanism in isolation."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from harness.config.schema import ClusterConfig, HardwareProfile, NodeGroup
from harness.metrics.recorder import Recorder
from harness.sim.cluster import Topology, build_nodes
from harness.sim.kernel import Kernel, RngTree
from harness.sim.runtime import CorruptBlock, NodeDown, Runtime, Unreachable

MB = 1e6


def make_runtime(nodes: int = 2, racks: int = 1, seed: int = 0, cluster: dict | None = None, **hardware) -> Runtime:
    hw = OmegaConf.merge(OmegaConf.structured(HardwareProfile(name="test")), hardware)
    base = OmegaConf.structured(ClusterConfig(name="t", groups=[NodeGroup(name="n", count=nodes, racks=racks)]))
    cluster = OmegaConf.merge(base, cluster or {})
    kernel = Kernel(seed, wall_timeout_s=60, max_sim_time_s=1e9)
    built = build_nodes(kernel.env, cluster, hw)
    return Runtime(kernel, built, Topology(cluster, built), Recorder())


def run(rt: Runtime, body) -> object:
    proc = rt.spawn(body())
    rt.kernel.run_until(proc)
    return proc.value


def test_compute_scales_with_speed_and_queues_beyond_the_cores():
    rt = make_runtime(cpu={"cores": 2, "speed": 0.5})
    node = rt.nodes[0]

    def body():
        yield rt.all_of([rt.compute(node, 1.0) for _ in range(4)])
        return rt.now

    assert run(rt, body) == pytest.approx(4.0)  # 4 jobs x 2 s each on 2 cores
    assert node.stats.cpu_busy_core_s == pytest.approx(8.0)


def test_two_transfers_share_a_nic_fairly():
    rt = make_runtime(nodes=3, nic={"bandwidth_mbit": 80}, cluster={"latency_ms": {"intra_rack": 0}})
    a, b, c = rt.nodes

    def body():
        one = rt.transfer(a, c, 10 * MB)
        alone = rt.transfer(a, b, 0)  # zero bytes finishes at once
        two = rt.transfer(b, c, 10 * MB)
        yield rt.all_of([one, two, alone])
        return rt.now

    # c's downlink (10 MB/s) carries 20 MB: 2 s, not 1 s.
    assert run(rt, body) == pytest.approx(2.0, rel=1e-6)


def test_warm_page_cache_read_is_free_and_cold_one_is_not():
    rt = make_runtime()
    node = rt.nodes[0]
    rt.place(node, "f", 50 * MB)

    def body():
        start = rt.now
        yield rt.read(node, 50 * MB, file="f")
        cold = rt.now - start
        start = rt.now
        yield rt.read(node, 50 * MB, file="f")
        return cold, rt.now - start

    cold, warm = run(rt, body)
    assert cold > 0.05 and warm == 0.0


def test_messages_to_a_crashed_node_are_lost_and_operations_fail():
    rt = make_runtime(nodes=2)
    a, b = rt.nodes
    got = []

    def listener():
        while True:
            got.append((yield rt.recv(b)))

    def body():
        rt.spawn(listener(), node=b)
        rt.send(a, b, "before")
        yield rt.sleep(1)
        rt.crash(b)
        rt.send(a, b, "after")
        yield rt.sleep(1)
        with pytest.raises(NodeDown):
            yield rt.transfer(a, b, MB)
        return True

    assert run(rt, body)
    assert got == ["before"]
    assert rt.recorder._counters["messages_lost"][0] == 1


def test_crash_during_a_transfer_raises_node_down_in_the_caller():
    rt = make_runtime(nodes=2, nic={"bandwidth_mbit": 8})
    a, b = rt.nodes
    rt.timer(0.5, lambda: rt.crash(b))

    def body():
        try:
            yield rt.transfer(a, b, 10 * MB)  # 10 s at 1 MB/s
        except NodeDown:
            return rt.now
        return None

    assert run(rt, body) == pytest.approx(0.5)


def test_partition_cuts_transfers_and_heal_restores():
    rt = make_runtime(nodes=2)
    a, b = rt.nodes
    cut = rt.partition(frozenset({a.id}), None)

    def body():
        with pytest.raises(Unreachable):
            yield rt.transfer(a, b, MB)
        rt.heal(cut)
        yield rt.transfer(a, b, MB)
        return True

    assert run(rt, body)


def test_verified_read_of_a_corrupted_block_raises():
    rt = make_runtime()
    node = rt.nodes[0]
    rt.place(node, "chunk", MB)
    node.corrupted.add("chunk")

    def body():
        yield rt.read(node, MB, file="chunk")  # unverified: silently wrong
        with pytest.raises(CorruptBlock):
            yield rt.read(node, MB, file="chunk", verify=True)
        return True

    assert run(rt, body)
    assert rt.recorder._counters["corrupt_reads_undetected"][0] == 1


def test_appending_keeps_a_corruption_and_rewriting_clears_it():
    rt = make_runtime()
    node = rt.nodes[0]
    rt.place(node, "chunk", MB)
    node.corrupted.add("chunk")

    def body():
        yield rt.write(node, MB, file="chunk", offset=MB)  # append: the bad first MB stays bad
        assert "chunk" in node.corrupted
        yield rt.write(node, 2 * MB, file="chunk")  # the whole file rewritten
        return "chunk" not in node.corrupted

    assert run(rt, body)


def test_ask_answers_inline_after_a_round_trip_and_is_silent_when_the_peer_is_down():
    rt = make_runtime(nodes=2)
    a, b = rt.nodes
    replies = []
    one_way = rt.topology.one_way_latency_s(a, b) + 256 / min(a.nic_Bps, b.nic_Bps)

    def body():
        rt.ask(a, b, lambda: ("pong", rt.now), lambda reply: replies.append((reply, rt.now)))
        yield rt.sleep(1)
        rt.crash(b)
        rt.ask(a, b, lambda: "never", replies.append)
        yield rt.sleep(1)
        return True

    assert run(rt, body)
    [((word, answered_at), got_at)] = replies
    assert word == "pong" and answered_at == pytest.approx(one_way) and got_at == pytest.approx(2 * one_way)
    assert rt.recorder._counters["messages_lost"][0] == 1


def test_rng_streams_are_named_not_ordered():
    tree = RngTree(42)
    first = [tree.child("a").random().random(), tree.child("b").random().random()]
    again = [RngTree(42).child("a").random().random(), RngTree(42).child("b").random().random()]
    assert first == again
    assert RngTree(43).child("a").random().random() != first[0]
    assert first[0] != first[1]


def test_slow_node_takes_longer():
    rt = make_runtime()
    node = rt.nodes[0]
    node.cpu_slow = 3.0

    def body():
        yield rt.compute(node, 1.0)
        return rt.now

    assert run(rt, body) == pytest.approx(3.0)


def test_memory_tight_pi_does_less_disk_io_at_swappiness_100_than_at_1():
    """The fog seed's claim, through the runtime: swap cold daemon pages once, keep files cached."""

    def disk_bytes(swappiness: int) -> float:
        rt = make_runtime(nodes=1, memory={"ram_mib": 1024, "os_reserved_mib": 150, "swap_mib": 512,
                                           "swappiness": swappiness})
        node = rt.nodes[0]
        for i in range(6):
            rt.place(node, f"layer-{i}", 100 * MB)

        def body():
            yield rt.alloc(node, "daemons", 450 * 2**20, hot_fraction=0.1)  # mostly idle pages
            for _ in range(5):
                for i in range(6):
                    yield rt.read(node, 100 * MB, file=f"layer-{i}")
                yield rt.touch(node, "daemons")
            return True

        run(rt, body)
        return node.stats.disk_read_bytes + node.stats.disk_write_bytes

    low, high = disk_bytes(1), disk_bytes(100)
    assert high < 0.6 * low, (low, high)


def test_a_crash_that_kills_the_waiter_of_a_condition_does_not_stop_the_simulation():
    rt = make_runtime(nodes=2, nic={"bandwidth_mbit": 8})
    a, b = rt.nodes
    rt.place(a, "f", MB)

    def on_b():
        yield rt.all_of([rt.read(a, MB, file="f"), rt.transfer(a, b, 10 * MB)])

    def body():
        rt.spawn(on_b(), node=b)
        yield rt.sleep(0.5)
        rt.crash(b)  # the waiter dies; the transfer fails with nobody left to hear it
        yield rt.sleep(20)
        return rt.now

    assert run(rt, body) == pytest.approx(20.5)
