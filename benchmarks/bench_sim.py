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


def build(nodes: int, racks: int, quantum_s: float) -> Runtime:
    hardware = OmegaConf.structured(HardwareProfile(name="bench"))
    cluster = OmegaConf.structured(
        ClusterConfig(name="bench", groups=[NodeGroup(name="n", count=nodes, racks=racks)], rack_uplink_gbit=10)
    )
    kernel = Kernel(seed=1, wall_timeout_s=3600, max_sim_time_s=1e9)
    built = build_nodes(kernel.env, cluster, hardware)
    return Runtime(kernel, built, Topology(cluster, built), Recorder(), network_quantum_s=quantum_s)


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quanta", default="0,0.01", help="network_quantum_s values to compare (0 = exact)")
    args = parser.parse_args()
    print(f"scenario: {args.nodes} nodes, {args.racks} racks, {args.rounds} rounds/node "
          f"({args.nodes * args.rounds} transfers, all nodes busy at once: the worst case for max-min)")
    print(f"{'network_quantum_s':>18} {'wall s':>8} {'events':>9} {'events/s':>9} {'sim s':>7} {'sim s/wall s':>12}")
    for quantum in (float(q) for q in args.quanta.split(",")):
        started = time.perf_counter()
        rt = build(args.nodes, args.racks, quantum)
        procs = [rt.spawn(worker(rt, i, args.rounds)) for i in range(args.nodes)]
        rt.kernel.run_until(rt.all_of(procs))
        wall = time.perf_counter() - started
        events = rt.kernel.events_processed
        print(f"{quantum:>18g} {wall:>8.2f} {events:>9} {events / wall:>9,.0f} {rt.now:>7.2f} {rt.now / wall:>12.2f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
