"""Run records, their SQLite index and their pandas frames (``harness.results.frame``).

Only the stdlib-backed parts are imported here; ``frame`` pulls in pandas, so import it
explicitly where tables are built.
"""

from __future__ import annotations

from harness.results.record import (
    RECORD_NAME,
    display_status,
    load_records,
    metric_value,
    read_record,
    write_record,
)
from harness.results.store import ResultsStore, default_store_path

__all__ = [
    "RECORD_NAME",
    "ResultsStore",
    "default_store_path",
    "display_status",
    "load_records",
    "metric_value",
    "read_record",
    "write_record",
]
