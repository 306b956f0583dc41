"""Chord's sans-I/O protocol: identifier math, stable tables, routing decisions, the
iterative lookup state machine. No simulator: plain function calls."""

from __future__ import annotations

import hashlib
import random

import pytest

from plugins.storage.chord.lookup import Confirm, Done, Failed, IterativeLookup, Query
from plugins.storage.chord.ring import (chord_id, default_successor_list_length, finger_start, in_half_open, in_open,
                                        stable_tables, successor_of)
from plugins.storage.chord.routing import Closer, Found, NotMine, Owned, Routing


def test_ids_are_sha1_truncated_to_m_bits() -> None:
    digest = int.from_bytes(hashlib.sha1(b"10.0.0.1:4000").digest(), "big")
    assert chord_id("10.0.0.1:4000", 160) == digest
    assert chord_id("10.0.0.1:4000", 7) == digest >> 153
    assert all(0 <= chord_id(f"n{i}", 5) < 32 for i in range(100))


def test_intervals_wrap_around_the_circle() -> None:
    assert in_open(5, 3, 7) and not in_open(3, 3, 7) and not in_open(7, 3, 7)
    assert in_open(1, 6, 3) and in_open(7, 6, 3) and not in_open(4, 6, 3)
    assert in_half_open(7, 3, 7) and not in_half_open(3, 3, 7)
    assert in_half_open(0, 6, 0) and in_half_open(6 + 1, 6, 0)
    assert in_open(2, 4, 4) and not in_open(4, 4, 4)  # (a, a): all but a
    assert in_half_open(4, 4, 4)  # (a, a]: the whole circle


def test_the_paper_example_ring() -> None:
    """SIGCOMM'01 Fig. 3(b): m = 3, nodes 0, 1, 3."""
    tables = stable_tables([0, 1, 3], 3, 1)
    assert tables[0].fingers == [1, 3, 0]  # starts 1, 2, 4
    assert tables[1].fingers == [3, 3, 0]  # starts 2, 3, 5
    assert tables[3].fingers == [0, 0, 0]  # starts 4, 5, 7
    assert successor_of(6, [0, 1, 3]) == 0 and successor_of(2, [0, 1, 3]) == 3


def test_stable_tables_match_the_definitions() -> None:
    m, rng = 16, random.Random(3)
    ids = sorted(rng.sample(range(1 << m), 50))
    tables = stable_tables(ids, m, 6)
    for n in ids:
        t = tables[n]
        pos = ids.index(n)
        assert t.successors == [ids[(pos + k) % 50] for k in range(1, 7)]
        assert t.predecessor == ids[pos - 1]
        assert t.fingers == [successor_of(finger_start(n, i, m), ids) for i in range(m)]


def test_default_successor_list_is_two_log_n() -> None:
    assert default_successor_list_length(1000) == 20
    assert default_successor_list_length(1 << 14) == 28


def _stable_ring(n: int, m: int, r: int, seed: int = 1) -> tuple[list[int], dict[int, Routing]]:
    ids = sorted(random.Random(seed).sample(range(1 << m), n))
    tables = stable_tables(ids, m, r)
    return ids, {i: Routing(i, m, r, t.successors, t.predecessor, t.fingers) for i, t in tables.items()}


def _resolve(nodes: dict[int, Routing], origin: int, key: int, m: int, dead: frozenset[int] = frozenset()) -> tuple[Done | Failed, IterativeLookup]:
    """Drive the lookup machine by hand: ``dead`` nodes never answer."""
    machine = IterativeLookup(key, m, max_rpcs=64)
    action = machine.start(origin, nodes[origin].find(key, 3))
    while isinstance(action, (Query, Confirm)):
        if action.node in dead:
            action = machine.on_timeout(action.node)
        elif isinstance(action, Query):
            action = machine.on_reply(action.node, nodes[action.node].find(key, 3, action.exclude))
        else:
            action = machine.on_confirm(action.node, nodes[action.node].owns(key))
    return action, machine


