"""GFS's pure decision code, without the simulator: chunk and checksum arithmetic,
placement, push chains, re-replication order, the master's log and a replica's contents."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from plugins.storage.gfs.layout import (Server, block_span, chunk_pieces, clone_order, overwrite_verify_bytes,
                                        place_replicas, push_chain, rack_crossings)
from plugins.storage.gfs.namespace import MasterDisk, Namespace
from plugins.storage.gfs.replica import Replica
from plugins.storage.gfs.system import GfsParams, assign_roles

KB, MB = 1024.0, float(1 << 20)


def test_a_range_is_cut_at_chunk_boundaries() -> None:
    assert chunk_pieces(60 * MB, 8 * MB, 64 * MB) == [(0, 60 * MB, 4 * MB), (1, 0.0, 4 * MB)]
    assert chunk_pieces(0, 64 * MB, 64 * MB) == [(0, 0.0, 64 * MB)]


def test_checksums_round_reads_out_to_64k_blocks_and_overwrites_verify_partial_ends() -> None:
    assert block_span(70 * KB, 4 * KB, 64 * KB) == (64 * KB, 128 * KB)
    length = 64 * MB
    assert overwrite_verify_bytes(64 * KB, 64 * KB, 64 * KB, length) == 0  # whole block: nothing to read
    assert overwrite_verify_bytes(70 * KB, 4 * KB, 64 * KB, length) == 64 * KB  # one partial block
    assert overwrite_verify_bytes(60 * KB, 8 * KB, 64 * KB, length) == 128 * KB  # straddles two
    assert overwrite_verify_bytes(0, 4 * KB, 64 * KB, 0.0) == 0  # nothing written there yet


def test_rack_aware_placement_spreads_every_chunk_over_racks() -> None:
    servers = [Server(i, f"r{i % 2}", 0) for i in range(8)]
    for handle in range(50):
        picked = place_replicas(servers, 3, handle, rack_aware=True)
        assert len(set(picked)) == 3
        assert len({servers[i].rack for i in picked}) == 2
    unaware = [place_replicas(servers, 3, h, rack_aware=False) for h in range(50)]
    assert any(len({servers[i].rack for i in p}) == 1 for p in unaware)


def test_placement_prefers_the_least_loaded_servers() -> None:
    servers = [Server(0, "a", 5), Server(1, "b", 0), Server(2, "c", 1), Server(3, "d", 9)]
    assert sorted(place_replicas(servers, 2, "x", rack_aware=True)) == [1, 2]


def _node(i: int, rack: str) -> SimpleNamespace:
    return SimpleNamespace(id=i, rack=rack, site="lan")


def test_the_push_chain_goes_nearest_first() -> None:
    client = _node(0, "A")
    b1, a1, b2 = _node(1, "B"), _node(2, "A"), _node(3, "B")
    chain = push_chain(client, [b1, a1, b2], nearest=True, salt="d")
    assert chain[0] is a1  # same rack as the client first
    assert rack_crossings(client, chain) == 1
    assert rack_crossings(client, push_chain(client, [b1, a1, b2], nearest=False, salt="d")) == 3


def test_rereplication_serves_chunks_with_fewest_replicas_first() -> None:
    needs = {1: 2, 2: 1, 3: 2, 4: 0, 5: 3}
    assert clone_order(needs, 3, priority=True) == [4, 2, 1, 3]
    assert clone_order(needs, 3, priority=False) == [1, 2, 3, 4]


def test_recovery_replays_the_log_after_the_checkpoint() -> None:
    disk, live = MasterDisk(), Namespace()
    records = [("create", "/f"), ("chunk", "/f", 0, 1), ("version", 1, 2), ("chunk", "/f", 1, 2), ("version", 2, 5)]
    for record in records[:3]:
        live.apply(record)
    disk.append(records[:3])
    disk.install_checkpoint(live.snapshot(), 3)
    for record in records[3:]:
        live.apply(record)
    disk.append(records[3:])
    state, replayed = disk.recover()
    assert replayed == 2 and disk.records_written == 5
    assert state == live
    assert state.files == {"/f": [1, 2]} and state.versions == {1: 2, 2: 5}


def test_a_replica_reports_records_padding_and_holes() -> None:
    replica = Replica(1, 1)
    replica.put(0, 100, "record", 7)
    replica.put(200, 100, "record", 8)  # 100..200 never arrived here: garbage
    replica.put(300, 50, "pad")
    records, pad, garbage = replica.scan()
    assert records == [7, 8] and pad == 50 and garbage == 100
    replica.put(200, 100, "record", 9)  # a new primary reused an unacknowledged offset
    assert replica.has(200, 9) and not replica.has(200, 8)


def test_roles_follow_the_cluster_groups() -> None:
    p = GfsParams()
    paper = assign_roles([("master", 3), ("chunkserver", 16), ("client", 16)], p)
    assert paper.master == 0 and paper.log_replicas == [1, 2]
    assert paper.chunkservers == list(range(3, 19)) and paper.clients == list(range(19, 35))
    flat = assign_roles([("worker", 8)], p)
    assert flat.master == 0 and flat.log_replicas == [] and flat.chunkservers == list(range(1, 8))
    assert flat.clients == flat.chunkservers  # colocated, as under MapReduce


@pytest.mark.parametrize("overrides, fragment", [
    ({"system.data_flow": "tree"}, "system.data_flow='tree'"),
    ({"system.replication": 9}, "system.replication=9"),
    ({"system.heartbeat_timeout_s": 0.5}, "system.heartbeat_timeout_s=0.5"),
    ({"workload.record_kib": 20000.0}, "workload.record_kib=20000.0"),
    ({"workload.producers": 0}, "workload.producers=0"),
])
def test_bad_settings_are_one_clear_line(overrides: dict, fragment: str) -> None:
    from plugins.storage.gfs import simkit

    with pytest.raises(ValueError) as info:
        simkit.run("gfs_appends", overrides=overrides)
    assert fragment in str(info.value)
