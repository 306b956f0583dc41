"""An embedded SQLite index of run records, safe for many writers at once.

The JSON record in each run's directory is the source of truth; this index makes "has
this exact run already been done?" (resume) and "list this sweep" cheap. Every process of
a parallel sweep opens its own connection: WAL lets readers run beside the one writer,
and writers queue on SQLite's busy timeout plus a retry loop of our own.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from harness.results.record import display_status, metric_value

__all__ = ["DB_NAME", "ResultsStore", "default_store_path"]

DB_NAME = "results.sqlite"
_SCHEMA_VERSION = 1
_T = TypeVar("_T")

_RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "key", "config_hash", "code_version", "status",
    "system", "workload", "hardware", "cluster", "faults", "backend", "simulated",
    "seed", "started_at", "wall_time_s", "record_path", "sweep_dir", "reused_from", "error",
    "choices_json", "overrides_json",
)  # fmt: skip
_COLUMN_TYPES: dict[str, str] = {"seed": "INTEGER", "simulated": "INTEGER", "wall_time_s": "REAL"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    {", ".join(f"{name} {_COLUMN_TYPES.get(name, 'TEXT')}" for name in _RUN_COLUMNS[1:])}
);
CREATE INDEX IF NOT EXISTS runs_key ON runs (key, status);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep_dir);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT,
    PRIMARY KEY (run_id, name)
);
PRAGMA user_version = {_SCHEMA_VERSION};
"""

# A later "running" write must never demote a run that already finished: with many
# processes the two updates for one run may be indexed out of order.
_UPSERT = f"""
INSERT INTO runs ({", ".join(_RUN_COLUMNS)})
VALUES ({", ".join("?" for _ in _RUN_COLUMNS)})
ON CONFLICT (run_id) DO UPDATE SET
    {", ".join(f"{name} = excluded.{name}" for name in _RUN_COLUMNS[1:] if name != "record_path")},
    record_path = COALESCE(excluded.record_path, runs.record_path)
WHERE NOT (excluded.status = 'running' AND runs.status IN ('ok', 'failed', 'timeout'))
"""


def default_store_path(results_dir: str | os.PathLike[str]) -> Path:
    """Where a results directory keeps its index."""
    return Path(results_dir) / DB_NAME


def _is_contention(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def _row_values(record: Mapping[str, Any], record_path: str | None) -> tuple[Any, ...]:
    choices = record.get("choices") or {}
    simulated = record.get("simulated")
    values: dict[str, Any] = {
        **{key: record.get(key) for key in _RUN_COLUMNS},
        **{key: choices.get(key) for key in ("system", "workload", "hardware", "cluster", "faults")},
        "backend": record.get("backend") or choices.get("backend"),
        "simulated": None if simulated is None else int(bool(simulated)),
        "status": record.get("status") or "running",
        "record_path": record_path,
        "choices_json": json.dumps(choices, sort_keys=True),
        "overrides_json": json.dumps(list(record.get("overrides") or [])),
    }
    return tuple(values[key] for key in _RUN_COLUMNS)


def _metric_rows(record: Mapping[str, Any]) -> list[tuple[str, str, float | None, str]]:
    run_id = str(record["run_id"])
    entries = [e for e in record.get("metrics") or () if isinstance(e, Mapping) and e.get("name") is not None]
    return [
        (run_id, str(e["name"]), metric_value(record, str(e["name"])), str(e.get("unit") or ""))
        for e in entries
    ]


class ResultsStore:
    """The index of runs: ``with ResultsStore(path) as store: store.index(record, path)``."""

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout_s = timeout_s
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
        self._conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._retry(self._setup)

    # -- plumbing --

    def _setup(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        # Statement by statement: executescript would commit our BEGIN IMMEDIATE early.
        statements = [sql.strip() for sql in _SCHEMA.split(";") if sql.strip()]
        self._write(lambda conn: [conn.execute(sql) for sql in statements])

    def _retry(self, action: Callable[[], _T]) -> _T:
        """Run ``action``, retrying while another process holds the lock.

        The busy timeout covers most waits, but SQLite reports some conflicts at once
        (e.g. switching to WAL while another connection opens): back off with jitter.
        """
        deadline = time.monotonic() + self._timeout_s
        delay = 0.005
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_contention(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (1.0 + random.random()))
            delay = min(delay * 2.0, 0.25)

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: a read lock upgraded later can
        # fail with "database is locked" without the busy handler being consulted.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            work(conn)
            conn.execute("COMMIT")
        except BaseException:
            # Leave no transaction open, so that a retry starts from a clean connection.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing --

    def index(self, record: Mapping[str, Any], record_path: str | os.PathLike[str] | None = None) -> None:
        """Insert or update one run and replace its metrics (a "running" row becomes final)."""
        if not record.get("run_id"):
            raise ValueError("a run record needs a run_id to be indexed")
        row = _row_values(record, None if record_path is None else str(record_path))
        metrics = _metric_rows(record)

        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(_UPSERT, row)
            if cursor.rowcount:  # the guard in _UPSERT may have kept a finished row
                conn.execute("DELETE FROM metrics WHERE run_id = ?", (row[0],))
                conn.executemany("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)", metrics)

        self._retry(lambda: self._write(work))

    # -- reading --

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self._retry(lambda: [dict(row) for row in self._conn.execute(sql, params)])

    def _run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    def find_ok(self, key: str) -> dict[str, Any] | None:
        """The most recent successful run with this resume key, as its original.

        A run that itself reused an earlier one only points at results; resuming from it
        would chain reuses, so follow ``reused_from`` back to the run that executed.
        """
        rows = self._query(
            "SELECT * FROM runs WHERE key = ? AND status = 'ok' "
            "ORDER BY reused_from IS NOT NULL, started_at DESC, rowid DESC LIMIT 1",
            (key,),
        )
        return self._original(rows[0]) if rows else None

    def _original(self, row: dict[str, Any]) -> dict[str, Any]:
        seen = {row["run_id"]}
        while row.get("reused_from") and row["reused_from"] not in seen:
            source = self._run(row["reused_from"])
            if source is None or source["status"] != "ok":
                break  # the original was never indexed here; the reuse row still points at results
            seen.add(source["run_id"])
            row = source
        return row

    def runs(self, sweep_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
        """Every indexed run (of one sweep, if given), oldest first."""
        where, params = ("", ()) if sweep_dir is None else ("WHERE sweep_dir = ?", (str(sweep_dir),))
        return self._query(f"SELECT * FROM runs {where} ORDER BY started_at, run_id", params)

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        return self._query("SELECT name, value, unit FROM metrics WHERE run_id = ? ORDER BY rowid", (run_id,))

    def _as_records(self) -> list[dict[str, Any]]:
        # Rebuild record-shaped dicts so the export shares frame.tidy's columns and rules.
        records = []
        for row in self.runs():
            record = {key: row[key] for key in _RUN_COLUMNS if not key.endswith("_json")}
            record["choices"] = json.loads(row["choices_json"] or "{}")
            record["overrides"] = json.loads(row["overrides_json"] or "[]")
            record["simulated"] = None if row["simulated"] is None else bool(row["simulated"])
            record["status"] = display_status(row)
            record["metrics"] = self.metrics(row["run_id"])
            records.append(record)
        return records

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write every run x metric as a tidy table: ``.csv`` or ``.parquet`` by suffix."""
        from harness.results.frame import tidy  # pandas only when exporting

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise ValueError(f"export path must end in .csv or .parquet, got {target.name!r}")
        records = self._as_records()
        frame = tidy(records, provenance=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)
        return target
