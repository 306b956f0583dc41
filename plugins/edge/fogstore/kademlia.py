"""Kademlia, sans I/O: identifiers, routing tables and the iterative lookup as pure state.

The DHT is topology-unaware on purpose (that is what seed 003 criticises in IPFS): a
node's identifier is the SHA-1 of its name, a key's the SHA-1 of the object id, and
"close" means a small XOR distance -- which says nothing about sites or WAN links. The
system (``system.py``) drives a ``Lookup`` with real RPCs; this module decides whom to
ask next and when to stop, so it can be unit-tested without the simulator.
(Maymounkov & Mazieres, "Kademlia: A Peer-to-peer Information System Based on the XOR
Metric", IPTPS 2002.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def sha1_id(text: str) -> int:
    """A 160-bit identifier; hashlib, never ``hash()``, which is salted per process."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest(), "big")


def node_id(name: str) -> int:
    return sha1_id(f"node:{name}")


def key_id(object_id: str) -> int:
    return sha1_id(f"object:{object_id}")


def by_distance(key: int, ids: list[int] | set[int]) -> list[int]:
    return sorted(ids, key=lambda peer: peer ^ key)


class RoutingTable:
    """k-buckets: bucket i holds up to ``bucket_size`` peers at XOR distance [2^i, 2^(i+1)).

    Kademlia keeps the oldest live contacts of a full bucket, so the first peers added
    win; the caller decides the order in which peers are met.
    """

    def __init__(self, own: int, bucket_size: int) -> None:
        self.own = own
        self.bucket_size = bucket_size
        self.buckets: dict[int, list[int]] = {}

    def add(self, peer: int) -> bool:
        if peer == self.own:
            return False
        bucket = self.buckets.setdefault((self.own ^ peer).bit_length() - 1, [])
        if peer in bucket or len(bucket) >= self.bucket_size:
            return False
        bucket.append(peer)
        return True

    def contacts(self) -> list[int]:
        return [peer for index in sorted(self.buckets) for peer in self.buckets[index]]

    def closest(self, key: int, count: int) -> list[int]:
        return by_distance(key, self.contacts())[:count]


@dataclass
class Lookup:
    """An iterative lookup for ``key`` started by ``origin``.

    Rounds of up to ``alpha`` parallel queries to the closest peers not yet asked. A
    provider lookup stops at the first reply that names providers; a node lookup (before
    a STORE) stops once the ``width`` closest peers known have all answered.
    """

    key: int
    origin: int
    alpha: int
    width: int
    known: set[int] = field(default_factory=set)
    asked: set[int] = field(default_factory=set)
    answered: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    providers: list[int] = field(default_factory=list)
    rounds: int = 0

    def start(self, seeds: list[int]) -> None:
        # The origin answers for itself (its own table and record store) at no cost.
        self.known.update(seeds)
        self.known.add(self.origin)

    def next_round(self) -> list[int]:
        """Peers to ask now; empty when the lookup is over."""
        if self.providers:
            return []
        frontier = [p for p in self.closest_alive(self.width) if p not in self.asked]
        batch = frontier[: self.alpha]
        if batch:
            self.rounds += 1
            self.asked.update(batch)
        return batch

    def on_reply(self, peer: int, contacts: list[int], providers: list[int]) -> None:
        self.answered.add(peer)
        self.known.update(contacts)
        for provider in providers:
            if provider not in self.providers:
                self.providers.append(provider)

    def on_failure(self, peer: int) -> None:
        self.failed.add(peer)

    def closest_alive(self, count: int) -> list[int]:
        return by_distance(self.key, self.known - self.failed)[:count]

    def closest_answered(self, count: int) -> list[int]:
        """Where a STORE goes: the closest peers that proved alive."""
        return by_distance(self.key, self.answered)[:count]


def rendezvous_order(object_id: str, names: list[str]) -> list[str]:
    """The site-local store's nodes for an object, by highest random weight (via hashlib):
    the first holds it, the next ones take over when it is down.

    Every node of a site computes the same answer without asking anyone, as a scale-out
    NAS client locates a file's storage node; removing a node moves only its objects.
    """
    return sorted(names, key=lambda name: (sha1_id(f"{object_id}@{name}"), name), reverse=True)


def rendezvous(object_id: str, names: list[str]) -> str:
    return rendezvous_order(object_id, names)[0]
