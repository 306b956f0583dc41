"""The ``kv`` workload kind: a system-neutral key-value interface and the YCSB client loop.

A ``kv`` workload (YCSB) describes operations only: kind, key, intended start, scan
length. A system serves it by implementing one of two small interfaces:

* ``KvService.kv_call(op)`` -- a simulation process body (a generator) that serves one
  operation and returns True on success. Any system can do this; the driver spawns one
  process per operation (open loop) or keeps ``threads`` client processes busy (closed loop).
* ``AnalyticKv.kv_submit(op)`` -- for systems whose request path is computed rather than
  stepped (Dynamo: each replica round trip is a computed delay through analytic per-node
  FIFO queues). It is called in operation start order and returns (ok, completion time) at
  once, so a million operations cost no SimPy events at all: the driver processes every
  operation due before the next pending simulation event (a fault, a background transfer)
  in one batch, which keeps faults and operations correctly interleaved. Inside a batch the
  simulation clock lags the operation's start, so ``kv_submit`` must compute from ``op.at``
  and never yield or start runtime operations (background work runs as processes).

Both receive the same ``KvOp`` and both get the initial data through ``kv_load``.
Latency is measured from each operation's *intended* start (open loop, no coordinated
omission) and recorded per operation kind; failures count against availability.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Generator, Protocol, runtime_checkable

READ, UPDATE, INSERT, SCAN, RMW = range(5)
OP_NAMES = ("read", "update", "insert", "scan", "read-modify-write")  # latency series, by op code


@dataclass(frozen=True)
class KvLoad:
    """The data that exists before the run (YCSB's load phase): keys 0..records-1."""

    records: int
    record_bytes: int  # the whole record: field_count x field_length
    field_bytes: int  # one field (an update rewrites one field unless writeallfields)
    key_bytes: int = 23  # "user" + a 19-digit hashed number, as YCSB names keys


class KvOp:
    """One operation. ``client`` is the issuing session (0..threads-1), ``index`` its
    position in the run (a unique id a system may use for write ids)."""

    __slots__ = ("kind", "key", "at", "client", "scan_len", "index")

    def __init__(self, kind: int, key: int, at: float, client: int, scan_len: int, index: int) -> None:
        self.kind, self.key, self.at, self.client, self.scan_len, self.index = kind, key, at, client, scan_len, index


@runtime_checkable
class KvService(Protocol):
    def kv_load(self, load: KvLoad, clients: int) -> Generator[Any, Any, None]: ...

    def kv_call(self, op: KvOp) -> Generator[Any, Any, bool]: ...


@runtime_checkable
class AnalyticKv(Protocol):
    def kv_load(self, load: KvLoad, clients: int) -> Generator[Any, Any, None]: ...

    def kv_submit(self, op: KvOp) -> tuple[bool, float]:
        """Serve ``op`` starting at ``op.at``: (succeeded, when the client has its answer)."""


class KvStats:
    """Counts what the client saw; the latency samples go straight to the recorder."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.ok = 0
        self.failed = 0
        self.first_start = float("inf")
        self.last_done = 0.0

    def completed(self, op: KvOp, ok: bool, done: float) -> None:
        if op.at < self.first_start:
            self.first_start = op.at
        if done > self.last_done:
            self.last_done = done
        if ok:
            self.ok += 1
            self.recorder.latency(OP_NAMES[op.kind], done - op.at)
        else:
            self.failed += 1

    def report(self) -> None:
        rec = self.recorder
        total = self.ok + self.failed
        span = self.last_done - self.first_start if total else 0.0
        rec.value("throughput", self.ok / span if span > 0 else 0.0, "ops/s")
        rec.value("ops_ok", self.ok, "ops")
        rec.value("ops_failed", self.failed, "ops")
        rec.value("availability", self.ok / total if total else 1.0, "ratio")
        rec.value("measured_span", span, "s")
        rec.primary_ops = OP_NAMES


def drive(rt: Any, workload: Any, service: Any) -> Generator[Any, Any, KvStats]:
    """Run the workload's operations against ``service``; returns the client's counts."""
    stats = KvStats(rt.recorder)
    yield from service.kv_load(workload.load(), workload.clients)
    ops = workload.operations()
    if isinstance(service, AnalyticKv):
        yield from _drive_analytic(rt, workload, service, ops, stats)
    else:
        yield from _drive_processes(rt, workload, service, ops, stats)
    return stats


# -- analytic systems: batches of operations between simulation events --------------------
def _drive_analytic(rt: Any, workload: Any, service: Any, ops: Any, stats: KvStats) -> Generator[Any, Any, None]:
    env = rt.env
    if workload.open_loop:
        columns = ops.columns()
        times = columns[0]  # never decreasing
        i, n = 0, len(times)
        while i < n:
            # the next fault / background event: the operations up to it are safe to batch
            stop = bisect_right(times, env.peek(), i)
            _submit_batch(service.kv_submit, columns, i, stop, stats)
            i = stop
            if i < n:
                yield env.timeout(times[i] - env.now)
        if stats.last_done > env.now:
            yield env.timeout(stats.last_done - env.now)
        return
    # Closed loop: ``threads`` clients, each starting its next operation when its last one
    # completes (plus think time). A heap of (ready time, client) replaces SimPy processes.
    _, kinds, keys, lens, _ = ops.columns()
    think = workload.think_time_s
    ready = [(env.now, c) for c in range(workload.clients)]
    heapq.heapify(ready)
    i, n = 0, len(kinds)
    while i < n:
        horizon = env.peek()
        while i < n and ready[0][0] <= horizon:
            at, client = ready[0]
            op = KvOp(kinds[i], keys[i], at, client, lens[i], i)
            ok, done = service.kv_submit(op)
            stats.completed(op, ok, done)
            heapq.heapreplace(ready, (done + think, client))
            i += 1
        if i < n:
            yield env.timeout(max(0.0, ready[0][0] - env.now))
    if stats.last_done > env.now:
        yield env.timeout(stats.last_done - env.now)


def _submit_batch(submit: Any, columns: tuple[list, ...], start: int, stop: int, stats: KvStats) -> None:
    """Submit operations ``start``..``stop``-1 of an open loop in order and count them as
    ``KvStats.completed`` does, with local counters (this loop runs once per operation)."""
    times, kinds, keys, lens, clients = columns
    latency = stats.recorder.latency
    succeeded = failed = 0
    last_done = stats.last_done
    batch = zip(times[start:stop], kinds[start:stop], keys[start:stop], clients[start:stop], lens[start:stop])
    for i, (at, kind, key, client, scan_len) in enumerate(batch, start):
        ok, done = submit(KvOp(kind, key, at, client, scan_len, i))
        if done > last_done:
            last_done = done
        if ok:
            succeeded += 1
            latency(OP_NAMES[kind], done - at)
        else:
            failed += 1
    if start < stop and times[start] < stats.first_start:  # the batch's earliest start
        stats.first_start = times[start]
    stats.last_done = last_done
    stats.ok += succeeded
    stats.failed += failed


# -- any system: one SimPy process per operation -------------------------------------------
def _drive_processes(rt: Any, workload: Any, service: Any, ops: Any, stats: KvStats) -> Generator[Any, Any, None]:
    times, kinds, keys, lens, clients = ops.columns()
    if workload.open_loop:
        running = []
        for i in range(len(times)):
            if times[i] > rt.now:
                yield rt.sleep(times[i] - rt.now)
            op = KvOp(kinds[i], keys[i], times[i], clients[i], lens[i], i)
            running.append(rt.spawn(_one(rt, service, op, stats)))
        yield rt.all_of(running)
        return
    cursor = iter(range(len(kinds)))
    think = workload.think_time_s

    def client(c: int) -> Generator[Any, Any, None]:
        for i in cursor:
            op = KvOp(kinds[i], keys[i], rt.now, c, lens[i], i)
            yield from _one(rt, service, op, stats)
            if think > 0:
                yield rt.sleep(think)

    yield rt.all_of([rt.spawn(client(c)) for c in range(workload.clients)])


def _one(rt: Any, service: Any, op: KvOp, stats: KvStats) -> Generator[Any, Any, None]:
    try:
        ok = yield from service.kv_call(op)
    except Exception:  # a fault the system did not handle is the client's error, not a crash
        ok = False
    stats.completed(op, bool(ok), rt.now)
