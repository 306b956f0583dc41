"""Sweeps: parallel runs, aggregation, resume, failures recorded, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from conftest import FAST, HARNESS, harness, records


def metrics(record: dict) -> dict:
    return {m["name"]: m["value"] for m in record["metrics"]}


def test_sweep_runs_every_combination_and_writes_a_report(workdir):
    result = harness("-m", *FAST, "seed=1,2", "hardware=rpi3,x86_server", cwd=workdir)
    assert result.returncode == 0, result.stderr
    found = records(workdir / "results" / "sweeps")
    assert len(found) == 4 and all(r["status"] == "ok" for r in found)
    sweep_dir = next((workdir / "results" / "sweeps").iterdir())
    assert (sweep_dir / "table.csv").exists() and (sweep_dir / "table.md").exists()
    assert list(sweep_dir.glob("*.png")), "a sweep writes plots"
    assert "cost" in result.stdout and "hardware" in result.stdout
    assert "4/4 done" in result.stderr, "progress line"


def test_rerun_reuses_finished_runs_whatever_the_order(workdir):
    first = harness("-m", *FAST, "seed=1,2,3", cwd=workdir)
    assert first.returncode == 0, first.stderr
    second = harness("-m", *FAST, "seed=3,2,1", cwd=workdir)
    assert second.returncode == 0, second.stderr
    assert "3 reused" in second.stdout
    by_seed = {}
    for r in records(workdir / "results" / "sweeps"):
        by_seed.setdefault(r["seed"], []).append(r)
    for seed, pair in by_seed.items():
        assert len(pair) == 2
        assert metrics(pair[0]) == metrics(pair[1])
        assert sum(1 for r in pair if r["reused_from"]) == 1


def test_rerun_true_runs_again(workdir):
    assert harness(*FAST, cwd=workdir).returncode == 0
    again = harness(*FAST, "rerun=true", cwd=workdir)
    assert again.returncode == 0
    assert not any(r["reused_from"] for r in records(workdir / "results"))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(workdir):
    # servers=3 is fine on small_rack; servers=9 fails its semantic check at run time.
    result = harness("-m", *FAST, "system.servers=3,9", cwd=workdir)
    assert result.returncode == 1
    statuses = sorted(r["status"] for r in records(workdir / "results" / "sweeps"))
    assert statuses == ["failed", "ok"]
    assert "1 not ok" in result.stdout and "system.servers=9" in result.stdout


def test_a_run_over_its_timeout_is_recorded_as_timeout(workdir):
    result = harness("-m", "system=rpc_pool", "workload=poisson_requests", "workload.requests=100000",
                     "backend.timeout_s=0.5,0.6", cwd=workdir)
    assert result.returncode == 1
    found = records(workdir / "results" / "sweeps")
    assert {r["status"] for r in found} == {"timeout"}
    assert "timeout" in result.stdout


def test_killed_sweep_keeps_finished_records_and_marks_the_cut_run_incomplete(workdir):
    from harness.results.record import load_records

    proc = subprocess.Popen(
        [*HARNESS, "-m", "system=rpc_pool", "workload=poisson_requests", "hydra.launcher.n_jobs=1",
         "workload.requests=200,150000,150001"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = records(workdir / "results" / "sweeps") if (workdir / "results").exists() else []
        if any(r["status"] == "ok" for r in found) and any(r["status"] == "running" for r in found):
            break
        time.sleep(0.2)
    import os

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    loaded = load_records(workdir / "results" / "sweeps")
    statuses = sorted(r["status"] for r in loaded)
    assert "ok" in statuses and "incomplete" in statuses, statuses
    for path in (workdir / "results").rglob("record.json"):
        json.loads(path.read_text())  # every file is whole


def test_single_run_prints_a_table_with_cost(workdir):
    result = harness(*FAST, cwd=workdir)
    assert result.returncode == 0, result.stderr
    for word in ("throughput", "p99", "cost", "energy", "simulated"):
        assert word in result.stdout, word


def test_export_writes_tidy_csv_and_parquet(workdir):
    import pandas as pd

    assert harness("-m", *FAST, "seed=1,2", cwd=workdir).returncode == 0
    for name in ("all.csv", "all.parquet"):
        result = harness("export", name, cwd=workdir)
        assert result.returncode == 0, result.stdout
    csv, parquet = pd.read_csv(workdir / "all.csv"), pd.read_parquet(workdir / "all.parquet")
    assert len(csv) == len(parquet) > 0
    assert {"run_id", "system", "seed", "metric", "value", "unit"} <= set(parquet.columns)
    assert set(parquet["seed"]) == {1, 2}
    assert harness("export", "all.txt", cwd=workdir).returncode == 2
