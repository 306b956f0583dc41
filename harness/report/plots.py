"""Seaborn plots of run records: headline metrics against swept parameters, latency CDFs.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas, not through pyplot's
global state, so reports can be drawn from any thread or process without a display and
without leaking open figures.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.results.record import display_status, run_params

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["PLOT_METRICS", "CdfSeries", "cdf_series", "plot_latency_cdf", "plot_metric", "plot_report"]

# The metrics worth a chart of their own, when runs report them.
PLOT_METRICS: tuple[str, ...] = ("throughput", "latency_p99", "makespan", "cost", "energy")
_MAX_LEGEND = 24
_DPI = 120

Record = Mapping[str, Any]
CdfSeries = tuple[str, list[float], list[float]]  # label, latencies, cumulative fractions


def _figure() -> Figure:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # before seaborn pulls in pyplot; a caller's choice stands
    # Swept values such as "50" are categories on a bar chart on purpose; matplotlib's
    # info-level note about it would otherwise reach the console through Hydra's logging.
    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _ok(records: Sequence[Record]) -> list[Record]:
    # Failed, timed-out and cut-off runs have no figures to draw.
    return [record for record in records if display_status(record) == "ok"]


def _first_seen(values: Sequence[Any]) -> list[Any]:
    order: list[Any] = []
    for value in values:
        if value not in order and not (isinstance(value, float) and math.isnan(value)):
            order.append(value)
    return order


# --- metric vs parameter -------------------------------------------------------------------


def _metric_data(records: Sequence[Record], metric: str, unit: str, param: str) -> pd.DataFrame:
    import pandas as pd

    from harness.results.frame import coerce_param
    from harness.results.record import metric_unit, metric_value

    rows = [
        {**{key: run_params(r).get(key) for key in ("system", param)}, "value": metric_value(r, metric)}
        for r in records
        if metric_unit(r, metric) == unit and metric_value(r, metric) is not None
    ]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(["system", param, "value"])))
    frame[param] = coerce_param(frame[param])
    return frame


def plot_metric(data: pd.DataFrame, metric: str, unit: str, param: str, caption: str, path: Path) -> Path:
    """One chart of ``metric`` against ``param``, one colour per system."""
    import pandas as pd
    import seaborn as sns

    from harness.results.frame import column_name, metric_label

    figure = _figure()
    ax = figure.subplots()
    hue = "system" if param != "system" else None
    hue_order = _first_seen(list(data["system"])) if hue else None
    repeated = data.groupby([param, "system"] if hue else [param], sort=False).size().max() > 1
    errorbar = "sd" if repeated else None  # spread over seeds; a lone sample has none
    numeric = param != "system" and pd.api.types.is_numeric_dtype(data[param]) and data[param].nunique() > 2
    common = {"data": data, "x": param, "y": "value", "hue": hue, "hue_order": hue_order, "errorbar": errorbar}
    if numeric:
        sns.lineplot(**common, marker="o", ax=ax)
    else:
        sns.barplot(**common, order=_first_seen(list(data[param])), ax=ax)
    ax.set_xlabel(param)
    ax.set_ylabel(column_name(metric, unit))
    ax.set_title(f"{metric_label(metric)} vs {param}\n{caption}", fontsize=10)
    figure.savefig(path, dpi=_DPI)
    return path


def _metric_units(records: Sequence[Record], metric: str) -> list[str]:
    from harness.results.record import metric_unit

    return _first_seen([u for r in records if (u := metric_unit(r, metric)) is not None])


# --- latency CDF ---------------------------------------------------------------------------


def cdf_series(
    records: Sequence[Record], params: Sequence[str], distribution: str = "latency"
) -> list[CdfSeries]:
    """One (label, latencies, fractions) per successful run that recorded ``distribution``."""
    series: list[CdfSeries] = []
    for record in _ok(records):
        dist = (record.get("distributions") or {}).get(distribution) or {}
        pairs = dist.get("quantiles") or ()
        points = [(float(v), float(q)) for q, v in pairs if q is not None and v is not None]
        points = [(v, q) for v, q in points if v > 0 and math.isfinite(v)]  # a log axis has no zero
        if points:
            values = run_params(record)
            label = ", ".join(f"{key}={values.get(key)}" for key in params) or str(record.get("run_id"))
            series.append((label, [v for v, _ in points], [q for _, q in points]))
    return _unique_labels(series)


def _unique_labels(series: list[CdfSeries]) -> list[CdfSeries]:
    # Two runs of one configuration would share a legend entry; number the repeats.
    counts: dict[str, int] = {}
    unique = []
    for label, xs, ys in series:
        counts[label] = counts.get(label, 0) + 1
        unique.append((label if counts[label] == 1 else f"{label} (#{counts[label]})", xs, ys))
    return unique


def _distribution_unit(records: Sequence[Record], distribution: str) -> str:
    dists = [(r.get("distributions") or {}).get(distribution) or {} for r in _ok(records)]
    units = {str(dist.get("unit") or "") for dist in dists}
    units.discard("")
    return units.pop() if len(units) == 1 else "s"


def plot_latency_cdf(
    records: Sequence[Record], params: Sequence[str], caption: str, path: Path
) -> Path | None:
    """Latency CDFs, one line per run, on a log time axis; None if no run has a distribution."""
    series = cdf_series(records, params)
    if not series:
        return None
    figure = _figure()
    ax = figure.subplots()
    for label, xs, ys in series:
        ax.step(xs, ys, where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel(f"latency [{_distribution_unit(records, 'latency')}]")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0.0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"latency CDF\n{caption}", fontsize=10)
    if len(series) <= _MAX_LEGEND:
        ax.legend(fontsize=7, loc="lower right")
    figure.savefig(path, dpi=_DPI)
    return path


# --- all of them ---------------------------------------------------------------------------


def plot_report(records: Sequence[Record], out_dir: Path, params: Sequence[str], caption: str) -> list[Path]:
    """Every headline metric against every swept parameter, and the latency CDF."""
    ok = _ok(records)
    axes = [p for p in params if p != "system"] or ["system"]
    paths: list[Path] = []
    for metric in PLOT_METRICS:
        units = _metric_units(ok, metric)
        for unit in units:
            stem = metric if len(units) == 1 else f"{metric}_{_slug(unit)}"
            for param in axes:
                data = _metric_data(ok, metric, unit, param)
                path = out_dir / f"plot_{stem}_vs_{_slug(param)}.png"
                if not data.empty:
                    paths.append(plot_metric(data, metric, unit, param, caption, path))
    cdf = plot_latency_cdf(records, params, caption, out_dir / "latency_cdf.png")
    return paths + ([cdf] if cdf is not None else [])
