"""Run records on disk and their SQLite index."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.results import record as record_mod
from harness.results.record import load_records, metric_value, read_record, write_record
from harness.results.store import ResultsStore, default_store_path


def make_record(run_id: str, *, key: str = "k", status: str = "ok", started_at: str = "2026-11-22T03:50:12Z",
                reused_from: str | None = None, job: str = "0", metrics: int = 3) -> dict[str, Any]:  # fmt: skip
    return {
        "schema": 1,
        "run_id": run_id,
        "key": key,
        "config_hash": f"cfg-{key}",
        "code_version": "c0",
        "config": {"seed": 2},
        "choices": {"system": "mapreduce", "workload": "wordcount", "hardware": "rpi3",
                    "cluster": "small_rack", "faults": "none", "backend": "sim"},  # fmt: skip
        "overrides": ["system=mapreduce", "hardware=rpi3", "nodes=4", "seed=2"],
        "seed": 2,
        "backend": "sim",
        "simulated": True,
        "status": status,
        "error": None if status in ("ok", "running") else "boom",
        "reused_from": reused_from,
        "started_at": started_at,
        "wall_time_s": 1.5,
        "job_dir": f"sweep/{job}",
        "sweep_dir": "sweep",
        "metrics": [{"name": f"m{i}", "value": float(i) + 0.5, "unit": "s"} for i in range(metrics)],
    }


# --- records ---------------------------------------------------------------------------------


def test_write_record_round_trips_and_stores_nan_as_null(tmp_path: Path) -> None:
    rec = make_record("r1")
    rec["metrics"].append({"name": "latency_p999", "value": math.nan, "unit": "s"})
    path = tmp_path / "0" / "record.json"
    write_record(path, rec)
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text)["metrics"][-1]["value"] is None
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys
    back = read_record(path)
    assert metric_value(back, "m1") == 1.5
    assert metric_value(back, "latency_p999") is None
    assert metric_value(back, "absent") is None


def test_failed_write_leaves_previous_record_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "record.json"
    write_record(path, make_record("old"))
    before = path.read_text()

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(record_mod.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_record(path, make_record("new"))
    monkeypatch.undo()
    with pytest.raises(TypeError):
        write_record(path, {**make_record("new"), "config": {"bad": object()}})
    assert path.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["record.json"]


def test_load_records_skips_truncated_file_with_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(tmp_path / "0" / "record.json", make_record("a", job="0"))
    full = json.dumps(make_record("b", job="1"))
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "record.json").write_text(full[: len(full) // 2])
    records = load_records(tmp_path)
    assert [r["run_id"] for r in records] == ["a"]
    err = capsys.readouterr().err
    assert "warning" in err and str(tmp_path / "1" / "record.json") in err


def test_running_record_loads_as_incomplete(tmp_path: Path) -> None:
    write_record(tmp_path / "0" / "record.json", make_record("a", status="running"))
    assert [r["status"] for r in load_records(tmp_path)] == ["incomplete"]


def test_load_records_orders_jobs_numerically(tmp_path: Path) -> None:
    for job in (10, 2, 0, 1):
        write_record(tmp_path / str(job) / "record.json", make_record(f"run-{job}", job=str(job)))
    assert [r["run_id"] for r in load_records(tmp_path)] == ["run-0", "run-1", "run-2", "run-10"]
    assert [r["run_id"] for r in load_records(tmp_path / "2" / "record.json")] == ["run-2"]


# --- store -----------------------------------------------------------------------------------


def _index_many(db: str, worker: int, count: int, barrier: Any) -> None:
    barrier.wait()  # start together, so the writers really contend
    with ResultsStore(db) as store:
        for i in range(count):
            rec = make_record(f"w{worker}-{i}", key=f"k{worker}-{i}", status="running", metrics=0)
            store.index(rec, f"/r/{worker}/{i}/record.json")
            store.index({**rec, **make_record(f"w{worker}-{i}", key=f"k{worker}-{i}")}, f"/r/{worker}/{i}/record.json")


def test_concurrent_indexing_from_processes_loses_nothing(tmp_path: Path) -> None:
    db = str(default_store_path(tmp_path))
    ctx = multiprocessing.get_context("fork")
    workers, per_worker = 4, 25
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_index_many, args=(db, w, per_worker, barrier)) for w in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0] * workers
    with ResultsStore(db) as store:
        runs = store.runs()
        assert len(runs) == workers * per_worker
        assert {run["status"] for run in runs} == {"ok"}
        assert all(len(store.metrics(run["run_id"])) == 3 for run in runs)
        journal = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_index_upserts_running_to_ok_and_never_back(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.index(make_record("r1", status="running", metrics=0), "a/record.json")
        assert [(r["run_id"], r["status"]) for r in store.runs()] == [("r1", "running")]
        assert store.find_ok("k") is None
        store.index(make_record("r1", status="ok"), "a/record.json")
        assert [(r["run_id"], r["status"]) for r in store.runs()] == [("r1", "ok")]
        assert [m["name"] for m in store.metrics("r1")] == ["m0", "m1", "m2"]
        store.index(make_record("r1", status="running", metrics=0), "a/record.json")  # late, out of order
        assert store.runs()[0]["status"] == "ok"
        assert len(store.metrics("r1")) == 3


def test_find_ok_returns_latest_original_through_reuse_chain(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.index(make_record("old", started_at="2026-01-01T00:00:00Z"), "old/record.json")
        store.index(make_record("orig", started_at="2026-01-02T00:00:00Z"), "orig/record.json")
        store.index(make_record("reuse1", started_at="2026-01-03T00:00:00Z", reused_from="orig"), "r1/record.json")
        store.index(make_record("reuse2", started_at="2026-01-04T00:00:00Z", reused_from="reuse1"), "r2/record.json")
        store.index(make_record("broken", status="failed", started_at="2026-01-05T00:00:00Z"), "b/record.json")
        store.index(make_record("other", key="k2"), "o/record.json")
        found = store.find_ok("k")
        assert found is not None
        assert (found["run_id"], found["record_path"]) == ("orig", "orig/record.json")
        assert store.find_ok("missing") is None
        assert [r["run_id"] for r in store.runs(sweep_dir="sweep")][:2] == ["old", "orig"]


def test_find_ok_falls_back_to_reuse_row_when_original_not_indexed(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.index(make_record("reuse", reused_from="gone"), "r/record.json")
        found = store.find_ok("k")
        assert found is not None and found["run_id"] == "reuse"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trips_through_pandas(tmp_path: Path, suffix: str) -> None:
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.index(make_record("r1", key="a"), "r1/record.json")
        store.index({**make_record("r2", key="b", metrics=2), "overrides": ["system=mapreduce", "nodes=8"]}, "r2")
        store.index(make_record("r3", key="c", status="failed", metrics=0), "r3/record.json")
        out = store.export(tmp_path / f"runs{suffix}")
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(frame) == 3 + 2 + 1  # one row per run x metric; a run without metrics keeps one row
    for column in ("run_id", "status", "system", "hardware", "seed", "nodes", "metric", "value", "unit", "config_hash"):
        assert column in frame.columns
    row = frame[(frame["run_id"] == "r2") & (frame["metric"] == "m1")].iloc[0]
    assert (row["value"], row["unit"], int(row["nodes"]), row["system"]) == (1.5, "s", 8, "mapreduce")
    failed = frame[frame["run_id"] == "r3"].iloc[0]
    assert failed["status"] == "failed" and pd.isna(failed["value"])
    with pytest.raises(ValueError):
        ResultsStore(tmp_path / "results.sqlite").export(tmp_path / "runs.xlsx")
