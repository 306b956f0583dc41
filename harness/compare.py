"""``harness compare BASE CURRENT``: the CI regression gate.

Runs are matched by ``config_hash`` (the resolved config without run-control keys), so a
baseline recorded by older code lines up with the same configuration run by newer code.
Simulated metrics are deterministic, so the default tolerance is zero and every change is
shown; wall-clock time is a single noisy sample and is only ever advisory.

Exit codes: 0 within tolerance, 1 regression, 2 unusable input.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from harness.report.table import format_metric, markdown_table, text_table
from harness.results.record import (
    CHOICE_KEYS,
    display_status,
    is_simulated,
    load_records,
    metric_unit,
    metric_value,
)

__all__ = [
    "DIRECTION_RULES",
    "Comparison",
    "MetricChange",
    "RunPair",
    "Tolerances",
    "compare_main",
    "compare_records",
    "metric_direction",
    "render_markdown",
    "render_text",
    "run_label",
]

Direction = Literal["higher", "lower"]
Record = Mapping[str, Any]

# Which way is better, by metric-name pattern; the first match wins and anything
# unmatched (latency, makespan, cost, energy, bytes, times) is lower-is-better.
DIRECTION_RULES: tuple[tuple[str, Direction], ...] = (
    ("throughput*", "higher"),
    ("*_throughput*", "higher"),
    ("goodput*", "higher"),
    ("*speedup*", "higher"),
    ("*hit_rate*", "higher"),
    ("*availability*", "higher"),
    ("*success_rate*", "higher"),
    ("*efficiency*", "higher"),
    ("*_per_s", "higher"),
)

EXIT_OK, EXIT_REGRESSION, EXIT_UNUSABLE = 0, 1, 2


def metric_direction(name: str) -> Direction:
    """"higher" if a larger value of metric ``name`` is better, else "lower"."""
    for pattern, direction in DIRECTION_RULES:
        if fnmatchcase(name.lower(), pattern):
            return direction
    return "lower"


@dataclass(frozen=True)
class Tolerances:
    """Relative tolerances: ``per_metric`` keys are names or glob patterns (``latency_*``)."""

    default: float = 0.0
    per_metric: Mapping[str, float] = field(default_factory=dict)

    def for_metric(self, name: str) -> float:
        if name in self.per_metric:
            return self.per_metric[name]
        for pattern, tolerance in self.per_metric.items():
            if fnmatchcase(name, pattern):
                return tolerance
        return self.default

    @classmethod
    def coerce(cls, value: Tolerances | Mapping[str, float] | float | None) -> Tolerances:
        """Accept a ``Tolerances``, a number (the default) or a mapping (``"*"`` = default)."""
        if value is None:
            return cls()
        if isinstance(value, Tolerances):
            return value
        if isinstance(value, (int, float)):
            return cls(default=float(value))
        per_metric = {str(k): float(v) for k, v in value.items() if k != "*"}
        return cls(default=float(value.get("*", 0.0)), per_metric=per_metric)


# --- results -------------------------------------------------------------------------------

Verdict = Literal["unchanged", "improved", "worse", "regression", "new", "missing", "advisory"]


@dataclass(frozen=True)
class MetricChange:
    """One metric of one matched run, before and after."""

    run: str
    config_hash: str
    metric: str
    unit: str
    base: float | None
    current: float | None
    rel_change: float | None
    tolerance: float
    direction: Direction
    verdict: Verdict
    note: str = ""

    @property
    def regressed(self) -> bool:
        return self.verdict == "regression"


@dataclass(frozen=True)
class RunPair:
    """A matched run: its statuses and its (advisory) wall-clock times."""

    run: str
    config_hash: str
    base_status: str
    current_status: str
    base_wall_s: float | None
    current_wall_s: float | None

    @property
    def regressed(self) -> bool:
        """A run that worked in the baseline and no longer does."""
        return self.base_status == "ok" and self.current_status != "ok"

    @property
    def wall_ratio(self) -> float | None:
        if not self.base_wall_s or self.current_wall_s is None:
            return None
        return self.current_wall_s / self.base_wall_s


@dataclass(frozen=True)
class Comparison:
    changes: tuple[MetricChange, ...]
    runs: tuple[RunPair, ...]
    only_base: tuple[str, ...] = ()
    only_current: tuple[str, ...] = ()
    unmatchable: tuple[str, ...] = ()  # records without a config_hash cannot be matched

    @property
    def regressions(self) -> list[MetricChange]:
        return [change for change in self.changes if change.regressed]

    @property
    def regressed_runs(self) -> list[RunPair]:
        return [pair for pair in self.runs if pair.regressed]

    @property
    def usable(self) -> bool:
        return bool(self.runs) and not (self.only_base or self.only_current or self.unmatchable)

    @property
    def exit_code(self) -> int:
        if not self.usable:
            return EXIT_UNUSABLE
        return EXIT_REGRESSION if self.regressions or self.regressed_runs else EXIT_OK


# --- matching ------------------------------------------------------------------------------


def run_label(record: Record) -> str:
    """A short human name for a run: its overrides (or choices and seed) and its hash."""
    overrides = [str(o) for o in record.get("overrides") or ()]
    choices = record.get("choices") or {}
    if not overrides:
        overrides = [f"{key}={choices[key]}" for key in CHOICE_KEYS if key in choices]
        overrides += [f"seed={record['seed']}"] if record.get("seed") is not None else []
    name = " ".join(overrides) or str(record.get("run_id"))
    return f"{name} [{str(record.get('config_hash') or '')[:8]}]"


def _preference(record: Record) -> tuple[bool, str, str]:
    # Of several records for one config (reruns, resumed copies) the latest ok one speaks.
    ok = display_status(record) == "ok"
    return (ok, str(record.get("started_at") or ""), str(record.get("run_id") or ""))


def _by_hash(records: Sequence[Record]) -> tuple[dict[str, Record], list[str]]:
    chosen: dict[str, Record] = {}
    unmatchable: list[str] = []
    for record in records:
        key = record.get("config_hash")
        if not key:
            unmatchable.append(f"{run_label(record)} (run {record.get('run_id')}, no config_hash)")
        elif key not in chosen or _preference(record) > _preference(chosen[key]):
            chosen[str(key)] = record
    return chosen, unmatchable


# --- one metric ------------------------------------------------------------------------------


def _metric_names(record: Record) -> list[str]:
    entries = record.get("metrics") or ()
    return [str(e["name"]) for e in entries if isinstance(e, Mapping) and e.get("name") is not None]


def _relative(base: float, current: float) -> float:
    if base == current:
        return 0.0
    if base == 0.0:
        return math.copysign(math.inf, current)
    return (current - base) / abs(base)


def _judge(
    base: float | None, current: float | None, direction: Direction, tolerance: float
) -> tuple[Verdict, float | None, str]:
    """Verdict, relative change and a note, for two present values (None stands for NaN)."""
    if base is None and current is None:
        return "unchanged", None, ""
    if current is None:
        return "regression", None, "became NaN"
    if base is None:
        return "improved", None, "was NaN"
    rel = _relative(base, current)
    if rel == 0.0:
        return "unchanged", 0.0, ""
    worse = rel < 0 if direction == "higher" else rel > 0
    if not worse:
        return "improved", rel, ""
    return ("regression" if abs(rel) > tolerance else "worse"), rel, ""


def _compare_metric(
    label: str, key: str, name: str, base: Record, current: Record, tolerances: Tolerances, gating: bool
) -> MetricChange:
    tolerance = tolerances.for_metric(name)
    direction = metric_direction(name)
    b_unit, c_unit = metric_unit(base, name), metric_unit(current, name)
    b_val, c_val = metric_value(base, name), metric_value(current, name)
    unit = c_unit if c_unit is not None else (b_unit or "")

    def change(verdict: Verdict, rel: float | None = None, note: str = "") -> MetricChange:
        if verdict == "regression" and not gating:
            verdict, note = "advisory", (note + "; " if note else "") + "measured, not gated"
        return MetricChange(label, key, name, unit, b_val, c_val, rel, tolerance, direction, verdict, note)

    if c_unit is None:
        return change("regression", note="missing from current")
    if b_unit is None:
        return change("new", note="not in base")
    if b_unit != c_unit:
        return change("regression", note=f"unit changed from {b_unit!r}")
    return change(*_judge(b_val, c_val, direction, tolerance))



def _compare_pair(
    key: str, base: Record, current: Record, tolerances: Tolerances
) -> tuple[RunPair, list[MetricChange]]:
    label = run_label(current)
    pair = RunPair(
        label, key, display_status(base), display_status(current), _seconds(base), _seconds(current)
    )
    if pair.base_status != "ok" or pair.current_status != "ok":
        return pair, []  # a run without results has no figures to hold against the other
    # Only deterministic (simulated) figures may fail the gate; measured ones are advisory.
    gating = is_simulated(base) and is_simulated(current)
    names = list(dict.fromkeys([*_metric_names(base), *_metric_names(current)]))
    return pair, [_compare_metric(label, key, name, base, current, tolerances, gating) for name in names]


def _seconds(record: Record) -> float | None:
    value = record.get("wall_time_s")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def compare_records(
    base: Sequence[Record],
    current: Sequence[Record],
    tolerances: Tolerances | Mapping[str, float] | float | None = None,
) -> Comparison:
    """Match ``base`` and ``current`` records by config_hash and judge every metric."""
    limits = Tolerances.coerce(tolerances)
    base_by, base_bad = _by_hash(base)
    current_by, current_bad = _by_hash(current)
    pairs: list[RunPair] = []
    changes: list[MetricChange] = []
    for key, record in current_by.items():
        if key in base_by:
            pair, metric_changes = _compare_pair(key, base_by[key], record, limits)
            pairs.append(pair)
            changes.extend(metric_changes)
    return Comparison(
        changes=tuple(changes),
        runs=tuple(pairs),
        only_base=tuple(run_label(r) for k, r in base_by.items() if k not in current_by),
        only_current=tuple(run_label(r) for k, r in current_by.items() if k not in base_by),
        unmatchable=tuple([f"base: {u}" for u in base_bad] + [f"current: {u}" for u in current_bad]),
    )


# --- rendering -------------------------------------------------------------------------------

_CHANGE_HEADERS = ("run", "metric", "unit", "base", "current", "change", "tolerance", "verdict")
_CHANGE_ALIGN = ("l", "l", "l", "r", "r", "r", "r", "l")
_WALL_HEADERS = ("run", "base wall [s]", "current wall [s]", "ratio", "status")
_WALL_ALIGN = ("l", "r", "r", "r", "l")


def _percent(rel: float | None) -> str:
    if rel is None:
        return ""
    return f"{rel * 100:+.3g}%" if math.isfinite(rel) else ("+inf%" if rel > 0 else "-inf%")


def _values(base: float | None, current: float | None) -> tuple[str, str]:
    """Both values with just enough digits to tell them apart (a zero tolerance sees 1e-7)."""
    if base is None or current is None or base == current:
        return format_metric(base), format_metric(current)
    digits = next(d for d in range(4, 18) if f"{base:.{d}g}" != f"{current:.{d}g}" or d == 17)
    return f"{base:.{digits}g}", f"{current:.{digits}g}"


def _change_rows(comparison: Comparison) -> list[list[str]]:
    # Every change is shown, good or bad; unchanged metrics are only counted.
    shown = [c for c in comparison.changes if c.verdict != "unchanged"]
    shown.sort(key=lambda c: (not c.regressed, c.run, c.metric))
    return [
        [c.run, c.metric, c.unit, *_values(c.base, c.current), _percent(c.rel_change),
         f"{c.tolerance:.3g}", c.verdict + (f" ({c.note})" if c.note else "")]
        for c in shown
    ]  # fmt: skip


def _wall_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for pair in comparison.runs:
        ratio = pair.wall_ratio
        status = pair.current_status
        if pair.base_status != pair.current_status:
            status = f"{pair.base_status} -> {pair.current_status}"
        rows.append([pair.run, format_metric(pair.base_wall_s), format_metric(pair.current_wall_s),
                     "" if ratio is None else f"{ratio:.3g}x", status])  # fmt: skip
    return rows


def _summary(comparison: Comparison) -> str:
    counts: dict[str, int] = {}
    for change in comparison.changes:
        counts[change.verdict] = counts.get(change.verdict, 0) + 1
    parts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    runs, metrics = len(comparison.runs), len(comparison.changes)
    return f"{runs} runs matched by config_hash, {metrics} metrics compared ({parts or 'none'})"


def _problem_lines(comparison: Comparison) -> list[str]:
    lines = [f"only in BASE (missing from CURRENT): {label}" for label in comparison.only_base]
    lines += [f"only in CURRENT (not in BASE): {label}" for label in comparison.only_current]
    lines += [f"cannot be matched: {label}" for label in comparison.unmatchable]
    lines += [
        f"note: {p.run}: status {p.base_status} -> {p.current_status} (no figures to compare)"
        for p in comparison.runs
        if p.base_status != "ok" or p.current_status != "ok"
        if not p.regressed
    ]
    lines += [
        f"REGRESSION: {p.run}: status {p.base_status} -> {p.current_status}" for p in comparison.regressed_runs
    ]
    lines += [
        f"REGRESSION: {c.run}: {c.metric} {' -> '.join(_values(c.base, c.current))} {c.unit} "
        f"({_percent(c.rel_change) or c.note}, tolerance {c.tolerance:.3g})"
        for c in comparison.regressions
    ]
    return lines


def _verdict_line(comparison: Comparison) -> str:
    code = comparison.exit_code
    if code == EXIT_UNUSABLE:
        if not comparison.runs:
            return "UNUSABLE: no run matched"
        return "UNUSABLE: the two sides do not hold the same runs"
    if code == EXIT_REGRESSION:
        return f"FAIL: {len(comparison.regressions) + len(comparison.regressed_runs)} regression(s)"
    return "OK: every metric within tolerance"


def render_text(comparison: Comparison) -> str:
    parts = [_summary(comparison), ""]
    rows = _change_rows(comparison)
    parts += [text_table(_CHANGE_HEADERS, rows, _CHANGE_ALIGN), ""] if rows else ["no metric changed", ""]
    if comparison.runs:
        parts += ["wall-clock time (advisory only: one sample, never gated):",
                  text_table(_WALL_HEADERS, _wall_rows(comparison), _WALL_ALIGN), ""]  # fmt: skip
    parts += [*_problem_lines(comparison), _verdict_line(comparison)]
    return "\n".join(parts)


def render_markdown(comparison: Comparison) -> str:
    rows = _change_rows(comparison)
    parts = [
        f"### Benchmark comparison: {_verdict_line(comparison)}",
        "",
        f"{_summary(comparison)}. Simulated metrics are deterministic, so any change is real; "
        "wall-clock time is advisory.",
        "",
        markdown_table(_CHANGE_HEADERS, rows, _CHANGE_ALIGN) if rows else "_No metric changed._",
        "",
    ]
    problems = _problem_lines(comparison)
    parts += [*(f"- {line}" for line in problems), ""] if problems else []
    if comparison.runs:
        wall = markdown_table(_WALL_HEADERS, _wall_rows(comparison), _WALL_ALIGN)
        parts += ["<details><summary>Wall-clock time (advisory)</summary>", "", wall, "", "</details>", ""]
    return "\n".join(parts)


# --- the verb --------------------------------------------------------------------------------


def _tolerance(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"a tolerance is a relative change >= 0, got {text!r}")
    return value


def _metric_tolerance(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=REL (e.g. latency_p99=0.05), got {text!r}")
    try:
        return name, _tolerance(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=REL with REL a number, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness compare",
        description="Compare run records of CURRENT against BASE, matched by config_hash.",
    )
    where = "directory of records (or one record.json)"
    parser.add_argument("base", metavar="BASE", type=Path, help=where)
    parser.add_argument("current", metavar="CURRENT", type=Path, help=where)
    parser.add_argument("--tolerance", type=_tolerance, default=0.0, help="default relative tolerance (0.0)")
    parser.add_argument(
        "--metric-tolerance", type=_metric_tolerance, action="append", default=[], metavar="NAME=REL",
        help="relative tolerance for one metric or glob pattern; repeatable",
    )  # fmt: skip
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write a Markdown table for a PR")
    return parser


def _load_side(label: str, path: Path) -> list[dict[str, Any]] | str:
    if not path.exists():
        return f"harness compare: {label} {path}: no such file or directory"
    records = load_records(path)
    return records if records else f"harness compare: {label} {path}: no run records (record.json) found"


def compare_main(argv: Sequence[str]) -> int:
    """``harness compare BASE CURRENT ...`` (``argv`` excludes the verb); returns the exit code."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse exits on --help (0) and on bad usage (2)
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE
    base = _load_side("BASE", args.base)
    current = _load_side("CURRENT", args.current)
    if isinstance(base, str) or isinstance(current, str):
        print("\n".join(side for side in (base, current) if isinstance(side, str)), file=sys.stderr)
        return EXIT_UNUSABLE
    tolerances = Tolerances(default=args.tolerance, per_metric=dict(args.metric_tolerance))
    comparison = compare_records(base, current, tolerances)
    print(render_text(comparison))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(comparison), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return comparison.exit_code
