"""Disk model: sequential/random service times, SD-card alignment and block-size effects."""

from __future__ import annotations

import math

import pytest

from harness.sim.models.disk import DiskCost, DiskSpec, disk_cost

MB = 1e6
KIB = 1024.0
MIB = 1024.0 * 1024.0


def sd(aligned: bool = True, fs_kib: float = 4.0) -> DiskSpec:
    """The rpi3 profile's card (Samsung Evo+ figures), with the tuning knobs exposed."""
    return DiskSpec(
        kind="sd",
        seq_read_mbps=18.45,
        seq_write_mbps=14.0,
        rand_read_iops=2053,
        rand_write_iops=768,
        partition_aligned=aligned,
        fs_block_kib=fs_kib,
    )


def test_sequential_read_runs_at_sequential_bandwidth() -> None:
    spec = DiskSpec("ssd", seq_read_mbps=500, seq_write_mbps=400, rand_read_iops=50_000, rand_write_iops=30_000)
    cost = disk_cost(spec, "read", 1000 * MB)
    assert cost.seconds == pytest.approx(2.0, rel=1e-5)  # 1e9 B is not a whole number of 4 KiB blocks
    assert cost.device_read_bytes == pytest.approx(1000 * MB, abs=4 * KIB)
    assert cost.device_write_bytes == 0.0


def test_random_reads_are_iops_bound_when_requests_are_small() -> None:
    spec = DiskSpec("ssd", seq_read_mbps=500, seq_write_mbps=400, rand_read_iops=10_000, rand_write_iops=5_000)
    cost = disk_cost(spec, "read", 4096 * 1000, "rand", request_bytes=4096)
    assert cost.seconds == pytest.approx(1000 / 10_000)


def test_random_reads_become_bandwidth_bound_for_large_requests() -> None:
    spec = DiskSpec("ssd", seq_read_mbps=500, seq_write_mbps=400, rand_read_iops=10_000, rand_write_iops=5_000)
    cost = disk_cost(spec, "read", 100 * MIB, "rand", request_bytes=1 * MIB)
    assert cost.seconds == pytest.approx(100 * MIB / (500 * MB))


def test_hdd_random_request_pays_a_seek() -> None:
    spec = DiskSpec("hdd", seq_read_mbps=50, seq_write_mbps=50, rand_read_iops=1000, rand_write_iops=1000, seek_ms=10)
    cost = disk_cost(spec, "read", 100 * 4096, "rand", request_bytes=4096)
    assert cost.seconds == pytest.approx(100 * (0.010 + 4096 / (50 * MB)))


def test_requests_are_rounded_up_to_whole_fs_blocks() -> None:
    cost = disk_cost(sd(fs_kib=32), "read", 1000, "rand", request_bytes=1000)
    assert cost.device_read_bytes == 32 * KIB


def test_aligned_sd_write_is_much_faster_than_misaligned() -> None:
    aligned = disk_cost(sd(aligned=True), "write", 100 * MB)
    misaligned = disk_cost(sd(aligned=False), "write", 100 * MB)
    assert aligned.seconds == pytest.approx(100 * MB / (14 * MB), rel=1e-3)
    assert misaligned.seconds > 2.5 * aligned.seconds
    assert aligned.device_write_bytes == pytest.approx(100 * MB, rel=1e-3)
    assert misaligned.device_write_bytes == pytest.approx(2 * aligned.device_write_bytes)
    assert misaligned.device_read_bytes > 0 == aligned.device_read_bytes


def test_stock_and_tuned_cards_differ_for_sequential_and_small_writes() -> None:
    stock, tuned = sd(aligned=False, fs_kib=4), sd(aligned=True, fs_kib=64)
    assert disk_cost(tuned, "write", 100 * MB).seconds < disk_cost(stock, "write", 100 * MB).seconds / 2
    small_stock = disk_cost(stock, "write", 100 * MB, "rand")
    small_tuned = disk_cost(tuned, "write", 100 * MB, "rand")
    assert small_tuned.seconds < small_stock.seconds / 3
    assert small_tuned.device_write_bytes < small_stock.device_write_bytes / 10