def test_iterative_lookups_find_the_owner_in_about_half_log_n_hops() -> None:
    m, n = 32, 512
    ids, nodes = _stable_ring(n, m, r=1)
    rng = random.Random(5)
    hops = []
    for _ in range(600):
        key, origin = rng.getrandbits(m), rng.choice(ids)
        done, machine = _resolve(nodes, origin, key, m)
        assert isinstance(done, Done) and done.owner == successor_of(key, ids)
        hops.append(machine.hops)
    mean = sum(hops) / len(hops)
    assert 0.5 * 9 - 1 < mean < 0.5 * 9 + 1, mean  # SIGCOMM'01 6.3: about (1/2) log2 N
    assert max(hops) <= 9 + 1  # O(log N) with high probability


def test_a_successor_list_shortens_the_last_steps() -> None:
    m = 32
    ids1, plain = _stable_ring(512, m, r=1)
    _, listed = _stable_ring(512, m, r=18)
    rng = random.Random(6)
    trials = [(rng.getrandbits(m), rng.choice(ids1)) for _ in range(300)]
    mean = lambda nodes: sum(_resolve(nodes, o, k, m)[1].hops for k, o in trials) / len(trials)  # noqa: E731
    assert mean(listed) < mean(plain) - 0.3


def test_a_dead_hop_falls_back_on_the_next_best_candidate() -> None:
    m = 32
    ids, nodes = _stable_ring(256, m, r=16)
    rng = random.Random(7)
    dead = frozenset(rng.sample(ids, 64))
    live = sorted(set(ids) - dead)
    timeouts = failures = 0
    for _ in range(300):
        key, origin = rng.getrandbits(m), rng.choice(live)
        result, machine = _resolve(nodes, origin, key, m, dead)
        timeouts += machine.timeouts
        if not isinstance(result, Done) or result.owner != successor_of(key, live):
            failures += 1
    assert timeouts > 0  # tables still name the dead: lookups time out on them...
    assert failures == 0  # ...and still reach the live successor (r = 16, a quarter dead)


def test_without_a_successor_list_a_dead_successor_loses_lookups() -> None:
    m = 32
    ids, nodes = _stable_ring(256, m, r=1)
    rng = random.Random(7)
    dead = frozenset(rng.sample(ids, 64))
    live = sorted(set(ids) - dead)
    failed = sum(
        not isinstance(_resolve(nodes, rng.choice(live), key, m, dead)[0], Done)
        for key in (rng.getrandbits(m) for _ in range(300))
    )
    assert failed > 20


def test_routing_decisions() -> None:
    r = Routing(10, 6, 3, successors=[20, 30, 40], predecessor=5, fingers=[20] * 4 + [30, 50])
    assert r.find(15, 3) == Found((20, 30, 40))
    assert isinstance(r.find(60, 3), Closer) and r.find(60, 3).candidates[0] == 50
    assert r.owns(8) == Owned((20, 30, 40)) and r.owns(3) == NotMine(5, (20, 30, 40))
    # stabilize: the successor's predecessor sits between us: adopt it, copy the list
    assert r.on_successor_state(20, 15, [30, 40, 50]) == 15 and r.successors == [15, 20, 30]
    assert r.on_notify(7) and r.predecessor == 7 and not r.on_notify(2)
    r.drop(15)
    assert r.successors == [20, 30] and 15 not in r.fingers
    assert r.consider(12) and r.successor == 12


def test_fix_fingers_sets_covered_fingers_locally_and_fills_ranges() -> None:
    r = Routing(0, 6, 2, successors=[5])
    index, start = r.next_finger()
    assert r.fingers[:3] == [5, 5, 5] and (index, start) == (3, 8)  # 1, 2, 4 fall in (0, 5]
    r.set_finger(3, 40)  # successor(8) = 40, so successor(16) and successor(32) are 40 as well
    assert r.fingers[3:6] == [40, 40, 40]


@pytest.mark.parametrize("skip_self", [True])
def test_a_joining_node_never_asks_itself(skip_self: bool) -> None:
    m = 16
    ids, nodes = _stable_ring(32, m, r=4)
    me = ids[7]
    machine = IterativeLookup(me, m, 64, skip=(me,))
    action = machine.start_at(ids[20])
    while isinstance(action, (Query, Confirm)):
        assert action.node != me
        reply = nodes[action.node].find(me, 3) if isinstance(action, Query) else nodes[action.node].owns(me)
        action = machine.on_reply(action.node, reply) if isinstance(action, Query) else machine.on_confirm(action.node, reply)
    assert isinstance(action, Done) and action.owner == ids[8]  # the next node after me
