"""Disk service-time model: SD card, SSD and HDD, as a pure function of the request.

The runtime queues requests on a SimPy resource per node (one slot per disk); this module
only says how long one request keeps the device busy and how many bytes the device really
read and programmed. Everything here is a *model* (see docs/models.md), not a measurement.

SD cards get one extra mechanism, because it is what the seed's tuning advice is about:
flash is erased in whole erase blocks (allocation units, typically 4 MiB on cards made
since about 2010 -- Bergmann, LWN 428584 and the Linaro flash-card survey), so a write that
covers an erase block only partly makes the card read the rest of the block and program it
again (read-modify-write). When the partition does not start on an erase-block boundary,
every erase-block-sized piece of a sequential stream straddles two erase blocks, and the
card "may end up performing 2 write operations for each 1 write operation intended"
(3gfp.com, "Formatting SD Cards for Speed and Lifetime", 2014).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

KIB = 1024.0
MIB = 1024.0 * 1024.0
MB = 1e6  # bandwidths are decimal megabytes per second, as benchmark tools report them

DISK_KINDS = ("sd", "ssd", "hdd")
OPS = ("read", "write")
PATTERNS = ("seq", "rand")


@dataclass(frozen=True)
class DiskSpec:
    """One disk as the hardware profile describes it (units are in the field names)."""

    kind: str  # "sd" | "ssd" | "hdd"
    seq_read_mbps: float  # MB/s, decimal (1e6 bytes)
    seq_write_mbps: float
    rand_read_iops: float  # IOPS at io_size_kib
    rand_write_iops: float
    io_size_kib: float = 4.0
    erase_block_mib: float = 4.0  # SD cards only
    partition_aligned: bool = True  # SD: partition start aligned to the erase block
    fs_block_kib: float = 4.0  # file-system block (or cluster) size
    seek_ms: float = 0.0  # HDD average seek + rotation; 0 for flash

    def __post_init__(self) -> None:
        if self.kind not in DISK_KINDS:
            raise ValueError(f"disk.kind={self.kind!r}: expected one of {', '.join(DISK_KINDS)}")
        for name in ("seq_read_mbps", "seq_write_mbps", "rand_read_iops", "rand_write_iops",
                     "io_size_kib", "erase_block_mib", "fs_block_kib"):
            _require_positive(f"disk.{name}", getattr(self, name))
        if not math.isfinite(self.seek_ms) or self.seek_ms < 0:
            raise ValueError(f"disk.seek_ms={self.seek_ms!r}: expected a finite number >= 0")

    @classmethod
    def from_mapping(cls, disk: Mapping[str, Any]) -> "DiskSpec":
        """Build from a profile's ``disk`` section; ``count`` belongs to the node, not the disk."""
        fields = {k: disk[k] for k in cls.__dataclass_fields__ if k in disk}
        return cls(**fields)

    @property
    def seq_read_Bps(self) -> float:
        return self.seq_read_mbps * MB

    @property
    def seq_write_Bps(self) -> float:
        return self.seq_write_mbps * MB

    @property
    def fs_block_bytes(self) -> float:
        return self.fs_block_kib * KIB

    @property
    def erase_block_bytes(self) -> float:
        return self.erase_block_mib * MIB


@dataclass(frozen=True)
class DiskCost:
    seconds: float  # device service time
    device_read_bytes: float  # bytes the device actually read (includes read-modify-write)
    device_write_bytes: float  # bytes the device actually programmed


ZERO_COST = DiskCost(0.0, 0.0, 0.0)


def disk_cost(
    spec: DiskSpec,
    op: str,
    nbytes: float,
    pattern: str = "seq",
    request_bytes: float | None = None,
) -> DiskCost:
    """Service time and device bytes for moving ``nbytes`` of payload.

    ``pattern="seq"`` is one contiguous stream; ``"rand"`` is independent requests of
    ``request_bytes`` each (default: one file-system block) at scattered offsets. Costs
    are linear in ``nbytes`` for a given pattern and request size, so splitting a stream
    into several calls does not change its total (apart from one HDD seek per call).
    """
    _check_args(op, nbytes, pattern, request_bytes)
    if nbytes == 0:
        return ZERO_COST
    if pattern == "seq":
        return _sequential(spec, op, nbytes)
    request = spec.fs_block_bytes if request_bytes is None else float(request_bytes)
    return _random(spec, op, nbytes, request)


