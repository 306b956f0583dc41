"""Replica synchronisation with Merkle trees (Dynamo section 4.7).

Every ``anti_entropy_interval_s``, each pair of neighbouring replicas of every key range
compares its Merkle trees; where leaves differ they exchange the keys' digests and then
the versions one side lacks. A replica whose range file is corrupted (the fault
schedule's ``corrupt``) cannot vouch for any key in it: it receives the whole range from
its peer and rewrites the file, which clears the corruption. Tree hashing costs CPU on
both replicas (through the same queues as requests); versions and hashes move as bulk
transfers over the simulated network, one per pair of nodes and direction per round.
"""

from __future__ import annotations

from typing import Any, Generator, Iterable

import numpy as np

from harness.api import NodeDown, Unreachable
from plugins.storage.dynamo import merkle
from plugins.storage.dynamo.versions import Version, live_at


class AntiEntropyStats:
    def __init__(self) -> None:
        self.rounds = 0
        self.clean_rounds_after: list[float] = []  # start times of rounds that found nothing
        self.ranges_compared = 0
        self.ranges_differing = 0
        self.versions_repaired = 0
        self.ranges_rewritten = 0
        self.bytes_moved = 0.0  # trees, digests and versions


def anti_entropy_loop(d: Any) -> Generator[Any, Any, None]:
    while True:
        yield d.rt.sleep(d.params.anti_entropy_interval_s)
        yield from anti_entropy_round(d)


def anti_entropy_round(d: Any) -> Generator[Any, Any, bool]:
    """One round over every range; returns True when replicas already agreed everywhere."""
    rt, stats = d.rt, d.ae_stats
    started = rt.now
    stats.rounds += 1
    ring = d.ring
    groups = _keys_by_range(d, ring)
    sends: dict[tuple[int, int], list[tuple[int, Version]]] = {}
    meta_bytes: dict[tuple[int, int], float] = {}
    rewrites: dict[tuple[int, int], list[int]] = {}
    trees: dict[tuple[int, int], tuple] = {}
    differing = 0
    for r, pref in enumerate(ring.preference):
        pairs = len(pref) if len(pref) > 2 else len(pref) - 1
        for i in range(pairs):
            a, b = pref[i], pref[(i + 1) % len(pref)]
            if not _connected(d, a, b):
                continue
            stats.ranges_compared += 1
            if _sync_range(d, r, a, b, groups, started, sends, meta_bytes, rewrites, trees):
                differing += 1
    stats.ranges_differing += differing
    moves = [rt.spawn(_move(d, pair, items, meta_bytes.pop(pair, 0.0), rewrites.get(pair, [])))
             for pair, items in sorted(sends.items())]
    stats.bytes_moved += sum(meta_bytes.values())  # hashes only: too small to be worth a flow
    if moves:
        yield rt.all_of(moves)
    if differing == 0:
        stats.clean_rounds_after.append(started)
    return differing == 0


def _connected(d: Any, a: int, b: int) -> bool:
    nodes = d.rt.nodes
    return nodes[a].alive and nodes[b].alive and d.rt.reachable(nodes[a], nodes[b])


def _keys_by_range(d: Any, ring: Any) -> list[dict[int, list[int]]]:
    """For each node: range -> keys it stores in that range (hinted copies excluded), in the
    store's order. Grouped with NumPy: a round groups every stored key."""
    out: list[dict[int, list[int]]] = []
    range_of = np.asarray(d.keys.table(ring), dtype=np.int64)
    for node, store in enumerate(d.stores):
        held = d.hints.keys_held[node]
        keys = np.fromiter((k for k in store.data if k not in held) if held else store.data, dtype=np.int64)
        ranges = range_of[keys]
        order = np.argsort(ranges, kind="stable")  # stable: each range keeps the store's order
        ranges, keys = ranges[order], keys[order].tolist()
        starts = np.flatnonzero(np.diff(ranges)) + 1
        bounds = [0, *starts.tolist(), len(keys)]
        out.append({int(ranges[a]): keys[a:b] for a, b in zip(bounds, bounds[1:]) if b > a})
    return out


