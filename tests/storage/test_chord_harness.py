"""Chord through the harness: bad input is one clear line, a run reports its metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.testing import metrics_of, run_config

BASE = ["system=chord", "workload=chord_lookups"]


@pytest.mark.parametrize(
    "override, line",
    [
        ("system.build=grown", "system.build='grown': allowed: stable, joins"),
        ("system.id_bits=4", "system.nodes=64: must be in [1, 2^(id_bits-1) = 8]"),
        ("system.id_bits=200", "system.id_bits=200: must be in [1, 160]"),
        ("workload.fail_fraction=1.0", "workload.fail_fraction=1.0: must be in [0, 1)"),
        ("system.rpc_timeout_s=0", "system.rpc_timeout_s=0.0: must be > 0"),
    ],
)
def test_bad_input_is_one_line(override: str, line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(compose_config([*BASE, override]))
    assert str(caught.value).startswith(line)


def test_a_run_reports_lookup_and_ring_metrics(tmp_path: Path) -> None:
    record = run_config([*BASE, "workload.lookups=100", "workload.rate_per_s=100"], tmp_path)
    assert record["status"] == "ok", record["error"]
    m = metrics_of(record)
    assert m["lookups_correct"][0] == 100 and m["lookup_failure_rate"] == (0.0, "ratio")
    assert m["lookup_hops_mean"][1] == "hops" and 1 < m["lookup_hops_mean"][0] < 4
    assert m["latency_lookup_p999"][0] >= m["latency_lookup_p50"][0] > 0
    assert m["keys_per_node_mean"] == (100.0, "keys") and m["keys_per_node_max_over_mean"][0] > 1
    assert m["maintenance_messages_per_node_s"][0] > 0 and m["messages_per_lookup"][0] > 2
