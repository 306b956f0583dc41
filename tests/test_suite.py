"""``harness suite``: the CI regression gate, and the committed baseline it guards.

The suite's runs execute once per test process (a shared results directory); later
invocations reuse them through the results index, exactly as the CLI does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, harness
from harness.results.record import write_record
from harness.suite import available_suites, config_changes, load_suite, tolerances_of, write_baseline

COMMITTED = REPO / "results" / "baseline" / "ci"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(results_dir, baseline) after `harness suite ci --update-baseline` into a temp dir."""
    root = tmp_path_factory.mktemp("suite")
    results, baseline = root / "results", root / "baseline"
    out = harness("suite", "ci", "--update-baseline", "--baseline", str(baseline), f"results_dir={results}", cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "on purpose" in out.stdout
    return results, baseline


def run_suite(made: tuple[Path, Path], baseline: Path):
    """The suite again: its runs are reused from the fixture's index (one job: no pool to start)."""
    results, _ = made
    return harness("suite", "ci", "--baseline", str(baseline), "--jobs", "1", f"results_dir={results}", cwd=results.parent)


def baseline_copy(made: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "baseline"
    shutil.copytree(made[1], copy)
    return copy


def test_the_committed_baseline_matches_the_current_code(made):
    """The project's own gate: fails when any simulated metric of the ci suite moves."""
    out = run_suite(made, COMMITTED)
    assert out.returncode == 0, (
        f"the ci suite no longer matches results/baseline/ci; if the change is intended, refresh it "
        f"with `harness suite ci --update-baseline` and commit it.\n{out.stdout}\n{out.stderr}"
    )


def test_the_suite_passes_against_a_baseline_it_made(made):
    out = run_suite(made, made[1])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: every metric within tolerance" in out.stdout
    assert "done, 0 failed" in out.stderr, "progress lines"
    assert "wrote" in out.stdout and "compare.md" in out.stdout


def test_every_run_of_the_suite_is_in_the_baseline(made):
    names = sorted(p.parent.name for p in made[1].glob("*/record.json"))
    assert names == sorted(r.name for r in load_suite("ci").runs)


def test_a_moved_metric_fails_the_suite_and_is_named(made, tmp_path):
    baseline = baseline_copy(made, tmp_path)
    path = baseline / "rpc_pool-rpi3" / "record.json"
    record = json.loads(path.read_text())
    metric = next(m for m in record["metrics"] if m["name"] == "latency_p99")
    metric["value"] *= 0.9  # the current run now looks 11% slower than its baseline
    write_record(path, record)
    out = run_suite(made, baseline)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "regressed run 'rpc_pool-rpi3': latency_p99" in out.stdout
    assert "REGRESSION" in out.stdout and "FAIL" in out.stdout


def test_a_run_missing_from_the_baseline_is_unusable_input(made, tmp_path):
    baseline = baseline_copy(made, tmp_path)
    shutil.rmtree(baseline / "rpc_pool-rpi3")
    out = run_suite(made, baseline)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "only in CURRENT" in out.stdout
    assert "--update-baseline" in out.stderr


def test_no_baseline_exits_2_and_says_how_to_make_one(tmp_path):
    out = harness("suite", "ci", f"results_dir={tmp_path / 'results'}", cwd=tmp_path)
    assert out.returncode == 2
    assert "no baseline" in out.stderr and "harness suite ci --update-baseline" in out.stderr
    assert not (tmp_path / "results").exists(), "nothing runs without a baseline"


def test_an_unknown_suite_is_one_line_listing_the_suites(tmp_path):
    out = harness("suite", "nightly", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["harness suite: unknown suite 'nightly'; available: ci"]


def test_the_committed_baseline_is_portable_and_self_consistent():
    records = [json.loads(p.read_text()) for p in sorted(COMMITTED.glob("*/record.json"))]
    assert records, "results/baseline/ci holds the committed baseline"
    for record in records:
        assert record["status"] == "ok" and record["simulated"] is True
        assert not Path(record["job_dir"]).is_absolute() and record["sweep_dir"] is None
        assert record["config"]["results_dir"] == "results"
        assert _config_hash(record["config"]) == record["config_hash"], "matching is by config_hash"


def _config_hash(config: dict) -> str:
    from harness.run import config_hash

    return config_hash(config)


def test_tolerances_come_from_the_suite():
    tolerances = tolerances_of({"default": 0.0, "latency_*": 0.05})
    assert tolerances.for_metric("latency_p99") == 0.05 and tolerances.for_metric("makespan") == 0.0
    assert "ci" in available_suites() and "none" not in available_suites()


def test_updating_a_baseline_replaces_it_whole(tmp_path):
    old = tmp_path / "ci"
    write_record(old / "gone" / "record.json", {"job_dir": "gone", "config": {}})
    write_baseline([{"job_dir": "/abs/where/kept", "config": {"results_dir": "/abs"}, "distributions": {"x": 1}}], old)
    kept = json.loads((old / "kept" / "record.json").read_text())
    assert not (old / "gone").exists()
    assert kept["job_dir"] == "kept" and kept["config"]["results_dir"] == "results" and kept["distributions"] == {}
    assert [p.name for p in tmp_path.iterdir()] == ["ci"], "no staging directory left behind"


def test_a_changed_config_is_explained_key_by_key():
    base = {"job_dir": "run-a", "config_hash": "h1", "config": {"hardware": {"cpu": {"speed": 1.0}, "description": "x"}, "results_dir": "/a"}}
    current = {"job_dir": "/abs/run-a", "config_hash": "h2", "config": {"hardware": {"cpu": {"speed": 0.6}, "description": "y"}, "results_dir": "/b"}}
    lines = config_changes([base], [current])
    assert lines == ["run 'run-a': config changed since the baseline: hardware.cpu.speed 1.0 -> 0.6; hardware.description 'x' -> 'y'"]


def test_repeated_runs_are_interleaved_fresh_samples():
    from harness.suite import PreparedRun, repeated

    runs = [PreparedRun(name, {"rerun": False, "seed": 0}, (), {}, f"/out/{name}") for name in ("a", "b")]
    out = repeated(runs, 3)
    assert [r.job_dir for r in out] == ["/out/a", "/out/b", "/out/a~2", "/out/b~2", "/out/a~3", "/out/b~3"]
    assert all(r.config["rerun"] is True for r in out), "a reused record would measure nothing"
    assert repeated(runs, 1) == runs


def test_bad_repeat_count_is_one_line(tmp_path):
    out = harness("suite", "ci", "--repeat", "0", cwd=tmp_path)
    assert out.returncode == 2 and "--repeat" in out.stderr and "Traceback" not in out.stderr
