"""One node pulling one image from a registry, with the strategy the system's params choose.

Stock Docker (moby's distribution/xfer): layers download concurrently (at most
``max_concurrent_downloads``) into temporary blob files; each layer is then registered in
order -- read back, gunzipped on one thread, its tar extracted file by file -- and the
blob deleted. The three improvements of seed 003 are switches:

* ``download=sequential``: one layer at a time, so the first layer is ready early and its
  extraction overlaps the next download;
* ``decompress_threads`` > 1 (0 = one per core): the gunzip work is split over threads
  (Amdahl, ``decompress_parallel_fraction``);
* ``pipeline``: per layer, download, decompress and extract run as three stages joined by
  bounded pipes, each starting on the previous stage's first chunk; no blob is written.

Every cost is charged through the runtime: the network (one flow per chunk), the CPU
(gunzip, digests, tar per file and per byte) and the disk (blob writes, one write per file
piece, coalesced inode-table writes, layer metadata), so the deployment time and its
breakdown emerge from the node's hardware profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import CorruptBlock, NodeDown, Unreachable

from plugins.edge.deploy.pipes import Pipe, Slots
from plugins.edge.deploy.plan import Chunk

MANIFEST_BYTES = 8 * 1024.0  # image manifest + config JSON (ESTIMATE: a few KiB)
JOURNAL_COPIES = 2  # jbd2 journals metadata blocks, then checkpoints them in place
# Blob chunks written behind the download before it waits for the oldest: Linux lets a writer
# run ahead of the disk only up to its dirty limits, and a short queue keeps reads flowing.
WRITE_BEHIND_CHUNKS = 2


class PullFailed(Exception):
    """A layer could not be fetched within the allowed attempts."""


@dataclass(frozen=True)
class LayerJob:
    index: int
    blob: str  # file name of the compressed blob (registry and temporary copy)
    rootfs: str  # file name of the extracted tree on the node
    compressed: float
    uncompressed: float
    chunks: tuple[Chunk, ...]


@dataclass
class PullCosts:
    """Reference-core costs and retry policy, from the system's params."""

    gunzip_ref_s_per_byte: float
    sha256_ref_s_per_byte: float
    tar_file_ref_s: float
    copy_ref_s_per_byte: float
    parallel_fraction: float
    inodes_per_metadata_write: int
    layer_commit_writes: int
    max_attempts: int
    backoff_s: float


@dataclass
class Strategy:
    sequential_download: bool
    max_concurrent_downloads: int
    wait_all_downloads: bool
    decompress_threads: int  # 1: stock gunzip; 0: one thread per core
    pipeline: bool
    pipe_chunks: int
    verify_digests: bool


@dataclass
class PullStats:
    """What one deployment used; the system turns these into metrics."""

    network_s: float = 0.0  # time with at least one chunk in flight
    downloaded_bytes: float = 0.0
    retries: int = 0
    redownloads: int = 0


