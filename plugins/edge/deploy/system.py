"""The ``docker_pull`` system: a registry node serving image blobs and nodes deploying them.

Roles: the registry is the first node of the group named ``registry_group`` (the
``deploy_*`` cluster presets put one x86 server behind a WAN/LAN link of the chosen
bandwidth), else node 0; the pulling nodes are the next ones. Each node runs a
``Puller`` (plugins/edge/deploy/puller.py) with the strategy these params choose. A node
that crashes mid-pull resumes when it recovers, keeping the layers it had registered, as
dockerd does after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator

from harness.api import ConfigIssue, cluster_size, NodeDown, System

from plugins.edge.deploy.costs import BoardRates, PullCosts, pull_costs
from plugins.edge.deploy.images import file_sizes
from plugins.edge.deploy.plan import chunks
from plugins.edge.deploy.puller import LayerJob, Puller, PullFailed, Strategy
from plugins.edge.deploy.services import run_services
from plugins.edge.deploy.workloads import MemoryTight

DOWNLOAD_MODES = ("parallel", "sequential")
CHECK_EVERY_S = 5.0  # how often the run looks for nodes that stayed down too long


@dataclass
class DockerPullParams:
    # Strategies (seed 003); each is a switch, any combination is allowed.
    download: str = "parallel"  # parallel (stock) | sequential
    max_concurrent_downloads: int = 3  # dockerd --max-concurrent-downloads default; 0: no limit
    wait_all_downloads: bool = True  # stock as the seed describes it: extract once every layer is in
    decompress_threads: int = 1  # 1: stock single-threaded gunzip; 0: one per core
    decompress_readahead: bool = True  # multi-threaded gunzip is pgzip: one decoder runs ahead of the reader
    pipeline: bool = False  # download -> decompress -> extract streamed per layer
    chunk_mb: float = 4.0  # granularity of the stream (wire request, pipe slot)
    pipe_chunks: int = 4  # pipe capacity between two stages, in chunks
    # Mechanisms of a real `docker pull`, each a switch so that its effect can be measured.
    verify_digests: bool = True  # sha256 of every blob and of every uncompressed layer (diff id)
    tls: bool = True  # the registry speaks HTTPS: every received byte is decrypted
    tar_split: bool = True  # moby's tar-split: CRC64 of every file's bytes, gzipped JSON per file
    kernel_receive: bool = True  # kernel CPU per received byte (NIC driver, TCP, copy to user space)
    untar_process: bool = True  # stock untar runs in a child process fed by a pipe (moby chrootarchive)
    board_rates: bool = True  # use the per-board measured rates of `boards` where given
    # Costs in reference-core terms (docs/models.md, deploy section).
    gunzip_ref_mbps: float = 100.0  # MB of tar out per reference-core second (Go compress/gzip)
    sha256_ref_mbps: float = 400.0
    tls_ref_mbps: float = 2000.0  # Go AES-128-GCM with AES-NI
    crc64_ref_mbps: float = 1000.0  # Go hash/crc64, slicing-by-8
    tar_split_file_ref_us: float = 20.0  # two JSON entries (~0.9 KB) encoded and gzipped per file
    kernel_receive_ref_ns_per_byte: float = 0.8
    tar_file_ref_us: float = 20.0  # per file: header, create, write, chmod/chown/utimes, close
    copy_ref_ns_per_byte: float = 1.0  # tar reader and write(2) copies
    decompress_parallel_fraction: float = 0.667  # Amdahl fit of pgzip's 2.04x on 4 CPUs
    inodes_per_metadata_write: int = 16  # 256-byte inodes per 4 KiB inode-table block
    layer_commit_writes: int = 5  # layerdb files written when a layer is registered
    # Faults.
    max_download_attempts: int = 5  # dockerd --max-download-attempts default
    retry_backoff_s: float = 5.0  # wait attempt x this before retrying
    give_up_s: float = 600.0  # a pulling node down longer than this counts as a failed pull
    registry_group: str = "registry"
    # Per-core throughputs measured where Go runs generic code, by the hardware's cpu.model.
    boards: dict[str, BoardRates] = field(default_factory=dict)


POSITIVE_RATES = ("chunk_mb", "gunzip_ref_mbps", "sha256_ref_mbps", "tls_ref_mbps", "crc64_ref_mbps")
BOARD_RATES = ("sha256_mbps", "tls_mbps", "kernel_receive_ms_per_mb")


class DockerPull(System):
    name = "docker_pull"
    description = "Docker image deployment: stock, sequential download, multi-threaded gunzip, pipelining"
    Params = DockerPullParams
    serves = ("container",)

    @classmethod
    def check(cls, params: DockerPullParams, config: Any) -> list[ConfigIssue]:
        if params.download not in DOWNLOAD_MODES:
            return [ConfigIssue("system.download", params.download, f"allowed: {', '.join(DOWNLOAD_MODES)}")]
        for key in POSITIVE_RATES:
            if getattr(params, key) <= 0:
                return [ConfigIssue(f"system.{key}", getattr(params, key), "must be > 0")]
        for key in ("max_concurrent_downloads", "decompress_threads", "tar_file_ref_us", "copy_ref_ns_per_byte",
                    "layer_commit_writes", "retry_backoff_s", "tar_split_file_ref_us",
                    "kernel_receive_ref_ns_per_byte"):
            if getattr(params, key) < 0:
                return [ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 0")]
        if not 0.0 <= params.decompress_parallel_fraction <= 1.0:
            return [ConfigIssue("system.decompress_parallel_fraction", params.decompress_parallel_fraction,
                                "must be within 0..1")]
        for key in ("pipe_chunks", "inodes_per_metadata_write", "max_download_attempts"):
            if getattr(params, key) < 1:
                return [ConfigIssue(f"system.{key}", getattr(params, key), "must be >= 1")]
        return _board_issues(params.boards) or _node_issues(config)

    def run(self, workload: Any) -> Generator[Any, Any, None]:
        self.registry, self.targets = self._roles(workload.params.nodes)
        self.jobs = self._layer_jobs(workload)
        for job in self.jobs:
            self.rt.place(self.registry, job.blob, job.compressed)
        self.deployments = Deployments(self)
        if isinstance(workload, MemoryTight):
            yield from run_services(self, workload)
        else:
            yield from self.deployments.deploy(self.targets)
            self.rt.recorder.primary_ops = ("deploy",)
            self.rt.recorder.work_done(self.deployments.succeeded, "deployments")

    def on_node_recover(self, node: Any) -> None:
        deployments = getattr(self, "deployments", None)
        if deployments is not None:
            deployments.resume(node)

    # -- set-up ---------------------------------------------------------------------------------
    def _roles(self, wanted: int) -> tuple[Any, list[Any]]:
        nodes = self.rt.nodes
        registry = next((n for n in nodes if n.group == self.params.registry_group), nodes[0])
        others = [n for n in nodes if n is not registry]
        return registry, others[: wanted or len(others)]

    def _layer_jobs(self, workload: Any) -> list[LayerJob]:
        image = workload.image
        chunk_bytes = self.params.chunk_mb * 1e6
        jobs = []
        for i, layer in enumerate(image.layers):
            sizes = file_sizes(layer, workload.seed, image.name, i)
            pieces = tuple(chunks(layer.compressed_bytes, sizes, chunk_bytes))
            jobs.append(LayerJob(i, f"{image.name}/blob{i}", f"{image.name}/layer{i}",
                                 layer.compressed_bytes, layer.uncompressed_bytes, pieces))
        return jobs

    def strategy(self) -> Strategy:
        p = self.params
        return Strategy(p.download == "sequential", p.max_concurrent_downloads, p.wait_all_downloads,
                        p.decompress_threads, p.pipeline, p.pipe_chunks, p.untar_process,
                        p.decompress_readahead)

    def costs(self, node: Any) -> PullCosts:
        """What each step costs on ``node``: reference rates, or the board's measured ones."""
        return pull_costs(self.params, node)


