"""Hinted handoff (Dynamo section 4.6): a stand-in keeps a write meant for a node it
believes down, with a hint naming that node, and hands it over once the node is back.

The hints are kept by holder and intended home; a periodic scan on each holder transfers
them (one bulk transfer per holder and home, over the simulated network) and, once the
home has them, the holder forgets its copy of keys it does not replicate itself.
"""

from __future__ import annotations

from typing import Any, Generator

from harness.api import NodeDown, Unreachable
from plugins.storage.dynamo.versions import Version


class HintStore:
    def __init__(self, nodes: int) -> None:
        self.by_holder: list[dict[int, list[tuple[int, Version]]]] = [{} for _ in range(nodes)]
        self.keys_held: list[dict[int, int]] = [{} for _ in range(nodes)]  # holder: key -> pending hints
        self.stored = 0
        self.delivered = 0
        self.bytes_moved = 0.0

    def add(self, holder: int, home: int, key: int, version: Version, at: float) -> None:
        self.by_holder[holder].setdefault(home, []).append((key, version))
        held = self.keys_held[holder]
        held[key] = held.get(key, 0) + 1
        self.stored += 1

    def pending(self) -> int:
        return sum(len(items) for homes in self.by_holder for items in homes.values())

    def take(self, holder: int, home: int) -> list[tuple[int, Version]]:
        return self.by_holder[holder].pop(home, [])

    def put_back(self, holder: int, home: int, batch: list[tuple[int, Version]]) -> None:
        self.by_holder[holder].setdefault(home, [])[:0] = batch

    def done(self, holder: int, batch: list[tuple[int, Version]]) -> list[int]:
        """Mark ``batch`` delivered; returns the keys the holder no longer has hints for."""
        held = self.keys_held[holder]
        free = []
        for key, _ in batch:
            left = held.get(key, 0) - 1
            if left <= 0:
                held.pop(key, None)
                free.append(key)
            else:
                held[key] = left
        self.delivered += len(batch)
        return free


def deliverable(d: Any, holder: int, home: int) -> bool:
    nodes = d.rt.nodes
    return nodes[holder].alive and nodes[home].alive and d.rt.reachable(nodes[holder], nodes[home])


def handoff_loop(d: Any) -> Generator[Any, Any, None]:
    """Every ``handoff_interval_s``: deliver every hint whose home is reachable again."""
    while True:
        yield d.rt.sleep(d.params.handoff_interval_s)
        yield from handoff_round(d)


def handoff_round(d: Any) -> Generator[Any, Any, None]:
    rt = d.rt
    transfers = []
    for holder, homes in enumerate(d.hints.by_holder):
        for home in [h for h, items in homes.items() if items]:
            if deliverable(d, holder, home):
                transfers.append(rt.spawn(_deliver(d, holder, home, d.hints.take(holder, home))))
    if transfers:
        yield rt.all_of(transfers)


def _deliver(d: Any, holder: int, home: int, batch: list[tuple[int, Version]]) -> Generator[Any, Any, None]:
    rt, hints = d.rt, d.hints
    nbytes = len(batch) * (d.record_bytes + d.params.message_overhead_bytes)
    try:
        yield rt.transfer(rt.nodes[holder], rt.nodes[home], nbytes)
    except (NodeDown, Unreachable):
        hints.put_back(holder, home, batch)  # try again on a later scan
        return
    now = rt.now
    store = d.stores[home]
    for key, version in batch:
        store.apply(key, version, now, d.floor)
    hints.bytes_moved += nbytes
    for key in hints.done(holder, batch):
        if holder not in d.home_replicas(key):
            d.stores[holder].drop(key)  # "once the transfer succeeds, D may delete the object"