class Puller:
    """Deploys ``layers`` on ``node``; layers already in ``registered`` are kept."""

    def __init__(self, rt: Any, registry: Any, node: Any, layers: list[LayerJob], registered: set[int],
                 strategy: Strategy, costs: PullCosts) -> None:
        self.rt, self.registry, self.node = rt, registry, node
        self.layers, self.registered = layers, registered
        self.strategy, self.costs = strategy, costs
        self.stats = PullStats()
        self._in_flight = 0
        self._busy_since = 0.0
        self._metadata_credit = 0.0
        self._fs_block = float(node.profile.disk.fs_block_kib) * 1024.0
        self._failure = rt.event()
        self._failure.defused = True

    # -- the pull -------------------------------------------------------------------------
    def run(self) -> Generator[Any, Any, None]:
        yield from self._fetch(self.registry, MANIFEST_BYTES, blob=None, offset=0.0)
        todo = [job for job in self.layers if job.index not in self.registered]
        k = 1 if self.strategy.sequential_download else self.strategy.max_concurrent_downloads
        slots = Slots(self.rt, k if k > 0 else len(todo))
        body = self._pipelined(todo, slots) if self.strategy.pipeline else self._stored(todo, slots)
        yield from body

    def _stored(self, todo: list[LayerJob], slots: Slots) -> Generator[Any, Any, None]:
        """Blobs are downloaded to temporary files, then registered one after another."""
        downloads = {job.index: self._spawn(self._download(job, slots, sink=None)) for job in todo}
        everything = self.rt.all_of(list(downloads.values()))
        wait_all = self.strategy.wait_all_downloads and not self.strategy.sequential_download
        for job in todo:
            yield self.rt.any_of([everything if wait_all else downloads[job.index], self._failure])
            self._raise_if_failed()
            yield from self._register_blob(job, slots)

    def _pipelined(self, todo: list[LayerJob], slots: Slots) -> Generator[Any, Any, None]:
        """Per layer: download -> decompress -> extract, joined by bounded pipes."""
        previous = None
        for job in todo:
            wire, tar = Pipe(self.rt, self.strategy.pipe_chunks), Pipe(self.rt, self.strategy.pipe_chunks)
            self._spawn(self._download(job, slots, sink=wire))
            self._spawn(self._decompress_stage(job, wire, tar))
            previous = self._spawn(self._extract_stage(job, tar, previous))
        if previous is not None:
            yield self.rt.any_of([previous, self._failure])
            self._raise_if_failed()

    # -- stages -----------------------------------------------------------------------------
    def _download(self, job: LayerJob, slots: Slots, sink: Pipe | None) -> Generator[Any, Any, None]:
        yield slots.acquire()
        try:
            yield from self._stream(job, sink)
        finally:
            slots.release()

    def _stream(self, job: LayerJob, sink: Pipe | None) -> Generator[Any, Any, None]:
        """Fetch the blob chunk by chunk into the pipe (pipelined) or a temporary file."""
        writes: list[Any] = []
        offset = 0.0
        digest = None
        for chunk in job.chunks:
            yield from self._fetch(self.registry, chunk.compressed, job.blob, offset)
            if digest is not None:
                yield digest
            if self.strategy.verify_digests:  # hashed as it arrives, while the socket fills again
                digest = self.rt.compute(self.node, chunk.compressed * self.costs.sha256_ref_s_per_byte)
            if sink is not None:
                yield sink.put(chunk)
            else:  # write-behind of the temporary blob, a few chunks deep (dirty-page throttling)
                writes.append(self.rt.write(self.node, chunk.compressed, "seq", file=self._tmp(job), offset=offset))
                if len(writes) > WRITE_BEHIND_CHUNKS:
                    yield writes[-WRITE_BEHIND_CHUNKS - 1]
            offset += chunk.compressed
        yield self.rt.all_of(writes + ([digest] if digest is not None else []))

    def _decompress_stage(self, job: LayerJob, wire: Pipe, tar: Pipe) -> Generator[Any, Any, None]:
        for _ in job.chunks:
            chunk = yield wire.get()
            yield from self._decompress(chunk)
            yield tar.put(chunk)

    def _extract_stage(self, job: LayerJob, tar: Pipe, previous: Any) -> Generator[Any, Any, None]:
        if previous is not None:  # a layer is applied on top of its parent
            yield previous
        for _ in job.chunks:
            chunk = yield tar.get()
            yield from self._extract(job, chunk)
        yield from self._commit(job)

    def _register_blob(self, job: LayerJob, slots: Slots) -> Generator[Any, Any, None]:
        """Read the blob back, gunzip and untar it chunk by chunk, on one goroutine."""
        while True:
            try:
                offset = 0.0
                for chunk in job.chunks:
                    yield self.rt.read(self.node, chunk.compressed, file=self._tmp(job), offset=offset, verify=True)
                    offset += chunk.compressed
                    yield from self._decompress(chunk)
                    yield from self._extract(job, chunk)
                break
            except CorruptBlock:  # the gunzip CRC fails: throw the layer away and fetch it again
                self.stats.redownloads += 1
                self.rt.delete(self.node, self._tmp(job))
                self.rt.delete(self.node, job.rootfs)
                yield from self._download(job, slots, sink=None)
        self.rt.delete(self.node, self._tmp(job))
        yield from self._commit(job)

    # -- costs ------------------------------------------------------------------------------
    def _decompress(self, chunk: Chunk) -> Generator[Any, Any, None]:
        gunzip = chunk.uncompressed * self.costs.gunzip_ref_s_per_byte
        digest = chunk.uncompressed * self.costs.sha256_ref_s_per_byte if self.strategy.verify_digests else 0.0
        threads = self.strategy.decompress_threads or self.node.cores
        if threads <= 1:
            yield self.rt.compute(self.node, gunzip + digest)
            return
        parallel = gunzip * self.costs.parallel_fraction
        yield self.rt.compute(self.node, gunzip - parallel + digest)  # serial part + the diffID digest
        yield self.rt.compute(self.node, parallel, threads=threads)

    def _extract(self, job: LayerJob, chunk: Chunk) -> Generator[Any, Any, None]:
        cpu = chunk.new_files * self.costs.tar_file_ref_s + chunk.uncompressed * self.costs.copy_ref_s_per_byte
        yield self.rt.compute(self.node, cpu)
        writes = [self.rt.write(self.node, size, "seq", file=job.rootfs, offset=at) for at, size in chunk.pieces]
        self._metadata_credit += chunk.new_files / max(1, self.costs.inodes_per_metadata_write)
        blocks = int(self._metadata_credit)
        if blocks:
            # ext4 (data=ordered) writes each metadata block twice: to the journal, then home. A
            # tar creates inodes in order, so both streams are nearly sequential.
            self._metadata_credit -= blocks
            writes.append(self.rt.write(self.node, JOURNAL_COPIES * blocks * self._fs_block, "seq"))
        if writes:
            yield self.rt.all_of(writes)

    def _commit(self, job: LayerJob) -> Generator[Any, Any, None]:
        """The layer store's metadata (diff id, size, cache id, parent, tar-split)."""
        if self.costs.layer_commit_writes > 0:
            yield self.rt.write(self.node, self.costs.layer_commit_writes * self._fs_block, "rand")
        self.registered.add(job.index)

    # -- network with retries -------------------------------------------------------------------
    def _fetch(self, registry: Any, nbytes: float, blob: str | None, offset: float) -> Generator[Any, Any, None]:
        """One chunk: the registry reads it (page cache or disk) while sending it."""
        for attempt in range(1, self.costs.max_attempts + 1):
            try:
                ops = [self.rt.transfer(registry, self.node, nbytes)]
                if blob is not None:
                    ops.append(self.rt.read(registry, nbytes, file=blob, offset=offset, verify=True))
                self._net_started()
                try:
                    yield self.rt.all_of(ops)
                finally:
                    self._net_stopped()
                self.stats.downloaded_bytes += nbytes
                return
            except (Unreachable, NodeDown, CorruptBlock) as exc:
                if not self.node.alive:
                    raise
                self.stats.retries += 1
                if attempt == self.costs.max_attempts:
                    self._fail(PullFailed(f"{blob or 'manifest'} from {registry.name}: {type(exc).__name__}"))
                    raise self._failure.value from None
                yield self.rt.sleep(self.costs.backoff_s * attempt)

    def _net_started(self) -> None:
        if self._in_flight == 0:
            self._busy_since = self.rt.now
        self._in_flight += 1

    def _net_stopped(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.stats.network_s += self.rt.now - self._busy_since

    # -- plumbing -----------------------------------------------------------------------------
    def _tmp(self, job: LayerJob) -> str:
        return f"tmp/{job.blob}"

    def _spawn(self, body: Generator[Any, Any, None]) -> Any:
        return self.rt.spawn(self._guard(body), node=self.node)

    def _guard(self, body: Generator[Any, Any, None]) -> Generator[Any, Any, None]:
        """A failing stage wakes the pull instead of leaving its partners waiting forever."""
        try:
            yield from body
        except PullFailed as exc:
            self._fail(exc)
        except NodeDown:
            if self.node.alive:  # the registry died for good: the pull cannot go on
                self._fail(PullFailed(f"registry {self.registry.name} is down"))

    def _fail(self, exc: Exception) -> None:
        if not self._failure.triggered:
            self._failure.succeed(exc)

    def _raise_if_failed(self) -> None:
        if self._failure.triggered:
            raise self._failure.value
