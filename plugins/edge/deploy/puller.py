"""One node pulling one image from a registry, with the strategy the system's params choose.

Stock Docker (moby's distribution/xfer): layers download concurrently (at most
``max_concurrent_downloads``) into temporary blob files; each layer is then registered in
order -- read back, gunzipped and hashed by dockerd on one thread while a ``docker-untar``
child process fed through a pipe extracts the tar file by file -- and the blob deleted. The
three improvements of seed 003 are switches:

* ``download=sequential``: one layer at a time, so the first layer is ready early and its
  extraction overlaps the next download;
* ``decompress_threads`` != 1: multi-threaded gunzip, pgzip's decoder running one chunk ahead
  of the reader (``decompress_readahead``), or else the gunzip work split over threads
  (Amdahl, ``decompress_parallel_fraction``);
* ``pipeline``: per layer, download, decompress and extract run as three stages joined by
  bounded pipes, each starting on the previous stage's first chunk; no blob is written.

Every cost is charged through the runtime: the network (one flow per chunk), the CPU
(TLS decryption and kernel receive work per arriving byte, gunzip, digests, tar-split, tar per
file and per byte; rates per node in costs.py) and the disk (blob writes, one write per file
piece, coalesced inode-table writes, layer metadata), so the deployment time and its
breakdown emerge from the node's hardware profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import CorruptBlock, NodeDown, Unreachable

from plugins.edge.deploy.costs import PullCosts
from plugins.edge.deploy.pipes import Pipe, Slots
from plugins.edge.deploy.plan import Chunk

MANIFEST_BYTES = 8 * 1024.0  # image manifest + config JSON (ESTIMATE: a few KiB)
JOURNAL_COPIES = 2  # jbd2 journals metadata blocks, then checkpoints them in place
# Chunks buffered between dockerd and its untar child: the real pipe holds 64 KiB, far less than
# a chunk, so one chunk is the smallest buffer this granularity can express.
UNTAR_PIPE_CHUNKS = 1
# How far pgzip's decoder runs ahead of its reader: 4 blocks of 1 MB by default, one chunk here.
READAHEAD_CHUNKS = 1


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
class Strategy:
    sequential_download: bool
    max_concurrent_downloads: int
    wait_all_downloads: bool
    decompress_threads: int  # 1: stock gunzip; 0: one thread per core
    pipeline: bool
    pipe_chunks: int
    untar_process: bool  # stock registration: untar in a child process, fed through a pipe
    decompress_readahead: bool  # multi-threaded gunzip is pgzip: one decoder goroutine runs ahead


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
        """Fetch the blob chunk by chunk into the pipe (pipelined) or a temporary file.

        A chunk is handed on only once it is decrypted and hashed (one goroutine copies the
        plaintext through the digest into the file or pipe), while the next chunk is in flight."""
        received: tuple[Chunk, float] | None = None  # fetched, still being decrypted and hashed
        arrival: list[Any] = []
        offset = 0.0
        for chunk in job.chunks:
            yield from self._fetch(self.registry, chunk.compressed, job.blob, offset)
            if received is not None:
                yield self.rt.all_of(arrival)
                yield from self._hand_on(job, *received, sink)
            arrival = self._on_arrival(chunk.compressed)
            received = (chunk, offset)
            offset += chunk.compressed
        if received is not None:
            yield self.rt.all_of(arrival)
            yield from self._hand_on(job, *received, sink)

    def _hand_on(self, job: LayerJob, chunk: Chunk, offset: float, sink: Pipe | None) -> Generator[Any, Any, None]:
        if sink is not None:
            yield sink.put(chunk)
        else:  # a plain write(2) to the temporary blob: the page cache takes it unless at its dirty limit
            yield self.rt.write(self.node, chunk.compressed, "seq", file=self._tmp(job), offset=offset, buffered=True)

    def _on_arrival(self, nbytes: float) -> list[Any]:
        """CPU for bytes just received: the kernel's receive path, then the download goroutine,
        which decrypts the TLS records and hashes the plaintext (the blob digest) in one pass.
        The kernel part really happens during the transfer; charging it on arrival shifts it by
        one chunk but keeps it on a core of its own, as softirq work is."""
        work = []
        kernel = nbytes * self.costs.kernel_receive_per_byte
        if kernel > 0:
            work.append(self.rt.compute(self.node, kernel))
        goroutine = nbytes * (self.costs.tls_per_byte + self.costs.sha256_per_byte)
        if goroutine > 0:
            work.append(self.rt.compute(self.node, goroutine))
        return work

    def _decompress_stage(self, job: LayerJob, wire: Pipe, tar: Pipe) -> Generator[Any, Any, None]:
        source = wire
        if self._reads_ahead():
            source = Pipe(self.rt, READAHEAD_CHUNKS)
            self._spawn(self._inflate_ahead(job, wire, source))
        for _ in job.chunks:
            chunk = yield source.get()
            if source is wire:
                yield from self._inflate(chunk)
            yield from self._digest_tar(chunk)
            yield tar.put(chunk)

    def _inflate_ahead(self, job: LayerJob, wire: Pipe, plain: Pipe) -> Generator[Any, Any, None]:
        """pgzip's decoder goroutine: inflates the next chunk while the reader digests this one."""
        for _ in job.chunks:
            chunk = yield wire.get()
            yield from self._inflate(chunk)
            yield plain.put(chunk)

    def _extract_stage(self, job: LayerJob, tar: Pipe, previous: Any) -> Generator[Any, Any, None]:
        if previous is not None:  # a layer is applied on top of its parent
            yield previous
        for _ in job.chunks:
            chunk = yield tar.get()
            yield from self._extract(job, chunk)
        yield from self._commit(job)

    def _register_blob(self, job: LayerJob, slots: Slots) -> Generator[Any, Any, None]:
        """Read the blob back, gunzip and untar it chunk by chunk."""
        while True:
            try:
                yield from self._unpack_blob(job)
                break
            except CorruptBlock:  # the gunzip CRC fails: throw the layer away and fetch it again
                self.stats.redownloads += 1
                self.rt.delete(self.node, self._tmp(job))
                self.rt.delete(self.node, job.rootfs)
                yield from self._download(job, slots, sink=None)
        self.rt.delete(self.node, self._tmp(job))
        yield from self._commit(job)

    def _unpack_blob(self, job: LayerJob) -> Generator[Any, Any, None]:
        """dockerd reads, gunzips and digests (diff id, tar-split) the blob. With ``untar_process``
        (moby's chrootarchive) it pipes the tar to a re-exec'd ``docker-untar`` process, which
        creates the files, so both halves run on different cores at the pace of the slower one;
        without it one thread also untars each chunk in turn. With pgzip the reads and the
        inflating move to a decoder goroutine that runs ahead."""
        tar = Pipe(self.rt, UNTAR_PIPE_CHUNKS) if self.strategy.untar_process else None
        untar = self._spawn(self._untar_child(job, tar)) if tar is not None else None
        decoded = Pipe(self.rt, READAHEAD_CHUNKS) if self._reads_ahead() else None
        if decoded is not None:
            self._spawn(self._blob_decoder(job, decoded))
        try:
            offset = 0.0
            for chunk in job.chunks:
                if decoded is None:
                    yield from self._read_blob(job, chunk, offset)
                    yield from self._inflate(chunk)
                elif (yield decoded.get()) is None:
                    raise CorruptBlock(self._tmp(job))
                offset += chunk.compressed
                yield from self._digest_tar(chunk)
                if tar is None:
                    yield from self._extract(job, chunk)
                else:
                    yield tar.put(chunk)
        except CorruptBlock:
            if tar is not None:
                yield tar.put(None)  # close the pipe: the child stops before the layer is thrown away
                yield untar
            raise
        if untar is not None:
            yield untar

    def _blob_decoder(self, job: LayerJob, out: Pipe) -> Generator[Any, Any, None]:
        """pgzip's decoder goroutine over the temporary blob; ``None`` tells the reader the CRC failed."""
        offset = 0.0
        for chunk in job.chunks:
            try:
                yield from self._read_blob(job, chunk, offset)
            except CorruptBlock:
                yield out.put(None)
                return
            offset += chunk.compressed
            yield from self._inflate(chunk)
            yield out.put(chunk)

    def _untar_child(self, job: LayerJob, tar: Pipe) -> Generator[Any, Any, None]:
        for _ in job.chunks:
            chunk = yield tar.get()
            if chunk is None:
                return
            yield from self._extract(job, chunk)

    def _read_blob(self, job: LayerJob, chunk: Chunk, offset: float) -> Generator[Any, Any, None]:
        yield self.rt.read(self.node, chunk.compressed, file=self._tmp(job), offset=offset, verify=True)

    # -- costs ------------------------------------------------------------------------------
    def _reads_ahead(self) -> bool:
        return self.strategy.decompress_threads != 1 and self.strategy.decompress_readahead

    def _inflate(self, chunk: Chunk) -> Generator[Any, Any, None]:
        """gunzip one chunk: one thread (Go's compress/gzip, or pgzip's single decoder), or the
        Amdahl split of a block-parallel decompressor over ``decompress_threads`` threads."""
        gunzip = chunk.uncompressed * self.costs.gunzip_per_byte
        threads = self.strategy.decompress_threads or self.node.cores
        if threads <= 1 or self.strategy.decompress_readahead:
            yield self.rt.compute(self.node, gunzip)
            return
        parallel = gunzip * self.costs.parallel_fraction
        yield self.rt.compute(self.node, gunzip - parallel)
        yield self.rt.compute(self.node, parallel, threads=threads)

    def _digest_tar(self, chunk: Chunk) -> Generator[Any, Any, None]:
        """What the reading goroutine does to the tar stream: the diff-id digest and tar-split
        (CRC64 of the file bytes, a gzipped JSON entry per file)."""
        work = (chunk.uncompressed * (self.costs.sha256_per_byte + self.costs.crc64_per_byte)
                + chunk.new_files * self.costs.tar_split_per_file)
        if work > 0:
            yield self.rt.compute(self.node, work)

    def _extract(self, job: LayerJob, chunk: Chunk) -> Generator[Any, Any, None]:
        cpu = chunk.new_files * self.costs.tar_file + chunk.uncompressed * self.costs.copy_per_byte
        yield self.rt.compute(self.node, cpu)
        # The untar's writes are buffered: nothing in it calls fsync.
        writes = [self.rt.write(self.node, size, "seq", file=job.rootfs, offset=at, buffered=True)
                  for at, size in chunk.pieces]
        self._metadata_credit += chunk.new_files / max(1, self.costs.inodes_per_metadata_write)
        blocks = int(self._metadata_credit)
        if blocks:
            # ext4 (data=ordered) writes each metadata block twice: to the journal, then home. A
            # tar creates inodes in order, so both streams are nearly sequential.
            self._metadata_credit -= blocks
            writes.append(self.rt.write(self.node, JOURNAL_COPIES * blocks * self._fs_block, "seq", buffered=True))
        if writes:
            yield self.rt.all_of(writes)

    def _commit(self, job: LayerJob) -> Generator[Any, Any, None]:
        """The layer store's metadata (diff id, size, cache id, parent, tar-split), each file
        written with moby's ``AtomicWriteFile``, which fsyncs it: synchronous writes."""
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