def _check_args(op: str, nbytes: float, pattern: str, request_bytes: float | None) -> None:
    if op not in OPS:
        raise ValueError(f"op={op!r}: expected 'read' or 'write'")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern={pattern!r}: expected 'seq' or 'rand'")
    if not math.isfinite(nbytes) or nbytes < 0:
        raise ValueError(f"nbytes={nbytes!r}: expected a finite number >= 0")
    if request_bytes is not None and (not math.isfinite(request_bytes) or request_bytes <= 0):
        raise ValueError(f"request_bytes={request_bytes!r}: expected a finite number > 0")


def _round_up(nbytes: float, unit: float) -> float:
    """Whole units covering ``nbytes``; the epsilon keeps 3 * (1/3 unit) from becoming 2 units."""
    return math.ceil(nbytes / unit - 1e-9) * unit


def _sequential(spec: DiskSpec, op: str, nbytes: float) -> DiskCost:
    logical = _round_up(nbytes, spec.fs_block_bytes)
    seek_s = spec.seek_ms / 1e3  # one positioning per call (HDD); 0 for flash
    if op == "read":
        return DiskCost(seek_s + logical / spec.seq_read_Bps, logical, 0.0)
    read_b, program_b = _sequential_write_bytes(spec, logical)
    seconds = seek_s + program_b / spec.seq_write_Bps + read_b / spec.seq_read_Bps
    return DiskCost(seconds, read_b, program_b)


def _sequential_write_bytes(spec: DiskSpec, logical: float) -> tuple[float, float]:
    """(device read, device programmed) bytes for a sequential write stream.

    Aligned SD partitions: the card's open-allocation-unit buffer fills each erase block
    in order, so a stream programs each byte once. Misaligned: each erase-block-sized piece
    half-covers two erase blocks, so every block is read-modify-written twice -- twice the
    programming and one extra read of the data volume (3gfp.com: "2 write operations for
    each 1"). SSD/HDD: no penalty in this model.
    """
    if spec.kind != "sd" or spec.partition_aligned:
        return 0.0, logical
    return logical, 2.0 * logical


def _random(spec: DiskSpec, op: str, nbytes: float, request: float) -> DiskCost:
    """Independent requests: each costs max(1/IOPS, seek + size/bandwidth).

    The IOPS figures are measured (e.g. iozone 4 KiB random on the card), so they already
    contain whatever the device does internally per small request; this model does not add
    a second time penalty on top. Requests are rounded up to whole file-system blocks,
    which is why larger blocks cost more per tiny write but need fewer requests for a
    given volume.
    """
    count = math.ceil(nbytes / request - 1e-9)
    per_request = _round_up(request, spec.fs_block_bytes)
    iops = spec.rand_read_iops if op == "read" else spec.rand_write_iops
    bandwidth = spec.seq_read_Bps if op == "read" else spec.seq_write_Bps
    per_request_s = max(1.0 / iops, spec.seek_ms / 1e3 + per_request / bandwidth)
    if op == "read":
        return DiskCost(count * per_request_s, count * per_request, 0.0)
    read_b, program_b = _random_write_bytes(spec, per_request)
    return DiskCost(count * per_request_s, count * read_b, count * program_b)


def _random_write_bytes(spec: DiskSpec, request: float) -> tuple[float, float]:
    """(device read, device programmed) bytes for ONE scattered write request on flash.

    SD: every erase block the request touches only partly is read-modify-written whole.
    A request lands inside ceil(q/E) erase blocks when aligned; on a misaligned partition a
    request of at least one erase block always straddles one more. This is the worst-case
    write amplification (erase block / request size) of Bergmann's survey: it is charged to
    device bytes (wear), while service time comes from the measured IOPS above.
    """
    if spec.kind != "sd":
        return 0.0, request
    erase = spec.erase_block_bytes
    blocks = math.ceil(request / erase - 1e-9)
    if not spec.partition_aligned and request >= erase:
        blocks += 1
    programmed = blocks * erase
    return programmed - request, programmed


def _require_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}: expected a finite number > 0")
