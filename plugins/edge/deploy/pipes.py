"""Two small synchronisation primitives built only on ``rt.event()``: a bounded pipe between
pipeline stages and a counting semaphore for download slots. Nothing here knows SimPy, so a
live runtime offering ``event()`` could run the same puller.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class Pipe:
    """A bounded FIFO: ``put`` waits while ``capacity`` items are buffered (like a Go io.Pipe
    with a buffer), ``get`` waits while it is empty."""

    def __init__(self, rt: Any, capacity: int) -> None:
        self.rt = rt
        self.capacity = max(1, capacity)
        self.items: deque[Any] = deque()
        self.getters: deque[Any] = deque()
        self.putters: deque[tuple[Any, Any]] = deque()

    def put(self, item: Any) -> Any:
        done = self.rt.event()
        if self.getters:
            self.getters.popleft().succeed(item)
            done.succeed()
        elif len(self.items) < self.capacity:
            self.items.append(item)
            done.succeed()
        else:
            self.putters.append((done, item))
        return done

    def get(self) -> Any:
        got = self.rt.event()
        if self.items:
            got.succeed(self.items.popleft())
            if self.putters:
                waiting, item = self.putters.popleft()
                self.items.append(item)
                waiting.succeed()
        else:
            self.getters.append(got)
        return got


class Slots:
    """A counting semaphore granted in request order (FIFO), so layers start in order."""

    def __init__(self, rt: Any, capacity: int) -> None:
        self.rt = rt
        self.free = max(1, capacity)
        self.waiting: deque[Any] = deque()

    def acquire(self) -> Any:
        granted = self.rt.event()
        if self.free > 0:
            self.free -= 1
            granted.succeed()
        else:
            self.waiting.append(granted)
        return granted

    def release(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.free += 1
