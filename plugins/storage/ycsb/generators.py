"""YCSB's request-key generators, vectorised with NumPy (pure: no simulator, no clock).

Each function mirrors a generator of YCSB core (github.com/brianfrankcooper/YCSB,
``core/src/main/java/site/ycsb/generator/``) so a preset draws keys the way the Java
client would:

* ``ZipfianGenerator`` -- Gray et al., "Quickly generating billion-record synthetic
  databases" (SIGMOD 1994): rank 0 is the most popular item, P(rank i) ~ 1 / (i+1)^theta.
* ``ScrambledZipfianGenerator`` -- the ``zipfian`` request distribution: a Zipfian draw
  over a fixed space of 10^10 items, hashed with 64-bit FNV-1a and folded onto the record
  count, so the popular keys are scattered over the key space instead of being the first
  ones.
* ``SkewedLatestGenerator`` -- the ``latest`` distribution: key = newest - Zipfian(count),
  so recently inserted records are the most popular (workload D).
* ``UniformLongGenerator`` -- ``uniform``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ZIPFIAN_CONSTANT = 0.99  # YCSB's ZipfianGenerator.ZIPFIAN_CONSTANT
SCRAMBLED_ITEM_COUNT = 10_000_000_000  # ScrambledZipfianGenerator.ITEM_COUNT
SCRAMBLED_ZETAN = 26.46902820178302  # ScrambledZipfianGenerator.ZETAN: zeta(10^10, 0.99)
FNV_OFFSET_BASIS_64 = np.uint64(0xCBF29CE484222325)
FNV_PRIME_64 = np.uint64(1099511628211)
_EXACT_ZETA_TERMS = 2_000_000  # above this, Euler-Maclaurin for the tail (error < 1e-12)


def zeta(n: int, theta: float) -> float:
    """sum_{i=1..n} 1 / i^theta; exact up to 2e6 terms, Euler-Maclaurin for the rest."""
    exact = min(n, _EXACT_ZETA_TERMS)
    head = float(np.sum(1.0 / np.arange(1, exact + 1, dtype=np.float64) ** theta))
    if n <= exact:
        return head
    # sum_{i=a+1..n} f(i) ~ integral_a^n f + (f(n) - f(a)) / 2 + (f'(n) - f'(a)) / 12
    a = float(exact)
    f = lambda x: x ** -theta  # noqa: E731
    df = lambda x: -theta * x ** (-theta - 1)  # noqa: E731
    if abs(theta - 1.0) < 1e-12:
        integral = math.log(n / a)
    else:
        integral = (n ** (1 - theta) - a ** (1 - theta)) / (1 - theta)
    return head + integral + (f(n) - f(a)) / 2 + (df(n) - df(a)) / 12


def zeta_prefix(start: int, stop: int, theta: float, zeta_start: float) -> np.ndarray:
    """zeta(n) for n in [start, stop], given zeta(start): the incremental update YCSB makes
    when the item count grows (inserts under the ``latest`` distribution)."""
    terms = 1.0 / np.arange(start + 1, stop + 1, dtype=np.float64) ** theta
    return np.concatenate(([zeta_start], zeta_start + np.cumsum(terms)))


def zipfian_ranks(u: np.ndarray, items: np.ndarray | int, theta: float, zetan: np.ndarray | float) -> np.ndarray:
    """Gray's inverse-CDF approximation, exactly as YCSB's ``ZipfianGenerator.nextLong``.

    ``u`` are uniform draws in [0, 1); ``items``/``zetan`` may be arrays (a growing count).
    Returns ranks in [0, items).
    """
    items_f = np.asarray(items, dtype=np.float64)
    zeta2 = 1.0 + 0.5 ** theta
    alpha = 1.0 / (1.0 - theta)
    eta = (1.0 - (2.0 / items_f) ** (1.0 - theta)) / (1.0 - zeta2 / np.asarray(zetan, dtype=np.float64))
    uz = u * zetan
    tail = np.floor(items_f * (eta * u - eta + 1.0) ** alpha)
    ranks = np.where(uz < 1.0, 0.0, np.where(uz < 1.0 + 0.5 ** theta, 1.0, tail))
    return np.minimum(ranks, items_f - 1).astype(np.int64)


def fnv_hash64(values: np.ndarray) -> np.ndarray:
    """YCSB ``Utils.fnvhash64``: FNV-1a over the 8 little-endian bytes of a long, then abs()."""
    v = values.astype(np.uint64)
    h = np.full(v.shape, FNV_OFFSET_BASIS_64, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for _ in range(8):
            h ^= v & np.uint64(0xFF)
            v >>= np.uint64(8)
            h *= FNV_PRIME_64
    return np.abs(h.view(np.int64))


def scrambled_zipfian(rng: Any, size: int, items: int, theta: float = ZIPFIAN_CONSTANT) -> np.ndarray:
    """YCSB's ``zipfian`` request distribution over keys [0, items)."""
    zetan = SCRAMBLED_ZETAN if theta == ZIPFIAN_CONSTANT else zeta(SCRAMBLED_ITEM_COUNT, theta)
    ranks = zipfian_ranks(rng.random(size), SCRAMBLED_ITEM_COUNT, theta, zetan)
    return fnv_hash64(ranks) % items


def skewed_latest(rng: Any, newest: np.ndarray, theta: float = ZIPFIAN_CONSTANT) -> np.ndarray:
    """YCSB's ``latest`` distribution: ``newest[i] - Zipfian(newest[i] + 1)`` for each draw.

    ``newest`` is the highest key inserted so far at each operation (non-decreasing).
    """
    counts = newest.astype(np.int64) + 1
    low, high = int(counts.min()), int(counts.max())
    table = zeta_prefix(low, high, theta, zeta(low, theta))
    zetan = table[counts - low]
    return newest - zipfian_ranks(rng.random(len(counts)), counts, theta, zetan)


def uniform(rng: Any, size: int, items: int) -> np.ndarray:
    return rng.integers(0, items, size=size, dtype=np.int64)
