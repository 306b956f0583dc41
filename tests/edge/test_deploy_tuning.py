"""OS tuning on a small node (seed 003): swappiness and SD-card tuning change disk traffic."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from harness.testing import metrics_of, run_config

SERVICES = ("system=docker_pull", "cluster=deploy_100mbps", "workload=memory_tight", "workload.deploy=false",
            "workload.duration_s=30")


@lru_cache(maxsize=None)
def metrics(*overrides: str) -> dict[str, float]:
    record = run_config(list(overrides), Path(tempfile.mkdtemp()))
    assert record["status"] == "ok", record["error"]
    return {name: value for name, (value, _unit) in metrics_of(record).items()}


def services(hardware: str, swappiness: int) -> dict[str, float]:
    return metrics(*SERVICES, f"hardware={hardware}", f"hardware.memory.swappiness={swappiness}")


def deployment(hardware: str) -> dict[str, float]:
    return metrics("system=docker_pull", "cluster=deploy_100mbps", "workload=image_pull", "workload.image=tiny",
                   f"hardware={hardware}", "hardware.memory.swappiness=1")


def test_higher_swappiness_swaps_cold_heap_and_rereads_fewer_files() -> None:
    runs = [services("rpi3", s) for s in (1, 60, 100)]
    reads = [r["service_disk_read_bytes"] for r in runs]
    swapped = [r["service_swap_out_bytes"] for r in runs]
    assert reads[0] > reads[1] > reads[2]  # the page cache keeps more of the working sets
    assert swapped[0] < swapped[1] < swapped[2]


def test_an_aligned_card_with_big_blocks_deploys_faster_and_programs_fewer_bytes() -> None:
    stock, tuned = deployment("rpi3"), deployment("rpi3_tuned")
    assert tuned["deploy_sync_time"] < stock["deploy_sync_time"]  # until the image is on the card
    assert tuned["deploy_disk_busy"] < 0.8 * stock["deploy_disk_busy"]
    assert tuned["deploy_device_bytes_written"] < stock["deploy_device_bytes_written"]


def test_big_blocks_cost_more_for_tiny_writes() -> None:
    # the flip side: every 200-byte log append rewrites a 32 KiB block instead of a 4 KiB one
    stock, tuned = services("rpi3", 1), services("rpi3_tuned", 1)
    assert tuned["device_write_bytes"] > stock["device_write_bytes"]