def _board_issues(boards: dict[str, BoardRates]) -> list[ConfigIssue]:
    for profile, rates in boards.items():
        for key in BOARD_RATES:
            value = getattr(rates, key)
            if value is not None and value <= 0:
                return [ConfigIssue(f"system.boards.{profile}.{key}", value, "must be > 0")]
    return []


def _node_issues(config: Any) -> list[ConfigIssue]:
    nodes = cluster_size(config)
    wanted = int(config.workload.get("nodes", 1) or 0)
    if nodes < 2:
        return [ConfigIssue("cluster", config.cluster.name, "needs at least 2 nodes: a registry and a puller")]
    if wanted > nodes - 1:
        allowed = f"must be <= {nodes - 1} (nodes but the registry) on this cluster"
        return [ConfigIssue("workload.nodes", wanted, allowed)]
    return []


@dataclass
class NodeDeployment:
    """One node's deployment: its progress survives the node's crashes."""

    node: Any
    started: float
    done: Any  # event: succeeded (True) or given up (False)
    registered: set[int] = field(default_factory=set)
    usage_at_start: tuple[float, ...] = ()
    network_s: float = 0.0
    downloaded: float = 0.0
    finished: float | None = None
    synced: float | None = None  # the pull's buffered writes all on the disk (``sync`` after the pull)
    usage_at_sync: tuple[float, ...] = ()
    ok: bool = False


