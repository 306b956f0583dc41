"""Pure decisions of an image pull: how a layer's byte stream splits into chunks, and what
each chunk carries to the extractor. No simulator here, so it is unit-testable alone.

A layer is one gzip stream of a tar archive. The puller moves it in chunks of compressed
bytes; compression is taken as uniform within a layer, so chunk k of the compressed stream
decompresses to the matching share of the tar. Each chunk carries the pieces of files
whose bytes fall in it (a big file spans chunks and is written piece by piece, as tar
extraction writes it while data arrives) and the number of files that start in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    compressed: float  # bytes on the wire / in the blob
    uncompressed: float  # bytes of tar the chunk decompresses to
    new_files: int  # files whose first byte is in this chunk (inode, tar header, syscalls)
    pieces: tuple[tuple[float, float], ...]  # (offset in the layer's tree, bytes) written per file piece


def chunks(compressed: float, sizes: np.ndarray, chunk_bytes: float) -> list[Chunk]:
    """Split a layer of ``compressed`` bytes whose files have ``sizes`` into wire chunks."""
    count = max(1, math.ceil(compressed / chunk_bytes - 1e-9))
    uncompressed = float(sizes.sum())
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = []
    for k in range(count):
        c_lo, c_hi = k * chunk_bytes, min(compressed, (k + 1) * chunk_bytes)
        u_lo, u_hi = _share(c_lo, compressed, uncompressed), _share(c_hi, compressed, uncompressed)
        if k == count - 1:
            u_hi = uncompressed
        new = _starting(starts, u_lo, u_hi, first=k == 0, last=k == count - 1)
        out.append(Chunk(c_hi - c_lo, u_hi - u_lo, new, _pieces(starts, ends, u_lo, u_hi)))
    return out


def _share(c: float, compressed: float, uncompressed: float) -> float:
    return uncompressed * (c / compressed) if compressed > 0 else uncompressed


def _starting(starts: np.ndarray, lo: float, hi: float, first: bool, last: bool) -> int:
    """Files starting in [lo, hi); the first and last chunks take the stream's ends."""
    left = 0 if first else int(np.searchsorted(starts, lo, side="left"))
    right = len(starts) if last else int(np.searchsorted(starts, hi, side="left"))
    return right - left


def _pieces(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> tuple[tuple[float, float], ...]:
    first = int(np.searchsorted(ends, lo, side="right"))
    last = int(np.searchsorted(starts, hi, side="left"))
    pieces = []
    for i in range(first, last):
        a, b = max(starts[i], lo), min(ends[i], hi)
        if b > a:
            pieces.append((float(a), float(b - a)))
    return tuple(pieces)
