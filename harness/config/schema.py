"""Typed schemas for every config group, stored in Hydra's ConfigStore.

Hydra merges each group's YAML onto these dataclasses, so a typo'd key or a wrongly
typed value fails at composition with the offending ``full_key``. Systems and workloads
are typed by their own plugin's ``Params`` dataclass (see ``harness.api``), checked by
``harness.config.validate`` once the plugin is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


@dataclass
class CpuSpec:
    cores: int = 1
    speed: float = 1.0  # per-core speed relative to one current x86 server core
    # The core and the instruction set the OS runs it in ("cortex-a53-armv7l"): code whose speed
    # does not follow `speed` (crypto without the ISA's extensions) is keyed on it by plugins.
    model: str = ""


@dataclass
class MemorySpecConfig:
    ram_mib: float = 1024.0
    os_reserved_mib: float = 0.0
    swap_mib: float = 0.0
    swappiness: int = 60
    # Linux's write-back sysctls (vm.dirty_ratio, vm.dirty_background_ratio, in percent of the
    # dirtyable memory, and vm.dirty_expire_centisecs / 100). Only buffered writes use them;
    # dirty_ratio 0 makes those writes synchronous.
    dirty_ratio: float = 20.0
    dirty_background_ratio: float = 10.0
    dirty_expire_s: float = 30.0


@dataclass
class DiskSpecConfig:
    kind: str = "ssd"  # sd | ssd | hdd
    count: int = 1
    seq_read_mbps: float = 500.0
    seq_write_mbps: float = 400.0
    rand_read_iops: float = 50000.0
    rand_write_iops: float = 30000.0
    io_size_kib: float = 4.0
    erase_block_mib: float = 4.0
    partition_aligned: bool = True
    fs_block_kib: float = 4.0
    seek_ms: float = 0.0


@dataclass
class NicSpec:
    bandwidth_mbit: float = 1000.0


@dataclass
class PowerSpec:
    idle_w: float = 0.0
    busy_w: float = 0.0


@dataclass
class PriceSpec:
    hourly_usd: float = 0.0
    purchase_usd: float = 0.0
    lifetime_years: float = 3.0
    electricity_usd_per_kwh: float = 0.0


@dataclass
class HardwareProfile:
    name: str = MISSING
    description: str = ""
    cpu: CpuSpec = field(default_factory=CpuSpec)
    memory: MemorySpecConfig = field(default_factory=MemorySpecConfig)
    disk: DiskSpecConfig = field(default_factory=DiskSpecConfig)
    nic: NicSpec = field(default_factory=NicSpec)
    power: PowerSpec = field(default_factory=PowerSpec)
    price: PriceSpec = field(default_factory=PriceSpec)
    sources: Dict[str, str] = field(default_factory=dict)


@dataclass
class NodeGroup:
    name: str = MISSING
    count: int = 1
    racks: int = 1
    site: str = "lan"
    profile: str = "default"  # "default": the run's `hardware`; else a key of cluster.profiles


@dataclass
class LatencySpec:
    intra_rack: float = 0.1  # ms
    inter_rack: float = 0.25  # ms


@dataclass
class WanLink:
    a: str = MISSING
    b: str = MISSING
    bandwidth_mbit: float = 100.0
    latency_ms: float = 20.0


@dataclass
class ClusterConfig:
    name: str = MISSING
    description: str = ""
    groups: List[NodeGroup] = field(default_factory=list)
    rack_uplink_gbit: float = 10.0
    latency_ms: LatencySpec = field(default_factory=LatencySpec)
    wan: List[WanLink] = field(default_factory=list)
    profiles: Dict[str, HardwareProfile] = field(default_factory=dict)
    sources: Dict[str, str] = field(default_factory=dict)


@dataclass
class FaultEvent:
    kind: str = MISSING  # crash | recover | partition | heal | slow | corrupt
    at_s: float = 0.0
    # Target: "node:<id>", "group:<name>", "rack:<name>", "site:<name>" or "random"
    target: str = "random"
    count: int = 1  # how many nodes a "random"/"group" target picks
    duration_s: Optional[float] = None  # crash/partition/slow: undo after this long
    factor: float = 1.0  # slow: the node runs `factor` times slower
    # slow: which resources run slower: "cpu" (e.g. caches disabled, CPU contention), "disk"
    # (e.g. a disk retrying correctable errors)
    resources: List[str] = field(default_factory=lambda: ["cpu", "disk"])
    peer: Optional[str] = None  # partition: the other side ("site:cloud", "rack:r1"); None = everyone else
    fraction: float = 0.01  # corrupt: share of stored blocks corrupted
    exclude: Optional[str] = None  # nodes a random/group target never picks (e.g. "node:0", a master)


@dataclass
class FaultsConfig:
    name: str = "none"
    description: str = ""
    events: List[FaultEvent] = field(default_factory=list)
    crash_rate_per_node_hour: float = 0.0  # random crashes (Poisson per node)
    mean_recovery_s: Optional[float] = None  # None: crashed nodes stay down
    sources: Dict[str, str] = field(default_factory=dict)  # where each figure comes from (prose)


@dataclass
class BackendConfig:
    name: str = "sim"
    description: str = ""
    timeout_s: float = 600.0  # wall-clock limit per run; over it the run is recorded as timeout
    max_sim_time_s: float = 1.0e7  # simulated-time horizon; a run still going then fails
    # Recompute max-min flow rates at most once per this much simulated time (0: exact,
    # on every flow event). A fidelity/speed knob for all-to-all shuffles at paper scale.
    network_quantum_s: float = 0.0


@dataclass
class SuiteRun:
    name: str = MISSING
    overrides: List[str] = field(default_factory=list)


@dataclass
class SuiteConfig:
    name: str = "none"
    description: str = ""
    runs: List[SuiteRun] = field(default_factory=list)
    # Relative tolerance per metric name; "default" applies to the rest.
    tolerances: Dict[str, float] = field(default_factory=lambda: {"default": 0.0})


@dataclass
class Config:
    system: Any = MISSING
    workload: Any = MISSING
    hardware: HardwareProfile = MISSING
    cluster: ClusterConfig = MISSING
    faults: FaultsConfig = MISSING
    backend: BackendConfig = MISSING
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    seed: int = 0
    # Run control: these do not change what a run computes, so they stay out of its key.
    results_dir: str = "results"
    rerun: bool = False
    quiet: bool = False


RUN_CONTROL_KEYS = ("results_dir", "rerun", "quiet", "suite")
BACKEND_RUN_CONTROL_KEYS = ("timeout_s", "description")

def register_schemas() -> None:
    """Store the root schema; config.yaml names it first in its defaults list, so every
    core group (hardware, cluster, faults, backend, suite) is typed by its dataclass."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="harness_schema", node=Config)
