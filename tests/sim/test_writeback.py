"""Buffered writes: dirty pages, the flusher's two triggers, the dirty limit, delete and crash."""

from __future__ import annotations

import pytest

from harness.sim.models.memory import MemorySpec
from harness.sim.runtime import CorruptBlock

from test_runtime import make_runtime, run

MIB = float(1 << 20)
DISK = {"seq_write_mbps": 100.0}  # 1 MiB takes 10.49 ms
MEMORY = {"ram_mib": 1024, "os_reserved_mib": 0}  # dirtyable: 1 GiB, limits 204.8 / 102.4 MiB


def small_runtime(**memory):
    return make_runtime(nodes=1, disk=DISK, memory={**MEMORY, **memory})


def test_a_buffered_write_returns_at_once_and_reaches_the_disk_when_it_expires():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 10 * MIB, file="f", buffered=True)
        returned = rt.now
        yield rt.sleep(29.0)
        before_expiry = node.stats.disk_write_bytes
        yield rt.sleep(2.0)
        return returned, before_expiry, node.stats.disk_write_bytes

    returned, before_expiry, after = run(rt, body)
    assert returned == 0.0
    assert before_expiry == 0.0  # under the background share: nothing is written for 30 s
    assert after == pytest.approx(10 * MIB)


def test_a_synchronous_write_waits_for_the_disk():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 10 * MIB, file="f")
        return rt.now

    assert run(rt, body) == pytest.approx(10 * MIB / 100e6)


def test_dirty_data_over_the_background_share_is_written_at_once():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        for i in range(150):  # 150 MiB > 102.4 MiB
            yield rt.write(node, MIB, file="f", offset=i * MIB, buffered=True)
        yield rt.sleep(1.0)  # well before expiry
        return node.stats.disk_write_bytes

    written = run(rt, body)
    # The flusher writes until the dirty data is back under 102.4 MiB.
    assert 47 * MIB <= written <= 49 * MIB


def test_the_dirty_limit_holds_the_writer_to_the_disk_speed():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        for i in range(400):
            yield rt.write(node, MIB, file="f", offset=i * MIB, buffered=True)
        return rt.now

    # The writer runs ahead by the 204.8 MiB limit, then at the flusher's pace.
    assert run(rt, body) == pytest.approx((400 - 204) * MIB / 100e6, rel=0.01)


def test_a_file_deleted_before_write_back_never_reaches_the_disk():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 20 * MIB, file="tmp", buffered=True)
        rt.delete(node, "tmp")
        yield rt.sleep(60.0)

    run(rt, body)
    assert node.stats.disk_write_bytes == 0.0
    assert node.stats.write_dropped_bytes == pytest.approx(20 * MIB)


def test_a_crash_loses_dirty_data_and_a_verified_read_then_fails():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 5 * MIB, file="durable")
        yield rt.write(node, 5 * MIB, file="dirty", buffered=True)
        rt.crash(node)
        rt.recover(node)
        yield rt.read(node, 5 * MIB, file="durable", verify=True)
        try:
            yield rt.read(node, 5 * MIB, file="dirty", verify=True)
        except CorruptBlock:
            return "lost"
        return "kept"

    assert run(rt, body) == "lost"
    assert node.stats.disk_write_bytes == pytest.approx(5 * MIB)


def test_dirty_ratio_zero_makes_buffered_writes_synchronous():
    rt = small_runtime(dirty_ratio=0)
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 10 * MIB, file="f", buffered=True)
        return rt.now

    assert run(rt, body) == pytest.approx(10 * MIB / 100e6)


@pytest.mark.parametrize("field,value", [("dirty_ratio", 120.0), ("dirty_background_ratio", 20.0),
                                         ("dirty_expire_s", -1.0)])
def test_bad_write_back_settings_name_the_key(field, value):
    with pytest.raises(ValueError, match=f"memory.{field}={value}"):
        MemorySpec(ram_bytes=1e9, os_reserved_bytes=0, swap_bytes=0, swappiness=60, **{field: value})


def test_sync_writes_out_everything_at_once_and_waits_for_it():
    rt = small_runtime()
    node = rt.nodes[0]

    def body():
        yield rt.write(node, 10 * MIB, file="a", buffered=True)
        yield rt.write(node, 10 * MIB, file="b", buffered=True)
        yield rt.sync(node)
        return rt.now

    assert run(rt, body) == pytest.approx(20 * MIB / 100e6)  # not 30 s: sync does not wait for expiry
    assert node.stats.disk_write_bytes == pytest.approx(20 * MIB)
