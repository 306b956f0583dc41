"""Tables, frames and plots from run records."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.report import report, report_main
from harness.report.plots import cdf_series
from harness.results.frame import swept_params, tidy, wide
from harness.results.record import write_record

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_record(job: int, system: str, hardware: str, *, status: str = "ok", simulated: bool = True) -> dict[str, Any]:
    scale = 2.0 if hardware == "rpi3" else 1.0
    quantiles = [[k / 100, 0.01 * scale * (1 + k / 10)] for k in range(101)]
    return {
        "schema": 1,
        "run_id": f"run-{job}",
        "key": f"key-{job}",
        "config_hash": f"hash-{system}-{hardware}",
        "code_version": "c0",
        "config": {},
        "choices": {"system": system, "workload": "wordcount", "hardware": hardware,
                    "cluster": "small_rack", "faults": "none", "backend": "sim" if simulated else "live"},  # fmt: skip
        "overrides": [f"system={system}", f"hardware={hardware}"],
        "seed": 0,
        "backend": "sim" if simulated else "live",
        "simulated": simulated,
        "status": status,
        "error": None if status == "ok" else "Traceback (most recent call last):\nMemoryError: node ran out of memory",
        "reused_from": None,
        "started_at": f"2026-11-22T03:50:{job:02d}Z",
        "wall_time_s": 1.0,
        "job_dir": f"sweep/{job}",
        "sweep_dir": "sweep",
        "metrics": [
            {"name": "throughput", "value": 1000.0 * (job + 1), "unit": "records/s"},
            {"name": "latency_p50", "value": 0.1 * scale, "unit": "s"},
            {"name": "latency_p95", "value": 0.2 * scale, "unit": "s"},
            {"name": "latency_p99", "value": 0.3 * scale, "unit": "s"},
            {"name": "latency_p999", "value": math.nan, "unit": "s"},
            {"name": "makespan", "value": 88.0 / scale, "unit": "s"},
            {"name": "cost", "value": 0.0012 * (job + 1), "unit": "USD"},
            {"name": "energy", "value": 5400.0, "unit": "J"},
            {"name": "map_time", "value": 3.0, "unit": "s"},
        ],
        "distributions": {"latency": {"unit": "s", "count": 1000, "quantiles": quantiles}},
    }


def grid(failed_job: int | None = 3) -> list[dict[str, Any]]:
    """2 systems x 2 hardware profiles; one of them failed."""
    pairs = [("mapreduce", "rpi3"), ("mapreduce", "x86_server"), ("spark", "rpi3"), ("spark", "x86_server")]
    return [make_record(j, s, h, status="failed" if j == failed_job else "ok") for j, (s, h) in enumerate(pairs)]


def write_sweep(root: Path, records: list[dict[str, Any]]) -> Path:
    for job, rec in enumerate(records):
        write_record(root / str(job) / "record.json", rec)
    return root


# --- frames ----------------------------------------------------------------------------------


def test_tidy_has_one_row_per_run_and_metric_with_parameter_columns() -> None:
    records = grid()
    frame = tidy(records)
    assert len(frame) == sum(len(r["metrics"]) for r in records)
    for column in ("run_id", "status", "backend", "simulated", "seed", "system", "workload",
                   "hardware", "cluster", "faults", "metric", "value", "unit"):  # fmt: skip
        assert column in frame.columns
    row = frame[(frame["run_id"] == "run-1") & (frame["metric"] == "cost")].iloc[0]
    assert (row["hardware"], row["unit"]) == ("x86_server", "USD")


def test_tidy_turns_overrides_into_numeric_columns() -> None:
    records = [{**make_record(j, "mapreduce", "rpi3"), "overrides": [f"cluster.nodes={n}"]} for j, n in enumerate((4, 16))]
    frame = tidy(records)
    assert sorted(frame["cluster.nodes"].unique()) == [4, 16]


def test_wide_columns_are_swept_params_status_and_headline_metrics_with_units() -> None:
    frame = wide(grid())
    assert list(frame.columns) == [
        "system", "hardware", "status", "throughput [records/s]", "latency_p50 [s]", "latency_p95 [s]",
        "latency_p99 [s]", "latency_p99.9 [s]", "makespan [s]", "cost [USD]", "energy [J]",
    ]  # fmt: skip
    assert len(frame) == 4
    failed = frame.iloc[3]
    assert failed["status"] == "failed" and pd.isna(failed["throughput [records/s]"])
    assert "map_time [s]" in wide(grid(), all_metrics=True).columns


def test_swept_params_always_include_system() -> None:
    assert swept_params([make_record(0, "spark", "rpi3")]) == ["system"]


def test_wide_omits_makespan_when_no_run_has_it() -> None:
    records = grid()
    for rec in records:
        rec["metrics"] = [m for m in rec["metrics"] if m["name"] != "makespan"]
    assert not any(c.startswith("makespan") for c in wide(records).columns)


# --- report ----------------------------------------------------------------------------------


def test_report_writes_table_csv_markdown_and_plots(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "sweep", grid())
    result = report(sweep, tmp_path / "out")

    lines = result.table_text.splitlines()
    assert lines[0].startswith("simulated (backend: sim)")
    header = next(line for line in lines if line.startswith("system"))
    for column in ("hardware", "status", "throughput [records/s]", "cost [USD]", "energy [J]"):
        assert column in header
    assert "workload" not in header  # not swept
    body = lines[lines.index(header) + 2 : lines.index(header) + 6]
    assert len(body) == 4 and body[3].split()[:3] == ["spark", "x86_server", "failed"]
    assert "MemoryError: node ran out of memory" in result.table_text

    csv = pd.read_csv(result.csv_path)
    assert len(csv) == 4 and list(csv["status"]) == ["ok", "ok", "ok", "failed"]
    assert csv["simulated"].all() and pd.isna(csv.loc[3, "throughput [records/s]"])
    markdown = result.md_path.read_text()
    assert "simulated (backend: sim)" in markdown and "| cost [USD] |" in markdown

    names = {path.name for path in result.plot_paths}
    expected = {"plot_throughput_vs_hardware.png", "plot_latency_p99_vs_hardware.png", "plot_makespan_vs_hardware.png",
                "plot_cost_vs_hardware.png", "plot_energy_vs_hardware.png", "latency_cdf.png"}  # fmt: skip
    assert names == expected
    for path in result.plot_paths:
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_report_formats_four_significant_digits(tmp_path: Path) -> None:
    rec = make_record(0, "spark", "rpi3")
    rec["metrics"][0]["value"] = 1234567.891
    result = report([rec], tmp_path, plots=False)
    assert "1.235e+06" in result.table_text and "1234567" not in result.table_text


def test_single_run_is_plotted_against_system(tmp_path: Path) -> None:
    result = report([make_record(0, "spark", "rpi3")], tmp_path)
    names = {path.name for path in result.plot_paths}
    assert {"plot_throughput_vs_system.png", "latency_cdf.png"} <= names


def test_failed_runs_are_left_out_of_latency_cdf() -> None:
    labels = [label for label, _, _ in cdf_series(grid(), ["system", "hardware"])]
    assert labels == ["system=mapreduce, hardware=rpi3", "system=mapreduce, hardware=x86_server",
                      "system=spark, hardware=rpi3"]  # fmt: skip


def test_mixed_backends_get_a_backend_column(tmp_path: Path) -> None:
    records = [make_record(0, "spark", "rpi3"), make_record(1, "spark", "rpi3", simulated=False)]
    result = report(records, tmp_path, plots=False)
    assert result.table_text.startswith("mixed simulated and measured")
    assert "backend" in result.table_text.splitlines()[2]


def test_report_main_prints_table_and_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "sweep", grid())
    assert report_main([str(sweep), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "throughput [records/s]" in out and str(tmp_path / "out" / "table.csv") in out


def test_report_main_without_records_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert report_main([str(tmp_path / "empty")]) == 2
    assert report_main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no run records" in err[0]
