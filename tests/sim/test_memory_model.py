"""Memory model: page cache, swap, swappiness-weighted reclaim and OOM."""

from __future__ import annotations

import pytest

from harness.sim.models.memory import MemoryEffect, MemoryModel, MemorySpec

MIB = float(1 << 20)
GIB = 1024 * MIB


def node(swappiness: int = 60, ram: float = 1 * GIB, reserved: float = 150 * MIB, swap: float = 100 * MIB) -> MemoryModel:
    return MemoryModel(MemorySpec(ram_bytes=ram, os_reserved_bytes=reserved, swap_bytes=swap, swappiness=swappiness))


def total_disk_io(effects: list[MemoryEffect]) -> float:
    return sum(e.swap_out_bytes + e.swap_in_bytes + e.disk_read_bytes for e in effects)


def test_cold_read_misses_and_warm_read_hits() -> None:
    m = node()
    cold = m.read_file("input", 0, 64 * MIB)
    warm = m.read_file("input", 0, 64 * MIB)
    assert cold.disk_read_bytes == 64 * MIB
    assert warm.disk_read_bytes == 0
    assert m.cache_bytes == 64 * MIB


def test_partial_page_reads_charge_only_the_bytes_asked_for() -> None:
    m = node()
    assert m.read_file("f", 100, 4096).disk_read_bytes == 4096
    assert m.read_file("f", 0, 4096).disk_read_bytes == 0  # same 1 MiB page, now cached


def test_written_data_is_cached_for_later_reads() -> None:
    m = node()
    m.write_file("out", 0, 10 * MIB)
    assert m.read_file("out", 0, 10 * MIB).disk_read_bytes == 0


def test_drop_file_forgets_cached_pages() -> None:
    m = node()
    m.read_file("f", 0, 8 * MIB)
    m.drop_file("f")
    assert m.cache_bytes == 0
    assert m.read_file("f", 0, 8 * MIB).disk_read_bytes == 8 * MIB


def test_page_cache_is_lru() -> None:
    m = node(ram=64 * MIB, reserved=0, swap=0)
    m.read_file("a", 0, 40 * MIB)
    m.read_file("b", 0, 20 * MIB)
    m.read_file("a", 0, 10 * MIB)  # a's first 10 MiB become most recent
    m.read_file("c", 0, 20 * MIB)  # evicts the 16 least recent pages: a[10..26)
    assert m.read_file("a", 0, 10 * MIB).disk_read_bytes == 0
    assert m.read_file("b", 0, 20 * MIB).disk_read_bytes == 0
    assert m.read_file("a", 10 * MIB, 16 * MIB).disk_read_bytes == 16 * MIB


def test_allocation_displaces_page_cache_first_at_low_swappiness() -> None:
    m = node(swappiness=1)
    m.read_file("f", 0, 500 * MIB)
    effect = m.alloc("job", 600 * MIB)
    assert effect.cache_dropped_bytes > 0
    assert effect.swap_out_bytes == 0
    assert m.anon_resident_bytes == 600 * MIB


def test_cold_pages_are_swapped_before_hot_ones() -> None:
    m = node(swappiness=100, ram=100 * MIB, reserved=0, swap=100 * MIB)
    m.alloc("daemon", 50 * MIB, hot_fraction=0.2)  # 10 hot, 40 cold
    m.alloc("job", 50 * MIB)
    m.alloc("job2", 30 * MIB)  # forces 30 pages out: all must be the daemon's cold pages
    assert m.swapped_bytes == 30 * MIB
    assert m.touch("daemon").swap_in_bytes == 0


def test_touch_brings_swapped_hot_pages_back() -> None:
    m = node(swappiness=100, ram=100 * MIB, reserved=0, swap=200 * MIB)
    m.alloc("a", 60 * MIB)
    m.alloc("b", 80 * MIB)  # 40 of a's (least recently used) pages go to swap
    assert m.swapped_bytes == 40 * MIB
    effect = m.touch("a")
    assert effect.swap_in_bytes == 40 * MIB
    assert effect.swap_out_bytes == 40 * MIB  # b's oldest pages make room
    assert m.anon_resident_bytes == 100 * MIB


