"""Materialized MapReduce runs produce exactly the workloads' reference answers."""

from __future__ import annotations

import pytest

from plugins.batch.mapreduce import simkit
from plugins.batch.mapreduce.programs import PROGRAMS, WordCountProgram
from plugins.batch.workloads import OutputMismatch


@pytest.mark.parametrize("workload", ["wordcount", "grep", "sort", "inverted_index"])
def test_output_equals_reference(workload: str) -> None:
    result = simkit.run(workload)
    job = result.system.jobs[1]
    reference = job.program.w.reference()
    pairs = [pair for part in job.outputs for pair in part]
    if workload == "wordcount":
        assert dict(pairs) == reference
    elif workload == "grep":
        assert sorted(pairs) == reference and len(reference) > 0
    elif workload == "sort":
        assert [line for line, _ in pairs] == reference  # globally sorted across partitions
    else:
        assert {w: list(d) for w, d in pairs} == reference
    assert result.metrics["makespan"] > 0
    assert result.metrics["throughput"] > 0


@pytest.mark.parametrize("workload", ["logreg", "kmeans", "pagerank"])
def test_iterative_workloads_match_reference(workload: str) -> None:
    result = simkit.run(workload, overrides={"workload.iterations": 3})
    assert result.metrics["iteration_first"] > 0
    assert result.metrics["iteration_rest_mean"] > 0  # final state was checked inside the run


def test_hash_partitioner_keeps_wordcount_correct() -> None:
    simkit.run("wordcount", overrides={"system.partitioner": "hash", "system.R": 3})


class OffByOne(WordCountProgram):
    """A deliberately wrong reduce: one count too many for every word."""

    name = "wordcount_off_by_one"

    def reduce(self, key, values):
        yield (key, sum(values) + 1)


def test_wrong_reduce_function_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROGRAMS, OffByOne.name, OffByOne)
    with pytest.raises(OutputMismatch, match="wordcount: output differs from the reference"):
        simkit.run("wordcount", overrides={"system.program": OffByOne.name})


def test_modelled_plane_runs_without_records() -> None:
    result = simkit.run("sort", hardware="x86_server", overrides={"workload.scale": "large", "system.R": 16})
    assert result.system.jobs[1].records is None
    assert result.metrics["bytes_shuffled"] == pytest.approx(1.1e10, rel=0.01)  # 10^8 x (10-byte key + record)