def test_small_random_writes_fewer_programs_with_larger_fs_blocks() -> None:
    four = disk_cost(sd(fs_kib=4), "write", 10 * MB, "rand")
    sixty_four = disk_cost(sd(fs_kib=64), "write", 10 * MB, "rand")
    # 16x fewer requests, each a partial erase-block program:
    assert four.device_write_bytes / sixty_four.device_write_bytes == pytest.approx(16, rel=0.01)
    assert four.seconds == pytest.approx(math.ceil(10 * MB / 4096) / 768)
    assert sixty_four.seconds < four.seconds / 3


def test_larger_fs_blocks_cost_more_for_a_tiny_write() -> None:
    """The flip side: a 4 KiB update on a 64 KiB-block file system rewrites 64 KiB."""
    four = disk_cost(sd(fs_kib=4), "write", 4096, "rand", request_bytes=4096)
    big = disk_cost(sd(fs_kib=64), "write", 4096, "rand", request_bytes=4096)
    assert big.seconds >= four.seconds
    assert big.device_read_bytes < four.device_read_bytes  # less of the erase block left to copy


def test_small_sd_write_reprograms_a_whole_erase_block() -> None:
    cost = disk_cost(sd(), "write", 4096, "rand", request_bytes=4096)
    assert cost.device_write_bytes == 4 * MIB
    assert cost.device_read_bytes == 4 * MIB - 4096


def test_splitting_a_stream_does_not_change_its_cost() -> None:
    whole = disk_cost(sd(aligned=False), "write", 64 * MIB)
    parts = [disk_cost(sd(aligned=False), "write", 1 * MIB) for _ in range(64)]
    assert sum(p.seconds for p in parts) == pytest.approx(whole.seconds)
    assert sum(p.device_write_bytes for p in parts) == pytest.approx(whole.device_write_bytes)


def test_misalignment_only_matters_on_sd() -> None:
    kw = dict(seq_read_mbps=500, seq_write_mbps=400, rand_read_iops=50_000, rand_write_iops=30_000)
    a = disk_cost(DiskSpec("ssd", partition_aligned=True, **kw), "write", 100 * MB)
    b = disk_cost(DiskSpec("ssd", partition_aligned=False, **kw), "write", 100 * MB)
    assert a == b


def test_zero_bytes_cost_nothing() -> None:
    assert disk_cost(sd(), "write", 0) == DiskCost(0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "args",
    [("erase", 1.0, "seq"), ("read", -1.0, "seq"), ("read", 1.0, "sideways"), ("read", math.nan, "seq")],
)
def test_invalid_arguments_raise(args: tuple[str, float, str]) -> None:
    with pytest.raises(ValueError):
        disk_cost(sd(), *args)


def test_invalid_request_size_raises() -> None:
    with pytest.raises(ValueError):
        disk_cost(sd(), "write", 1.0, "rand", request_bytes=0)


@pytest.mark.parametrize("field,value", [("kind", "tape"), ("seq_read_mbps", 0), ("fs_block_kib", -4), ("seek_ms", -1)])
def test_invalid_spec_raises(field: str, value: object) -> None:
    kw = dict(kind="sd", seq_read_mbps=18.45, seq_write_mbps=14.0, rand_read_iops=2053, rand_write_iops=768)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        DiskSpec(**kw)  # type: ignore[arg-type]


def test_spec_from_profile_mapping_ignores_disk_count() -> None:
    profile_disk = {
        "kind": "hdd", "count": 2, "seq_read_mbps": 45, "seq_write_mbps": 45, "rand_read_iops": 80,
        "rand_write_iops": 80, "io_size_kib": 4, "erase_block_mib": 4, "partition_aligned": True,
        "fs_block_kib": 4, "seek_ms": 12.7,
    }
    spec = DiskSpec.from_mapping(profile_disk)
    assert spec.kind == "hdd" and spec.seek_ms == 12.7
