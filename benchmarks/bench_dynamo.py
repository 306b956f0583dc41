"""Dynamo speed: a million YCSB operations against a 100-node Dynamo (target: < 60 s wall, 2 cores).

Runs through the real harness path (config composition, validation, the sim backend, the
record) with YCSB workload A by default: 50% reads, 50% updates (each update is a get then
a put, as Dynamo's context-carrying API needs), zipfian keys, open loop at 50,000 ops/s on
100 x86_server nodes in 4 racks, N=3 R=2 W=2, every mechanism on (hinted handoff,
read repair, Merkle anti-entropy every 10 simulated seconds) and the full operation history
kept and checked. Prints wall time, CPU time, operations, simulated throughput, simulation
events and peak RSS.

The machine may be shared: the script also times a fixed pure-Python loop before and after
the run and prints the run's wall time in units of that loop, a figure that moves much less
with the machine's load than seconds do.

    python benchmarks/bench_dynamo.py [--ops 1000000] [--records 100000] [--preset a] [--rate 50000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from harness.testing import metrics_of, run_config

BASELINE_ITERATIONS = 5_000_000


def baseline_loop() -> float:
    """Wall seconds of a fixed pure-Python loop: the machine's speed right now."""
    start = time.perf_counter()
    total = 0
    for i in range(BASELINE_ITERATIONS):
        total += i % 7
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--preset", default="a")
    parser.add_argument("--rate", type=float, default=50_000.0, help="open-loop target, operations/s")
    parser.add_argument("--nodes-preset", default="dynamo_100")
    parser.add_argument("overrides", nargs="*", help="extra harness overrides, e.g. system.anti_entropy=false")
    args = parser.parse_args()
    overrides = [
        "system=dynamo", "workload=ycsb", f"cluster={args.nodes_preset}", "hardware=x86_server", "rerun=true",
        f"workload.preset={args.preset}", f"workload.operation_count={args.ops}",
        f"workload.record_count={args.records}", f"workload.target_ops_per_s={args.rate}", "workload.threads=100",
        "backend.timeout_s=3600", *args.overrides,
    ]
    print("run:", " ".join(overrides))
    before = baseline_loop()
    with tempfile.TemporaryDirectory() as tmp:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        record = run_config(overrides, Path(tmp))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    after = baseline_loop()
    if record["status"] != "ok":
        raise SystemExit(f"run {record['status']}: {record['error']}")
    m = {name: value for name, (value, _unit) in metrics_of(record).items()}
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loop = (before + after) / 2
    print(f"operations         {m['ops_ok'] + m['ops_failed']:,.0f} ({m['ops_ok']:,.0f} ok)")
    print(f"wall time          {wall:.1f} s   (CPU {cpu:.1f} s)")
    print(f"wall / baseline    {wall / loop:.1f} baseline loops "
          f"(one loop = {BASELINE_ITERATIONS:,} iterations, {before:.2f} s before, {after:.2f} s after)")
    print(f"ops per wall s     {m['ops_ok'] / wall:,.0f}")
    print(f"simulated          {m['measured_span']:.1f} s of load, {m['makespan']:.1f} s with settling; "
          f"throughput {m['throughput']:,.0f} ops/s, p50 {m['latency_p50'] * 1e3:.2f} ms, "
          f"p99.9 {m['latency_p999'] * 1e3:.2f} ms (simulated)")
    print(f"checker            {m['reads_checked']:,.0f} reads checked, {m['consistency_violations']:.0f} violations, "
          f"{m['acked_writes_lost']:.0f} of {m['acked_writes']:,.0f} acknowledged writes lost")
    print(f"simulation events  {m['sim_events']:,.0f}")
    print(f"peak RSS           {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
