"""The Chord sweep plots of docs/results.md, drawn from a sweep's run records.

    python -m plugins.storage.chord.plots path-length SWEEP_DIR [SWEEP_DIR ...] --out docs/img/chord-path-length.png
    python -m plugins.storage.chord.plots failures SWEEP_DIR [SWEEP_DIR ...] --out docs/img/chord-failures.png

``path-length``: mean and 99th-percentile lookup hops against log2 N, one line per
successor-list setting, with the paper's (1/2) log2 N. ``failures``: lookup failure
rate and timeouts per lookup against the fraction of nodes failed at once, one line per
sweep (e.g. before / after stabilization). Every figure is labelled simulated.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def _records(sweep: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in sorted(sweep.rglob("record.json"))]
    return [r for r in found if r.get("status") == "ok"]


def _metrics(record: dict[str, Any]) -> dict[str, float]:
    return {m["name"]: m["value"] for m in record["metrics"]}


def _config(record: dict[str, Any], dotted: str) -> Any:
    node: Any = record["config"]
    for part in dotted.split("."):
        node = node[part]
    return node


def path_length(sweeps: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5), layout="constrained")
    series: dict[int, list[tuple[int, dict[str, float]]]] = {}
    for record in (r for sweep in sweeps for r in _records(sweep)):
        series.setdefault(_config(record, "system.successors"), []).append((_config(record, "system.nodes"), _metrics(record)))
    for r, rows in sorted(series.items()):
        rows.sort(key=lambda row: row[0])
        label = "r = 1 (fingers only)" if r == 1 else ("r = 2 log2 N" if r == 0 else f"r = {r}")
        k = [math.log2(n) for n, _ in rows]
        line, = ax.plot(k, [m["lookup_hops_mean"] for _, m in rows], marker="o", label=f"mean, {label}")
        ax.plot(k, [m["lookup_hops_p99"] for _, m in rows], marker="^", ls="--", color=line.get_color(),
                label=f"99th percentile, {label}")
    ks = range(3, 15)
    ax.plot(list(ks), [0.5 * k for k in ks], color="grey", ls=":", label="(1/2) log2 N (SIGCOMM'01 Fig. 10a)")
    ax.set_xlabel("log2 N (Chord nodes)")
    ax.set_ylabel("lookup path length [hops]")
    ax.set_title("Chord lookup path length vs ring size (simulated)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(out, dpi=120)


def failures(sweeps: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.2), layout="constrained")
    styles = [("o", "-", 9), ("s", "--", 6), ("^", ":", 6), ("D", "-.", 5)]  # lines that coincide stay visible
    for index, sweep in enumerate(sweeps):
        marker, ls, size = styles[index % len(styles)]
        records = _records(sweep)
        if not records:
            continue
        first = records[0]
        label = ("with stabilization" if _config(first, "system.maintenance") else "before stabilization") + \
            f", r = {_config(first, 'system.successors')}"
        rows = sorted((_config(r, "workload.fail_fraction"), _metrics(r)) for r in records)
        p = [f for f, _ in rows]
        style = dict(marker=marker, ls=ls, markersize=size, label=label)
        left.plot(p, [m["lookup_failure_rate"] for _, m in rows], **style)
        right.plot(p, [m["lookup_timeouts_mean"] for _, m in rows], **style)
    left.plot([0, 0.5], [0, 0.5], color="grey", ls=":", label="keys lost with their node (= p)")
    left.set_xlabel("fraction of nodes failed at once (p)")
    left.set_ylabel("lookup failure rate")
    right.set_xlabel("fraction of nodes failed at once (p)")
    right.set_ylabel("timeouts per lookup")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Chord lookups after a simultaneous failure, N = 1,000 (simulated)")
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("path-length", "failures"))
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    (path_length if args.kind == "path-length" else failures)(args.sweeps, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
