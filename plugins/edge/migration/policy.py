"""Migration decisions, free of I/O: which pages a pre-copy batch carries, when pre-copy
stops, how fast it may send, and which pages post-copy pushes next.

The pre-copy rules are those of Xen's ``xc_domain_save.c`` (the implementation Clark et al.
evaluate in "Live Migration of Virtual Machines", NSDI 2005): batches of 1,024 pages;
pages already re-dirtied in the current round are skipped (they will be sent again
anyway); the last round starts when fewer than 50 pages are left (Xen's code tests the
pages sent in the round just ended; we test what the last round will carry), after 30 rounds, after
3x the guest's pages were sent, or when the round sent more than the previous one at the
maximum rate; the adaptive rate starts at 100 Mbit/s and becomes the last round's
dirtying rate + 50 Mbit/s, capped at 500 Mbit/s. The post-copy push with pre-paging
follows Hines & Gopalan (VEE 2009): after a fault, push the pages around it ("bubbling").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RoundStats:
    round: int  # 1-based
    pages_sent: int
    pages_skipped: int
    pages_dirtied: int  # dirtied during the round: the next round's work
    duration_s: float
    bytes_sent: float  # on the wire
    total_pages_sent: int
    guest_pages: int


@dataclass(frozen=True)
class StopDecision:
    stop: bool
    reason: str  # why the last (stop-and-copy) round starts; "" while it continues
    next_rate_Bps: float | None  # send-rate limit for the next live round (None: the link's)


@dataclass
class PrecopyPolicy:
    """When to stop iterating, and (optionally) Xen's adaptive send-rate limit."""

    page_bytes: float
    max_rounds: int = 30
    min_dirty_pages: int = 50
    max_sent_factor: float = 3.0
    stop_on_dirty_rate: bool = True
    adaptive_rate: bool = False
    start_rate_Bps: float = 100e6 / 8
    max_rate_Bps: float = 500e6 / 8
    rate_step_Bps: float = 50e6 / 8
    _rate: float | None = None
    _last_sent: int | None = None

    def first_rate(self) -> float | None:
        self._rate = self.start_rate_Bps if self.adaptive_rate else None
        return self._rate

    def after_round(self, s: RoundStats) -> StopDecision:
        dirty_Bps = s.pages_dirtied * self.page_bytes / s.duration_s if s.duration_s > 0 else float("inf")
        if self.adaptive_rate and self._rate is not None and dirty_Bps > self._rate:
            self._rate = min(self.max_rate_Bps, dirty_Bps + self.rate_step_Bps)
        reason = self._stop_reason(s, dirty_Bps)
        self._last_sent = s.pages_sent
        return StopDecision(bool(reason), reason, self._rate)

    def _stop_reason(self, s: RoundStats, dirty_Bps: float) -> str:
        if s.pages_dirtied < self.min_dirty_pages:
            return "converged"
        if s.round >= self.max_rounds:
            return "max_rounds"
        if s.total_pages_sent > s.guest_pages * self.max_sent_factor:
            return "max_sent_factor"
        at_max = self.adaptive_rate and self._rate is not None and self._rate >= self.max_rate_Bps
        if at_max and self._last_sent is not None and s.pages_sent > self._last_sent:
            return "no_progress_at_max_rate"
        if self.stop_on_dirty_rate and dirty_Bps >= self._send_ceiling(s):
            return "dirty_rate_exceeds_link"
        return ""

    def _send_ceiling(self, s: RoundStats) -> float:
        """The fastest this migration can copy: the rate cap if adaptive, else what the link gave."""
        if self.adaptive_rate:
            return self.max_rate_Bps
        return s.bytes_sent / s.duration_s if s.duration_s > 0 else float("inf")


class RoundPlanner:
    """Walks one round's ``to_send`` pages in index order, a batch at a time."""

    def __init__(self, to_send: np.ndarray, batch_pages: int, skip_redirtied: bool) -> None:
        self.to_send = to_send
        self.batch_pages = batch_pages
        self.skip_redirtied = skip_redirtied
        self.pos = 0
        self.skipped = 0

    @property
    def done(self) -> bool:
        return self.pos >= self.to_send.size

    def next_batch(self, dirty_now: np.ndarray) -> np.ndarray:
        """Up to ``batch_pages`` pages; with skipping, those re-dirtied this round are left out."""
        window = self.to_send[self.pos : self.pos + 4 * self.batch_pages]
        if not self.skip_redirtied:
            batch = window[: self.batch_pages]
            self.pos += batch.size
            return batch
        keep = np.flatnonzero(~dirty_now[window])[: self.batch_pages]
        consumed = window.size if keep.size < self.batch_pages else int(keep[-1]) + 1
        self.skipped += consumed - keep.size
        self.pos += consumed
        return window[keep]


class PostcopyPusher:
    """Background push of the pages the destination still lacks, optionally pre-paging
    around the latest fault (the pivot) rather than in address order."""

    def __init__(self, needed: np.ndarray, total: int, batch_pages: int, prepaging: bool) -> None:
        self.pending = np.zeros(total, dtype=bool)
        self.pending[needed] = True
        self.batch_pages = batch_pages
        self.prepaging = prepaging
        self.cursor = 0
        self.pivot: int | None = None

    @property
    def remaining(self) -> int:
        return int(np.count_nonzero(self.pending))

    def take(self, pages: np.ndarray) -> None:
        """These pages are on their way (or arrived) another way: never push them."""
        self.pending[pages] = False

    def note_fault(self, pages: np.ndarray) -> None:
        if pages.size:
            self.pivot = int(pages[-1])

    def next_batch(self) -> np.ndarray:
        if self.prepaging and self.pivot is not None:
            batch = self._around(self.pivot)
        else:
            batch = self._from(self.cursor)
            if batch.size == 0:
                batch = self._from(0)
            if batch.size:
                self.cursor = int(batch[-1]) + 1
        self.pending[batch] = False
        return batch

    def _from(self, start: int) -> np.ndarray:
        """The next pending pages at or after ``start`` (windows grow, so this stays cheap)."""
        window = 4 * self.batch_pages
        while start < self.pending.size:
            found = np.flatnonzero(self.pending[start : start + window]) + start
            if found.size >= self.batch_pages or start + window >= self.pending.size:
                return found[: self.batch_pages]
            window *= 4
        return np.empty(0, dtype=np.int64)

    def _around(self, pivot: int) -> np.ndarray:
        """The ``batch_pages`` pending pages nearest the pivot, on both sides."""
        half = 2 * self.batch_pages
        while True:
            lo, hi = max(0, pivot - half), min(self.pending.size, pivot + half)
            found = np.flatnonzero(self.pending[lo:hi]) + lo
            if found.size >= self.batch_pages or (lo == 0 and hi == self.pending.size):
                break
            half *= 4
        if found.size <= self.batch_pages:
            return found
        at = int(np.searchsorted(found, pivot))
        start = max(0, min(at - self.batch_pages // 2, found.size - self.batch_pages))
        return found[start : start + self.batch_pages]
