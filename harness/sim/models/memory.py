"""RAM, swap, ``vm.swappiness`` and the page cache as a deterministic state machine.

The model keeps two LRU lists at page granularity (1 MiB "pages" by default, so a 1 GiB
node has about a thousand entries and every operation costs O(pages touched)):

* anonymous memory, per owner, split into *hot* pages (used whenever the owner runs) and
  *cold* pages (allocated once and rarely used again, e.g. an idle daemon's heap);
* the page cache of file data, keyed by (file, page index).

When a page frame is needed and none is free, reclaim takes victims from both lists in
the proportion Linux's ``get_scan_count`` uses: the anonymous list is scanned with weight
``swappiness`` and the file list with weight ``200 - swappiness``, each scaled by the
list's size (Documentation/admin-guide/sysctl/vm.rst, mm/vmscan.c). Anonymous victims are
written to swap (off the critical path); file victims are simply dropped and must be read
from disk again the next time (on the critical path). All of it is a model: see
docs/models.md for the formula, its sources and its limits.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

MIB = float(1 << 20)
MAX_SWAPPINESS = 200  # Linux >= 5.8 accepts 0..200; 100 weighs anon and file equally


@dataclass(frozen=True)
class MemorySpec:
    ram_bytes: float
    os_reserved_bytes: float
    swap_bytes: float
    swappiness: int  # 0..200 (Linux semantics)
    page_bytes: float = float(1 << 20)  # accounting granularity, not the MMU page size
    # Write-back of buffered writes (harness/sim/writeback.py); dirty_ratio 0 = write-through.
    dirty_ratio: float = 20.0  # percent of dirtyable memory
    dirty_background_ratio: float = 10.0
    dirty_expire_s: float = 30.0

    def __post_init__(self) -> None:
        if not _finite(self.ram_bytes) or self.ram_bytes <= 0:
            raise ValueError(f"memory.ram_bytes={self.ram_bytes!r}: expected a number > 0")
        if not _finite(self.os_reserved_bytes) or not 0 <= self.os_reserved_bytes < self.ram_bytes:
            raise ValueError(f"memory.os_reserved_bytes={self.os_reserved_bytes!r}: expected 0 <= value < ram")
        if not _finite(self.swap_bytes) or self.swap_bytes < 0:
            raise ValueError(f"memory.swap_bytes={self.swap_bytes!r}: expected a number >= 0")
        if isinstance(self.swappiness, bool) or int(self.swappiness) != self.swappiness \
                or not 0 <= self.swappiness <= MAX_SWAPPINESS:
            raise ValueError(f"memory.swappiness={self.swappiness!r}: expected an integer in 0..{MAX_SWAPPINESS}")
        if not _finite(self.page_bytes) or self.page_bytes <= 0:
            raise ValueError(f"memory.page_bytes={self.page_bytes!r}: expected a number > 0")
        if not _finite(self.dirty_ratio) or not 0 <= self.dirty_ratio <= 100:
            raise ValueError(f"memory.dirty_ratio={self.dirty_ratio!r}: expected a percentage, 0 to 100")
        if self.dirty_ratio > 0 and (not _finite(self.dirty_background_ratio)
                                     or not 0 <= self.dirty_background_ratio < self.dirty_ratio):
            raise ValueError(f"memory.dirty_background_ratio={self.dirty_background_ratio!r}: "
                             f"expected >= 0 and below dirty_ratio ({self.dirty_ratio})")
        if not _finite(self.dirty_expire_s) or self.dirty_expire_s < 0:
            raise ValueError(f"memory.dirty_expire_s={self.dirty_expire_s!r}: expected a number >= 0")
        if self.frames < 1:
            raise ValueError("memory: ram_bytes - os_reserved_bytes is smaller than one page")

    @property
    def frames(self) -> int:
        """Page frames available to applications and the page cache."""
        return int((self.ram_bytes - self.os_reserved_bytes) // self.page_bytes)

    @property
    def swap_slots(self) -> int:
        return int(self.swap_bytes // self.page_bytes)


@dataclass
class MemoryEffect:
    """What the runtime must charge for one memory operation; all in bytes."""

    swap_out_bytes: float = 0.0  # written to swap (async, off the critical path)
    swap_in_bytes: float = 0.0  # read from swap (on the critical path)
    disk_read_bytes: float = 0.0  # file data read from disk (cache misses, on the critical path)
    cache_dropped_bytes: float = 0.0
    oom: bool = False  # allocation impossible even with swap


@dataclass
class _Owner:
    pages: dict[int, bool] = field(default_factory=dict)  # page id -> hot, in allocation order
    swapped: dict[int, None] = field(default_factory=dict)  # page ids currently in swap


class MemoryModel:
    """One node's memory. Not thread-safe; the simulation is single-threaded."""

    def __init__(self, spec: MemorySpec) -> None:
        self.spec = spec
        self._page = float(spec.page_bytes)
        self._frames = spec.frames
        self._swap_slots = spec.swap_slots
        self._owners: dict[str, _Owner] = {}
        self._page_owner: dict[int, str] = {}
        self._next_page = 0
        self._anon_lru: OrderedDict[int, None] = OrderedDict()  # resident anon, least recent first
        self._swapped = 0
        self._cache: OrderedDict[tuple[str, int], None] = OrderedDict()  # least recent first
        self._file_pages: dict[str, dict[int, None]] = {}
        self._anon_credit = 0.0  # fractional anon share carried between reclaims

    # -- read-only state -----------------------------------------------------------
    @property
    def anon_resident_bytes(self) -> float:
        return len(self._anon_lru) * self._page

    @property
    def swapped_bytes(self) -> float:
        return self._swapped * self._page

    @property
    def cache_bytes(self) -> float:
        return len(self._cache) * self._page

    @property
    def free_bytes(self) -> float:
        return self._free_frames() * self._page

    @property
    def swap_free_bytes(self) -> float:
        return (self._swap_slots - self._swapped) * self._page

    # -- anonymous memory ----------------------------------------------------------
    def alloc(self, owner: str, nbytes: float, hot_fraction: float = 1.0) -> MemoryEffect:
        """Allocate anonymous memory; ``1 - hot_fraction`` of it is cold (rarely touched).

        Fails (``oom=True``, nothing changes) only when the owners' anonymous memory would
        exceed every frame plus every swap slot: the page cache can always be dropped.
        """
        _require_bytes("nbytes", nbytes)
        if not _finite(hot_fraction) or not 0.0 <= hot_fraction <= 1.0:
            raise ValueError(f"hot_fraction={hot_fraction!r}: expected 0..1")
        count = math.ceil(nbytes / self._page - 1e-9)
        effect = MemoryEffect()
        if count == 0:
            return effect
        if len(self._anon_lru) + self._swapped + count > self._frames + self._swap_slots:
            effect.oom = True
            return effect
        hot = int(math.floor(count * hot_fraction + 0.5))
        record = self._owners.setdefault(owner, _Owner())
        for i in range(count):
            self._add_anon_page(owner, record, hot=i < hot, effect=effect)
        return effect

    def free(self, owner: str, nbytes: float | None = None) -> None:
        """Release the owner's most recent allocations (all of them when ``nbytes`` is None)."""
        record = self._owners.get(owner)
        if record is None:
            return
        if nbytes is None:
            count = len(record.pages)
        else:
            _require_bytes("nbytes", nbytes)
            count = min(len(record.pages), math.ceil(nbytes / self._page - 1e-9))
        for page in list(record.pages)[len(record.pages) - count:]:
            self._drop_anon_page(record, page)
        if not record.pages:
            del self._owners[owner]

    def touch(self, owner: str) -> MemoryEffect:
        """The owner runs: its hot pages become most recent; swapped-out hot pages come back."""
        effect = MemoryEffect()
        record = self._owners.get(owner)
        if record is None:
            return effect
        wanted: list[int] = []
        for page, hot in record.pages.items():
            if not hot:
                continue
            if page in record.swapped:
                wanted.append(page)
            else:
                self._anon_lru.move_to_end(page)
        for page in wanted:
            # Releasing the slot first lets reclaim reuse it for the page it evicts.
            del record.swapped[page]
            self._swapped -= 1
            if not self._obtain_frame(effect):
                record.swapped[page] = None  # nothing reclaimable: the page stays out
                self._swapped += 1
                continue
            self._anon_lru[page] = None
            effect.swap_in_bytes += self._page
        return effect

    # -- page cache ----------------------------------------------------------------
    def read_file(self, file: str, offset: float, nbytes: float) -> MemoryEffect:
        """Read through the page cache: hits are free; misses are read from disk and kept."""
        effect = MemoryEffect()
        for index, start, end in self._page_span(offset, nbytes):
            key = (file, index)
            if key in self._cache:
                self._cache.move_to_end(key)
                continue
            effect.disk_read_bytes += end - start
            if self._obtain_frame(effect):
                self._insert_cache(key)
        return effect

    def write_file(self, file: str, offset: float, nbytes: float) -> MemoryEffect:
        """Write through the cache: the data stays cached; the runtime charges the disk write."""
        effect = MemoryEffect()
        for index, _start, _end in self._page_span(offset, nbytes):
            key = (file, index)
            if key in self._cache:
                self._cache.move_to_end(key)
            elif self._obtain_frame(effect):
                self._insert_cache(key)
        return effect

    def drop_file(self, file: str) -> None:
        """Forget a deleted (or invalidated) file's cached pages."""
        for index in self._file_pages.pop(file, {}):
            del self._cache[(file, index)]

    # -- internals -----------------------------------------------------------------
    def _free_frames(self) -> int:
        return self._frames - len(self._anon_lru) - len(self._cache)

    def _add_anon_page(self, owner: str, record: _Owner, hot: bool, effect: MemoryEffect) -> None:
        page = self._next_page
        self._next_page += 1
        record.pages[page] = hot
        self._page_owner[page] = owner
        if not self._obtain_frame(effect):
            # Every frame holds anonymous memory and reclaim found no victim: the new page
            # goes straight to swap (alloc() already checked that a slot exists).
            record.swapped[page] = None
            self._swapped += 1
            effect.swap_out_bytes += self._page
            return
        self._anon_lru[page] = None
        if not hot:
            self._anon_lru.move_to_end(page, last=False)  # never touched: first anon victim

    def _drop_anon_page(self, record: _Owner, page: int) -> None:
        del record.pages[page]
        del self._page_owner[page]
        if page in record.swapped:
            del record.swapped[page]
            self._swapped -= 1
        else:
            del self._anon_lru[page]

    def _insert_cache(self, key: tuple[str, int]) -> None:
        self._cache[key] = None
        self._file_pages.setdefault(key[0], {})[key[1]] = None

    def _page_span(self, offset: float, nbytes: float) -> list[tuple[int, float, float]]:
        """(page index, first byte, end byte) of every page the byte range overlaps."""
        _require_bytes("offset", offset)
        _require_bytes("nbytes", nbytes)
        if nbytes == 0:
            return []
        end = offset + nbytes
        first = int(offset // self._page)
        last = math.ceil(end / self._page - 1e-9) - 1
        return [
            (i, max(offset, i * self._page), min(end, (i + 1) * self._page))
            for i in range(first, max(first, last) + 1)
        ]

    def _obtain_frame(self, effect: MemoryEffect) -> bool:
        """Make one frame free, reclaiming if needed; False if nothing can be reclaimed."""
        if self._free_frames() > 0:
            return True
        return self._reclaim_one(effect)

    def _reclaim_one(self, effect: MemoryEffect) -> bool:
        """Evict one page, choosing the list by Linux's swappiness-weighted scan balance.

        anon share = s * A / (s * A + (200 - s) * F), with A the resident anonymous pages
        that could go to swap (bounded by free swap slots) and F the cached file pages.
        The share accumulates in a carry so that, say, a 0.3 share evicts an anonymous
        page on about every third reclaim -- deterministically.
        """
        swappable = min(len(self._anon_lru), self._swap_slots - self._swapped)
        cached = len(self._cache)
        if swappable == 0 and cached == 0:
            return False
        s = self.spec.swappiness
        anon_weight = s * swappable
        file_weight = (MAX_SWAPPINESS - s) * cached
        if anon_weight + file_weight == 0:
            share = 1.0 if cached == 0 else 0.0  # swappiness 0 (or 200) with one list empty
        else:
            share = anon_weight / (anon_weight + file_weight)
        self._anon_credit += share
        if swappable > 0 and (cached == 0 or self._anon_credit >= 1.0 - 1e-12):
            self._anon_credit = max(0.0, self._anon_credit - 1.0)
            self._swap_out_lru(effect)
        else:
            self._anon_credit = min(self._anon_credit, 1.0)
            self._drop_lru_cache(effect)
        return True

    def _swap_out_lru(self, effect: MemoryEffect) -> None:
        page, _ = self._anon_lru.popitem(last=False)
        self._owners[self._page_owner[page]].swapped[page] = None
        self._swapped += 1
        effect.swap_out_bytes += self._page

    def _drop_lru_cache(self, effect: MemoryEffect) -> None:
        (file, index), _ = self._cache.popitem(last=False)
        pages = self._file_pages[file]
        del pages[index]
        if not pages:
            del self._file_pages[file]
        effect.cache_dropped_bytes += self._page


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require_bytes(name: str, value: float) -> None:
    if not _finite(value) or value < 0:
        raise ValueError(f"{name}={value!r}: expected a finite number >= 0")
