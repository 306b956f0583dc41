"""Gains of each deployment strategy over stock Docker, from a sweep's records.

    python -m plugins.edge.deploy.gains SWEEP_DIR [--plot docs/img/deploy-gains-rpi3.png]

Reads every ``record.json`` under SWEEP_DIR (a ``harness -m system=docker_pull,... cluster=deploy_...``
sweep), prints one Markdown row per (hardware, cluster) with the stock deployment time and
each strategy's saving in percent, and optionally plots savings against link bandwidth.
The figures are simulated; the table says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.results.record import load_records, metric_value

STRATEGIES = ("docker_pull_seq", "docker_pull_mt", "docker_pull_pipe", "docker_pi")
LABELS = {"docker_pull_seq": "sequential download", "docker_pull_mt": "multi-threaded gunzip",
          "docker_pull_pipe": "pipelining", "docker_pi": "all three"}
LINKS = ("deploy_256kbps", "deploy_1mbps", "deploy_10mbps", "deploy_100mbps", "deploy_1gbps")


def deploy_times(sweep: Path) -> dict[tuple[str, str, str], float]:
    """(hardware, cluster, system choice) -> deployment time, from ok records."""
    out: dict[tuple[str, str, str], float] = {}
    for record in load_records(sweep):
        deploy_time = metric_value(record, "deploy_time")
        if record["status"] != "ok" or deploy_time is None:
            continue
        choices = record.get("choices", {})
        out[(choices.get("hardware"), choices.get("cluster"), choices.get("system"))] = deploy_time
    return out


def gains_table(times: dict[tuple[str, str, str], float]) -> list[tuple[str, str, float, list[float | None]]]:
    rows = []
    for hardware in sorted({k[0] for k in times}):
        for cluster in [c for c in LINKS if (hardware, c, "docker_pull") in times]:
            stock = times[(hardware, cluster, "docker_pull")]
            saved = [(stock - times[(hardware, cluster, s)]) / stock * 100 if (hardware, cluster, s) in times else None
                     for s in STRATEGIES]
            rows.append((hardware, cluster, stock, saved))
    return rows


def markdown(rows: list[tuple[str, str, float, list[float | None]]]) -> str:
    head = "| hardware | link | stock deploy time (s, simulated) | " + " | ".join(LABELS[s] for s in STRATEGIES) + " |"
    rule = "|---|---|---:|" + "---:|" * len(STRATEGIES)
    body = [f"| {h} | {c.removeprefix('deploy_')} | {t:.1f} | " + " | ".join(_percent(g) for g in gains) + " |"
            for h, c, t, gains in rows]
    return "\n".join([head, rule, *body])


def _percent(gain: float | None) -> str:
    return "" if gain is None else f"{gain:.1f}%"


def plot(rows: list[tuple[str, str, float, list[float | None]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hardware = sorted({r[0] for r in rows})
    fig, axes = plt.subplots(1, len(hardware), figsize=(5.5 * len(hardware), 4), sharey=True, squeeze=False)
    for ax, hw in zip(axes[0], hardware):
        mine = [r for r in rows if r[0] == hw]
        names = [r[1].removeprefix("deploy_") for r in mine]
        for i, strategy in enumerate(STRATEGIES):
            ax.plot(names, [r[3][i] for r in mine], marker="o", label=LABELS[strategy])
        ax.set_title(f"{hw}: time saved vs stock Docker")
        ax.set_xlabel("registry link")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("deployment time saved [%]")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("simulated (backend: sim) -- ubuntu_seed image (seed 003)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugins.edge.deploy.gains", description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    times: dict[tuple[str, str, str], float] = {}
    for sweep in args.sweeps:
        times.update(deploy_times(sweep))
    rows = gains_table(times)
    if not rows:
        print("no docker_pull deploy_* records found")
        return 1
    print(markdown(rows))
    if args.plot is not None:
        plot(rows, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
