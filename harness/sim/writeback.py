"""Dirty pages and write-back: what Linux does with a buffered ``write(2)`` nobody fsyncs.

A buffered write returns once its bytes are in the page cache; they reach the disk later,
written by the kernel's flusher thread when

* the dirty data exceeds ``vm.dirty_background_ratio`` percent of the dirtyable memory (free
  plus page-cache memory); it then writes until the dirty data is back under that share, or
* a dirty write is older than ``vm.dirty_expire_centisecs`` (30 s by default).

A writer that finds the dirty data at ``vm.dirty_ratio`` percent is held until the flusher
brings it back under (``balance_dirty_pages``). Data deleted before it is written out never
reaches the disk; data still dirty when the node crashes is lost. The flusher replays each
write as it was issued (same size and pattern), oldest first, on the node's one disk queue.
See docs/models.md (Memory) for the constants and what is simplified.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Generator

import simpy

# Writes out one dirty write: (nbytes, pattern) -> a generator charging the disk.
WriteOut = Callable[[float, str], Generator[Any, Any, None]]
# Starts the flusher as a process of the node, so that a crash stops it.
Spawn = Callable[[Generator[Any, Any, None]], simpy.Process]


@dataclass
class _DirtyWrite:
    file: str | None
    nbytes: float
    pattern: str
    dirtied_at: float
    cancelled: bool = False


class WriteBack:
    """One node's dirty data and its flusher. ``dirtyable`` returns the bytes Linux's
    ``global_dirtyable_memory`` counts (free + page cache) at the moment it is asked."""

    def __init__(
        self,
        env: simpy.Environment,
        spawn: Spawn,
        write_out: WriteOut,
        dirtyable: Callable[[], float],
        ratio: float,
        background_ratio: float,
        expire_s: float,
    ) -> None:
        self.env = env
        self._spawn = spawn
        self._write_out = write_out
        self._dirtyable = dirtyable
        self._ratio = ratio / 100.0
        self._background_ratio = background_ratio / 100.0
        self._expire_s = expire_s
        self._queue: deque[_DirtyWrite] = deque()  # oldest first
        self._by_file: dict[str, deque[_DirtyWrite]] = {}
        self.dirty_bytes = 0.0  # includes the write being written out, as NR_WRITEBACK counts
        self._flusher: simpy.Process | None = None
        self._kick: simpy.Event | None = None  # wakes a flusher waiting for the oldest to expire
        self._under_limit: simpy.Event | None = None  # held writers wait on this
        self._syncing = 0  # callers of sync() waiting: write out everything, whatever its age
        self._idle: simpy.Event | None = None  # fires when the flusher has nothing left

    def write(self, file: str | None, nbytes: float, pattern: str) -> Generator[Any, Any, None]:
        """A buffered write: held while the dirty data is at the limit, then cached as dirty."""
        while self.dirty_bytes > 0 and self.dirty_bytes >= self._ratio * self._dirtyable():
            self._ensure_flusher()
            if self._under_limit is None:
                self._under_limit = self.env.event()
            yield self._under_limit
        entry = _DirtyWrite(file, nbytes, pattern, self.env.now)
        self._queue.append(entry)
        if file is not None:
            self._by_file.setdefault(file, deque()).append(entry)
        self.dirty_bytes += nbytes
        self._ensure_flusher()
        if self._over_background() and self._kick is not None and not self._kick.triggered:
            self._kick.succeed()

    def sync(self) -> Generator[Any, Any, None]:
        """``sync(2)``: start writing out every dirty write now; end when none is left."""
        self._syncing += 1
        try:
            while self._queue:
                self._ensure_flusher()
                if self._kick is not None and not self._kick.triggered:
                    self._kick.succeed()
                if self._idle is None:
                    self._idle = self.env.event()
                yield self._idle
        finally:
            self._syncing -= 1

    def drop(self, file: str) -> float:
        """The file is deleted: its dirty writes that have not started are never written.
        Returns the bytes that will not reach the disk."""
        dropped = 0.0
        for entry in self._by_file.pop(file, ()):
            entry.cancelled = True
            dropped += entry.nbytes
        self.dirty_bytes -= dropped
        self._release_writers()
        return dropped

    def lose(self) -> set[str]:
        """The node crashed: every dirty write is lost. Returns the files that lost bytes."""
        lost = {e.file for e in self._queue if e.file is not None and not e.cancelled}
        self._queue.clear()
        self._by_file.clear()
        self.dirty_bytes = 0.0
        return lost

    # -- the flusher ----------------------------------------------------------------
    def _ensure_flusher(self) -> None:
        if self._flusher is None or not self._flusher.is_alive:
            self._flusher = self._spawn(self._flush())

    def _over_background(self) -> bool:
        return self._syncing > 0 or self.dirty_bytes > self._background_ratio * self._dirtyable()

    def _flush(self) -> Generator[Any, Any, None]:
        while self._queue:
            head = self._queue[0]
            if head.cancelled:
                self._queue.popleft()
                continue
            due = head.dirtied_at + self._expire_s
            if not self._over_background() and self.env.now < due:
                self._kick = self.env.event()
                yield self.env.any_of([self._kick, self.env.timeout(due - self.env.now)])
                self._kick = None
                continue
            self._queue.popleft()
            if head.file is not None:
                self._forget(head)
            yield from self._write_out(head.nbytes, head.pattern)
            self.dirty_bytes -= head.nbytes
            self._release_writers()
        if self._idle is not None:
            self._idle.succeed()
            self._idle = None

    def _forget(self, entry: _DirtyWrite) -> None:
        """Writes go out oldest first, so the entry is its file's oldest one."""
        assert entry.file is not None
        entries = self._by_file[entry.file]
        entries.popleft()
        if not entries:
            del self._by_file[entry.file]

    def _release_writers(self) -> None:
        if self._under_limit is not None and self.dirty_bytes < self._ratio * self._dirtyable():
            self._under_limit.succeed()
            self._under_limit = None
