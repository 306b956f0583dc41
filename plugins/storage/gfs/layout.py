"""Pure GFS decisions, no simulator: chunk arithmetic, checksum blocks, replica
placement, push-chain order and re-replication priority.

Everything here is a plain function of its arguments (ties broken by a stable MD5 hash,
never Python's salted ``hash()``), so it is unit-tested without SimPy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Sequence


MASK64 = (1 << 64) - 1


def stable_hash(*parts: object) -> int:
    """A process-independent tie-breaker (MD5 of the parts' text)."""
    digest = hashlib.md5("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def mix(seed: int, i: int) -> int:
    """Cheap per-item tie-breaker derived from one stable hash (SplitMix64's finaliser)."""
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


# -- chunks and checksum blocks ---------------------------------------------------------

def chunk_pieces(offset: float, nbytes: float, chunk_bytes: float) -> list[tuple[int, float, float]]:
    """Split a file byte range into (chunk index, offset in chunk, bytes) pieces."""
    pieces = []
    end = offset + nbytes
    while offset < end:
        index = int(offset // chunk_bytes)
        inner = offset - index * chunk_bytes
        n = min(end - offset, chunk_bytes - inner)
        pieces.append((index, inner, n))
        offset += n
    return pieces


def block_span(offset: float, nbytes: float, block: float) -> tuple[float, float]:
    """The range rounded out to whole checksum blocks: what a verified read must read."""
    start = (offset // block) * block
    end = -(-(offset + nbytes) // block) * block
    return start, end


def overwrite_verify_bytes(offset: float, nbytes: float, block: float, length: float) -> float:
    """Bytes a chunkserver reads and verifies before overwriting a range (GFS 5.2: "we must
    read and verify the first and last blocks of the range being overwritten"): the partial
    blocks at either end that hold existing data."""
    end = offset + nbytes
    first = (offset // block) * block
    last = (-(-end // block) - 1) * block
    partial = []
    if offset > first and first < length:
        partial.append(first)
    if end < last + block and last < length and last not in partial:
        partial.append(last)
    return sum(min(block, length - b) for b in partial)


# -- placement ------------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    id: int
    rack: str
    load: int  # replicas it holds (the master's view) plus creations in flight


def place_replicas(servers: Sequence[Server], n: int, salt: object, rack_aware: bool,
                   holders: Iterable[Server] = ()) -> list[int]:
    """Choose ``n`` new replica locations: least-loaded first, on racks not yet holding a
    replica when ``rack_aware`` (GFS 4.2: "spread chunk replicas across racks")."""
    chosen: list[Server] = []
    seed = stable_hash(salt)
    held = list(holders)
    taken = {s.id for s in held}
    for _ in range(n):
        pool = [s for s in servers if s.id not in taken]
        if not pool:
            break
        if rack_aware:
            racks = {s.rack for s in (*held, *chosen)}
            pool = [s for s in pool if s.rack not in racks] or pool
        low = min(s.load for s in pool)
        pick = min((s for s in pool if s.load == low), key=lambda s: mix(seed, s.id))
        chosen.append(pick)
        taken.add(pick.id)
    return [s.id for s in chosen]


# -- data flow ------------------------------------------------------------------------

def distance(a_node: object, b_node: object) -> int:
    """Network distance as GFS estimates it from IP addresses: 0 same machine, 1 same
    rack, 2 same site, 3 across sites."""
    if a_node.id == b_node.id:  # type: ignore[attr-defined]
        return 0
    if a_node.site != b_node.site:  # type: ignore[attr-defined]
        return 3
    return 1 if a_node.rack == b_node.rack else 2  # type: ignore[attr-defined]


def push_chain(client: object, replicas: Sequence[object], nearest: bool, salt: object) -> list[object]:
    """The order data is pushed in. GFS 3.2: "each machine forwards the data to the
    'closest' machine in the network topology that has not received it". With
    ``nearest`` off the chain follows the master's replica order (primary first)."""
    if not nearest:
        return list(replicas)
    chain: list[object] = []
    left = list(replicas)
    here = client
    seed = stable_hash(salt)
    while left:
        nxt = min(left, key=lambda r: (distance(here, r), mix(seed, r.id)))  # type: ignore[attr-defined]
        chain.append(nxt)
        left.remove(nxt)
        here = nxt
    return chain


def rack_crossings(client: object, chain: Sequence[object]) -> int:
    """Hops of a chain that leave a rack (each one crosses two rack uplinks)."""
    hops = zip([client, *chain[:-1]], chain)
    return sum(1 for a, b in hops if distance(a, b) >= 2)


# -- re-replication -------------------------------------------------------------------

def clone_order(needs: dict[int, int], goal: int, priority: bool) -> list[int]:
    """Chunks to clone, most urgent first. GFS 4.3: "how far it is from its replication
    goal ... a chunk that has lost two replicas is given higher priority than a chunk that
    has lost only one". Without ``priority``: by handle (creation order)."""
    short = [h for h, live in needs.items() if live < goal]
    if priority:
        return sorted(short, key=lambda h: (needs[h], h))
    return sorted(short)
