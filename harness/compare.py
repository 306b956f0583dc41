"""``harness compare BASE CURRENT``: the CI regression gate.

Runs are matched by ``config_hash`` (the resolved config without run-control keys), so a
baseline recorded by older code lines up with the same configuration run by newer code.
Simulated metrics are deterministic, so the default tolerance is zero and every change is
shown. Wall-clock time (the harness's own speed) is noisy: every fresh (not reused) record
of a config is one sample, the two sides are compared as a ratio of medians with a
Mann-Whitney U test, and a run is judged slower or faster only when the test says so at
``alpha`` from at least ``min_samples`` samples a side; never from a single sample. It
gates only when asked (``--wall-tolerance``), since timings are comparable only when both
sides were measured on one machine in one session.

Exit codes: 0 within tolerance, 1 regression, 2 unusable input.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
    "WallPolicy",
    "WallTime",
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


WallVerdict = Literal["slower", "faster", "no significant change", "too few samples"]


@dataclass(frozen=True)
class WallPolicy:
    """How wall-clock samples are judged: a two-sided Mann-Whitney U test at ``alpha``
    on at least ``min_samples`` samples a side; ``tolerance`` (a relative slowdown of the
    medians, e.g. 0.1) makes a significant slowdown beyond it a regression; None: advisory.
    """

    alpha: float = 0.01
    min_samples: int = 5
    tolerance: float | None = None


@dataclass(frozen=True)
class WallTime:
    """The wall-clock samples of one matched run, and what they say."""

    base: tuple[float, ...]
    current: tuple[float, ...]
    policy: WallPolicy = WallPolicy()

    @property
    def ratio(self) -> float | None:
        """Median current / median base."""
        if not self.base or not self.current or statistics.median(self.base) <= 0:
            return None
        return statistics.median(self.current) / statistics.median(self.base)

    @cached_property  # a rank test, asked for by the verdict, the gate and the table
    def p_value(self) -> float | None:
        if min(len(self.base), len(self.current)) < self.policy.min_samples:
            return None
        from scipy.stats import mannwhitneyu

        if len(set(self.base) | set(self.current)) == 1:
            return 1.0  # all samples equal: nothing to test
        return float(mannwhitneyu(self.current, self.base, alternative="two-sided").pvalue)

    @property
    def verdict(self) -> WallVerdict:
        p, ratio = self.p_value, self.ratio
        if p is None or ratio is None:
            return "too few samples"
        if p >= self.policy.alpha or ratio == 1.0:
            return "no significant change"
        return "slower" if ratio > 1.0 else "faster"

    @property
    def regressed(self) -> bool:
        limit = self.policy.tolerance
        return limit is not None and self.verdict == "slower" and (self.ratio or 0.0) > 1.0 + limit


@dataclass(frozen=True)
class RunPair:
    """A matched run: its statuses and its wall-clock samples."""

    run: str
    config_hash: str
    base_status: str
    current_status: str
    wall: WallTime

    @property
    def regressed(self) -> bool:
        """A run that worked in the baseline and no longer does."""
        return self.base_status == "ok" and self.current_status != "ok"


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
    def slower_runs(self) -> list[RunPair]:
        """Runs significantly slower than allowed (only when wall time is gated)."""
        return [pair for pair in self.runs if pair.wall.regressed]

    @property
    def usable(self) -> bool:
        return bool(self.runs) and not (self.only_base or self.only_current or self.unmatchable)

    @property
    def exit_code(self) -> int:
        if not self.usable:
            return EXIT_UNUSABLE
        return EXIT_REGRESSION if self.regressions or self.regressed_runs or self.slower_runs else EXIT_OK


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


def _wall_samples(records: Sequence[Record]) -> dict[str, tuple[float, ...]]:
    """config_hash -> the wall times of its fresh ok records (a reused record measured nothing)."""
    samples: dict[str, list[float]] = {}
    for record in records:
        seconds = _seconds(record)
        if record.get("config_hash") and display_status(record) == "ok" and not record.get("reused_from") and seconds is not None:
            samples.setdefault(str(record["config_hash"]), []).append(seconds)
    return {key: tuple(values) for key, values in samples.items()}


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
    key: str, base: Record, current: Record, tolerances: Tolerances, wall: WallTime
) -> tuple[RunPair, list[MetricChange]]:
    label = run_label(current)
    pair = RunPair(label, key, display_status(base), display_status(current), wall)
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
    wall: WallPolicy = WallPolicy(),
) -> Comparison:
    """Match ``base`` and ``current`` records by config_hash and judge every metric.

    Several records of one config (repeated runs) are one run: the latest ok record's
    metrics are compared, and every fresh record's wall time is a sample.
    """
    limits = Tolerances.coerce(tolerances)
    base_by, base_bad = _by_hash(base)
    current_by, current_bad = _by_hash(current)
    base_walls, current_walls = _wall_samples(base), _wall_samples(current)
    pairs: list[RunPair] = []
    changes: list[MetricChange] = []
    for key, record in current_by.items():
        if key in base_by:
            samples = WallTime(base_walls.get(key, ()), current_walls.get(key, ()), wall)
            pair, metric_changes = _compare_pair(key, base_by[key], record, limits, samples)
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
_WALL_HEADERS = ("run", "base median [s]", "current median [s]", "ratio", "samples", "p", "wall verdict", "status")
_WALL_ALIGN = ("l", "r", "r", "r", "r", "r", "l", "l")


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


def _median(samples: tuple[float, ...]) -> float | None:
    return statistics.median(samples) if samples else None


def _wall_rows(comparison: Comparison) -> list[list[str]]:
    rows = []
    for pair in comparison.runs:
        wall = pair.wall
        status = pair.current_status
        if pair.base_status != pair.current_status:
            status = f"{pair.base_status} -> {pair.current_status}"
        verdict = wall.verdict + (" (REGRESSION)" if wall.regressed else "")
        rows.append([pair.run, format_metric(_median(wall.base)), format_metric(_median(wall.current)),
                     "" if wall.ratio is None else f"{wall.ratio:.3g}x", f"{len(wall.base)}/{len(wall.current)}",
                     "" if wall.p_value is None else f"{wall.p_value:.2g}", verdict, status])  # fmt: skip
    return rows


def _wall_title(comparison: Comparison) -> str:
    policy = comparison.runs[0].wall.policy if comparison.runs else WallPolicy()
    gate = (f"a significant slowdown beyond {policy.tolerance:.3g} fails" if policy.tolerance is not None
            else "advisory, not gated")  # fmt: skip
    return (f"wall-clock time (median of fresh runs; Mann-Whitney U, alpha {policy.alpha:g}, "
            f"at least {policy.min_samples} samples a side; {gate}):")  # fmt: skip


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
        f"REGRESSION: {p.run}: wall time {p.wall.ratio:.3g}x the base (p={p.wall.p_value:.2g}, "
        f"{len(p.wall.base)}/{len(p.wall.current)} samples, tolerance {p.wall.policy.tolerance:.3g})"
        for p in comparison.slower_runs
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
        count = len(comparison.regressions) + len(comparison.regressed_runs) + len(comparison.slower_runs)
        return f"FAIL: {count} regression(s)"
    return "OK: every metric within tolerance"


def render_text(comparison: Comparison) -> str:
    parts = [_summary(comparison), ""]
    rows = _change_rows(comparison)
    parts += [text_table(_CHANGE_HEADERS, rows, _CHANGE_ALIGN), ""] if rows else ["no metric changed", ""]
    if comparison.runs:
        parts += [_wall_title(comparison), text_table(_WALL_HEADERS, _wall_rows(comparison), _WALL_ALIGN), ""]
    parts += [*_problem_lines(comparison), _verdict_line(comparison)]
    return "\n".join(parts)


def render_markdown(comparison: Comparison) -> str:
    rows = _change_rows(comparison)
    parts = [
        f"### Benchmark comparison: {_verdict_line(comparison)}",
        "",
        f"{_summary(comparison)}. Simulated metrics are deterministic, so any change is real; "
        "wall-clock time is judged by a significance test on repeated runs.",
        "",
        markdown_table(_CHANGE_HEADERS, rows, _CHANGE_ALIGN) if rows else "_No metric changed._",
        "",
    ]
    problems = _problem_lines(comparison)
    parts += [*(f"- {line}" for line in problems), ""] if problems else []
    if comparison.runs:
        wall = markdown_table(_WALL_HEADERS, _wall_rows(comparison), _WALL_ALIGN)
        parts += ["<details><summary>Wall-clock time</summary>", "", _wall_title(comparison), "", wall, "", "</details>", ""]
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
    add_wall_arguments(parser)
    return parser


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"alpha is a probability in (0, 1), got {text!r}")
    return value


def _samples(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a significance test needs at least 2 samples a side, got {text!r}")
    return value


def add_wall_arguments(parser: argparse.ArgumentParser) -> None:
    """The wall-clock options, shared by ``harness compare`` and ``harness suite``."""
    parser.add_argument("--wall-tolerance", type=_tolerance, default=None, metavar="REL",
                        help="fail when a run is significantly slower than this relative slowdown "
                        "(e.g. 0.1); default: wall time is advisory")  # fmt: skip
    parser.add_argument("--alpha", type=_probability, default=WallPolicy.alpha,
                        help=f"significance level of the wall-clock test (default {WallPolicy.alpha})")
    parser.add_argument("--min-samples", type=_samples, default=WallPolicy.min_samples,
                        help=f"fresh runs a side before wall time is judged (default {WallPolicy.min_samples})")


def wall_policy(args: argparse.Namespace) -> WallPolicy:
    return WallPolicy(alpha=args.alpha, min_samples=args.min_samples, tolerance=args.wall_tolerance)


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
    comparison = compare_records(base, current, tolerances, wall_policy(args))
    print(render_text(comparison))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(comparison), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return comparison.exit_code
