"""The fog object store's designs, measured on the fog cluster (3 edge sites + a cloud).

Each test switches one design choice and checks the effect the seed describes: the
fog-aware store serves a second read of a remote object from its own site, the IPFS-like
DHT goes back across the WAN; DHT lookups leave the site even for objects stored in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.testing import metrics_of, run_config

BASE = ["system=fogstore", "workload=fog_objects", "cluster=fog", "workload.objects=12", "workload.write_rate_per_s=4"]


def _metrics(tmp_path: Path, *extra: str) -> dict[str, float]:
    record = run_config([*BASE, *extra], tmp_path, "-".join(extra).replace("=", "_"))
    assert record["status"] == "ok", record["error"]
    return {name: value for name, (value, _unit) in metrics_of(record).items()}


def test_fog_aware_second_remote_read_is_local_and_much_faster_than_the_dht(tmp_path: Path) -> None:
    dht = _metrics(tmp_path, "system.design=dht", "workload.local_fraction=0")
    fog = _metrics(tmp_path, "system.design=fog_aware", "workload.local_fraction=0")
    # Every second read (by another node of the reading site) is served by the site store...
    assert fog["reads_served_by_site"] == 12
    assert fog["latency_read2_remote_p50"] < 0.25 * fog["latency_read1_remote_p50"]
    # ...while the DHT looks the object up again and may fetch it from the far site.
    assert fog["latency_read2_remote_p50"] < 0.25 * dht["latency_read2_remote_p50"]
    assert dht.get("fetches_across_wan", 0) > 12
    assert fog["bytes_wan"] < 0.8 * dht["bytes_wan"]
    # The first remote read costs the same in both designs: the DHT is needed either way.
    assert fog["latency_read1_remote_p50"] == pytest.approx(dht["latency_read1_remote_p50"], rel=0.3)


def test_dht_lookups_cross_the_wan_even_for_objects_stored_in_the_site(tmp_path: Path) -> None:
    dht = _metrics(tmp_path, "system.design=dht", "workload.local_fraction=1")
    fog = _metrics(tmp_path, "system.design=fog_aware", "workload.local_fraction=1")
    assert dht["dht_lookups_crossing_wan"] >= 0.9 * dht["dht_lookups"]
    assert dht["dht_rpcs_across_wan"] > 0
    # Reads of local objects: the DHT design pays WAN round trips, the site store does not.
    assert dht["latency_read1_local_p50"] > 1.5 * fog["latency_read1_local_p50"]
    assert fog["reads_served_by_site"] == 24
    # Only the writes' announcements leave a fog-aware site.
    assert fog["dht_lookups"] == 12


def test_smaller_k_buckets_mean_more_lookup_rounds(tmp_path: Path) -> None:
    full = _metrics(tmp_path, "system.design=dht", "system.bucket_size=20")
    sparse = _metrics(tmp_path, "system.design=dht", "system.bucket_size=1")
    assert full["dht_hops_mean"] == 1.0  # 16 nodes, full tables: one round
    assert sparse["dht_hops_mean"] > 1.5


@pytest.mark.parametrize("key, value, allowed", [
    ("system.design", "ipfs", "allowed: fog_aware, dht"),
    ("system.replicas", 40, "must be in [1, 16]"),
    ("workload.local_fraction", 1.5, "must be in [0, 1]"),
    ("workload.second_reader", "anyone", "allowed: other_node, same_node"),
    ("workload.exclude_sites", "mars", "allowed: a site of the cluster"),
])
def test_bad_values_are_one_clear_line(key: str, value: object, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(compose_config([*BASE, f"{key}={value}"]))
    message = str(info.value)
    assert message.startswith(f"{key}=") and allowed in message and "\n" not in message
