"""Pages of a migrating guest: where the hot ones are, which get written, and a ledger of
versions that proves no write was lost. Pure NumPy: no simulator, no clock.

Page indices ``0 .. memory_pages-1`` are RAM; ``memory_pages .. total-1`` are 4 KiB blocks of
the guest's local file-system state (a container's writable layer), migrated the same way
but read from and written to disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PageClass:
    """Pages that share one per-page write rate and one per-page access rate."""

    name: str
    pages: np.ndarray  # sorted page indices
    write_rate: float  # writes per second of application work, per page
    access_rate: float  # accesses (reads + writes) per second, per page


@dataclass(frozen=True)
class PageSpace:
    memory_pages: int
    fs_pages: int
    classes: tuple[PageClass, ...]

    @property
    def total(self) -> int:
        return self.memory_pages + self.fs_pages

    def is_fs(self, pages: np.ndarray) -> np.ndarray:
        return pages >= self.memory_pages


def layout(
    memory_pages: int,
    fs_pages: int,
    tiers: tuple[tuple[float, float], ...],
    write_rate: float,
    access_rate: float,
    fs_write_rate: float,
    run_pages: int,
    rng: np.random.Generator,
) -> PageSpace:
    """Place each tier's pages as runs of ``run_pages`` contiguous pages at seeded positions.

    Runs give the spatial locality that post-copy pre-paging exploits (a fault's
    neighbours are likely to be needed next); their positions are random so the hot set
    is not simply the first pages (which a linear push would send first).
    """
    runs = math.ceil(memory_pages / run_pages)
    order = rng.permutation(runs)
    classes: list[PageClass] = []
    start = 0
    for i, (page_share, rate_share) in enumerate(tiers):
        count = runs - start if i == len(tiers) - 1 else min(runs - start, max(1, round(page_share * runs)))
        chosen = np.sort(order[start : start + count])
        start += count
        pages = (chosen[:, None] * run_pages + np.arange(run_pages)[None, :]).ravel()
        pages = pages[pages < memory_pages]
        n = max(1, pages.size)
        classes.append(PageClass(f"tier{i}", pages, write_rate * rate_share / n, access_rate * rate_share / n))
    if fs_pages:
        fs = np.arange(memory_pages, memory_pages + fs_pages)
        # File writes are appends and rewrites of a few hot files: CHOICE, a tenth of the layer.
        hot = max(1, fs_pages // 10)
        classes.append(PageClass("fs_hot", fs[:hot], fs_write_rate / hot, fs_write_rate / hot))
        if fs_pages > hot:
            classes.append(PageClass("fs_cold", fs[hot:], 0.0, 0.0))
    return PageSpace(memory_pages, fs_pages, tuple(classes))


def sample_touched(space: PageSpace, seconds: float, rng: np.random.Generator, what: str = "write") -> np.ndarray:
    """Distinct pages touched at least once in ``seconds`` of application work.

    Each page of a class is touched with probability 1 - exp(-rate * seconds) (Poisson
    touches), so sampling once per interval is exact whatever the interval's length:
    the count is binomial, then that many distinct pages are drawn.
    """
    if seconds <= 0:
        return np.empty(0, dtype=np.int64)
    picked = []
    for cls in space.classes:
        rate = cls.write_rate if what == "write" else cls.access_rate
        if rate <= 0 or cls.pages.size == 0:
            continue
        k = int(rng.binomial(cls.pages.size, -math.expm1(-rate * seconds)))
        if k:
            picked.append(cls.pages[rng.choice(cls.pages.size, size=k, replace=False)])
    return np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)


@dataclass
class PageLedger:
    """Version of every page at the source and at the destination.

    ``src`` counts writes at the source; ``dst`` holds the source version the destination
    received (-1: never received). A page is *current* at the destination when the two are
    equal. After the switch-over the source is frozen and writes happen at the
    destination (``dst_local``); writing a page that is not current there would build on
    stale data, which is counted as a lost update.
    """

    total: int
    src: np.ndarray = field(init=False)
    dst: np.ndarray = field(init=False)
    dst_local: np.ndarray = field(init=False)
    lost_updates: int = 0
    stale_reads: int = 0

    def __post_init__(self) -> None:
        self.src = np.zeros(self.total, dtype=np.int64)
        self.dst = np.full(self.total, -1, dtype=np.int64)
        self.dst_local = np.zeros(self.total, dtype=bool)

    def write_at_source(self, pages: np.ndarray) -> None:
        self.src[pages] += 1

    def snapshot(self, pages: np.ndarray) -> np.ndarray:
        """The versions a copy of ``pages`` read now carries."""
        return self.src[pages].copy()

    def receive(self, pages: np.ndarray, versions: np.ndarray) -> None:
        # A page written at the destination since must keep its newer content.
        keep = self.dst_local[pages]
        self.dst[pages[~keep]] = versions[~keep]

    def current(self, pages: np.ndarray) -> np.ndarray:
        return self.dst[pages] == self.src[pages]

    def stale_pages(self) -> np.ndarray:
        """Pages whose latest source version the destination does not hold."""
        return np.flatnonzero(self.dst != self.src)

    def write_at_destination(self, pages: np.ndarray) -> None:
        self.lost_updates += int(np.count_nonzero(~self.current(pages) & ~self.dst_local[pages]))
        self.dst_local[pages] = True

    def read_at_destination(self, pages: np.ndarray) -> None:
        """A read the destination served from its own memory (only a broken design lets a
        read of a non-current page through)."""
        self.stale_reads += int(np.count_nonzero(~self.current(pages) & ~self.dst_local[pages]))

    def summary(self) -> dict[str, Any]:
        return {"stale": int(self.stale_pages().size), "lost_updates": self.lost_updates, "stale_reads": self.stale_reads}
