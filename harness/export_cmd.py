"""``harness export OUT.csv|OUT.parquet [--results-dir DIR]``: every indexed run x metric,
in tidy long form with every parameter a column (for pandas, R, spreadsheets)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.results.store import DB_NAME, ResultsStore


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness export", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="target file: .csv or .parquet")
    parser.add_argument("--results-dir", default="results", help="where the runs were recorded (default: results)")
    args = parser.parse_args(argv)
    db = Path(args.results_dir) / DB_NAME
    if not db.exists():
        print(f"harness export: --results-dir={args.results_dir!r}: no {DB_NAME} there; run a benchmark first")
        return 2
    try:
        with ResultsStore(db) as store:
            target = store.export(args.out)
    except ValueError as exc:
        print(f"harness export: out={args.out!r}: {exc}")
        return 2
    print(f"wrote {target}")
    return 0
