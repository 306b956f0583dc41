"""Simulator speed on a 1,000-node scenario: events/s, simulated s per wall s, peak RSS.

Each node runs a loop of work typical of the systems here: a compute slice, a disk
write through the page cache, a bulk transfer to a peer chosen from a seeded stream
(so flows cross racks and contend on uplinks), and a small message. Prints its figures;
speed targets live here, never in timed unit tests.

    python benchmarks/bench_sim.py [--nodes 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import resource
import time

from omegaconf import OmegaConf

from harness.config.schema import ClusterConfig, HardwareProfile, NodeGroup
from harness.metrics.recorder import Recorder
from harness.sim.cluster import Topology, build_nodes
from harness.sim.kernel import Kernel
from harness.sim.runtime import Runtime

MB = 1e6


def build(nodes: int, racks: int) -> Runtime:
    hardware = OmegaConf.structured(HardwareProfile(name="bench"))
    cluster = OmegaConf.structured(
        ClusterConfig(name="bench", groups=[NodeGroup(name="n", count=nodes, racks=racks)], rack_uplink_gbit=10)
    )
    kernel = Kernel(seed=1, wall_timeout_s=3600, max_sim_time_s=1e9)
    built = build_nodes(kernel.env, cluster, hardware)
    return Runtime(kernel, built, Topology(cluster, built), Recorder())


def worker(rt: Runtime, me: int, rounds: int):
    rng = rt.rng(f"worker/{me}")
    node = rt.nodes[me]
    for i in range(rounds):
        yield rt.compute(node, rng.uniform(0.05, 0.2))
        yield rt.write(node, 4 * MB, file=f"out-{me}-{i}")
        peer = rt.nodes[rng.randrange(len(rt.nodes))]
        yield rt.transfer(node, peer, rng.uniform(1, 16) * MB)
        rt.send(node, peer, ("done", me, i))
        rt.recorder.latency("round", rt.now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--racks", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    started = time.perf_counter()
    rt = build(args.nodes, args.racks)
    procs = [rt.spawn(worker(rt, i, args.rounds)) for i in range(args.nodes)]
    rt.kernel.run_until(rt.all_of(procs))
    wall = time.perf_counter() - started
    events = rt.kernel.events_processed
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario            : {args.nodes} nodes, {args.racks} racks, {args.rounds} rounds/node "
          f"({args.nodes * args.rounds} transfers)")
    print(f"simulated time      : {rt.now:.1f} s")
    print(f"wall time           : {wall:.2f} s")
    print(f"events              : {events}")
    print(f"events per second   : {events / wall:,.0f}")
    print(f"sim s per wall s    : {rt.now / wall:.1f}")
    print(f"peak RSS            : {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