def _sync_range(d: Any, r: int, a: int, b: int, groups: list[dict[int, list[int]]], now: float,
                sends: dict, meta_bytes: dict, rewrites: dict, trees: dict) -> bool:
    """Compare range ``r`` on replicas a and b; queue what each must send. True if they differed."""
    p, positions = d.params, d.keys.positions
    rfile = d.range_files[r]
    corrupt_a = rfile in d.rt.nodes[a].corrupted
    corrupt_b = rfile in d.rt.nodes[b].corrupted
    leaves_a = _tree(d, a, r, groups, now, trees)
    leaves_b = _tree(d, b, r, groups, now, trees)
    pair_ab, pair_ba = (a, b), (b, a)
    hash_bytes = 2 * merkle.HASH_BYTES
    if corrupt_a or corrupt_b:
        stats = d.ae_stats
        for bad, good, pair in ((a, b, pair_ba), (b, a, pair_ab)):
            if (bad == a and corrupt_a) or (bad == b and corrupt_b):
                if (good == a and corrupt_a) or (good == b and corrupt_b):
                    continue  # both copies unreadable: a third replica's sync will fix them
                live_good = _held(d, good, groups[good].get(r, ()), now)
                sends.setdefault(pair, []).extend((k, v) for k, vs in live_good.items() for v in vs)
                rewrites.setdefault(pair, []).append(r)
                stats.ranges_rewritten += 1
        meta_bytes[pair_ab] = meta_bytes.get(pair_ab, 0.0) + hash_bytes
        return True
    depth = p.merkle_depth
    if leaves_a == leaves_b:  # equal leaves, equal roots: one hash each way
        differing, compared = [], 1
    else:
        differing, compared = merkle.diff(leaves_a, leaves_b, depth)
    meta_bytes[pair_ab] = meta_bytes.get(pair_ab, 0.0) + compared * hash_bytes
    if not differing:
        return False
    mask = (1 << depth) - 1
    wanted = set(differing)
    live_a = _held(d, a, [k for k in groups[a].get(r, ()) if positions[k] & mask in wanted], now)
    live_b = _held(d, b, [k for k in groups[b].get(r, ()) if positions[k] & mask in wanted], now)
    digests_a = {k: merkle.key_digest(positions[k], vs) for k, vs in live_a.items()}
    digests_b = {k: merkle.key_digest(positions[k], vs) for k, vs in live_b.items()}
    keys = sorted(set(live_a) | set(live_b))
    meta_bytes[pair_ab] += len(keys) * (d.key_bytes + merkle.HASH_BYTES)
    for key in keys:
        if digests_a.get(key) == digests_b.get(key):
            continue
        va, vb = live_a.get(key, []), live_b.get(key, [])
        for v in va:
            if not _has(vb, v):
                sends.setdefault(pair_ab, []).append((key, v))
        for v in vb:
            if not _has(va, v):
                sends.setdefault(pair_ba, []).append((key, v))
    return True


def _tree(d: Any, node: int, r: int, groups: list, now: float, trees: dict) -> dict[int, int]:
    """A replica's Merkle leaves for range ``r`` (as ``merkle.leaves``: each leaf the XOR of
    its keys' digests), built once per round (each range is compared with two neighbours);
    hashing costs the node CPU. Only where two trees differ are the keys' versions gathered
    again (``_held``)."""
    found = trees.get((node, r))
    if found is None:
        positions, data = d.keys.positions, d.stores[node].data
        mask = (1 << d.params.merkle_depth) - 1
        key_digest = merkle.key_digest
        found = trees[(node, r)] = {}
        hashed = 0
        for key in groups[node].get(r, ()):
            entries = data[key]  # ``ReplicaStore.read``, inlined: a round reads every stored key
            if len(entries) == 1:
                version, visible, superseded = entries[0]
                if not visible <= now < superseded:
                    continue
                versions = (version,)
            else:
                versions = live_at(entries, now)
                if not versions:
                    continue
            position = positions[key]
            leaf = position & mask
            found[leaf] = found.get(leaf, 0) ^ key_digest(position, versions)
            hashed += 1
        d.queues.cpu(node, now, d.params.merkle_cpu_us_per_key / 1e6 * max(1, hashed))
    return found


def _held(d: Any, node: int, keys: Iterable[int], now: float) -> dict[int, list[Version]]:
    """The versions ``node`` holds live for each of ``keys`` (keys it holds none of are left out)."""
    store = d.stores[node]
    live: dict[int, list[Version]] = {}
    for key in keys:
        versions = store.read(key, now)
        if versions:
            live[key] = versions
    return live


def _has(versions: list[Version], v: Version) -> bool:
    return any(x is v or (x.coord == v.coord and x.counter == v.counter) for x in versions)


def _move(d: Any, pair: tuple[int, int], items: list[tuple[int, Version]], hash_bytes: float,
          rewrite: list[int]) -> Generator[Any, Any, None]:
    rt, stats = d.rt, d.ae_stats
    src, dst = pair
    nbytes = hash_bytes + len(items) * (d.record_bytes + d.params.message_overhead_bytes)
    try:
        yield rt.transfer(rt.nodes[src], rt.nodes[dst], nbytes)
    except (NodeDown, Unreachable):
        return  # the next round tries again
    stats.bytes_moved += nbytes
    now, store = rt.now, d.stores[dst]
    for key, version in items:
        if store.apply(key, version, now, d.floor):
            stats.versions_repaired += 1
    for r in rewrite:
        yield from _rewrite(d, dst, r)


def _rewrite(d: Any, node: int, r: int) -> Generator[Any, Any, None]:
    """Rewrite a corrupted range file from the versions just received (clears the corruption)."""
    rt = d.rt
    rfile = d.range_files[r]
    target = rt.nodes[node]
    if not target.alive or rfile not in target.corrupted:
        return
    try:
        yield rt.write(target, max(1.0, rt.nodes[node].files.get(rfile, d.record_bytes)), file=rfile)
    except NodeDown:
        return
