"""CPU cost constants of MapReduce user programs and framework code paths.

Every figure is in *reference-core seconds* (one core of a current x86 server, ~3 GHz,
the harness's ``cpu.speed = 1.0``); the runtime divides by a node's ``cpu.speed``. They
are order-of-magnitude estimates from common single-core throughputs, not measurements
of Google's 2004 code: on the paper's cluster (``server_2004``) the sort and grep jobs
are bound by disks and the network, so these constants move the paper-scale results by
a few percent only (see docs/results.md). Sources, per constant:

* ``RECORD_S``: the framework reading one record from an input buffer and calling the user
  function: a virtual call plus a few branches, ~100 ns (C++ record readers in the
  ~10^7 records/s/core range, e.g. protobuf/recordio decoding benchmarks).
* ``SCAN_BYTE_S``: a literal substring scan, ~1 GB/s per core (GNU grep / RE2 literal
  search; Cox, "Regular Expression Matching Can Be Simple And Fast", 2007, and RE2's
  benchmarks report GB/s-class literal scanning).
* ``TOKENIZE_BYTE_S``: splitting text on whitespace into words, ~300 MB/s per core.
* ``COPY_BYTE_S``: serializing or copying a record into a buffer, ~1 GB/s per core
  (memcpy runs at ~10 GB/s; framing and varint encoding cost ~10x that).
* ``EMIT_S``: emitting one intermediate pair (partition function + buffer append), ~50 ns.
* ``HASH_UPDATE_S``: one hash-map lookup/update in a combiner or reducer, ~50 ns
  (a cache miss per update on maps larger than L2).
* ``COMPARE_S``: one key comparison in the reducer's sort, ~10 ns; n log2(n) of them
  (std::sort sorts ~10^8 keys per ~10 s on one core, i.e. ~4 ns per comparison for
  integers; string keys with pointer chasing cost a few times more).
* ``FLOP_S``: one multiply-add in interpreted-free numeric code, ~1 ns (scalar, no SIMD).
* ``TASK_START_S``: starting a task inside a running worker (RPC, opening files, buffer
  set-up), ~50 ms of CPU.
"""

from __future__ import annotations

RECORD_S = 100e-9
SCAN_BYTE_S = 1e-9
TOKENIZE_BYTE_S = 3.3e-9
COPY_BYTE_S = 1e-9
EMIT_S = 50e-9
HASH_UPDATE_S = 50e-9
COMPARE_S = 10e-9
FLOP_S = 1e-9
TASK_START_S = 0.05
