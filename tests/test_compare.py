"""The CI regression gate: ``harness compare BASE CURRENT``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.compare import Tolerances, WallPolicy, compare_main, compare_records, metric_direction
from harness.results.record import write_record


def make_record(job: int, system: str, *, wall: float = 1.0, status: str = "ok", simulated: bool = True) -> dict[str, Any]:
    return {
        "schema": 1,
        "run_id": f"{system}-{job}",
        "key": f"key-{system}",
        "config_hash": f"hash-{system}",
        "code_version": "c0",
        "config": {},
        "choices": {"system": system, "workload": "wordcount", "hardware": "rpi3"},
        "overrides": [f"system={system}"],
        "seed": 0,
        "backend": "sim" if simulated else "live",
        "simulated": simulated,
        "status": status,
        "error": None if status == "ok" else "boom",
        "reused_from": None,
        "started_at": "2026-11-22T03:50:12Z",
        "wall_time_s": wall,
        "job_dir": f"suite/{job}",
        "sweep_dir": "suite",
        "metrics": [
            {"name": "throughput", "value": 1000.0, "unit": "records/s"},
            {"name": "latency_p99", "value": 0.25, "unit": "s"},
            {"name": "cost", "value": 0.0012, "unit": "USD"},
        ],
    }


def suite() -> list[dict[str, Any]]:
    return [make_record(0, "mapreduce"), make_record(1, "spark"), make_record(2, "pregel")]


def write_dir(root: Path, records: list[dict[str, Any]]) -> Path:
    for job, rec in enumerate(records):
        write_record(root / str(job) / "record.json", rec)
    return root


def set_metric(rec: dict[str, Any], name: str, value: float) -> dict[str, Any]:
    out = copy.deepcopy(rec)
    next(m for m in out["metrics"] if m["name"] == name)["value"] = value
    return out


def test_identical_results_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, current = write_dir(tmp_path / "base", suite()), write_dir(tmp_path / "cur", suite())
    assert compare_main([str(base), str(current)]) == 0
    assert "OK" in capsys.readouterr().out


def test_perturbed_metric_exits_1_and_names_run_and_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = suite()
    records[1] = set_metric(records[1], "latency_p99", 0.2500001)
    base, current = write_dir(tmp_path / "base", suite()), write_dir(tmp_path / "cur", records)
    markdown = tmp_path / "pr.md"
    assert compare_main([str(base), str(current), "--markdown", str(markdown)]) == 1
    regression = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REGRESSION")]
    assert len(regression) == 1 and "latency_p99" in regression[0] and "system=spark" in regression[0]
    assert "| latency_p99 |" in markdown.read_text()


def test_tolerance_admits_small_changes(tmp_path: Path) -> None:
    records = [set_metric(r, "latency_p99", 0.26) for r in suite()]  # +4%
    base, current = write_dir(tmp_path / "base", suite()), write_dir(tmp_path / "cur", records)
    assert compare_main([str(base), str(current), "--metric-tolerance", "latency_*=0.05"]) == 0
    assert compare_main([str(base), str(current), "--tolerance", "0.01"]) == 1


def test_missing_runs_exit_2_and_are_all_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = make_record(3, "dynamo")
    base = write_dir(tmp_path / "base", suite())
    current = write_dir(tmp_path / "cur", [suite()[0], extra])
    assert compare_main([str(base), str(current)]) == 2
    out = capsys.readouterr().out
    assert "only in BASE (missing from CURRENT): system=spark" in out
    assert "only in BASE (missing from CURRENT): system=pregel" in out
    assert "only in CURRENT (not in BASE): system=dynamo" in out


def test_unusable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    base = write_dir(tmp_path / "base", suite())
    assert compare_main([str(tmp_path / "nowhere"), str(base)]) == 2
    assert compare_main([str(base), str(tmp_path / "empty")]) == 2
    assert compare_main([str(base), str(base), "--metric-tolerance", "oops"]) == 2
    err = capsys.readouterr().err
    assert "no such file or directory" in err and "no run records" in err


def test_wall_time_differences_alone_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = [make_record(j, r["choices"]["system"], wall=50.0) for j, r in enumerate(suite())]
    base, current = write_dir(tmp_path / "base", suite()), write_dir(tmp_path / "cur", slow)
    assert compare_main([str(base), str(current)]) == 0
    assert "50x" in capsys.readouterr().out  # shown, as advice


def repeats(walls: list[float], system: str = "mapreduce") -> list[dict[str, Any]]:
    """One config run len(walls) times (fresh), one wall-clock sample each."""
    return [dict(make_record(j, system, wall=w), run_id=f"{system}-rep{j}") for j, w in enumerate(walls)]


FAST = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03]
SLOW = [1.30, 1.28, 1.33, 1.31, 1.29, 1.35]  # ~30% slower, no overlap with FAST


def test_significant_wall_slowdown_fails_only_when_gated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, current = write_dir(tmp_path / "base", repeats(FAST)), write_dir(tmp_path / "cur", repeats(SLOW))
    assert compare_main([str(base), str(current)]) == 0  # advisory by default...
    out = capsys.readouterr().out
    assert "slower" in out and "6/6" in out
    assert compare_main([str(base), str(current), "--wall-tolerance", "0.1"]) == 1  # ...a regression when gated
    regression = [line for line in capsys.readouterr().out.splitlines() if line.startswith("REGRESSION")]
    assert len(regression) == 1 and "wall time 1.3" in regression[0]
    assert compare_main([str(base), str(current), "--wall-tolerance", "0.5"]) == 0  # within the allowance


def test_faster_runs_never_fail_the_wall_gate() -> None:
    result = compare_records(repeats(SLOW), repeats(FAST), wall=WallPolicy(tolerance=0.0))
    assert result.runs[0].wall.verdict == "faster" and result.exit_code == 0


def test_noise_is_not_a_slowdown() -> None:
    # The current median is 20% higher but the samples overlap: no significant change.
    noisy_base = [1.0, 1.5, 0.8, 1.3, 0.9, 1.6]
    noisy_current = [1.2, 1.6, 0.9, 1.5, 1.0, 1.4]
    wall = compare_records(repeats(noisy_base), repeats(noisy_current), wall=WallPolicy(tolerance=0.1)).runs[0].wall
    assert wall.ratio is not None and wall.ratio > 1.1
    assert wall.verdict == "no significant change" and not wall.regressed


def test_wall_time_is_never_judged_from_too_few_samples() -> None:
    gated = WallPolicy(tolerance=0.0, min_samples=5)
    result = compare_records(repeats(FAST[:4]), repeats([50.0] * 4), wall=gated)
    assert result.runs[0].wall.verdict == "too few samples" and result.exit_code == 0
    # A reused record measured nothing: it is not a sample.
    reused = [dict(r, reused_from="elsewhere") for r in repeats([50.0] * 6)]
    result = compare_records(repeats(FAST), reused, wall=gated)
    assert result.runs[0].wall.current == () and result.exit_code == 0


def test_single_record_files_can_be_compared(tmp_path: Path) -> None:
    base = write_dir(tmp_path / "base", suite()[:1]) / "0" / "record.json"
    current = write_dir(tmp_path / "cur", [set_metric(suite()[0], "cost", 0.002)]) / "0" / "record.json"
    assert compare_main([str(base), str(current)]) == 1


def test_direction_rules() -> None:
    assert metric_direction("throughput") == "higher"
    assert metric_direction("throughput[rpi3]") == "higher"
    for name in ("latency_p99", "makespan", "cost", "cost[rpi3]", "energy", "bytes_shuffled"):
        assert metric_direction(name) == "lower"


def test_every_change_is_shown_but_only_bad_ones_fail() -> None:
    current = [set_metric(suite()[0], "throughput", 1100.0), set_metric(suite()[1], "throughput", 900.0), suite()[2]]
    result = compare_records(suite(), current)
    changed = {(c.run.split()[0], c.verdict) for c in result.changes if c.verdict != "unchanged"}
    assert changed == {("system=mapreduce", "improved"), ("system=spark", "regression")}
    assert result.exit_code == 1
    assert compare_records(suite(), current, Tolerances(default=0.2)).exit_code == 0


def test_run_that_stopped_working_is_a_regression() -> None:
    current = [make_record(0, "mapreduce", status="failed"), *suite()[1:]]
    result = compare_records(suite(), current)
    assert [pair.run.split()[0] for pair in result.regressed_runs] == ["system=mapreduce"]
    assert result.exit_code == 1


def test_metric_missing_from_current_is_a_regression() -> None:
    current = copy.deepcopy(suite())
    current[0]["metrics"] = current[0]["metrics"][:2]
    result = compare_records(suite(), current)
    assert [(c.metric, c.note) for c in result.regressions] == [("cost", "missing from current")]


def test_measured_metrics_are_advisory() -> None:
    base = [make_record(0, "mapreduce", simulated=False)]
    current = [set_metric(base[0], "latency_p99", 0.5)]
    result = compare_records(base, current)
    assert result.exit_code == 0
    assert [c.verdict for c in result.changes if c.metric == "latency_p99"] == ["advisory"]
