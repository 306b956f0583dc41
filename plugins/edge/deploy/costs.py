"""CPU costs of a pull on one node, in reference-core seconds (pure: no simulator here).

The runtime charges CPU work in seconds of the reference core (one current x86 server core)
and runs it at the node's ``cpu.speed``. That is right for code that is equally good on every
machine, but not for Go's crypto: on x86 ``crypto/sha256`` and AES-GCM run hand-written
assembly (AVX2, AES-NI), while on a Raspberry Pi 3 running 32-bit Raspbian Go has no assembly
for SHA-256 nor for ChaCha20 and falls back to generic code that is far slower than the CPU
speed ratio says. ``boards`` holds per-core throughputs measured on such a core, keyed by the
hardware profile's ``cpu.model``; for a node with that core the work is sized so that the node runs it at the measured speed
(``speed / measured bytes per second``). Every other node uses the reference rate.

Each mechanism can be switched off; a switched-off mechanism costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

MB = 1e6


@dataclass
class BoardRates:
    """Per-core throughputs measured on one board (None: use the reference rate)."""

    sha256_mbps: Optional[float] = None  # Go crypto/sha256
    tls_mbps: Optional[float] = None  # Go TLS record decryption with the cipher Go picks there
    kernel_receive_ms_per_mb: Optional[float] = None  # kernel CPU per MB received (NIC driver, TCP)


@dataclass(frozen=True)
class PullCosts:
    """Reference-core seconds per byte or per file, and the retry policy, for one node."""

    gunzip_per_byte: float
    sha256_per_byte: float  # blob digest while downloading, diff id while decompressing
    tls_per_byte: float  # decrypting the HTTPS stream from the registry
    kernel_receive_per_byte: float  # NIC interrupts, driver, TCP receive and copy to user space
    crc64_per_byte: float  # tar-split's checksum of every file's bytes
    tar_split_per_file: float  # tar-split's JSON entries for a file, gzipped
    tar_file: float  # untar: header, create, write, chmod/chown/utimes, close
    copy_per_byte: float  # untar: tar reader and write(2) copies
    parallel_fraction: float
    inodes_per_metadata_write: int
    layer_commit_writes: int
    max_attempts: int
    backoff_s: float


def pull_costs(p: Any, node: Any) -> PullCosts:
    """The costs ``node`` pays under the system params ``p`` (a DockerPullParams)."""
    board = p.boards.get(str(node.profile.cpu.model)) if p.board_rates else None
    return PullCosts(
        gunzip_per_byte=_per_byte(p.gunzip_ref_mbps),
        sha256_per_byte=_crypto(p.verify_digests, p.sha256_ref_mbps, board and board.sha256_mbps, node),
        tls_per_byte=_crypto(p.tls, p.tls_ref_mbps, board and board.tls_mbps, node),
        kernel_receive_per_byte=_kernel_receive(p, board, node),
        crc64_per_byte=_per_byte(p.crc64_ref_mbps) if p.tar_split else 0.0,
        tar_split_per_file=p.tar_split_file_ref_us * 1e-6 if p.tar_split else 0.0,
        tar_file=p.tar_file_ref_us * 1e-6,
        copy_per_byte=p.copy_ref_ns_per_byte * 1e-9,
        parallel_fraction=p.decompress_parallel_fraction,
        inodes_per_metadata_write=p.inodes_per_metadata_write,
        layer_commit_writes=p.layer_commit_writes,
        max_attempts=p.max_download_attempts,
        backoff_s=p.retry_backoff_s,
    )


def measured_to_reference(mbps: float, speed: float) -> float:
    """Reference-core seconds per byte that a core of ``speed`` runs at ``mbps`` MB/s."""
    return speed / (mbps * MB)


def _per_byte(ref_mbps: float) -> float:
    return 1.0 / (ref_mbps * MB)


def _crypto(enabled: bool, ref_mbps: float, board_mbps: Optional[float], node: Any) -> float:
    if not enabled:
        return 0.0
    if board_mbps is not None:
        return measured_to_reference(board_mbps, node.speed)
    return _per_byte(ref_mbps)


def _kernel_receive(p: Any, board: Optional[BoardRates], node: Any) -> float:
    if not p.kernel_receive:
        return 0.0
    if board is not None and board.kernel_receive_ms_per_mb is not None:
        return board.kernel_receive_ms_per_mb * 1e-3 / MB * node.speed
    return p.kernel_receive_ref_ns_per_byte * 1e-9