def test_free_releases_memory_and_swap() -> None:
    m = node(swappiness=100, ram=100 * MIB, reserved=0, swap=100 * MIB)
    m.alloc("a", 150 * MIB)
    assert m.swapped_bytes == 50 * MIB
    m.free("a", 100 * MIB)
    m.free("a")
    assert m.anon_resident_bytes == 0 and m.swapped_bytes == 0 and m.free_bytes == 100 * MIB


def test_oom_when_anonymous_memory_exceeds_ram_plus_swap() -> None:
    m = node(ram=1 * GIB, reserved=150 * MIB, swap=100 * MIB)
    assert not m.alloc("a", 900 * MIB).oom
    before = (m.anon_resident_bytes, m.swapped_bytes)
    assert m.alloc("b", 200 * MIB).oom  # 1100 MiB > 874 MiB of frames + 100 MiB of swap
    assert (m.anon_resident_bytes, m.swapped_bytes) == before


def test_swappiness_100_does_less_disk_io_than_1_under_memory_pressure() -> None:
    """The seed's claim: swap idle daemon pages out once and keep the file cache instead.

    1 GiB node (874 MiB usable after the OS), a daemon holding 600 MiB of which 90% is cold,
    and a 350 MiB file set read ten times: it only fits in the cache if ~76 MiB of cold
    daemon pages go to swap.
    """

    def workload(swappiness: int) -> tuple[float, float]:
        m = node(swappiness=swappiness)
        effects = [m.alloc("daemon", 600 * MIB, hot_fraction=0.1)]
        for _ in range(10):
            effects.append(m.read_file("dataset", 0, 350 * MIB))
            effects.append(m.touch("daemon"))
        return total_disk_io(effects), sum(e.disk_read_bytes for e in effects)

    io_1, reads_1 = workload(1)
    io_100, reads_100 = workload(100)
    assert io_100 < io_1 / 2
    assert reads_100 < reads_1 / 2


def test_swappiness_weights_the_reclaim_split() -> None:
    def swapped_after_pressure(swappiness: int) -> float:
        m = node(swappiness=swappiness, ram=200 * MIB, reserved=0, swap=200 * MIB)
        m.alloc("idle", 100 * MIB, hot_fraction=0.0)
        m.read_file("f", 0, 100 * MIB)
        m.alloc("job", 50 * MIB)
        return m.swapped_bytes

    assert swapped_after_pressure(0) == 0
    assert 0 < swapped_after_pressure(60) < swapped_after_pressure(100) < swapped_after_pressure(200)
    # Equal weights: roughly half of the 50 pages come from each list (a bit more from anon,
    # because the job's own new pages join the anonymous list as it grows).
    assert 25 * MIB <= swapped_after_pressure(100) <= 30 * MIB


def test_reads_never_fail_when_memory_is_full_of_unswappable_anon() -> None:
    m = node(ram=100 * MIB, reserved=0, swap=0)
    m.alloc("a", 100 * MIB)
    effect = m.read_file("f", 0, 10 * MIB)
    assert effect.disk_read_bytes == 10 * MIB and m.cache_bytes == 0


def test_state_is_deterministic() -> None:
    def run() -> tuple[float, ...]:
        m = node(swappiness=60)
        m.alloc("d", 500 * MIB, 0.3)
        for i in range(5):
            m.read_file(f"f{i % 3}", 0, 200 * MIB)
            m.touch("d")
        return (m.anon_resident_bytes, m.swapped_bytes, m.cache_bytes, m.free_bytes)

    assert run() == run()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(ram_bytes=0, os_reserved_bytes=0, swap_bytes=0, swappiness=60),
        dict(ram_bytes=GIB, os_reserved_bytes=GIB, swap_bytes=0, swappiness=60),
        dict(ram_bytes=GIB, os_reserved_bytes=0, swap_bytes=-1, swappiness=60),
        dict(ram_bytes=GIB, os_reserved_bytes=0, swap_bytes=0, swappiness=201),
        dict(ram_bytes=GIB, os_reserved_bytes=0, swap_bytes=0, swappiness=1.5),
    ],
)
def test_invalid_spec_raises(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MemorySpec(**kwargs)  # type: ignore[arg-type]


def test_invalid_arguments_raise() -> None:
    m = node()
    with pytest.raises(ValueError):
        m.alloc("a", -1)
    with pytest.raises(ValueError):
        m.alloc("a", 1, hot_fraction=2)
    with pytest.raises(ValueError):
        m.read_file("f", -1, 10)
