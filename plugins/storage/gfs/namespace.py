"""The master's persistent state and its operation log, as a pure state machine.

GFS 2.6.3: the namespace and the file-to-chunk mapping "are also kept persistent by
logging mutations to an operation log"; chunk versions too (4.5). Chunk *locations* are
not persistent: the master learns them from chunkservers (see ``master.py``). A
mutation is a log record; ``apply`` is used both live and when replaying the log after a
crash, so recovery runs exactly the code that built the state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from plugins.storage.gfs.costs import METADATA_BYTES_PER_CHUNK, METADATA_BYTES_PER_FILE

Record = tuple[Any, ...]  # ("create", path) | ("chunk", path, index, handle) | ("version", handle, v)


@dataclass
class Namespace:
    files: dict[str, list[int]] = field(default_factory=dict)  # path -> chunk handles in order
    versions: dict[int, int] = field(default_factory=dict)  # handle -> current version
    next_handle: int = 1

    def apply(self, record: Record) -> None:
        kind = record[0]
        if kind == "create":
            self.files.setdefault(record[1], [])
        elif kind == "chunk":
            _, path, index, handle = record
            chunks = self.files.setdefault(path, [])
            if index == len(chunks):
                chunks.append(handle)
            self.versions[handle] = 1
            self.next_handle = max(self.next_handle, handle + 1)
        elif kind == "version":
            _, handle, version = record
            self.versions[handle] = max(self.versions.get(handle, 0), version)
        else:
            raise ValueError(f"unknown log record {record!r}")

    def snapshot(self) -> Namespace:
        return copy.deepcopy(self)

    @property
    def entries(self) -> int:
        return len(self.files) + len(self.versions)

    def size_bytes(self) -> float:
        """A checkpoint's size on disk (GFS 2.6.1's per-file and per-chunk figures)."""
        return float(len(self.files) * METADATA_BYTES_PER_FILE + len(self.versions) * METADATA_BYTES_PER_CHUNK)


@dataclass
class MasterDisk:
    """What survives a master crash: the last complete checkpoint and the log after it.

    Records reach ``log`` only once their write (local, and remote log replicas) has
    completed, so a crash mid-flush loses exactly the unacknowledged records.
    """

    checkpoint: Namespace = field(default_factory=Namespace)
    log: list[Record] = field(default_factory=list)
    records_written: int = 0  # ever, for the metrics

    def append(self, records: list[Record]) -> None:
        self.log.extend(records)
        self.records_written += len(records)

    def install_checkpoint(self, state: Namespace, covered: int) -> None:
        """A checkpoint of the state after the first ``covered`` records of ``log`` is
        complete: those records are no longer needed (GFS 2.6.3: "older checkpoints and
        log files can be freely deleted")."""
        self.checkpoint = state
        del self.log[:covered]

    def recover(self) -> tuple[Namespace, int]:
        """The state a restarting master rebuilds, and how many records it replayed."""
        state = self.checkpoint.snapshot()
        for record in self.log:
            state.apply(record)
        return state, len(self.log)
