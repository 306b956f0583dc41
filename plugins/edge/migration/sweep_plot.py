"""The migration sweep plot: downtime, total migration time and the application's lost
work of every strategy for every guest preset, from the records of a ``harness -m`` sweep
(times log-scaled, because downtimes span milliseconds to a minute).

    python -m plugins.edge.migration.sweep_plot SWEEP_DIR OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.results.record import load_records, metric_value, run_params

STRATEGY_ORDER = ("precopy", "hybrid", "postcopy", "stop_and_copy")


PANELS = (("downtime", "downtime [s]", True), ("migration_time", "total migration time [s]", True),
          ("app_slowdown", "application work lost (share)", False))


def rows(sweep: Path) -> list[tuple[Any, ...]]:
    """(workload, strategy, then one value per panel) of every ok run in ``sweep``."""
    out = []
    for record in load_records(sweep):
        if record.get("status") != "ok":
            continue
        params = run_params(record)
        strategy = str(params.get("system.strategy", "precopy"))
        workload = str(params.get("workload", record.get("config", {}).get("workload", {}).get("name", "?")))
        out.append((workload.removeprefix("migrate_"), strategy, *(metric_value(record, m) for m, *_ in PANELS)))
    return out


def plot(sweep: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(sweep)
    records = [r for r in load_records(sweep) if r.get("status") == "ok"]
    where = sorted({f"{r['choices'].get('cluster')} of {r['choices'].get('hardware')}" for r in records})
    workloads = list(dict.fromkeys(w for w, *_ in data))
    strategies = [s for s in STRATEGY_ORDER if any(s == r[1] for r in data)]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.2), dpi=120)
    width = 0.8 / max(1, len(strategies))
    for panel, (ax, (_metric, title, log)) in enumerate(zip(axes, PANELS)):
        column = 2 + panel
        for k, strategy in enumerate(strategies):
            values = [next((r[column] for r in data if r[0] == w and r[1] == strategy), float("nan")) for w in workloads]
            ax.bar([i + (k - (len(strategies) - 1) / 2) * width for i in range(len(workloads))], values, width,
                   label=strategy.replace("_", "-"))
        if log:
            ax.set_yscale("log")
        ax.set_xticks(range(len(workloads)), [w.replace("_", "\n") for w in workloads])
        ax.set_ylabel(title + (" (log)" if log else ""))
        ax.set_title(title.split(" [")[0])
        ax.grid(axis="y", alpha=0.3)
        if panel == 0:
            ax.legend(fontsize=8)
    fig.suptitle(f"Live migration on {', '.join(where)} (simulated)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m plugins.edge.migration.sweep_plot SWEEP_DIR OUT.png")
    print(plot(Path(sys.argv[1]), Path(sys.argv[2])))
