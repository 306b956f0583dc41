"""Placement and rescaling of the IoT pipeline, measured on the simulated fog and a Pi rack.

On the fog cluster (3 Pi sites, 4 x86 cloud nodes) with the heavy detector: the cloud
placement ships every raw reading over the WAN; the edge placement ships aggregates only
but the Pis cannot keep up and drop readings; the latency-aware placer does neither.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.testing import metrics_of, run_config

FOG = ["system=stream_placement", "workload=iot_pipeline", "cluster=fog", "workload.duration_s=3",
       "workload.rate_per_source=100", "system.queue_kib=64"]
# One Pi rack, placed at the edge; the load quintuples one second in.
STEP = ["system=stream_placement", "workload=iot_pipeline", "cluster=small_rack", "system.placement=edge",
        "workload.duration_s=6", "workload.rate_per_source=20", "workload.detect_cpu_ms=2", "workload.step_at_s=1",
        "workload.step_factor=5", "system.queue_kib=64"]


def _metrics(tmp_path: Path, base: list[str], *extra: str) -> dict[str, float]:
    record = run_config([*base, *extra], tmp_path, "-".join(extra).replace("=", "_"))
    assert record["status"] == "ok", record["error"]
    return {name: value for name, (value, _unit) in metrics_of(record).items()}


@pytest.fixture(scope="module")
def placements(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    root = tmp_path_factory.mktemp("placements")
    return {p: _metrics(root, FOG, f"system.placement={p}") for p in ("cloud", "edge", "latency_aware")}


def test_edge_placement_cuts_wan_bytes(placements: dict[str, dict[str, float]]) -> None:
    cloud, edge = placements["cloud"], placements["edge"]
    # The cloud placement sends every reading up (2 kB each); the edge only aggregates.
    assert cloud["bytes_wan"] >= 0.95 * cloud["items_emitted"] * 2000
    assert edge["bytes_wan"] < 0.02 * cloud["bytes_wan"]
    assert cloud["operators_at_edge[edge3]"] == 0 and edge["operators_at_edge[edge3]"] == 3


def test_a_heavy_operator_on_pi_only_edge_sites_overloads_and_drops(placements: dict[str, dict[str, float]]) -> None:
    edge, cloud = placements["edge"], placements["cloud"]
    assert edge["records_dropped[detect]"] > 0.1 * edge["items_emitted"]
    assert edge["items_delivered"] < 0.8 * cloud["items_delivered"]
    assert edge["latency_window_p50"] > 5 * cloud["latency_window_p50"]
    assert cloud["items_dropped"] == 0


def test_the_latency_aware_placer_avoids_both(placements: dict[str, dict[str, float]]) -> None:
    aware, cloud, edge = placements["latency_aware"], placements["cloud"], placements["edge"]
    assert aware["items_dropped"] == 0
    assert aware["bytes_wan"] < 0.8 * cloud["bytes_wan"]  # filters at the edge where links are thin
    assert aware["latency_window_p50"] < 0.2 * edge["latency_window_p50"]
    assert aware["operators_at_edge[edge3]"] == 1  # filter at the edge, the detector in the cloud
    assert aware["measured_bandwidth[edge3]"] == pytest.approx(10.0, rel=0.01)  # probed, Mbit/s
    assert aware["measured_rtt[edge3]"] == pytest.approx(0.0816, rel=0.02)  # 2 x 40.8 ms
    assert aware["cost_cloud_used"] > 0 and aware["instances_peak"] < cloud["instances_peak"]


def test_rescaling_reduces_drops_under_a_load_step(tmp_path: Path) -> None:
    fixed = _metrics(tmp_path, STEP, "system.rescale=false")
    elastic = _metrics(tmp_path, STEP, "system.rescale=true")
    assert fixed["items_dropped"] > 0
    assert elastic["items_dropped"] < 0.2 * fixed["items_dropped"]
    assert elastic["rescale_up"] >= 1 and elastic["instances_peak"] > fixed["instances_peak"]
    assert elastic["latency_window_p95"] <= fixed["latency_window_p95"]


@pytest.mark.parametrize("key, value, allowed", [
    ("system.placement", "fog", "allowed: cloud, edge, latency_aware"),
    ("system.utilization_cap", 1.5, "must be in (0, 1]"),
    ("workload.window", "hopping", "allowed: tumbling, sliding"),
    ("workload.filter_selectivity", -0.1, "must be in [0, 1]"),
])
def test_bad_values_are_one_clear_line(key: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(compose_config([*FOG, f"{key}={value}"]))
    message = str(info.value)
    assert message.startswith(f"{key}=") and allowed in message and "\n" not in message


def test_sliding_windows_must_be_whole_multiples_of_the_slide() -> None:
    with pytest.raises(ConfigError, match="workload.window_s=1.0: must be a whole multiple of workload.slide_s"):
        validate(compose_config([*FOG, "workload.window=sliding", "workload.slide_s=0.3"]))
