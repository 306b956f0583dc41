"""The mechanisms of a real `docker pull` that the model charges (TLS, the Pi's own crypto rates,
the kernel's receive path, tar-split, the untar child process) are switches: switching one off
removes exactly its CPU cost, and never makes the deployment slower (docs/models.md, deploy)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

from harness.testing import metrics_of, run_config

from plugins.edge.deploy.images import IMAGES

TINY = ("workload=image_pull", "workload.image=tiny", "cluster=deploy_100mbps")
IMAGE = IMAGES["tiny"]
RPI3 = "hardware=rpi3"
RPI3_SPEED = 0.08  # conf/hardware/rpi3.yaml cpu.speed
MB = 1e6


@lru_cache(maxsize=None)
def metrics(*overrides: str) -> dict[str, float]:
    record = run_config([*TINY, "system=docker_pull", *overrides], Path(tempfile.mkdtemp()))
    assert record["status"] == "ok", record["error"]
    return {name: value for name, (value, _unit) in metrics_of(record).items()}


def cpu_saved(switch_off: str, *overrides: str) -> float:
    """Core-seconds of the pulling node saved by ``switch_off``; its deployment is no slower."""
    on, off = metrics(*overrides), metrics(*overrides, switch_off)
    assert off["deploy_time"] <= on["deploy_time"] + 1e-9
    return on["deploy_cpu_time"] - off["deploy_cpu_time"]


def test_tls_costs_every_blob_byte_at_the_pis_chacha20_rate() -> None:
    # a Pi 3 decrypts ChaCha20-Poly1305 at 15 MB/s per core (boards.cortex-a53-armv7l.tls_mbps); the manifest is free
    assert cpu_saved("system.tls=false", RPI3) == pytest.approx(IMAGE.compressed_bytes / (15.0 * MB), rel=1e-6)


def test_the_kernel_receive_path_costs_25_ms_of_a_pi3_core_per_mb() -> None:
    saved = cpu_saved("system.kernel_receive=false", RPI3)
    assert saved == pytest.approx(IMAGE.compressed_bytes / MB * 25e-3, rel=1e-6)


def test_tar_split_checksums_every_file_byte_and_packs_every_file() -> None:
    crc64 = IMAGE.uncompressed_bytes / (1000.0 * MB * RPI3_SPEED)
    json_and_gzip = IMAGE.files * 20e-6 / RPI3_SPEED
    assert cpu_saved("system.tar_split=false", RPI3) == pytest.approx(crc64 + json_and_gzip, rel=1e-6)


def test_a_pi3_hashes_at_its_measured_rate_not_the_cpu_speed_ratio() -> None:
    only_hashing = ("system.tls=false", "system.kernel_receive=false", RPI3)
    hashed = IMAGE.compressed_bytes + IMAGE.uncompressed_bytes  # blob digest + diff id
    generic, scaled = 1 / (6.1 * MB), 1 / (400.0 * MB * RPI3_SPEED)  # Go's generic code vs 400 MB/s x 0.08
    assert cpu_saved("system.board_rates=false", *only_hashing) == pytest.approx(hashed * (generic - scaled), rel=1e-6)
    slower = metrics(*only_hashing)["deploy_time"] - metrics(*only_hashing, "system.board_rates=false")["deploy_time"]
    assert slower > 0.5 * IMAGE.uncompressed_bytes * (generic - scaled)  # the diff id is on the critical path


def test_the_board_table_leaves_other_hardware_alone() -> None:
    server = "hardware=x86_server"
    assert metrics(server) == metrics(server, "system.board_rates=false")


def test_untarring_in_a_child_process_overlaps_it_with_gunzip_and_hashing() -> None:
    fine = "system.chunk_mb=0.5"  # several chunks per layer, so there is something to overlap
    # synchronous writes, so that the child's file creation includes the card's time
    sync = "hardware.memory.dirty_ratio=0"
    child, in_line = metrics(RPI3, fine, sync), metrics(RPI3, fine, sync, "system.untar_process=false")
    assert child["deploy_time"] < 0.9 * in_line["deploy_time"]
    assert child["deploy_cpu_time"] == pytest.approx(in_line["deploy_cpu_time"])  # same work, on two cores
    assert (child["deploy_bytes_written"] + child["deploy_bytes_dropped"]
            == pytest.approx(in_line["deploy_bytes_written"] + in_line["deploy_bytes_dropped"]))


def test_the_page_cache_takes_the_untar_writes_and_sync_puts_them_on_the_card() -> None:
    buffered, through = metrics(RPI3), metrics(RPI3, "hardware.memory.dirty_ratio=0")
    assert buffered["deploy_time"] < through["deploy_time"]  # the pull no longer waits for the card
    assert buffered["deploy_sync_time"] > buffered["deploy_time"]  # ...but the card still has work after it
    assert through["deploy_sync_time"] == pytest.approx(through["deploy_time"])
    # the same bytes reach the card either way, unless the blob is deleted before write-back
    assert (buffered["deploy_bytes_written"] + buffered["deploy_bytes_dropped"]
            == pytest.approx(through["deploy_bytes_written"]))
    assert through["deploy_bytes_dropped"] == 0


@pytest.mark.parametrize("variant", [
    ("system.untar_process=true",),
    ("system.untar_process=false",),
    ("system.decompress_threads=0", "system.decompress_readahead=true"),  # pgzip's decoder finds the bad CRC
])
def test_a_blob_corrupted_on_the_card_is_fetched_again(variant: tuple[str, ...]) -> None:
    # at 1 Mbit/s only the 1 MB blob is on the card 20 s in (the 2 MB one is one chunk, still in flight)
    corrupt = ("cluster=deploy_1mbps", "faults=crash_one", "faults.events.0.kind=corrupt", "faults.events.0.at_s=20",
               "faults.events.0.target=node:1", "faults.events.0.fraction=1.0")
    clean = metrics(RPI3, "cluster=deploy_1mbps", *variant)
    hurt = metrics(RPI3, *corrupt, *variant)
    assert "pulls_failed" not in hurt
    assert hurt["layer_redownloads"] == 1
    refetched = IMAGE.layers[1].compressed_bytes
    assert hurt["deploy_bytes_downloaded"] == pytest.approx(clean["deploy_bytes_downloaded"] + refetched)
    assert hurt["deploy_time"] > clean["deploy_time"]
