"""Bad MapReduce or workload settings are reported as one clear line."""

from __future__ import annotations

import pytest

from plugins.batch.mapreduce import simkit


@pytest.mark.parametrize("key, value, fragment", [
    ("system.R", 0, "system.R=0"),
    ("system.failure_timeout_s", 5.0, "system.failure_timeout_s=5.0"),
    ("system.program", "nope", "system.program='nope'"),
    ("system.partitioner", "zigzag", "system.partitioner='zigzag'"),
    ("system.master_node", 99, "system.master_node=99"),
    ("workload.scale", "huge", "workload.scale='huge'"),
    ("workload.materialize", True, None),
])
def test_bad_values_are_rejected(key: str, value: object, fragment: str | None) -> None:
    overrides = {key: value}
    if key == "workload.materialize":
        overrides["workload.scale"] = "paper"
        fragment = "workload.materialize=True"
    with pytest.raises(ValueError) as info:
        simkit.run("wordcount", overrides=overrides)
    assert fragment in str(info.value)
