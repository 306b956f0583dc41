"""Paper-scale MapReduce sort (OSDI'04 section 5.3) on the simulated 1,800-node cluster.

    python benchmarks/bench_mapreduce_sort.py            # the normal run (Figure 3a)
    python benchmarks/bench_mapreduce_sort.py --all      # + no backups, 200 killed, grep
    python benchmarks/bench_mapreduce_sort.py --cli      # through the `harness` command

Each run executes in a fresh process, so the peak RSS printed is that run's own
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in the child; with ``--cli``, the largest
child so far). The wall time is the simulation's own (``--cli``: the whole command); the
CPU time (user + system) is less sensitive to other load on a shared machine. Both depend on
the machine: compare them only within one machine. The simulated job time is
deterministic (same config and seed: same number, anywhere).

The issue's budget: under 30 s of wall time and 1.5 GB of memory on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The commands of docs/results.md. Flows are re-balanced every 0.5 simulated seconds
# (backend.network_quantum_s): the exact solver gives the same sort within 0.4% (832.0 s vs
# 829.1 s, no faults) at 1.7x the wall time.
PAPER = ["hardware=server_2004", "cluster=mapreduce_2004", "system.M=15000", "backend.network_quantum_s=0.5"]
SORT = ["workload=sort", "workload.scale=paper", *PAPER, "system.R=4000", "system.output_replication=2",
        "system.workers=1746"]
GREP = ["workload=grep", "workload.scale=paper", *PAPER, "system.R=1", "system.workers=1764"]

# (label, overrides, the paper's figure in seconds)
RUNS = {
    "normal": (SORT + ["faults=mr2004_stragglers"], 891.0),
    "no_backup": (SORT + ["faults=mr2004_stragglers", "system.backup_tasks=false"], 1283.0),
    "killed_200": (SORT + ["faults=mr2004_kill200"], 933.0),
    "grep": (GREP, 150.0),
}

CHILD = r"""
import json, sys, time
from omegaconf import OmegaConf
from plugins.batch.mapreduce import simkit
args = json.loads(sys.argv[1])
groups = {"workload": "wordcount", "hardware": "rpi3", "cluster": "small_rack", "faults": "none"}
overrides = {}
for item in args:
    key, _, value = item.partition("=")
    if key in groups:
        groups[key] = value
    else:
        overrides[key] = OmegaConf.create({"v": value}).v if value not in ("true", "false") else value == "true"
config = simkit.compose(groups["workload"], hardware=groups["hardware"], cluster=groups["cluster"],
                        faults=groups["faults"], overrides=overrides)
config.backend.timeout_s = 3600
started = time.perf_counter()
result = simkit.run_config(config)
wall = time.perf_counter() - started
import resource
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss,
                  "metrics": result.metrics}))
"""


def run_inprocess(overrides: list[str]) -> tuple[float, float, float, dict[str, float]]:
    """A child Python process running the simulation without Hydra (measures the simulator)."""
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(overrides)], cwd=REPO,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["wall_s"], data["cpu_s"], data["rss_kb"] / 1024, data["metrics"]


def run_cli(overrides: list[str]) -> tuple[float, float, float, dict[str, float]]:
    """The real `harness` command (Hydra composition, validation, results store included)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = subprocess.run(["harness", *overrides, f"results_dir={tmp}", "rerun=true", "backend.timeout_s=3600"],
                             cwd=tmp, capture_output=True, text=True, check=False, env={**os.environ})
        wall = time.perf_counter() - started
        records = sorted(Path(tmp).rglob("record.json"))
        if not records:
            raise SystemExit(out.stderr[-2000:] or out.stdout[-2000:])
        record = json.loads(records[-1].read_text())
        if record["status"] != "ok":
            raise SystemExit(f"run {record['status']}: {record['error']}")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_mb = children.ru_maxrss / 1024  # the largest child so far
        cpu = children.ru_utime + children.ru_stime  # every child so far
        return wall, cpu, rss_mb, {m["name"]: m["value"] for m in record["metrics"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also the no-backup, killed-workers and grep runs")
    parser.add_argument("--cli", action="store_true", help="run through the `harness` command")
    parser.add_argument("runs", nargs="*", choices=[[], *RUNS], help="which runs (default: normal)")
    args = parser.parse_args()
    names = args.runs or (list(RUNS) if args.all else ["normal"])
    runner = run_cli if args.cli else run_inprocess
    print(f"{'run':<11} {'wall [s]':>9} {'CPU [s]':>8} {'peak RSS [MB]':>14} {'simulated [s]':>14} {'paper [s]':>10} "
          f"{'sim/paper':>10} {'events':>9}")
    for name in names:
        overrides, paper = RUNS[name]
        wall, cpu, rss_mb, metrics = runner(overrides)
        simulated = metrics["makespan"]
        print(f"{name:<11} {wall:9.1f} {cpu:8.1f} {rss_mb:14.0f} {simulated:14.1f} {paper:10.0f} {simulated / paper:10.2f} "
              f"{metrics.get('sim_events', float('nan')):9.0f}", flush=True)


if __name__ == "__main__":
    main()
