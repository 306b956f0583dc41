"""The simulated cluster: nodes built from hardware profiles, placed in racks and sites.

Topology is a two-level tree per site (node NIC -> rack switch -> site core) and WAN
links between site cores. Every link is full duplex: each direction is its own
capacity in the flow network. See docs/models.md for the constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

import simpy
from omegaconf import DictConfig, OmegaConf

from harness.sim.models.disk import DiskSpec
from harness.sim.models.memory import MemoryModel, MemorySpec

MIB = 1 << 20


@dataclass
class NodeStats:
    cpu_busy_core_s: float = 0.0
    disk_busy_s: float = 0.0
    disk_read_bytes: float = 0.0
    disk_write_bytes: float = 0.0
    device_write_bytes: float = 0.0  # what the flash actually programmed (read-modify-write)
    net_sent_bytes: float = 0.0
    net_recv_bytes: float = 0.0
    swap_out_bytes: float = 0.0
    swap_in_bytes: float = 0.0
    write_dropped_bytes: float = 0.0  # buffered writes deleted before write-back reached them
    down_s: float = 0.0


@dataclass(eq=False)
class Node:
    """One machine. Plugins hold Node handles and pass them to the runtime."""

    id: int
    name: str
    group: str
    rack: str
    site: str
    profile_name: str
    profile: Any  # the hardware profile (DictConfig)
    cores: int
    speed: float
    cpu: simpy.Resource
    disks: simpy.Resource
    disk_spec: DiskSpec
    memory: MemoryModel
    nic_Bps: float  # cached: DictConfig attribute access is too slow for hot paths
    alive: bool = True
    cpu_slow: float = 1.0  # "slow" faults: CPU time is multiplied by this
    disk_slow: float = 1.0  # ...and disk time by this
    stats: NodeStats = field(default_factory=NodeStats)
    processes: dict[int, Any] = field(default_factory=dict)  # seq -> process, in start order
    files: dict[str, float] = field(default_factory=dict)  # stored file -> bytes
    corrupted: set[str] = field(default_factory=set)
    down_since: float | None = None

    def __repr__(self) -> str:
        return f"<Node {self.id} {self.name} {self.rack}/{self.site}>"


def disk_spec(profile: Any) -> DiskSpec:
    d = profile.disk
    return DiskSpec(
        kind=d.kind,
        seq_read_mbps=d.seq_read_mbps,
        seq_write_mbps=d.seq_write_mbps,
        rand_read_iops=d.rand_read_iops,
        rand_write_iops=d.rand_write_iops,
        io_size_kib=d.io_size_kib,
        erase_block_mib=d.erase_block_mib,
        partition_aligned=d.partition_aligned,
        fs_block_kib=d.fs_block_kib,
        seek_ms=d.seek_ms,
    )


def memory_spec(profile: Any) -> MemorySpec:
    m = profile.memory
    return MemorySpec(
        ram_bytes=m.ram_mib * MIB,
        os_reserved_bytes=m.os_reserved_mib * MIB,
        swap_bytes=m.swap_mib * MIB,
        swappiness=int(m.swappiness),
        dirty_ratio=float(m.dirty_ratio),
        dirty_background_ratio=float(m.dirty_background_ratio),
        dirty_expire_s=float(m.dirty_expire_s),
    )


class Topology:
    """Link ids, capacities and one-way latencies between nodes."""

    def __init__(self, cluster_cfg: DictConfig, nodes: list[Node]) -> None:
        self.intra_rack_s = float(cluster_cfg.latency_ms.intra_rack) / 1e3
        self.inter_rack_s = float(cluster_cfg.latency_ms.inter_rack) / 1e3
        self.links: dict[Hashable, float] = {}
        self._wan_latency_s: dict[tuple[str, str], float] = {}
        uplink_Bps = float(cluster_cfg.rack_uplink_gbit) * 1e9 / 8
        for node in nodes:
            self.links[("up", node.id)] = node.nic_Bps
            self.links[("down", node.id)] = node.nic_Bps
            self.links.setdefault(("rack_up", node.rack), uplink_Bps)
            self.links.setdefault(("rack_down", node.rack), uplink_Bps)
        for w in cluster_cfg.wan:
            Bps = float(w.bandwidth_mbit) * 1e6 / 8
            self.links[("wan", w.a, w.b)] = Bps
            self.links[("wan", w.b, w.a)] = Bps
            self._wan_latency_s[(w.a, w.b)] = self._wan_latency_s[(w.b, w.a)] = float(w.latency_ms) / 1e3

    def path(self, src: Node, dst: Node) -> list[Hashable]:
        if src.id == dst.id:
            return []
        if src.rack == dst.rack:
            return [("up", src.id), ("down", dst.id)]
        hops: list[Hashable] = [("up", src.id), ("rack_up", src.rack)]
        if src.site != dst.site:
            hops.append(("wan", src.site, dst.site))
        return hops + [("rack_down", dst.rack), ("down", dst.id)]

    def one_way_latency_s(self, src: Node, dst: Node) -> float:
        if src.id == dst.id:
            return 0.0
        if src.site != dst.site:
            return self._wan_latency_s[(src.site, dst.site)]  # validation ensures every pair has a link
        return self.intra_rack_s if src.rack == dst.rack else self.inter_rack_s


def build_nodes(env: simpy.Environment, cluster_cfg: DictConfig, default_profile: DictConfig) -> list[Node]:
    nodes: list[Node] = []
    for group in cluster_cfg.groups:
        profile = default_profile if group.profile == "default" else cluster_cfg.profiles[group.profile]
        per_rack = -(-group.count // max(1, group.racks))  # contiguous blocks of nodes per rack
        for i in range(group.count):
            rack = f"{group.name}-r{i // per_rack}"
            nodes.append(_make_node(env, len(nodes), f"{group.name}-{i}", group, rack, profile))
    return nodes


def _make_node(env: simpy.Environment, nid: int, name: str, group: Any, rack: str, profile: Any) -> Node:
    return Node(
        id=nid,
        name=name,
        group=group.name,
        rack=rack,
        site=group.site,
        profile_name=profile.name,
        profile=profile,
        cores=int(profile.cpu.cores),
        speed=float(profile.cpu.speed),
        cpu=simpy.Resource(env, capacity=int(profile.cpu.cores)),
        disks=simpy.Resource(env, capacity=max(1, int(profile.disk.count))),
        disk_spec=disk_spec(profile),
        memory=MemoryModel(memory_spec(profile)),
        nic_Bps=float(profile.nic.bandwidth_mbit) * 1e6 / 8,
    )


def profile_dict(profile: Any) -> dict[str, Any]:
    return OmegaConf.to_container(profile, resolve=True)  # type: ignore[return-value]