USAGE_FIELDS = ("cpu_busy_core_s", "disk_busy_s", "disk_write_bytes", "device_write_bytes", "disk_read_bytes",
                "write_dropped_bytes")


class Deployments:
    """Runs and resumes the pulls of one image on several nodes; turns them into metrics."""

    def __init__(self, system: DockerPull) -> None:
        self.system, self.rt = system, system.rt
        self.by_node: dict[int, NodeDeployment] = {}

    @property
    def succeeded(self) -> int:
        return sum(1 for d in self.by_node.values() if d.ok)

    def deploy(self, nodes: list[Any]) -> Generator[Any, Any, None]:
        for node in nodes:
            record = NodeDeployment(node, self.rt.now, self.rt.event(), usage_at_start=_usage(node))
            self.by_node[node.id] = record
            if node.alive:
                self.rt.spawn(self._pull(record), node=node)
        yield from self._wait()
        yield self.rt.all_of([self.rt.spawn(self._sync(d), node=d.node) for d in self.by_node.values() if d.ok])
        self._report()

    def resume(self, node: Any) -> None:
        record = self.by_node.get(node.id)
        if record is not None and not record.done.triggered:
            for job in self.system.jobs:  # dockerd discards half-done layers when it restarts
                if job.index not in record.registered:
                    self.rt.delete(node, f"tmp/{job.blob}")
                    self.rt.delete(node, job.rootfs)
            self.rt.spawn(self._pull(record), node=node)

    def _pull(self, record: NodeDeployment) -> Generator[Any, Any, None]:
        puller = Puller(self.rt, self.system.registry, record.node, self.system.jobs, record.registered,
                        self.system.strategy(), self.system.costs(record.node))
        try:
            yield from puller.run()
            record.ok = True
        except PullFailed:
            self.rt.recorder.count("pulls_failed")
        except NodeDown:
            if record.node.alive:
                raise
            return  # the node crashed: resume() starts again when it is back
        finally:
            record.network_s += puller.stats.network_s
            record.downloaded += puller.stats.downloaded_bytes
            self.rt.recorder.add("download_retries", puller.stats.retries, "retries")
            self.rt.recorder.add("layer_redownloads", puller.stats.redownloads, "layers")
        self._finish(record)

    def _finish(self, record: NodeDeployment) -> None:
        record.finished = self.rt.now
        if record.ok:
            self.rt.recorder.latency("deploy", record.finished - record.started)
        record.done.succeed(record.ok)

    def _sync(self, record: NodeDeployment) -> Generator[Any, Any, None]:
        """``docker pull && sync``: the disk figures include the write-back the pull left behind."""
        try:
            yield self.rt.sync(record.node)
        except NodeDown:
            return
        record.synced = self.rt.now
        record.usage_at_sync = _usage(record.node)

    def _wait(self) -> Generator[Any, Any, None]:
        """Until every deployment finished, or its node stayed down longer than ``give_up_s``."""
        while True:
            pending = [d for d in self.by_node.values() if not d.done.triggered]
            if not pending:
                return
            yield self.rt.any_of([self.rt.all_of([d.done for d in pending]), self.rt.sleep(CHECK_EVERY_S)])
            for record in pending:
                node = record.node
                down_for = self.rt.now - node.down_since if node.down_since is not None else 0.0
                if not record.done.triggered and not node.alive and down_for > self.system.params.give_up_s:
                    self.rt.recorder.count("pulls_failed")
                    self._finish(record)

    def _report(self) -> None:
        rt, done = self.rt, [d for d in self.by_node.values() if d.ok]
        if not done:
            return
        n = len(done)
        used = [tuple(b - a for a, b in zip(d.usage_at_start, d.usage_at_sync or _usage(d.node))) for d in done]
        rt.recorder.value("deploy_time", max(d.finished - d.started for d in done), "s")
        synced = [d.synced - d.started for d in done if d.synced is not None]
        if synced:
            rt.recorder.value("deploy_sync_time", max(synced), "s")
        rt.recorder.value("deploy_network_time", sum(d.network_s for d in done) / n, "s")
        rt.recorder.value("deploy_cpu_time", sum(u[0] for u in used) / n, "core-s")
        rt.recorder.value("deploy_disk_busy", sum(u[1] for u in used) / n, "s")
        rt.recorder.value("deploy_bytes_downloaded", sum(d.downloaded for d in done), "B")
        rt.recorder.value("deploy_bytes_written", sum(u[2] for u in used), "B")
        rt.recorder.value("deploy_device_bytes_written", sum(u[3] for u in used), "B")
        rt.recorder.value("deploy_bytes_dropped", sum(u[5] for u in used), "B")


def _usage(node: Any) -> tuple[float, ...]:
    return tuple(float(getattr(node.stats, f)) for f in USAGE_FIELDS)
