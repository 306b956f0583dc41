"""GFS at the paper's micro-benchmark scale: simulated results next to the paper's, and
how long the simulator takes (wall time, events per second).

    python benchmarks/bench_gfs.py                 # 16 readers and 16 appenders, printed
    python benchmarks/bench_gfs.py --figure3 docs/img/gfs-figure3.png --reads 64

``--figure3`` runs the Figure 3 sweeps (1..16 clients: reads, writes, record appends) on
``cluster=gfs_2003`` in-process, with exactly the configs the ``harness -m`` commands in
docs/results.md use (same YAML, same seed: the same numbers), and plots them with the
paper's reported points and the network limits. Simulated figures, not measurements.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

from plugins.storage.gfs import simkit

CLIENTS = (1, 2, 4, 8, 16)
# GFS paper (SOSP 2003) 6.1, the values stated in the text for 1 and 16 clients, MB/s.
PAPER = {"read": {1: 10.0, 16: 94.0}, "write": {1: 6.3, 16: 35.0}, "append": {1: 6.0, 16: 4.8}}
LIMIT = {"read": lambda n: min(12.5 * n, 125.0), "write": lambda n: min(12.5 * n, 67.0),
         "append": lambda n: 12.5}


def overrides(kind: str, n: int, per_client: int) -> tuple[str, dict[str, Any]]:
    if kind == "read":
        return "gfs_reads", {"workload.clients": n, "workload.file_mib": 327680.0,
                             "workload.reads_per_client": per_client}
    if kind == "write":
        return "gfs_writes", {"workload.clients": n, "workload.pattern": "sequential", "workload.write_kib": 1024.0,
                              "workload.writes_per_client": per_client}
    return "gfs_appends", {"workload.producers": n, "workload.consumers": 0, "workload.record_kib": 1024.0,
                           "workload.records_per_producer": per_client}


def run(kind: str, n: int, per_client: int) -> tuple[float, float, float]:
    workload, ov = overrides(kind, n, per_client)
    began = time.perf_counter()
    metrics = simkit.run(workload, hardware="gfs_2003", cluster="gfs_2003", overrides=ov).metrics
    wall = time.perf_counter() - began
    return metrics[f"{kind}_MBps"], wall, metrics["sim_events"]


def figure3(path: Path, per_client: dict[str, int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True)
    for ax, kind, title in zip(axes, ("read", "write", "append"), ("(a) Reads", "(b) Writes", "(c) Record appends")):
        rates = []
        for n in CLIENTS:
            rate, wall, events = run(kind, n, per_client[kind])
            rates.append(rate)
            print(f"{kind:6s} clients={n:2d}  {rate:7.2f} MB/s (simulated)  wall {wall:5.1f} s  {events:9.0f} events")
        ax.plot(CLIENTS, rates, "o-", label="simulated (gfs_2003)")
        ax.plot(CLIENTS, [LIMIT[kind](n) for n in CLIENTS], "--", color="grey", label="network limit")
        paper = PAPER[kind]
        ax.plot(list(paper), list(paper.values()), "s", color="black", label="paper (text, 6.1)")
        ax.set_title(title)
        ax.set_xlabel("number of clients N")
        ax.set_xticks(CLIENTS)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("aggregate rate (MB/s)")
    axes[0].legend(fontsize=8)
    fig.suptitle("GFS micro-benchmarks (SOSP 2003, Figure 3) on the simulated paper cluster: 16 chunkservers, "
                 "100 Mbit/s NICs, 1 Gbit/s between switches", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figure3", type=Path, default=None, help="run the full sweeps and write this PNG")
    parser.add_argument("--reads", type=int, default=64, help="4 MiB reads per client (paper: 256)")
    parser.add_argument("--writes", type=int, default=64, help="1 MiB writes per client (paper: 1,024)")
    parser.add_argument("--appends", type=int, default=64, help="1 MiB record appends per client")
    args = parser.parse_args()
    per_client = {"read": args.reads, "write": args.writes, "append": args.appends}
    if args.figure3:
        figure3(args.figure3, per_client)
    else:
        for kind in ("read", "append"):
            rate, wall, events = run(kind, 16, per_client[kind])
            print(f"{kind}: 16 clients  {rate:.2f} MB/s simulated (paper {PAPER[kind][16]})  "
                  f"wall {wall:.1f} s  {events / wall:,.0f} events/s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
