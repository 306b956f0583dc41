"""Each GFS mechanism does what the paper says, shown by its effect on a tiny run
(and, where it is a design choice, by switching it off)."""

from __future__ import annotations

from typing import Any

from plugins.storage.gfs import simkit


def cluster(name: str, *groups: tuple[str, int, int]) -> dict[str, Any]:
    return {"name": name, "rack_uplink_gbit": 1.0,
            "groups": [{"name": g, "count": n, "racks": r} for g, n, r in groups]}


def faults(*events: dict[str, Any]) -> dict[str, Any]:
    return {"name": "test", "events": list(events)}


def crash(node: int, at: float, duration: float | None = None) -> dict[str, Any]:
    return {"kind": "crash", "at_s": at, "target": f"node:{node}", "duration_s": duration}


# Node ids follow group order: master 0, chunkservers 1.., clients after them. With three
# chunkservers every chunk lives on all of them and the first lease goes to node 1.
TRIO = cluster("trio", ("master", 1, 1), ("chunkserver", 3, 1), ("client", 2, 1))
SIX = cluster("six", ("master", 1, 1), ("chunkserver", 6, 1), ("client", 2, 1))
SIX_IN_TWO_RACKS = cluster("six2", ("master", 1, 1), ("chunkserver", 6, 2), ("client", 2, 1))
TWO_RACKS = cluster("two", ("worker", 8, 2))
SMALL_APPENDS = {"workload.records_per_producer": 16}
SMALL_FILE = {"workload.file_mib": 256.0, "system.chunk_mib": 16.0}


def test_the_master_learns_locations_from_chunkservers_not_from_placement() -> None:
    """Node 2 holds replicas on disk but is down when the master starts: the master never
    lists it, sees those chunks one replica short and re-creates them."""
    result = simkit.run("gfs_reads", cluster=SIX, faults=faults(crash(2, 0.0)),
                        overrides={"system.await_rereplication": True, **SMALL_FILE})
    master, on_disk = result.system.master, result.system.chunkservers[2].replicas
    assert on_disk and not any(2 in held for held in master.locations.values())
    assert result.metrics["chunks_rereplicated"] == len(on_disk)
    assert result.metrics["chunks_under_replicated"] == 0
    assert result.metrics["availability"] == 1.0


def test_files_are_cut_into_fixed_size_chunks_and_record_appends_pad_the_tail() -> None:
    small = simkit.run("gfs_appends", cluster=TRIO, overrides={"system.chunk_mib": 4.0, "workload.producers": 2,
                                                               **SMALL_APPENDS})
    big = simkit.run("gfs_appends", cluster=TRIO, overrides={"workload.producers": 2, **SMALL_APPENDS})
    lengths = [r.length for cs in small.system.chunkservers.values() for r in cs.replicas.values()]
    assert max(lengths) <= 4 * 2**20
    assert small.metrics["chunks_created"] >= 5 > big.metrics["chunks_created"] == 1
    assert small.metrics["padding_bytes_in_file"] > 0 and small.metrics["padding_bytes_skipped"] > 0
    assert small.metrics["records_consumed"] == small.metrics["appends_acked"] == 32


def test_rack_aware_placement_survives_the_loss_of_a_rack() -> None:
    rack_down = faults({"kind": "crash", "at_s": 0.1, "target": "rack:chunkserver-r0"})
    common = {"workload.file_mib": 512.0, "system.chunk_mib": 8.0, "system.op_timeout_s": 10.0}
    aware = simkit.run("gfs_reads", cluster=SIX_IN_TWO_RACKS, faults=rack_down, overrides=common).metrics
    unaware = simkit.run("gfs_reads", cluster=SIX_IN_TWO_RACKS, faults=rack_down,
                         overrides={"system.rack_aware": False, **common}).metrics
    assert aware["chunks_unavailable"] == 0
    assert unaware["chunks_unavailable"] > 0


def test_the_primary_orders_mutations_so_acked_records_sit_at_one_offset_everywhere() -> None:
    result = simkit.run("gfs_appends", cluster=TRIO, overrides=SMALL_APPENDS)
    history, servers = result.system.history, result.system.chunkservers.values()
    assert result.metrics["leases_granted"] >= 1 and len(history.acked) == 64
    for rid, ack in history.acked.items():
        assert all(cs.replicas[ack.handle].has(ack.offset, rid) for cs in servers)
    assert all(r.serials == sorted(r.serials) and r.serials for cs in servers for r in cs.replicas.values())


def test_a_dead_primary_blocks_mutations_until_its_lease_expires() -> None:
    short = simkit.run("gfs_appends", cluster=TRIO, faults=faults(crash(1, 1.0)),
                       overrides={"system.lease_s": 5.0, **SMALL_APPENDS}).metrics
    long = simkit.run("gfs_appends", cluster=TRIO, faults=faults(crash(1, 1.0)),
                      overrides={"system.lease_s": 60.0, **SMALL_APPENDS}).metrics
    assert short["latency_append_p999"] < 10 < 50 < long["latency_append_p999"]
    assert short["leases_granted"] == long["leases_granted"] == 2  # a new primary after expiry
    assert short["append_violations"] == long["append_violations"] == 0


def test_pipelined_chain_push_beats_star_push() -> None:
    common = {"workload.consumers": 0, **SMALL_APPENDS}
    chain = simkit.run("gfs_appends", cluster=TRIO, hardware="x86_server", overrides=common).metrics
    star = simkit.run("gfs_appends", cluster=TRIO, hardware="x86_server",
                      overrides={"system.data_flow": "star", **common}).metrics
    assert star["bytes_pushed_by_clients"] == 3 * chain["bytes_pushed_by_clients"]
    assert chain["append_MBps"] > 2 * star["append_MBps"]


