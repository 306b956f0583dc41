"""Membership changes (Dynamo sections 4.8-4.9): a node joins or leaves the ring.

A joining node takes ``tokens_per_node`` new tokens, so it takes over parts of some
ranges; a leaving node's ranges fall to the next nodes clockwise. Only keys whose
preference list changes move, each from a live replica that had it to each node newly
responsible for it, as bulk transfers over the simulated network; then the ring switches
(requests route by the new ring from then on) and nodes drop the keys they no longer
replicate. Writes that landed on the old replicas while the bulk copy ran are copied at
the switch (their transfer time is not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

import numpy as np

from harness.api import NodeDown, Unreachable
from plugins.storage.dynamo.ring import Ring

OPS = ("join", "leave")


@dataclass
class MembershipChange:
    at_s: float = 0.0  # when the administrator issues the change (simulated seconds)
    op: str = "join"  # join | leave
    node: int = 0  # node id


class MembershipStats:
    def __init__(self) -> None:
        self.changes = 0
        self.keys_moved = 0  # (key, new replica) pairs copied
        self.bytes_moved = 0.0
        self.keys_total = 0  # keys in the store when the changes happened (for the share moved)


def plan(d: Any, old: Ring, new: Ring) -> dict[tuple[int, int], list[int]]:
    """(source, destination) -> keys: every key whose preference list gains a node."""
    positions = np.asarray(d.keys.positions, dtype=np.uint64)
    old_r, new_r = old.ranges_of(positions), new.ranges_of(positions)
    combo = old_r.astype(np.int64) * len(new) + new_r.astype(np.int64)
    unique, inverse = np.unique(combo, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(unique)))))
    moves: dict[tuple[int, int], list[int]] = {}
    nodes = d.rt.nodes
    for u, (a, b) in enumerate(zip((unique // len(new)).tolist(), (unique % len(new)).tolist())):
        before, after = old.preference[a], new.preference[b]
        gained = [n for n in after if n not in before]
        if not gained:
            continue
        keys = order[bounds[u]:bounds[u + 1]].tolist()
        for dst in gained:
            for key in keys:
                src = _source(d, before, dst, key, nodes)
                if src >= 0:
                    moves.setdefault((src, dst), []).append(key)
    return moves


def _source(d: Any, before: tuple[int, ...], dst: int, key: int, nodes: Any) -> int:
    for src in before:
        if src != dst and key in d.stores[src].data and nodes[src].alive and d.rt.reachable(nodes[src], nodes[dst]):
            return src
    return -1


def change_membership(d: Any, change: MembershipChange) -> Generator[Any, Any, None]:
    rt = d.rt
    if change.at_s > rt.now:
        yield rt.sleep(change.at_s - rt.now)
    old = d.ring
    members = set(old.members)
    if change.op == "join":
        members.add(change.node)
    else:
        members.discard(change.node)
    new = Ring(members, d.params.tokens_per_node, d.params.N, epoch=old.epoch + 1)
    moves = plan(d, old, new)
    stats = d.membership_stats
    per_key = d.record_bytes + d.params.message_overhead_bytes
    copied: set[tuple[int, int]] = set()
    transfers = [rt.spawn(_copy(d, src, dst, len(keys) * per_key, copied)) for (src, dst), keys in sorted(moves.items())]
    if transfers:
        yield rt.all_of(transfers)
    # The switch: copy what the sources hold now (the bulk copy plus writes since), then route by
    # the new ring. A copy a fault cut short is left to anti-entropy and read repair.
    now = rt.now
    for (src, dst), keys in sorted(moves.items()):
        if (src, dst) not in copied:
            continue
        source, target = d.stores[src].data, d.stores[dst]
        for key in keys:
            for version, visible, superseded in source.get(key, ()):
                if superseded > now:
                    target.apply(key, version, max(visible, now), d.floor)
        stats.keys_moved += len(keys)
    stats.changes += 1
    stats.keys_total = len(d.keys.positions)
    d.switch_ring(new)
    _drop_unowned(d, old, new)


def _copy(d: Any, src: int, dst: int, nbytes: float, copied: set) -> Generator[Any, Any, None]:
    rt = d.rt
    try:
        yield rt.transfer(rt.nodes[src], rt.nodes[dst], nbytes)
    except (NodeDown, Unreachable):
        return
    d.membership_stats.bytes_moved += nbytes
    copied.add((src, dst))


def _drop_unowned(d: Any, old: Ring, new: Ring) -> None:
    """Nodes forget keys they no longer replicate (keeping copies they hold for hints)."""
    for node, store in enumerate(d.stores):
        if node not in old.members:
            continue
        held = d.hints.keys_held[node]
        for key in [k for k in store.data if k not in held and node not in d.home_replicas(k)]:
            store.drop(key)
