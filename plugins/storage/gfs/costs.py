"""Modelled constants of the GFS plugin, each with its source (see docs/models.md, GFS).

CPU figures are in *reference-core seconds* (one core of a current x86 server, the
harness's ``cpu.speed = 1.0``); the runtime divides them by a node's speed. Sizes are
bytes. "GFS" below is Ghemawat, Gobioff & Leung, "The Google File System", SOSP 2003.

* ``MASTER_OP_S``: one metadata request at the master (RPC decode, an in-memory
  namespace/chunk-table lookup, reply), 50 us. ESTIMATE: GFS 6.2.4 reports the 2003
  master "can easily support many thousands of file accesses per second" on a dual PIII,
  i.e. well under 1 ms per request on a ~0.1-speed core; 50 us of a current core is
  0.5 ms on such a core.
* ``CHUNKSERVER_OP_S``: one request at a chunkserver (decode, replica lookup, lease
  check), 20 us. ESTIMATE: a user-level RPC server turns around a small request in tens
  of microseconds on a current core.
* ``CHECKSUM_BYTE_S``: computing or verifying a 32-bit checksum, 1 ns per byte.
  ESTIMATE: table-driven (slice-by-8) CRC32 runs at ~1-2 GB/s on one current x86 core
  (zlib's crc32); GFS 5.2 checksums every 64 KB block "and verifies them on reads".
* ``LOG_RECORD_BYTES``: one operation-log record (opcode, path or handle, version),
  100 bytes. ESTIMATE.
* ``METADATA_BYTES_PER_CHUNK`` / ``METADATA_BYTES_PER_FILE``: 64 each. GFS 2.6.1: "The
  master maintains less than 64 bytes of metadata for each 64 MB chunk ... The file
  namespace data typically requires less then 64 bytes per file". This sizes checkpoints.
* ``REPLAY_RECORD_S``: applying one logged mutation at recovery (parse, one hash/B-tree
  update), 2 us. ESTIMATE: an in-memory map update plus record decoding.
* ``CHECKPOINT_ENTRY_S``: loading one checkpoint entry, 0.5 us. ESTIMATE: GFS 2.6.3 keeps
  the checkpoint "in a compact B-tree like form that can be directly mapped into memory
  and used for namespace lookup without extra parsing", so cheaper than a replay.
* ``MASTER_START_S``: starting the master process before it reads its state, 0.5 s.
  ESTIMATE: GFS 5.1.1, "both the master and the chunkserver are designed to restore
  their state and start in seconds".
* ``REPORT_BYTES_PER_CHUNK``: one (handle, version) pair in a chunk report, 16 bytes
  (two 64-bit integers; GFS 2.3 "an immutable and globally unique 64 bit chunk handle").
* ``RPC_BYTES``: a control message, 256 bytes (the runtime's default small message).
"""

from __future__ import annotations

MASTER_OP_S = 50e-6
CHUNKSERVER_OP_S = 20e-6
CHECKSUM_BYTE_S = 1e-9
LOG_RECORD_BYTES = 100
METADATA_BYTES_PER_CHUNK = 64
METADATA_BYTES_PER_FILE = 64
REPLAY_RECORD_S = 2e-6
CHECKPOINT_ENTRY_S = 0.5e-6
MASTER_START_S = 0.5
REPORT_BYTES_PER_CHUNK = 16
RPC_BYTES = 256

MB = 1e6
MIB = float(1 << 20)
KIB = 1024.0