def test_the_chain_goes_nearest_first_and_crosses_fewer_rack_links() -> None:
    common = {"workload.consumers": 0, **SMALL_APPENDS}
    nearest = simkit.run("gfs_appends", cluster=TWO_RACKS, overrides=common).metrics
    naive = simkit.run("gfs_appends", cluster=TWO_RACKS, overrides={"system.chain_order": "primary_first",
                                                                     **common}).metrics
    assert nearest["bytes_rack_uplinks"] < naive["bytes_rack_uplinks"]


def test_record_append_is_at_least_once_readers_skip_the_duplicates() -> None:
    """A secondary down for 3 s fails appends in flight; their retries leave duplicates on
    the other replicas, which consumers skip; nothing acknowledged is lost."""
    m = simkit.run("gfs_appends", cluster=TRIO, faults=faults(crash(2, 1.0, 3.0)), overrides=SMALL_APPENDS).metrics
    assert m["append_retries"] > 0
    assert m["duplicate_records_in_file"] > 0
    assert m["append_violations"] == m["appends_unread"] == 0
    assert m["records_consumed"] == m["appends_acked"] == 64


def test_checksums_catch_a_corrupt_replica_and_it_is_recreated() -> None:
    corrupt = faults({"kind": "corrupt", "at_s": 0.1, "target": "node:2", "fraction": 1.0})
    on = simkit.run("gfs_reads", faults=corrupt, overrides={"system.await_rereplication": True}).metrics
    off = simkit.run("gfs_reads", faults=corrupt, overrides={"system.checksums": False}).metrics
    assert on["corrupt_replicas_detected"] >= 1 and "corrupt_reads_undetected" not in on
    assert on["corrupt_reads_served_elsewhere"] >= 1 and on["availability"] == 1.0
    assert on["corrupt_replicas_recreated"] == on["corrupt_replicas_detected"]
    assert off["corrupt_reads_undetected"] >= 1 and "corrupt_replicas_detected" not in off


def test_scrubbing_finds_corruption_nobody_reads() -> None:
    corrupt = faults({"kind": "corrupt", "at_s": 0.1, "target": "node:2", "fraction": 1.0})
    common = {"workload.clients": 1, "workload.reads_per_client": 1, "system.await_rereplication": True}
    idle = simkit.run("gfs_reads", cluster=SIX, faults=corrupt, overrides=common).metrics
    scrubbed = simkit.run("gfs_reads", cluster=SIX, faults=corrupt, overrides={"system.scrub_interval_s": 1.0,
                                                                                **common}).metrics
    assert idle["chunks_under_replicated"] > 0
    assert scrubbed["chunks_under_replicated"] == 0 and scrubbed["bytes_scrubbed"] > 0


def test_a_dead_chunkserver_is_rereplicated_and_the_bytes_are_counted() -> None:
    on = simkit.run("gfs_reads", cluster=SIX, faults=faults(crash(3, 1.0)),
                    overrides={"system.await_rereplication": True, **SMALL_FILE})
    off = simkit.run("gfs_reads", cluster=SIX, faults=faults(crash(3, 1.0)),
                     overrides={"system.rereplication": False, **SMALL_FILE})
    lost = sum(r.length for r in on.system.chunkservers[3].replicas.values())
    assert on.metrics["bytes_rereplicated"] == lost > 0
    assert on.metrics["chunks_under_replicated"] == 0
    assert off.metrics["chunks_under_replicated"] == len(off.system.chunkservers[3].replicas)


def test_chunks_missing_most_replicas_are_cloned_first() -> None:
    two_down = faults(crash(3, 1.0), crash(4, 1.0))
    common = {"system.await_rereplication": True, "workload.file_mib": 512.0, "system.chunk_mib": 16.0}
    first = simkit.run("gfs_reads", cluster=SIX, faults=two_down, overrides=common).metrics
    fifo = simkit.run("gfs_reads", cluster=SIX, faults=two_down,
                      overrides={"system.rereplication_priority": False, **common}).metrics
    assert first["rereplication_to_2x_s"] < 0.5 * fifo["rereplication_to_2x_s"]
    assert first["bytes_rereplicated"] == fifo["bytes_rereplicated"]


def test_the_master_recovers_from_checkpoint_and_log_and_replays_less_with_checkpoints() -> None:
    master_down = faults(crash(0, 3.0, 1.0))
    common = {"system.chunk_mib": 1.0, "workload.pattern": "sequential", "workload.clients": 2,
              "workload.writes_per_client": 40, "workload.write_kib": 256.0}
    runs = {every: simkit.run("gfs_writes", cluster=TRIO, faults=master_down,
                              overrides={"system.checkpoint_every": every, **common}) for every in (4, 0)}
    for result in runs.values():
        master = result.system.master
        assert master.state == master.disk.recover()[0]  # what is on disk rebuilds what is in RAM
        assert result.metrics["master_recoveries"] == 1 and result.metrics["availability"] == 1.0
        assert len(master.state.files["/out/part-0"]) == 10  # every chunk written survives the crash
    frequent, never = runs[4].metrics, runs[0].metrics
    assert frequent["master_checkpoints"] >= 1 and "master_checkpoints" not in never
    assert frequent["master_replayed_records"] < never["master_replayed_records"]
    assert frequent["master_replay_s"] < never["master_replay_s"]
    assert frequent["master_recovery_s"] < never["master_recovery_s"]
