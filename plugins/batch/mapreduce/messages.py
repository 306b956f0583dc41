"""Typed messages between the master and the workers (one handler per type).

Sizes (``nbytes``) are what the message would take on the wire; they pay latency and
serialisation in the runtime's message model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MASTER_PORT = "mr-master"
WORKER_PORT = "mr-worker"
HEADER_BYTES = 128
ENTRY_BYTES = 32  # one map-output location in a shuffle update: task, worker, generation, size


def attempt_port(aid: int) -> str:
    """Each reduce attempt receives its shuffle updates on a port of its own."""
    return f"mr-attempt-{aid}"


# -- worker -> master ------------------------------------------------------------------
@dataclass(frozen=True)
class Register:
    node: int
    incarnation: int


@dataclass(frozen=True)
class Pong:
    node: int
    incarnation: int


@dataclass(frozen=True)
class MapDone:
    job: int
    aid: int
    node: int
    incarnation: int
    out_bytes: float
    out_records: float
    mark: float  # the node's page-cache clock when the output was written (shuffle.py)


@dataclass(frozen=True)
class ReduceDone:
    job: int
    aid: int
    node: int
    incarnation: int
    out_bytes: float
    shuffle_end: float


@dataclass(frozen=True)
class TaskFailed:
    job: int
    aid: int
    node: int
    incarnation: int
    reason: str


@dataclass(frozen=True)
class ShufflePoll:
    """A reduce attempt asks for map outputs logged at or after ``cursor``; the master
    answers once ``want`` new ones exist (or the map phase is over): a long poll."""

    job: int
    aid: int
    node: int
    incarnation: int
    cursor: int
    want: int


@dataclass(frozen=True)
class FetchFailed:
    job: int
    aid: int
    node: int
    incarnation: int
    log_indices: tuple[int, ...]


# -- master -> worker ------------------------------------------------------------------
@dataclass(frozen=True)
class RunMap:
    job: int
    aid: int
    task: int


@dataclass(frozen=True)
class RunReduce:
    job: int
    aid: int
    task: int


@dataclass(frozen=True)
class Kill:
    aid: int


@dataclass(frozen=True)
class Reregister:
    """The master declared this worker dead; it must drop its work and register anew."""


@dataclass(frozen=True)
class ShuffleUpdate:
    """The map outputs logged since a reducer's cursor that are still valid.

    ``log_index`` selects entries of the master's output log; what those entries say
    (task, worker, generation, page-cache mark, size) never changes once written, so the
    update refers to them instead of copying them (the wire size counts them in full).
    """

    cursor: int  # the log length this update covers
    log_index: np.ndarray  # int32
    log: Any  # the master's OutputLog (immutable fields only)
    map_phase_over: bool

    @property
    def nbytes(self) -> float:
        return HEADER_BYTES + ENTRY_BYTES * len(self.log_index)


def size_of(message: Any) -> float:
    return float(getattr(message, "nbytes", HEADER_BYTES))
