"""The (N, R, W) sweep figure of docs/results.md, drawn from a `harness report --all-metrics` table.

    harness report SWEEP_DIR --all-metrics --no-plots --out /tmp/dynamo-report
    python -m plugins.storage.dynamo.report /tmp/dynamo-report/table.csv docs/img/dynamo-nrw-sweep.png

One column per fault schedule; rows: stale-read ratio, availability and p99 latency for
each (R, W) with N = 3, YCSB A and B side by side. All figures are simulated.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROWS = (("stale_read_ratio", "stale reads / reads", 1.0), ("availability", "availability", 1.0),
        ("latency_p99", "p99 latency [ms]", 1e3))
FAULTS = (("none", "no faults"), ("dynamo_crash", "one node crashed 10 s"), ("dynamo_partition", "2 nodes cut off 10 s"))


def plot(table: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib.figure import Figure

    df = pd.read_csv(table).rename(columns=lambda c: c.split(" [")[0])
    df["RW"] = df["system.R"].astype(str) + "," + df["system.W"].astype(str)
    combos = sorted(df["RW"].unique())
    presets = sorted(df["workload.preset"].unique())
    fig = Figure(figsize=(13, 8.5), dpi=110)
    axes = fig.subplots(len(ROWS), len(FAULTS), sharex=True, sharey="row")
    width = 0.8 / len(presets)
    for col, (fault, title) in enumerate(FAULTS):
        for row, (metric, label, scale) in enumerate(ROWS):
            ax = axes[row][col]
            for i, preset in enumerate(presets):
                sel = df[(df["faults"] == fault) & (df["workload.preset"] == preset)].set_index("RW")
                values = [float(sel.loc[c, metric]) * scale if c in sel.index else float("nan") for c in combos]
                ax.bar([x + i * width - 0.4 + width / 2 for x in range(len(combos))], values, width,
                       label=f"YCSB {preset.upper()}")
            if row == 0:
                ax.set_title(title)
            if col == 0:
                ax.set_ylabel(label)
            if row == len(ROWS) - 1:
                ax.set_xticks(range(len(combos)), combos)
                ax.set_xlabel("R,W  (N = 3)")
            if metric == "availability":
                ax.set_ylim(0.8, 1.005)
            ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend()
    fig.suptitle("Dynamo (N,R,W) sweep on 8 simulated Raspberry Pi 3 nodes, YCSB A/B at 500 ops/s (simulated)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


if __name__ == "__main__":
    plot(Path(sys.argv[1]), Path(sys.argv[2]))
