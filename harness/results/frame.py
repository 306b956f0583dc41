"""Run records as pandas frames: tidy (one row per run x metric) and wide (one per run)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from harness.results.record import CHOICE_KEYS, display_status, metric_unit, metric_value, run_params

__all__ = [
    "HEADLINE_METRICS",
    "PROVENANCE_COLUMNS",
    "metric_label",
    "column_name",
    "coerce_param",
    "metric_columns",
    "swept_params",
    "tidy",
    "wide",
]

# The metrics a table shows by default, in this order.
HEADLINE_METRICS: tuple[str, ...] = (
    "throughput", "latency_p50", "latency_p95", "latency_p99", "latency_p999",
    "makespan", "cost", "energy",
)  # fmt: skip
_LABELS: dict[str, str] = {"latency_p999": "latency_p99.9"}
_TIDY_FIXED: tuple[str, ...] = ("run_id", "status", "backend", "simulated", "seed", *CHOICE_KEYS[:-1])
_TIDY_TAIL: tuple[str, ...] = ("metric", "value", "unit")
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "key", "config_hash", "code_version", "started_at", "wall_time_s",
    "sweep_dir", "record_path", "job_dir", "reused_from", "error",
)  # fmt: skip

Record = Mapping[str, Any]


def metric_label(name: str) -> str:
    """How a metric is named in a table header (``latency_p999`` reads as p99.9)."""
    return _LABELS.get(name, name)


def column_name(name: str, unit: str | None) -> str:
    """A header that carries its unit: ``throughput [records/s]``."""
    label = metric_label(name)
    return f"{label} [{unit}]" if unit else label


def coerce_param(series: pd.Series) -> pd.Series:
    # Override values arrive as command-line strings; numbers should sort and plot as numbers.
    # A column mixing numbers and words stays text (a mixed column cannot go to Parquet).
    present = series.dropna()
    if present.empty:
        return series
    try:
        pd.to_numeric(present, errors="raise")
    except (ValueError, TypeError):
        return series.map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return pd.to_numeric(series, errors="coerce")


def _param_keys(params: Sequence[Mapping[str, Any]], reserved: Iterable[str]) -> list[str]:
    taken = set(reserved)
    keys: list[str] = []
    for run in params:
        keys.extend(key for key in run if key not in taken and key not in keys)
    return keys


def _run_columns(record: Record, params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": record.get("run_id"),
        "status": display_status(record),
        "backend": record.get("backend") or params.get("backend"),
        "simulated": record.get("simulated"),
        **{key: params.get(key) for key in ("seed", *CHOICE_KEYS[:-1])},
    }


def _metric_rows(record: Record) -> list[tuple[str | None, float | None, str | None]]:
    rows = [
        (str(entry.get("name")), metric_value(record, str(entry.get("name"))), entry.get("unit"))
        for entry in record.get("metrics") or ()
        if isinstance(entry, Mapping) and entry.get("name") is not None
    ]
    # A run without metrics (failed, cut off) still gets one row, so it is never dropped.
    return rows or [(None, None, None)]


def tidy(records: Iterable[Record], *, provenance: bool = False) -> pd.DataFrame:
    """Long form: run_id, status, backend, simulated, seed, choices, overrides, metric, value, unit.

    Every override key (``key=value`` on the command line) is a column of its own. With
    ``provenance`` the key, hashes, code version, paths and error are added before the
    metric columns.
    """
    records = list(records)
    params = [run_params(record) for record in records]
    extra = _param_keys(params, (*_TIDY_FIXED, *_TIDY_TAIL, *PROVENANCE_COLUMNS))
    more = PROVENANCE_COLUMNS if provenance else ()
    rows = [
        {
            **_run_columns(record, run),
            **{key: run.get(key) for key in extra},
            **{key: record.get(key) for key in more},
            "metric": name,
            "value": value,
            "unit": unit,
        }
        for record, run in zip(records, params)
        for name, value, unit in _metric_rows(record)
    ]
    frame = pd.DataFrame(rows, columns=[*_TIDY_FIXED, *extra, *more, *_TIDY_TAIL])
    for key in ("seed", *extra):
        frame[key] = coerce_param(frame[key])
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    return frame


# --- wide ------------------------------------------------------------------------------


def _varies(values: Sequence[Any]) -> bool:
    return len({repr(value) for value in values}) > 1


def swept_params(records: Sequence[Record]) -> list[str]:
    """The parameters that vary across ``records`` (system always first, always present)."""
    params = [run_params(record) for record in records]
    keys = ["system", *_param_keys(params, ("system",))]
    return [key for key in keys if key == "system" or _varies([run.get(key) for run in params])]


def metric_columns(records: Sequence[Record], all_metrics: bool) -> list[tuple[str, str]]:
    """(metric, unit) pairs to show: headline ones first; a unit split gives two columns."""
    seen: list[tuple[str, str]] = []
    for record in records:
        for entry in record.get("metrics") or ():
            if isinstance(entry, Mapping) and entry.get("name") is not None:
                pair = (str(entry["name"]), str(entry.get("unit") or ""))
                if pair not in seen:
                    seen.append(pair)
    headline = [pair for name in HEADLINE_METRICS for pair in seen if pair[0] == name]
    others = sorted(pair for pair in seen if pair[0] not in HEADLINE_METRICS) if all_metrics else []
    return headline + others


def _cell(record: Record, name: str, unit: str) -> float:
    # Only a run that finished has figures worth showing: a failed run's partial numbers
    # would read as results. A value in another unit belongs to that unit's column.
    if display_status(record) != "ok" or metric_unit(record, name) != unit:
        return math.nan
    value = metric_value(record, name)
    return math.nan if value is None else value


def wide(records: Iterable[Record], *, all_metrics: bool = False) -> pd.DataFrame:
    """One row per run: swept parameters, status, then the headline metrics with units."""
    records = list(records)
    keys = swept_params(records)
    # Columns come from finished runs only: a failed run's partial metrics would add empty ones.
    metrics = metric_columns([r for r in records if display_status(r) == "ok"], all_metrics)
    rows = []
    for record in records:
        params = run_params(record)
        row: dict[str, Any] = {key: params.get(key) for key in keys}
        row["status"] = display_status(record)
        row.update({column_name(name, unit): _cell(record, name, unit) for name, unit in metrics})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*keys, "status", *(column_name(n, u) for n, u in metrics)])
    for key in keys:
        frame[key] = coerce_param(frame[key])
    return frame
