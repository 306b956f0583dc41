"""The DHT's pure parts: identifiers, k-buckets, the iterative lookup, site-local placement."""

from __future__ import annotations

import hashlib

from plugins.edge.fogstore.kademlia import Lookup, RoutingTable, by_distance, key_id, node_id, rendezvous


def _network(names: list[str], bucket_size: int) -> dict[int, RoutingTable]:
    ids = [node_id(n) for n in names]
    tables = {}
    for own in ids:
        table = RoutingTable(own, bucket_size)
        for peer in ids:
            table.add(peer)
        tables[own] = table
    return tables


def _resolve(lookup: Lookup, tables: dict[int, RoutingTable], records: dict[int, list[int]],
             dead: frozenset[int] = frozenset()) -> None:
    """Drive a lookup synchronously: every queried peer answers at once (or is dead)."""
    lookup.start(tables[lookup.origin].contacts())
    while batch := lookup.next_round():
        for peer in batch:
            if peer in dead:
                lookup.on_failure(peer)
            else:
                lookup.on_reply(peer, tables[peer].closest(lookup.key, 20), records.get(peer, []))


def test_identifiers_come_from_sha1_not_from_python_hash() -> None:
    expected = int.from_bytes(hashlib.sha1(b"node:edge1-0").digest(), "big")
    assert node_id("edge1-0") == expected
    assert key_id("obj-1") != node_id("obj-1")  # separate name spaces


def test_full_buckets_keep_the_first_contacts_met() -> None:
    own = 0
    table = RoutingTable(own, bucket_size=2)
    peers = [0b1000, 0b1001, 0b1010, 0b0100]  # three share bucket 3, one is in bucket 2
    added = [table.add(p) for p in peers]
    assert added == [True, True, False, True]
    assert table.add(own) is False
    assert sorted(table.contacts()) == [0b0100, 0b1000, 0b1001]


def test_a_node_lookup_converges_on_the_globally_closest_nodes() -> None:
    names = [f"n{i}" for i in range(64)]
    tables = _network(names, bucket_size=2)
    key = key_id("some-object")
    lookup = Lookup(key, node_id("n0"), alpha=3, width=3)
    _resolve(lookup, tables, {})
    assert lookup.closest_answered(3) == by_distance(key, [node_id(n) for n in names])[:3]
    assert lookup.rounds >= 2  # small buckets: several rounds, as in a large network


def test_a_provider_lookup_stops_at_the_first_reply_with_providers() -> None:
    names = [f"n{i}" for i in range(32)]
    tables = _network(names, bucket_size=20)
    key = key_id("x")
    holders = by_distance(key, [node_id(n) for n in names])[:2]
    provider = node_id("n7")
    lookup = Lookup(key, node_id("n0"), alpha=3, width=2)
    _resolve(lookup, tables, {h: [provider] for h in holders})
    assert lookup.providers == [provider]
    assert lookup.rounds == 1  # full tables: one round reaches the record holders


def test_dead_peers_are_skipped_and_the_record_is_still_found_on_a_replica() -> None:
    names = [f"n{i}" for i in range(32)]
    tables = _network(names, bucket_size=20)
    key = key_id("y")
    first, second = by_distance(key, [node_id(n) for n in names])[:2]
    origin = next(node_id(n) for n in names if node_id(n) not in (first, second))
    lookup = Lookup(key, origin, alpha=1, width=2)
    _resolve(lookup, tables, {first: [123], second: [123]}, dead={first})
    assert first in lookup.failed
    assert lookup.providers == [123]


def test_a_missing_record_ends_the_lookup_without_providers() -> None:
    tables = _network([f"n{i}" for i in range(16)], bucket_size=2)
    lookup = Lookup(key_id("nothing"), node_id("n3"), alpha=3, width=2)
    _resolve(lookup, tables, {})
    assert lookup.providers == [] and lookup.next_round() == []


def test_rendezvous_placement_is_stable_and_spreads_objects() -> None:
    nodes = [f"edge1-{i}" for i in range(4)]
    picks = [rendezvous(f"obj-{i}", nodes) for i in range(400)]
    assert picks == [rendezvous(f"obj-{i}", list(reversed(nodes))) for i in range(400)]
    assert all(60 < picks.count(n) < 140 for n in nodes)
    # Removing a node moves only the objects it held.
    survivors = nodes[1:]
    moved = [i for i in range(400) if picks[i] != nodes[0] and rendezvous(f"obj-{i}", survivors) != picks[i]]
    assert moved == []
