"""Dynamo's pure parts: the ring, vector clocks, replica stores, Merkle trees."""

from __future__ import annotations

import numpy as np

from plugins.storage.dynamo import merkle
from plugins.storage.dynamo.ring import Ring, key_position, moved_ranges
from plugins.storage.dynamo.versions import (ReplicaStore, Version, descends, frontier, merge, next_counter,
                                             truncate)

KEYS = [key_position(k) for k in range(5000)]


def _version(clock: dict, wid: int = 0) -> Version:
    coord = list(clock)[-1]  # the entry the write advanced comes last
    return Version(clock, clock, wid, 0.0, coord, clock[coord], wid)


def test_preference_lists_hold_n_distinct_physical_nodes() -> None:
    ring = Ring(range(8), tokens_per_node=16, replicas=3)
    assert len(ring) == 8 * 16
    for pref in ring.preference:
        assert len(pref) == 3 and len(set(pref)) == 3
    walk = ring.walk(0)
    assert walk[:3] == ring.preference[0] and sorted(walk) == list(range(8))


def test_placement_is_md5_based_and_the_same_in_every_process() -> None:
    assert key_position(7) == int.from_bytes(__import__("hashlib").md5(b"user7").digest()[:8], "big")
    a, b = Ring(range(8), 16, 3), Ring(range(8), 16, 3)
    assert a.tokens == b.tokens and a.preference == b.preference


def test_more_virtual_nodes_spread_keys_more_evenly() -> None:
    def imbalance(tokens: int) -> float:
        ring = Ring(range(20), tokens, 3)
        counts = np.bincount([ring.owners[r] for r in ring.ranges_of(np.asarray(KEYS, dtype=np.uint64))],
                             minlength=20)
        return counts.max() / counts.mean()

    assert imbalance(1) > imbalance(64) and imbalance(64) < 1.3


def test_a_join_moves_only_the_keys_whose_preference_list_changes() -> None:
    old = Ring(range(9), 16, 3)
    new = Ring(range(10), 16, 3, epoch=1)
    moved = moved_ranges(old, new, KEYS)
    assert moved, "the new node takes over some keys"
    for before, after in moved.values():
        assert 9 in after and 9 not in before, "every moved key gains the new node"
        assert len(set(after) - set(before)) == 1
    share = len(moved) / len(KEYS)
    assert 0.15 < share < 0.5, share  # about N / (n + 1) = 0.3 of the keys, not all of them


def test_vector_clocks_order_versions_and_detect_concurrency() -> None:
    a, b = {1: 1}, {1: 1, 2: 1}
    assert descends(b, a) and not descends(a, b)
    c = {1: 1, 3: 1}
    assert not descends(b, c) and not descends(c, b)
    assert merge([b, c]) == {1: 1, 2: 1, 3: 1}
    siblings = frontier([_version(a), _version(b, 1), _version(c, 2)])
    assert sorted(v.wid for v in siblings) == [1, 2]
    assert next_counter(5, 0.0) == 6 and next_counter(5, 1.0) == 1_000_000


def test_truncation_drops_the_oldest_entries() -> None:
    clock = {1: 10, 2: 30, 3: 20}
    assert truncate(clock, 2) == {2: 30, 3: 20}
    assert truncate(clock, 5) is clock


def test_a_replica_shows_each_version_from_when_it_arrived() -> None:
    store = ReplicaStore()
    old, new = _version({1: 1}, 1), _version({1: 2}, 2)
    store.apply(7, old, at=1.0, floor=0.0)
    store.apply(7, new, at=3.0, floor=0.0)
    assert store.read(7, 0.5) == [] and store.read(7, 2.0) == [old] and store.read(7, 3.0) == [new]
    late = _version({1: 1, 2: 1}, 3)  # concurrent with `new`: a sibling from t=4
    store.apply(7, late, at=4.0, floor=0.0)
    assert {v.wid for v in store.read(7, 5.0)} == {2, 3}
    stale = _version({1: 1}, 1)
    assert not store.apply(7, stale, at=6.0, floor=0.0) or stale not in store.read(7, 7.0)
    store.apply(7, _version({2: 1, 1: 3}, 4), at=8.0, floor=9.0)
    assert [v.wid for v in store.read(7, 9.0)] == [4]
    assert len(store.data[7]) <= 2, "versions superseded before the floor are forgotten"


def test_an_older_version_arriving_late_never_hides_a_newer_one() -> None:
    store = ReplicaStore()
    newer, older = _version({1: 2}, 2), _version({1: 1}, 1)
    store.apply(3, newer, at=1.0, floor=0.0)
    store.apply(3, older, at=2.0, floor=0.0)
    assert store.read(3, 5.0) == [newer]


def test_merkle_trees_find_exactly_the_differing_leaves() -> None:
    positions = KEYS
    versions = {k: [_version({1: k + 1})] for k in range(200)}
    a = {k: merkle.key_digest(positions[k], vs) for k, vs in versions.items()}
    b = dict(a)
    same, compared = merkle.diff(merkle.leaves(a, positions, 6), merkle.leaves(b, positions, 6), 6)
    assert same == [] and compared == 1, "equal trees cost one root comparison"
    b[17] = merkle.key_digest(positions[17], [_version({1: 99})])
    del b[42]
    differing, compared = merkle.diff(merkle.leaves(a, positions, 6), merkle.leaves(b, positions, 6), 6)
    assert sorted(differing) == sorted({positions[17] & 63, positions[42] & 63})
    assert compared < 2 ** 7 - 1, "only the paths to differing leaves are walked"
