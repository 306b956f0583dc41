"""The run record: one self-describing JSON file per run, written atomically.

Only the standard library is imported here: the runner writes a record at the end of
every run of a parallel sweep, and start-up time matters there.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "RECORD_NAME",
    "SCHEMA_VERSION",
    "CHOICE_KEYS",
    "TERMINAL_STATUSES",
    "write_record",
    "read_record",
    "load_records",
    "find_record_files",
    "display_status",
    "is_simulated",
    "metric_value",
    "metric_unit",
    "parse_overrides",
    "run_params",
]

RECORD_NAME = "record.json"
SCHEMA_VERSION = 1
# The config groups every record names in ``choices``, in the order tables show them.
CHOICE_KEYS: tuple[str, ...] = ("system", "workload", "hardware", "cluster", "faults", "backend")
TERMINAL_STATUSES: frozenset[str] = frozenset({"ok", "failed", "timeout"})
_FILE_MODE = 0o644

JsonValue = Any
Record = dict[str, Any]


# --- writing ---------------------------------------------------------------------------


def _finite(value: JsonValue) -> JsonValue:
    """Replace NaN and infinities by None, recursively: strict JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_record(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically: readers see the old file or the new one.

    The text is serialised before any file is touched, then written to a temporary file in
    the same directory (so ``os.replace`` is a rename on one file system), fsynced and
    renamed over ``path``. On any error the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(record), allow_nan=False, sort_keys=True, indent=2) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), _FILE_MODE)  # mkstemp's 0600 would hide results from others
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)


# --- reading ---------------------------------------------------------------------------


def read_record(path: str | os.PathLike[str]) -> Record:
    """Read one record as written; raises ``ValueError`` if it is not a JSON object."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a run record must be a JSON object, got {type(data).__name__}")
    return data


def display_status(record: Mapping[str, Any]) -> str:
    """The status to report: a run left "running" on disk was cut off, so it is incomplete."""
    status = record.get("status")
    if status == "running" or not isinstance(status, str) or not status:
        return "incomplete"
    return status


def is_simulated(record: Mapping[str, Any]) -> bool:
    """Whether the figures come from a simulation (older records: judged by the backend)."""
    flag = record.get("simulated")
    return bool(flag) if flag is not None else record.get("backend") == "sim"


def find_record_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Every ``record.json`` under ``root`` (or ``root`` itself when it is a record file)."""
    base = Path(root)
    if base.is_file():
        yield base
        return
    for directory, subdirs, files in os.walk(base):
        subdirs.sort()  # a deterministic walk, whatever the file system's order
        if RECORD_NAME in files:
            yield Path(directory) / RECORD_NAME


def _job_sort_key(record: Mapping[str, Any], path: Path) -> tuple[str, int, int, str, str]:
    # Hydra numbers a sweep's jobs 0, 1, ... 10: numeric order, not string order.
    job = path.parent.name
    numeric = job.isdigit()
    return (
        str(record.get("sweep_dir") or ""),
        0 if numeric else 1,
        int(job) if numeric else 0,
        job,
        str(record.get("run_id") or ""),
    )


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_records(root: str | os.PathLike[str]) -> list[Record]:
    """Every record under ``root``, in a deterministic order, statuses as reported.

    A corrupt or half-written file is skipped with a warning on stderr rather than
    failing the whole report: one killed job must not hide the rest of a sweep.
    """
    loaded: list[tuple[tuple[str, int, int, str, str], Record]] = []
    for path in find_record_files(root):
        try:
            record = read_record(path)
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            _warn(f"skipping unreadable run record {path}: {exc}")
            continue
        record["status"] = display_status(record)
        loaded.append((_job_sort_key(record, path), record))
    loaded.sort(key=lambda item: item[0])
    return [record for _, record in loaded]


# --- metrics and parameters --------------------------------------------------------------


def _metric_entry(record: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for entry in record.get("metrics") or ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry
    return None


def metric_value(record: Mapping[str, Any], name: str) -> float | None:
    """The value of metric ``name``; None if absent, null or NaN."""
    entry = _metric_entry(record, name)
    if entry is None or entry.get("value") is None:
        return None
    value = float(entry["value"])
    return value if not math.isnan(value) else None


def metric_unit(record: Mapping[str, Any], name: str) -> str | None:
    entry = _metric_entry(record, name)
    return None if entry is None else str(entry.get("unit") or "")


def _override_pair(override: str) -> tuple[str, str] | None:
    # Hydra override grammar: key=value, +key=value, ++key=value, ~key (a deletion),
    # and group@package=value; only assignments name a parameter of the run.
    text = override.strip()
    if text.startswith("~") or "=" not in text:
        return None
    key, value = text.lstrip("+").split("=", 1)
    key = key.split("@", 1)[0].strip()
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return (key, value) if key else None


def parse_overrides(overrides: Iterable[str] | None) -> dict[str, str]:
    """``["system=mapreduce", "+x=1"]`` -> ``{"system": "mapreduce", "x": "1"}``."""
    pairs = (_override_pair(str(item)) for item in overrides or ())
    return dict(pair for pair in pairs if pair is not None)


def run_params(record: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters that identify a run: its choices, its seed, then its overrides.

    Override values stay strings (as typed on the command line); a choice given both as
    a choice and as an override keeps the choice's value.
    """
    choices = record.get("choices") or {}
    params: dict[str, Any] = {key: choices[key] for key in CHOICE_KEYS if key in choices}
    params.update({key: choices[key] for key in sorted(choices) if key not in params})
    if "backend" not in params and record.get("backend") is not None:
        params["backend"] = record["backend"]
    if record.get("seed") is not None:
        params["seed"] = record["seed"]
    for key, value in parse_overrides(record.get("overrides")).items():
        params.setdefault(key, value)
    return params
