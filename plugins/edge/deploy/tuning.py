"""The OS-tuning table: what swappiness and SD-card tuning buy, from a sweep's records.

    python -m plugins.edge.deploy.tuning SWEEP_DIR... [--plot docs/img/deploy-tuning.png]

SWEEP_DIR is a ``harness -m system=docker_pull workload=image_pull,memory_tight
hardware=rpi3,rpi3_tuned hardware.memory.swappiness=1,60,100 ...`` sweep (any subset). One
Markdown row per run: deployment time (pull, and pull + sync) and bytes, request latency, file data re-read from the
SD card, swap traffic, device bytes programmed. The figures are simulated.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from harness.results.record import load_records

MB = 1e6
COLUMNS = (  # (header, metric, scale)
    ("deploy time (s)", "deploy_time", 1.0),
    ("deploy + sync (s)", "deploy_sync_time", 1.0),
    ("deploy disk busy (s)", "deploy_disk_busy", 1.0),
    ("request p50 (ms)", "latency_request_p50", 1e-3),
    ("request p99 (ms)", "latency_request_p99", 1e-3),
    ("files re-read (MB)", "service_disk_read_bytes", MB),
    ("swapped out (MB)", "swap_out_bytes", MB),
    ("swapped in (MB)", "swap_in_bytes", MB),
    ("disk read (MB)", "disk_read_bytes", MB),
    ("disk written (MB)", "disk_write_bytes", MB),
    ("SD programmed (MB)", "device_write_bytes", MB),
)


def rows(sweeps: list[Path]) -> list[dict[str, Any]]:
    out = []
    for sweep in sweeps:
        for record in load_records(sweep):
            if record["status"] != "ok":
                continue
            config = record.get("config", {})
            metrics = {m["name"]: m["value"] for m in record.get("metrics", [])}
            workload = config["workload"]["name"]
            if config["workload"].get("deploy") is False:
                workload += " (no deployment)"
            out.append({"workload": workload, "hardware": config["hardware"]["name"],
                        "swappiness": int(config["hardware"]["memory"]["swappiness"]), "metrics": metrics})
    return sorted(out, key=lambda r: (r["workload"], r["hardware"], r["swappiness"]))


def markdown(table: list[dict[str, Any]]) -> str:
    head = "| workload | SD card | swappiness | " + " | ".join(c[0] for c in COLUMNS) + " |"
    rule = "|---|---|---:|" + "---:|" * len(COLUMNS)
    lines = [head, rule]
    for row in table:
        cells = [_cell(row["metrics"].get(metric), scale) for _h, metric, scale in COLUMNS]
        card = "aligned, 32 KiB blocks" if row["hardware"] == "rpi3_tuned" else "stock (misaligned, 4 KiB)"
        lines.append(f"| {row['workload']} | {card} | {row['swappiness']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None, scale: float) -> str:
    if value is None or math.isnan(value):
        return ""
    return f"{value / scale:.1f}" if value / scale < 100 else f"{value / scale:.0f}"


def plot(table: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = sorted({r["workload"] for r in table})
    panels = (("files re-read from disk (MB)", "service_disk_read_bytes", MB),
              ("swapped out (MB)", "swap_out_bytes", MB), ("request p99 (s)", "latency_request_p99", 1.0))
    fig, axes = plt.subplots(len(workloads), len(panels), figsize=(13, 3.2 * len(workloads)), squeeze=False)
    for i, workload in enumerate(workloads):
        mine = [r for r in table if r["workload"] == workload]
        for j, (label, metric, scale) in enumerate(panels):
            ax = axes[i][j]
            for hardware in sorted({r["hardware"] for r in mine}):
                same = [r for r in mine if r["hardware"] == hardware]
                values = [r["metrics"].get(metric, math.nan) / scale for r in same]
                ax.plot([r["swappiness"] for r in same], values, marker="o", label=hardware)
            ax.set_title(f"{workload}: {label}", fontsize=9)
            ax.set_xlabel("vm.swappiness")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("simulated (backend: sim) -- rpi3 stock SD card vs rpi3_tuned (aligned, 32 KiB blocks)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.edge.deploy.tuning", description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    table = rows(args.sweeps)
    if not table:
        print("no records found")
        return 1
    print(markdown(table))
    if args.plot is not None:
        plot([r for r in table if r["workload"].startswith("memory_tight")], args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
