"""What runs inside the guest being migrated: memory size, page-dirtying rate and its
hot-page distribution, CPU and network demand, and (for a container) file-system state.

A workload of kind ``migration`` describes the guest only; the ``live_migration`` system
decides how to move it. Four presets (``migrate_idle``, ``migrate_web_server``,
``migrate_game_server``, ``migrate_memory_intensive``) share one ``Params`` dataclass whose
fields left at null are filled from the preset for the chosen ``guest`` (``vm`` or
``container``). Every number and its source is in docs/models.md (live migration).

Pages are grouped in *tiers*: a tier holds a share of the pages and receives a share of the
writes (and of the accesses), spread uniformly over its pages. A small, very hot tier and a
larger warm one give the writable working set (WWS) of Clark et al. (NSDI 2005, section 5):
pre-copy rounds shrink quickly to the pages dirtied faster than they can be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from harness.api import ConfigIssue, Workload

GUESTS = ("vm", "container")
MB = 1e6


@dataclass(frozen=True)
class GuestShape:
    """Sizes and start-up costs of one kind of guest running the application."""

    memory_mb: float  # VM: the guest's whole RAM; container: the process tree's resident set
    fs_mb: float  # state on local disk that must move too (container's writable layer)
    state_kb: float  # CPU/device state (VM) or CRIU's non-memory images (container)
    resume_ms: float  # from the last byte received to the guest running again


@dataclass(frozen=True)
class Preset:
    write_rate_pages_s: float  # page writes per second of application work (memory)
    access_rate_pages_s: float  # page accesses (reads + writes) per second (post-copy faults)
    fs_write_rate_pages_s: float  # 4 KiB file-system block writes per second (container only)
    tiers: tuple[tuple[float, float], ...]  # (share of pages, share of writes and accesses)
    cpu_cores: float  # cores of its host the application keeps busy
    net_share: float  # share of its host's NIC used by client traffic
    vm: GuestShape
    container: GuestShape


# VM start-up after the last copy: Clark et al. report 9 ms (SPECweb) and 40 ms (Quake 3);
# 20 ms is a CHOICE in between. CRIU restore of a process tree: ESTIMATE 150 ms (it re-creates
# processes, mappings, files and sockets from images before the first instruction runs).
_VM_RESUME_MS, _CT_RESUME_MS = 20.0, 150.0

PRESETS: dict[str, Preset] = {
    # An idle guest: timers and daemons write a few pages per second (ESTIMATE).
    "idle": Preset(
        write_rate_pages_s=20.0, access_rate_pages_s=200.0, fs_write_rate_pages_s=0.5,
        tiers=((0.01, 0.9), (0.99, 0.1)), cpu_cores=0.01, net_share=0.0,
        vm=GuestShape(memory_mb=128.0, fs_mb=0.0, state_kb=64.0, resume_ms=_VM_RESUME_MS),
        container=GuestShape(memory_mb=8.0, fs_mb=8.0, state_kb=256.0, resume_ms=_CT_RESUME_MS),
    ),
    # SPECweb99-like web server (Clark et al.: an 800 MB VM). Rates CALIBRATED so that the
    # Clark setup (server_2004 nodes, adaptive rate) lands near the paper's shape; see models.md.
    "web_server": Preset(
        write_rate_pages_s=30000.0, access_rate_pages_s=120000.0, fs_write_rate_pages_s=50.0,
        tiers=((0.025, 0.935), (0.08, 0.05), (0.895, 0.015)), cpu_cores=1.0, net_share=0.5,
        vm=GuestShape(memory_mb=800.0, fs_mb=0.0, state_kb=64.0, resume_ms=_VM_RESUME_MS),
        container=GuestShape(memory_mb=160.0, fs_mb=200.0, state_kb=512.0, resume_ms=_CT_RESUME_MS),
    ),
    # Quake 3 server (Clark et al.: a 64 MB VM, 6 players). CALIBRATED like web_server.
    "game_server": Preset(
        write_rate_pages_s=2600.0, access_rate_pages_s=10400.0, fs_write_rate_pages_s=5.0,
        tiers=((0.002, 0.3), (0.2, 0.6), (0.798, 0.1)), cpu_cores=0.5, net_share=0.02,
        vm=GuestShape(memory_mb=64.0, fs_mb=0.0, state_kb=64.0, resume_ms=_VM_RESUME_MS),
        container=GuestShape(memory_mb=24.0, fs_mb=16.0, state_kb=256.0, resume_ms=_CT_RESUME_MS),
    ),
    # A memory-bound computation (mcf-like; Clark et al.'s "diabolical" case): it dirties a
    # large working set faster than a 100 Mbit/s link can copy it (ESTIMATE: 100 MB/s of writes).
    "memory_intensive": Preset(
        write_rate_pages_s=25000.0, access_rate_pages_s=50000.0, fs_write_rate_pages_s=0.0,
        tiers=((0.3, 0.9), (0.7, 0.1)), cpu_cores=1.0, net_share=0.0,
        vm=GuestShape(memory_mb=512.0, fs_mb=0.0, state_kb=64.0, resume_ms=_VM_RESUME_MS),
        container=GuestShape(memory_mb=440.0, fs_mb=8.0, state_kb=256.0, resume_ms=_CT_RESUME_MS),
    ),
}


@dataclass
class MigrationAppParams:
    guest: str = "vm"  # vm | container
    memory_mb: Optional[float] = None  # null: the preset's size for this guest
    fs_mb: Optional[float] = None  # null: the preset's (VMs: 0, their disk is on shared storage)
    write_rate_pages_s: Optional[float] = None
    access_rate_pages_s: Optional[float] = None
    fs_write_rate_pages_s: Optional[float] = None
    cpu_cores: Optional[float] = None
    net_share: Optional[float] = None
    state_kb: Optional[float] = None
    resume_ms: Optional[float] = None
    locality_pages: int = 64  # pages of a tier lie in runs of this many contiguous pages


@dataclass(frozen=True)
class GuestSpec:
    """A resolved guest: every field filled (explicit values win over the preset)."""

    guest: str
    memory_bytes: float
    fs_bytes: float
    write_rate_pages_s: float
    access_rate_pages_s: float
    fs_write_rate_pages_s: float
    tiers: tuple[tuple[float, float], ...]
    cpu_cores: float
    net_share: float
    state_bytes: float
    resume_s: float
    locality_pages: int


class MigrationApp(Workload):
    """Base class of the presets: ``preset`` names the row of ``PRESETS``."""

    kind: ClassVar[str] = "migration"
    preset: ClassVar[str] = ""
    Params = MigrationAppParams

    @classmethod
    def resolve(cls, params: MigrationAppParams) -> GuestSpec:
        preset = PRESETS[cls.preset]
        shape = preset.vm if params.guest == "vm" else preset.container
        pick = lambda value, default: float(default if value is None else value)  # noqa: E731
        return GuestSpec(
            guest=params.guest,
            memory_bytes=pick(params.memory_mb, shape.memory_mb) * MB,
            fs_bytes=pick(params.fs_mb, shape.fs_mb) * MB,
            write_rate_pages_s=pick(params.write_rate_pages_s, preset.write_rate_pages_s),
            access_rate_pages_s=pick(params.access_rate_pages_s, preset.access_rate_pages_s),
            fs_write_rate_pages_s=pick(params.fs_write_rate_pages_s, preset.fs_write_rate_pages_s),
            tiers=preset.tiers,
            cpu_cores=pick(params.cpu_cores, preset.cpu_cores),
            net_share=pick(params.net_share, preset.net_share),
            state_bytes=pick(params.state_kb, shape.state_kb) * 1024,
            resume_s=pick(params.resume_ms, shape.resume_ms) / 1e3,
            locality_pages=int(params.locality_pages),
        )

    @classmethod
    def check(cls, params: MigrationAppParams) -> list[ConfigIssue]:
        if params.guest not in GUESTS:
            return [ConfigIssue("workload.guest", params.guest, f"allowed: {', '.join(GUESTS)}")]
        spec = cls.resolve(params)
        issues = []
        if spec.memory_bytes < 4096:
            issues.append(ConfigIssue("workload.memory_mb", params.memory_mb, "must be >= 0.004096 (one page)"))
        for key in ("fs_mb", "write_rate_pages_s", "access_rate_pages_s", "fs_write_rate_pages_s",
                    "cpu_cores", "state_kb", "resume_ms"):
            value = getattr(params, key)
            if value is not None and value < 0:
                issues.append(ConfigIssue(f"workload.{key}", value, "must be >= 0"))
        if not 0.0 <= spec.net_share < 1.0:
            issues.append(ConfigIssue("workload.net_share", params.net_share, "must be in [0, 1)"))
        if spec.locality_pages < 1:
            issues.append(ConfigIssue("workload.locality_pages", params.locality_pages, "must be >= 1"))
        return issues

    def spec(self) -> GuestSpec:
        return self.resolve(self.params)


class MigrateIdle(MigrationApp):
    name = "migrate_idle"
    description = "Guest to migrate: idle (a few page writes per second)"
    preset = "idle"


class MigrateWebServer(MigrationApp):
    name = "migrate_web_server"
    description = "Guest to migrate: SPECweb-like web server (Clark et al. NSDI'05: 800 MB VM)"
    preset = "web_server"


class MigrateGameServer(MigrationApp):
    name = "migrate_game_server"
    description = "Guest to migrate: Quake 3 game server (Clark et al. NSDI'05: 64 MB VM)"
    preset = "game_server"


class MigrateMemoryIntensive(MigrationApp):
    name = "migrate_memory_intensive"
    description = "Guest to migrate: memory-bound job dirtying pages faster than a 100 Mbit/s link copies them"
    preset = "memory_intensive"


WORKLOADS: tuple[type[MigrationApp], ...] = (MigrateIdle, MigrateWebServer, MigrateGameServer, MigrateMemoryIntensive)
