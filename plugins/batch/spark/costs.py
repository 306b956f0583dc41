"""CPU and memory constants of the Spark plugin (reference-core seconds, see MapReduce's
``costs.py`` for the shared per-record and per-byte constants, re-used here unchanged).

Spark-specific figures, all ESTIMATES stated openly:

* ``TASK_LAUNCH_S``: launching a task in a running executor (a thread, a deserialized
  closure): a few ms, versus ~50 ms for a MapReduce task (NSDI'12 section 7: Spark tasks
  are "lightweight"; Ousterhout et al., "Sparrow", SOSP'13: Spark task launch ~ms).
* ``PARSE_NUMBER_S``: parsing one number from text (strtod / Java parseDouble), ~50 ns;
  why an uncached iteration of logistic regression costs more than a cached one
  (NSDI'12 section 6.1: "the cost of parsing text into Java objects").
* ``MEMORY_EXPANSION``: deserialized Java objects take 2-5x their serialized size (Spark
  tuning guide, "Memory Tuning"); 2.0 is the optimistic end.
* ``STORAGE_FRACTION``: share of the usable RAM (RAM minus the OS reservation) the block
  manager may fill (Spark's ``spark.memory.fraction`` = 0.6).
"""

from __future__ import annotations

from plugins.batch.mapreduce.costs import (  # noqa: F401  (re-exported: one source of truth)
    COMPARE_S,
    COPY_BYTE_S,
    EMIT_S,
    FLOP_S,
    HASH_UPDATE_S,
    RECORD_S,
    SCAN_BYTE_S,
    TOKENIZE_BYTE_S,
)

TASK_LAUNCH_S = 0.005
PARSE_NUMBER_S = 50e-9
MEMORY_EXPANSION = 2.0
STORAGE_FRACTION = 0.6
