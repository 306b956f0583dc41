"""Same config and seed: bit-identical metrics in separate processes and under joblib."""

from __future__ import annotations

from conftest import FAST, harness, records


def metric_values(record: dict) -> list:
    return [(m["name"], m["value"], m["unit"]) for m in record["metrics"]]


def test_two_processes_and_joblib_agree_bit_for_bit(workdir):
    for name in ("a", "b"):
        assert harness(*FAST, "seed=5", f"results_dir={name}", cwd=workdir).returncode == 0
    assert harness("-m", *FAST, "seed=5,6", "results_dir=c", cwd=workdir).returncode == 0
    a, b = records(workdir / "a"), records(workdir / "b")
    swept = {r["seed"]: r for r in records(workdir / "c")}
    assert metric_values(a[0]) == metric_values(b[0]) == metric_values(swept[5])
    assert a[0]["config_hash"] == swept[5]["config_hash"]
    assert metric_values(swept[5]) != metric_values(swept[6]), "a different seed must change the numbers"


def test_pythonhashseed_does_not_matter(workdir):
    for name, seed in (("a", "1"), ("b", "2")):
        result = harness(*FAST, f"results_dir={name}", cwd=workdir, env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0
    assert metric_values(records(workdir / "a")[0]) == metric_values(records(workdir / "b")[0])
