"""The ``harness report`` verb: a table (text, CSV, Markdown) and plots from run records.

pandas, matplotlib and seaborn are imported inside the functions that need them, so
``harness compare`` can borrow the table helpers here without paying for them.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.results.record import display_status, is_simulated, load_records, run_params

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NoRecordsError",
    "ReportResult",
    "format_metric",
    "format_param",
    "markdown_table",
    "provenance_line",
    "report",
    "report_main",
    "text_table",
]

Align = Literal["l", "r"]
Record = Mapping[str, Any]
_ERROR_WIDTH = 160


class NoRecordsError(ValueError):
    """There is nothing to report: no readable record under the given path."""


@dataclass(frozen=True)
class ReportResult:
    table_text: str
    csv_path: Path
    md_path: Path
    plot_paths: tuple[Path, ...]


# --- plain tables, shared with harness.compare --------------------------------------------


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[Align]) -> str:
    """An aligned plain-text table; ``align`` is "l" or "r" per column."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align))
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[Align]) -> str:
    """A GitHub-flavoured pipe table (no ``tabulate`` dependency)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [headers, rule, *rows]
    return "\n".join("| " + " | ".join(_md_cell(c) for c in cells) + " |" for cells in lines)


def format_metric(value: Any) -> str:
    """Four significant digits; a missing value is an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.4g}"


def format_param(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numeric column with a gap is float; 4.0 was typed as 4
    return str(value)


# --- provenance ----------------------------------------------------------------------------



def provenance_line(records: Sequence[Record]) -> str:
    """Say where the figures come from: a simulated figure must never pass as measured."""
    backends = ", ".join(sorted({str(r.get("backend") or "unknown") for r in records}))
    flags = {is_simulated(r) for r in records}
    if flags == {True}:
        return f"simulated (backend: {backends})"
    if flags == {False}:
        return f"measured (backend: {backends})"
    return f"mixed simulated and measured figures (backends: {backends}); see the backend column"


def _status_summary(records: Sequence[Record]) -> str:
    counts: dict[str, int] = {}
    for record in records:
        status = display_status(record)
        counts[status] = counts.get(status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: kv[0] != "ok"))
    return f"{len(records)} run{'s' if len(records) != 1 else ''} ({parts})"


def _run_label(record: Record, params: Sequence[str]) -> str:
    values = run_params(record)
    label = " ".join(f"{key}={values.get(key)}" for key in params)
    return label or str(record.get("run_id"))


def _problems(records: Sequence[Record], params: Sequence[str]) -> list[str]:
    lines = []
    for record in records:
        status = display_status(record)
        if status != "ok":
            error = str(record.get("error") or "no error recorded").strip().splitlines() or [""]
            # A traceback ends with the exception, which is the line worth a table footer.
            lines.append(f"{_run_label(record, params)}: {status}: {error[-1][:_ERROR_WIDTH]}")
    return lines


# --- the table -----------------------------------------------------------------------------


def _table_frame(records: Sequence[Record], all_metrics: bool) -> pd.DataFrame:
    from harness.results.frame import wide

    frame = wide(records, all_metrics=all_metrics)
    mixed = len({is_simulated(r) for r in records}) > 1
    if mixed and "backend" not in frame.columns:
        frame.insert(0, "backend", [r.get("backend") for r in records])
    return frame


def _formatted(frame: pd.DataFrame, params: Sequence[str]) -> tuple[list[str], list[list[str]], list[Align]]:
    headers = [str(c) for c in frame.columns]
    is_param = [c in params or c in ("status", "backend") for c in headers]
    rows = [
        [format_param(v) if p else format_metric(v) for v, p in zip(row, is_param)]
        for row in frame.itertuples(index=False, name=None)
    ]
    align: list[Align] = ["l" if p else "r" for p in is_param]
    return headers, rows, align


def _csv_frame(frame: pd.DataFrame, records: Sequence[Record]) -> pd.DataFrame:
    # The CSV carries provenance per row, since it has no room for a title line.
    out = frame.copy()
    if "backend" not in out.columns:
        out["backend"] = [r.get("backend") for r in records]
    out["simulated"] = [is_simulated(r) for r in records]
    out["run_id"] = [r.get("run_id") for r in records]
    return out


def _markdown_document(title: str, table: str, problems: Sequence[str], simulated: bool) -> str:
    note = " These figures come from the discrete-event simulation, not measurements." if simulated else ""
    parts = ["# Benchmark report", "", f"**{title}**.{note}", "", table, ""]
    if problems:
        parts += ["Runs without results:", "", *(f"- `{line}`" for line in problems), ""]
    return "\n".join(parts)


def _load(records_or_dir: str | Path | Sequence[Record]) -> list[Record]:
    if isinstance(records_or_dir, (str, Path)):
        records: list[Record] = list(load_records(records_or_dir))
    else:
        records = list(records_or_dir)
    if not records:
        raise NoRecordsError(f"no run records under {records_or_dir}")
    return records


def report(
    records_or_dir: str | Path | Sequence[Record],
    out_dir: str | Path,
    *,
    all_metrics: bool = False,
    plots: bool = True,
) -> ReportResult:
    """Tabulate and plot runs; write ``table.csv``, ``table.md`` and PNGs to ``out_dir``.

    Prints nothing: the caller decides what to show. Raises ``NoRecordsError`` if
    there are no records.
    """
    from harness.report.plots import plot_report
    from harness.results.frame import swept_params

    records = _load(records_or_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = swept_params(records)
    frame = _table_frame(records, all_metrics)
    headers, rows, align = _formatted(frame, params)
    caption = provenance_line(records)
    title = f"{caption}: {_status_summary(records)}"
    problems = _problems(records, params)

    text = "\n".join([title, "", text_table(headers, rows, align), *([""] + problems if problems else [])])
    csv_path, md_path = out / "table.csv", out / "table.md"
    _csv_frame(frame, records).to_csv(csv_path, index=False)
    simulated = all(is_simulated(r) for r in records)
    md_path.write_text(_markdown_document(title, markdown_table(headers, rows, align), problems, simulated))
    plot_paths = plot_report(records, out, params, caption) if plots else []
    return ReportResult(text, csv_path, md_path, tuple(plot_paths))


# --- the verb ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness report",
        description="Tabulate and plot the run records under DIR (a sweep, a results directory or one run).",
    )
    parser.add_argument("dir", metavar="DIR", type=Path)
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write table.csv, table.md and plots (default: DIR/report)"
    )
    parser.add_argument("--all-metrics", action="store_true", help="show every metric, not just the headline ones")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse exits on --help and on bad usage; we return codes
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2


def report_main(argv: Sequence[str]) -> int:
    """``harness report DIR [--out OUT]`` (``argv`` excludes the verb). Exit 0, or 2 if no records."""
    args = _parse(_parser(), argv)
    if isinstance(args, int):
        return args
    source: Path = args.dir
    if not source.exists():
        print(f"harness report: {source}: no such file or directory", file=sys.stderr)
        return 2
    base = source if source.is_dir() else source.parent
    out = args.out or base / "report"
    try:
        result = report(source, out, all_metrics=args.all_metrics, plots=not args.no_plots)
    except NoRecordsError:
        print(f"harness report: no run records (record.json) under {source}", file=sys.stderr)
        return 2
    print(result.table_text)
    print()
    for path in (result.csv_path, result.md_path, *result.plot_paths):
        print(f"wrote {path}")
    return 0
