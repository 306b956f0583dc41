"""Hydra glue: the task function each job runs, and the multirun callback that shows
progress while a sweep runs and aggregates its records when it ends.

Progress is read from the records the jobs write, so it works with any launcher that
shares the file system (joblib, ray on one machine, submitit on a cluster's NFS).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

POLL_S = 1.0
LOG_HEARTBEAT_S = 60.0  # in a log (not a terminal), a progress line at least this often


@dataclass
class SweepState:
    """What the CLI learns from a run or a sweep (same process as Hydra's main)."""

    expected_runs: int = 1
    exit_code: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    progress: Progress | None = None


state = SweepState()


def task(config: DictConfig) -> str:
    from harness.run import execute

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    record = execute(
        config,
        job_dir=Path(hydra_cfg.runtime.output_dir),
        overrides=list(hydra_cfg.overrides.task),
        choices=dict(hydra_cfg.runtime.choices),
        sweep_dir=str(hydra_cfg.sweep.dir) if multirun else None,
    )
    if not multirun:
        _finish_single(record, quiet=bool(config.quiet))
    return record["status"]


def _finish_single(record: dict[str, Any], quiet: bool) -> None:
    from harness.report.table import report

    state.records = [record]
    state.exit_code = 0 if record["status"] == "ok" else 1
    if record["status"] != "ok":
        print(f"run {record['status']}: {record['error']}", file=sys.stderr)
    if not quiet:
        # Plots of one run say little and cost seconds; `harness report DIR` draws them.
        result = report([record], Path(record["job_dir"]), plots=False)
        print(result.table_text)
        if record.get("reused_from"):
            print(f"reused the finished run {record['reused_from']} (same config and code; rerun=true runs it again)")
        print(f"record: {Path(record['job_dir']) / 'record.json'}")


class SweepCallback(Callback):
    """Holds no state itself: launchers pickle it with every job."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        state.progress = Progress(Path(config.hydra.sweep.dir), state.expected_runs)
        state.progress.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from harness.report.table import report
        from harness.results.record import load_records

        if state.progress:
            state.progress.stop()
            state.progress = None
        sweep_dir = Path(config.hydra.sweep.dir)
        records = load_records(sweep_dir)
        state.records = records
        if not config.quiet and records:
            result = report(records, sweep_dir)
            print(result.table_text)
            print(f"wrote {result.csv_path}, {result.md_path} and {len(result.plot_paths)} plot(s) in {sweep_dir}")
        state.exit_code = summarize(records, state.expected_runs)


def summarize(records: list[dict[str, Any]], expected: int) -> int:
    """Print the sweep's last lines; non-zero when any run did not finish ok."""
    bad = [r for r in records if r["status"] != "ok"]
    reused = sum(1 for r in records if r.get("reused_from"))
    missing = max(0, expected - len(records))
    print(f"{len(records)} run(s): {len(records) - len(bad)} ok ({reused} reused), {len(bad)} not ok" + (f", {missing} missing" if missing else ""))
    for r in bad:
        print(f"  {r['status']}: {' '.join(r.get('overrides') or []) or '(defaults)'}: {r.get('error')}  [{r['job_dir']}]")
    return 1 if bad or missing else 0


class Progress:
    """A background thread printing runs done / total / failed / reused and an ETA."""

    def __init__(self, sweep_dir: Path, total: int) -> None:
        self.sweep_dir = sweep_dir
        self.total = total
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._last = ""
        self._last_printed = 0.0
        self._finished: dict[Path, tuple[str, bool]] = {}
        self._tty = sys.stderr.isatty()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._print(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self._print()

    def _print(self, final: bool = False) -> None:
        line = self.line()
        # A terminal line is redrawn in place every second; a log (CI, nohup) gets a new
        # line only when a run finishes, or once a minute as a sign of life.
        state = line if self._tty else line.split(", elapsed")[0]
        quiet = time.monotonic() - self._last_printed < LOG_HEARTBEAT_S
        if state == self._last and quiet and not final:
            return
        self._last, self._last_printed = state, time.monotonic()
        end = "\n" if (final or not self._tty) else ""
        print(("\r" if self._tty else "") + line, end=end, file=sys.stderr, flush=True)

    def line(self) -> str:
        done = failed = reused = 0
        for path in self.sweep_dir.glob("*/record.json"):
            outcome = self._finished.get(path) or self._read_finished(path)
            if outcome is None:
                continue
            status, was_reused = outcome
            done += 1
            failed += status != "ok"
            reused += was_reused
        elapsed = time.monotonic() - self.started
        fresh = done - reused
        eta = "?" if fresh == 0 else f"{elapsed / fresh * max(0, self.total - done):.0f}s"
        return f"[harness] {done}/{self.total} done, {failed} failed, {reused} reused, elapsed {elapsed:.0f}s, ETA {eta}"

    def _read_finished(self, path: Path) -> tuple[str, bool] | None:
        """(status, reused) of a finished record, cached: a finished record never changes."""
        from harness.results.record import read_record

        try:
            record = read_record(path)
        except (OSError, ValueError):
            return None
        if record["status"] == "running":
            return None
        self._finished[path] = (record["status"], bool(record.get("reused_from")))
        return self._finished[path]
