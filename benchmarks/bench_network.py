"""Throughput of the flow-level network model (``harness.sim.models.network``).

Builds a two-level tree (hosts -> rack switch -> core), starts flows between random host
pairs with Poisson arrivals, and runs the event loop a simulator would: jump to the next
arrival or completion, whichever is first. Prints flows processed per second of CPU.

    /tmp/venv/bin/python benchmarks/bench_network.py [--flows 5000] [--nodes 1000] [--full]

Wall-clock figures are advisory: compare them only on one machine, one run at a time.
"""

from __future__ import annotations

import argparse
import random
import time

from harness.sim.models.network import FlowNetwork

GBIT = 1e9 / 8  # bytes per second


def build(nodes: int, per_rack: int, nic_Bps: float, uplink_Bps: float, interval_s: float = 0.0) -> FlowNetwork:
    net = FlowNetwork(min_interval_s=interval_s)
    for node in range(nodes):
        net.add_link(("up", node), nic_Bps)
        net.add_link(("down", node), nic_Bps)
    for rack in range((nodes + per_rack - 1) // per_rack):
        net.add_link(("rack_up", rack), uplink_Bps)
        net.add_link(("rack_down", rack), uplink_Bps)
    return net


def path(src: int, dst: int, per_rack: int) -> list[tuple[str, int]]:
    a, b = src // per_rack, dst // per_rack
    if a == b:
        return [("up", src), ("down", dst)]
    return [("up", src), ("rack_up", a), ("rack_down", b), ("down", dst)]


def run(flows: int, nodes: int, per_rack: int, mean_gap_s: float, seed: int, interval_s: float = 0.0) -> dict[str, float]:
    rng = random.Random(seed)
    net = build(nodes, per_rack, 1 * GBIT, 10 * GBIT, interval_s)
    arrivals = []
    t = 0.0
    for fid in range(flows):
        t += rng.expovariate(1.0 / mean_gap_s) if mean_gap_s > 0 else 0.0
        src = rng.randrange(nodes)
        dst = rng.randrange(nodes - 1)
        dst += dst >= src
        size = rng.lognormvariate(17.0, 1.0)  # median ~24 MB
        arrivals.append((t, fid, src, dst, size))
    started = time.process_time()
    finished = 0
    completion_sum = 0.0
    events = 0
    peak = 0
    i = 0
    while i < len(arrivals) or net.active_flows:
        nxt = net.next_completion()
        if i < len(arrivals) and (nxt is None or arrivals[i][0] <= nxt):
            now = arrivals[i][0]
            while i < len(arrivals) and arrivals[i][0] == now:  # same-instant starts share one recompute
                _, fid, src, dst, size = arrivals[i]
                net.start_flow(fid, path(src, dst, per_rack), size, now)
                i += 1
        else:
            now = nxt
        done = net.advance(now)
        finished += len(done)
        completion_sum += now * len(done)
        events += 1
        peak = max(peak, net.active_flows)
    cpu = time.process_time() - started
    assert finished == flows, (finished, flows)
    return {
        "cpu_s": cpu,
        "flows_per_s": flows / cpu,
        "events": events,
        "peak_concurrent": peak,
        "sim_s": now,
        "refilled_per_event": net.recomputed_flows / events,
        "mean_completion_s": completion_sum / flows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--per-rack", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="also run all flows at t=0 exactly (minutes)")
    args = parser.parse_args()
    print(f"two-level tree: {args.nodes} nodes, {args.per_rack}/rack, 1 Gbit/s NICs, 10 Gbit/s rack uplinks")
    cases = [
        ("poisson arrivals (2 ms), exact", args.flows, 0.002, 0.0),
        ("all start at t=0, exact", args.flows // 5, 0.0, 0.0),
        ("all start at t=0, exact", args.flows // 2, 0.0, 0.0),
        ("all start at t=0, interval 10 ms", args.flows, 0.0, 0.01),
        ("all start at t=0, interval 100 ms", args.flows, 0.0, 0.1),
    ]
    if args.full:
        cases.insert(3, ("all start at t=0, exact", args.flows, 0.0, 0.0))
    for label, flows, gap, interval in cases:
        r = run(flows, args.nodes, args.per_rack, gap, args.seed, interval)
        print(
            f"{label:34s} {flows:5d} flows: {r['cpu_s']:7.2f} s CPU {r['flows_per_s']:7.0f} flows/s | "
            f"{r['events']} events, peak {r['peak_concurrent']} concurrent, "
            f"{r['refilled_per_event']:.0f} re-filled/event, mean completion {r['mean_completion_s']:.3f} s (simulated)"
        )


if __name__ == "__main__":
    main()
