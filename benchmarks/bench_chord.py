"""Chord at scale: a 10,000-node ring serving 100,000 lookups (issue 5's speed target:
under a minute of wall time on 2 cores). Prints wall time, lookups, simulation events,
events/s and peak RSS; the speed target lives here, never in a timed unit test.

The run goes through the same path as ``harness system=chord workload=chord_lookups ...``
(compose, validate, simulate, summarise, write the record). The ring starts from its
stable state computed from the sorted ids (``system.build=stable``; a test checks the
protocol converges to exactly those tables), every hop of a lookup is one simulation
event, and the periodic maintenance runs at the paper's 30 s mean period throughout.

    python benchmarks/bench_chord.py [--nodes 10000] [--lookups 100000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from harness.testing import metrics_of, run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000, help="Chord nodes in the ring")
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2_000.0, help="lookups per simulated second (Poisson)")
    parser.add_argument("--cluster", default="two_tier", help="machines hosting the virtual nodes (80 on two_tier)")
    parser.add_argument("--hardware", default="x86_server")
    parser.add_argument("--period", type=float, default=30.0, help="mean stabilize/fix_fingers/check_predecessor period, s")
    parser.add_argument("--keys", type=int, default=0, help="keys stored (hashed for the load-balance count); 0: 100 per node")
    parser.add_argument("--extra", nargs="*", default=[], help="more harness overrides")
    args = parser.parse_args()
    overrides = [
        "system=chord", "workload=chord_lookups", f"cluster={args.cluster}", f"hardware={args.hardware}",
        f"system.nodes={args.nodes}", f"workload.lookups={args.lookups}", f"workload.rate_per_s={args.rate}",
        f"system.stabilize_s={args.period}", f"system.fix_fingers_s={args.period}",
        f"system.check_predecessor_s={args.period}", f"workload.keys={args.keys}", "rerun=true", *args.extra,
    ]
    print("scenario:", " ".join(overrides))
    with tempfile.TemporaryDirectory() as tmp:
        started, cpu_started = time.perf_counter(), time.process_time()
        record = run_config(overrides, Path(tmp))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if record["status"] != "ok":
        raise SystemExit(f"run {record['status']}: {record['error']}")
    m = {name: value for name, (value, _unit) in metrics_of(record).items()}
    events = m["sim_events"]
    print(f"wall time:          {wall:8.2f} s (compose + build the ring + simulate + record)")
    print(f"CPU time:           {cpu:8.2f} s (wall well above CPU means other processes shared the cores)")
    print(f"lookups:            {m['lookups_issued']:8.0f} issued, {m['lookups_correct']:.0f} correct, "
          f"failure rate {m['lookup_failure_rate']:.4f}")
    print(f"path length:        mean {m['lookup_hops_mean']:.2f} hops, p99 {m['lookup_hops_p99']:.0f} "
          f"(1/2 log2 N = {0.5 * (args.nodes).bit_length():.1f})")
    print(f"lookup latency:     p50 {m['latency_p50'] * 1e3:.2f} ms, p99 {m['latency_p99'] * 1e3:.2f} ms (simulated)")
    print(f"load balance:       {m['keys_per_node_mean']:.0f} keys per node on average, 99th percentile "
          f"{m['keys_per_node_p99'] / m['keys_per_node_mean']:.1f}x, max {m['keys_per_node_max_over_mean']:.1f}x the mean")
    print(f"events:             {events:8.0f} ({events / wall:,.0f} events/s of wall time)")
    print(f"messages:           {m['lookup_messages']:.0f} lookup, {m['maintenance_messages']:.0f} maintenance")
    print(f"simulated time:     {m['makespan']:8.1f} s")
    print(f"peak RSS:           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")


if __name__ == "__main__":
    main()
