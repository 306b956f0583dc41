"""``harness suite NAME``: run a named, committed set of runs and gate them on a baseline.

A suite is a YAML file of the ``suite`` config group (``conf/suite/ci.yaml``, or any
plugin's ``conf/suite/``): a list of runs, each a name and its overrides, and relative
tolerances per metric. Every run is composed with ``suite=NAME`` plus its overrides and
executed through ``harness.run.execute``, the path ``harness key=value`` takes (records,
SQLite index, reuse of finished runs), in parallel with joblib. The records are then
compared with the committed baseline (``results/baseline/NAME/``) by config hash.

Exit codes: 0 within tolerance, 1 regression (a metric past its tolerance or a run that
no longer finishes ok), 2 unusable input (unknown suite, bad config, no baseline, the
baseline and the suite hold different runs). ``--update-baseline`` writes the records as
the new baseline, on purpose.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.compare import (
    Comparison,
    Tolerances,
    add_wall_arguments,
    compare_records,
    render_markdown,
    render_text,
    wall_policy,
)
from harness.config.validate import ConfigError
from harness.results.record import RECORD_NAME, load_records, write_record

__all__ = [
    "BASELINE_ROOT",
    "PreparedRun",
    "Suite",
    "SuiteError",
    "available_suites",
    "baseline_record",
    "load_suite",
    "prepare_runs",
    "run_suite",
    "suite_main",
    "write_baseline",
]

EXIT_OK, EXIT_REGRESSION, EXIT_UNUSABLE = 0, 1, 2
BASELINE_ROOT = Path("results") / "baseline"  # relative to the working directory, like results_dir
NO_SUITE = "none"
# Keys of a tolerances mapping that set the default rather than name a metric.
DEFAULT_KEYS = ("default", "*")


class SuiteError(Exception):
    """Unusable input (exit 2); the message is one line."""


@dataclass(frozen=True)
class SuiteRun:
    name: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    runs: tuple[SuiteRun, ...]
    tolerances: Tolerances


@dataclass(frozen=True)
class PreparedRun:
    """One composed run, ready to ship to a worker process (plain data only)."""

    name: str
    config: dict[str, Any]
    overrides: tuple[str, ...]
    choices: dict[str, Any]
    job_dir: str


# --- the suite definition ------------------------------------------------------------------


def _suite_files() -> dict[str, Path]:
    """Suite name -> its YAML, in Hydra's search-path order (conf/ first, then plugins)."""
    from harness import CONF_DIR
    from harness.plugin_manager import registry

    found: dict[str, Path] = {}
    for directory in [CONF_DIR, *(d for d, _plugin in registry().config_dirs)]:
        for path in sorted((Path(directory) / "suite").glob("*.yaml")):
            found.setdefault(path.stem, path)
    found.pop(NO_SUITE, None)
    return found


def available_suites() -> list[str]:
    """Names of the suites in ``conf/suite/`` and every plugin's ``conf/suite/``."""
    return sorted(_suite_files())


def load_suite(name: str) -> Suite:
    """Read and type-check suite ``name`` (SuiteConfig schema); SuiteError if unusable.

    The file is read on its own, not composed with the rest of the config, so a suite
    can be listed and loaded whatever the default system is.
    """
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from harness.config.schema import SuiteConfig
    from harness.config.validate import omegaconf_line

    files = _suite_files()
    if name not in files:
        raise SuiteError(f"unknown suite {name!r}; available: {', '.join(sorted(files)) or 'none'}")
    try:
        data = yaml.safe_load(files[name].read_text(encoding="utf-8")) or {}
        node = OmegaConf.merge(OmegaConf.structured(SuiteConfig), data)
    except yaml.YAMLError as exc:
        raise SuiteError(f"suite {name!r} ({files[name]}): unreadable YAML: {str(exc).splitlines()[0]}") from None
    except OmegaConfBaseException as exc:
        raise SuiteError(f"suite {name!r} ({files[name]}): {omegaconf_line(exc)}") from None
    if str(node.name) != name:
        raise SuiteError(f"suite {name!r} ({files[name]}): name: {node.name!r} must be the file's name, {name!r}")
    runs = tuple(SuiteRun(str(r.name), tuple(str(o) for o in r.overrides)) for r in node.runs)
    if not runs:
        raise SuiteError(f"suite {name!r} has no runs")
    duplicated = sorted({r.name for r in runs if sum(s.name == r.name for s in runs) > 1})
    if duplicated:
        raise SuiteError(f"suite {name!r}: run names must be unique; repeated: {', '.join(duplicated)}")
    return Suite(name, str(node.description), runs, tolerances_of(node.tolerances))


def tolerances_of(mapping: Mapping[str, Any]) -> Tolerances:
    """``{default: 0.0, latency_*: 0.01}`` as a ``Tolerances``."""
    values = {str(k): float(v) for k, v in mapping.items()}
    default = next((values[k] for k in DEFAULT_KEYS if k in values), 0.0)
    return Tolerances(default, {k: v for k, v in values.items() if k not in DEFAULT_KEYS})


def prepare_runs(suite: Suite, out_dir: Path | None = None, extra: Sequence[str] = ()) -> list[PreparedRun]:
    """Compose and validate every run before any runs: a bad one stops the suite (exit 2).

    Records go to ``out_dir/<run name>/`` (default: ``<results_dir>/suites/<NAME>/<time>``).
    """
    prepared = [_prepare(suite, run, extra) for run in suite.runs]
    _check_distinct(suite, prepared)
    out = out_dir or Path(prepared[0].config["results_dir"]) / "suites" / suite.name / _stamp()
    return [replace(run, job_dir=str(out.resolve() / run.name)) for run in prepared]


def _prepare(suite: Suite, run: SuiteRun, extra: Sequence[str]) -> PreparedRun:
    from omegaconf import OmegaConf

    from harness.config.validate import validate
    from harness.preflight import compose_config

    overrides = (*run.overrides, *extra)
    try:
        composed = compose_config([f"suite={suite.name}", *overrides], with_hydra=True)
        overrides = tuple(o for o in overrides if not _run_control(o))
        choices = dict(composed.hydra.runtime.choices)
        plain = OmegaConf.to_container(composed, resolve=False)
        plain.pop("hydra")
        # Workers may not share this working directory; results_dir is not part of the hash.
        plain["results_dir"] = str(Path(str(plain["results_dir"])).resolve())
        validate(OmegaConf.create(plain))
    except ConfigError as exc:
        raise SuiteError(f"suite {suite.name!r}, run {run.name!r}: {exc}") from None
    return PreparedRun(run.name, plain, overrides, choices, "")


def repeated(runs: Sequence[PreparedRun], times: int) -> list[PreparedRun]:
    """Each run ``times`` times, interleaved (a, b, a, b: drift hits every run alike), each
    repetition run afresh so its wall time is a new sample; repetition k > 1 of run NAME
    writes to ``NAME~k``.
    """
    if times <= 1:
        return list(runs)
    out = []
    for k in range(1, times + 1):
        for run in runs:
            job_dir = run.job_dir if k == 1 else f"{run.job_dir}~{k}"
            out.append(replace(run, config={**run.config, "rerun": True}, job_dir=job_dir))
    return out


def _check_distinct(suite: Suite, prepared: Sequence[PreparedRun]) -> None:
    # Runs are matched with the baseline by config hash: two runs of one config are one run.
    from omegaconf import OmegaConf

    from harness.run import identity

    seen: dict[str, str] = {}
    for run in prepared:
        config_hash = identity(OmegaConf.create(run.config))[0]
        if config_hash in seen:
            raise SuiteError(f"suite {suite.name!r}: runs {seen[config_hash]!r} and {run.name!r} have the same config")
        seen[config_hash] = run.name


def _run_control(override: str) -> bool:
    """An override that cannot change a metric (results_dir=..., rerun=true): not recorded."""
    from harness.config.schema import BACKEND_RUN_CONTROL_KEYS, RUN_CONTROL_KEYS

    key = override.lstrip("+~").split("=", 1)[0].strip()
    return key in RUN_CONTROL_KEYS or key in {f"backend.{k}" for k in BACKEND_RUN_CONTROL_KEYS}


# --- running -------------------------------------------------------------------------------


def execute_prepared(run: PreparedRun) -> dict[str, Any]:
    """The worker: one run through ``harness.run.execute`` (never raises for a run's failure)."""
    from omegaconf import OmegaConf

    from harness.run import execute

    config = OmegaConf.create(run.config)
    return execute(config, Path(run.job_dir), list(run.overrides), run.choices, None)


def run_suite(runs: Sequence[PreparedRun], jobs: int = -1, label: str = "suite") -> list[dict[str, Any]]:
    """Execute ``runs`` in parallel (joblib); print a progress line per finished run."""
    from joblib import delayed

    started = time.monotonic()
    done: dict[str, dict[str, Any]] = {}
    for record in _parallel(jobs)(delayed(execute_prepared)(run) for run in runs):
        done[str(Path(record["job_dir"]).resolve())] = record
        _progress(label, done, len(runs), time.monotonic() - started)
    return [done[str(Path(run.job_dir).resolve())] for run in runs]


def _parallel(jobs: int) -> Any:
    """Results as they finish (joblib >= 1.4), else in order (1.3), else all at the end."""
    from joblib import Parallel

    for return_as in ("generator_unordered", "generator"):
        try:
            return Parallel(n_jobs=jobs, return_as=return_as)
        except (TypeError, ValueError):
            continue
    return Parallel(n_jobs=jobs)


def _progress(label: str, done: Mapping[str, Mapping[str, Any]], total: int, elapsed: float) -> None:
    failed = sum(r["status"] != "ok" for r in done.values())
    reused = sum(bool(r.get("reused_from")) for r in done.values())
    fresh = len(done) - reused
    eta = f"{elapsed / fresh * (total - len(done)):.0f}s" if fresh else "?"
    line = f"[suite {label}] {len(done)}/{total} done, {failed} failed, {reused} reused, elapsed {elapsed:.0f}s, ETA {eta}"
    print(line, file=sys.stderr, flush=True)


# --- the baseline ----------------------------------------------------------------------------


def baseline_record(record: Mapping[str, Any], run_name: str) -> dict[str, Any]:
    """A record as committed: no machine-specific paths (matching is by config_hash)."""
    out = dict(record)
    out["job_dir"] = run_name
    out["sweep_dir"] = None
    out["overrides"] = [o for o in out.get("overrides") or () if not _run_control(str(o))]
    config = dict(out.get("config") or {})
    if "results_dir" in config:
        config["results_dir"] = "results"
    out["config"] = config
    # Latency samples are not compared and would bloat the repository; the metrics stay.
    out["distributions"] = {}
    return out


def write_baseline(records: Sequence[Mapping[str, Any]], directory: Path) -> None:
    """Replace ``directory`` with one ``<run>/record.json`` per record, all at once."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide a shared baseline from others
    try:
        for record in records:
            name = Path(str(record["job_dir"])).name
            write_record(staging / name / RECORD_NAME, baseline_record(record, name))
        retired = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        if directory.exists():
            directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --- the verb --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness suite",
        description="Run a named suite of runs and compare it with its committed baseline "
        "(exit 0 within tolerance, 1 on regression, 2 on unusable input).",
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="the suite (conf/suite/NAME.yaml)")
    parser.add_argument("overrides", metavar="KEY=VALUE", nargs="*",
                        help="extra overrides for every run (e.g. results_dir=/tmp/r, rerun=true)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="where the records go (default: RESULTS/suites/NAME/<time>)")
    parser.add_argument("--jobs", type=int, default=-1, help="parallel runs (joblib n_jobs; default -1: all cores)")
    parser.add_argument("--baseline", type=Path, help="baseline directory (default: results/baseline/NAME)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="write this run's records as the new baseline (on purpose; then commit it)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--repeat", type=_positive, default=1, metavar="N",
                        help="run each run N times afresh, interleaved: N wall-clock samples per run "
                        "for the significance test (default 1)")  # fmt: skip
    add_wall_arguments(parser)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def suite_main(argv: Sequence[str]) -> int:
    """``harness suite NAME ...`` (``argv`` excludes the verb); returns the exit code."""
    try:
        args = _parser().parse_intermixed_args(list(argv))  # options may follow KEY=VALUE
    except SystemExit as exc:  # argparse exits on --help (0) and on bad usage (2)
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE
    if args.list or not args.name:
        print(f"suites: {', '.join(available_suites()) or 'none'}", file=sys.stdout if args.list else sys.stderr)
        return EXIT_OK if args.list else EXIT_UNUSABLE
    if args.jobs == 0:
        print("harness suite: --jobs must not be 0 (-1: all cores)", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        return _run(args)
    except SuiteError as exc:
        print(f"harness suite: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


def _run(args: argparse.Namespace) -> int:
    extra = list(args.overrides)
    suite = load_suite(args.name)
    baseline_dir: Path = args.baseline or BASELINE_ROOT / suite.name
    baseline = _load_baseline(baseline_dir)
    if baseline is None and not args.update_baseline:
        raise SuiteError(
            f"no baseline for suite {suite.name!r} at {baseline_dir}; create it on purpose with "
            f"`harness suite {suite.name} --update-baseline` and commit that directory"
        )
    runs = prepare_runs(suite, args.out, extra)
    out_dir = Path(runs[0].job_dir).parent
    all_runs = repeated(runs, args.repeat)
    print(f"suite {suite.name}: {len(all_runs)} run(s) -> {out_dir}", file=sys.stderr, flush=True)
    all_records = run_suite(all_runs, jobs=args.jobs, label=suite.name)
    records = all_records[: len(runs)]  # the first repetition of each run: the table and the baseline
    _print_table(records, out_dir)
    policy = wall_policy(args)
    comparison = compare_records(baseline, all_records, suite.tolerances, policy) if baseline else None
    if comparison is not None:
        _print_comparison(comparison, records, runs, out_dir)
    if args.update_baseline:
        return _update_baseline(suite, records, baseline_dir)
    assert comparison is not None
    if comparison.exit_code == EXIT_UNUSABLE:
        for line in config_changes(baseline or [], records):
            print(line, file=sys.stderr)
        print(f"the suite's runs no longer match the baseline's (a run was added, removed or its config changed);"
              f" if that is on purpose: harness suite {suite.name} --update-baseline", file=sys.stderr)  # fmt: skip
    return comparison.exit_code


def config_changes(baseline: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]], shown: int = 4) -> list[str]:
    """For each run whose config hash differs from its baseline's, the keys that changed."""
    base_by_name = {Path(str(r.get("job_dir"))).name: r for r in baseline}
    lines = []
    for record in records:
        name = Path(str(record["job_dir"])).name
        base = base_by_name.get(name)
        if base is None or base.get("config_hash") == record.get("config_hash"):
            continue
        changed = _differences(_flat(_hashed(base.get("config") or {})), _flat(_hashed(record.get("config") or {})))
        more = f" (and {len(changed) - shown} more)" if len(changed) > shown else ""
        lines.append(f"run {name!r}: config changed since the baseline: {'; '.join(changed[:shown])}{more}")
    return lines


def _hashed(config: Mapping[str, Any]) -> dict[str, Any]:
    # The part of a record's config that its config_hash covers (see harness.run.identity).
    from harness.config.schema import BACKEND_RUN_CONTROL_KEYS, RUN_CONTROL_KEYS

    out = {k: v for k, v in config.items() if k not in RUN_CONTROL_KEYS}
    if isinstance(out.get("backend"), Mapping):
        out["backend"] = {k: v for k, v in out["backend"].items() if k not in BACKEND_RUN_CONTROL_KEYS}
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(_flat(inner, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): value}


def _differences(base: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    missing = object()
    # Figures first: a description or a citation never moved a metric.
    keys = sorted(set(base) | set(current), key=lambda k: (k.endswith("description") or ".sources." in f".{k}", k))
    return [
        f"{key} {_short(base.get(key, missing), missing)} -> {_short(current.get(key, missing), missing)}"
        for key in keys
        if base.get(key, missing) != current.get(key, missing)
    ]


def _short(value: Any, missing: object) -> str:
    text = "(absent)" if value is missing else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."



def _load_baseline(directory: Path) -> list[dict[str, Any]] | None:
    if not directory.is_dir():
        return None
    return load_records(directory) or None


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S-%f")


def _print_table(records: Sequence[Mapping[str, Any]], out_dir: Path) -> None:
    from harness.report.table import report

    result = report(list(records), out_dir, plots=False)
    print(result.table_text)
    print()


def _print_comparison(comparison: Comparison, records: Sequence[Mapping[str, Any]], runs: Sequence[PreparedRun], out_dir: Path) -> None:
    print(render_text(comparison))
    names = {r["config_hash"]: run.name for r, run in zip(records, runs)}
    regressed: dict[str, list[str]] = {}
    for change in comparison.regressions:
        regressed.setdefault(names.get(change.config_hash, change.run), []).append(change.metric)
    for pair in comparison.regressed_runs:
        regressed.setdefault(names.get(pair.config_hash, pair.run), []).append(f"status {pair.current_status}")
    for name, what in regressed.items():
        print(f"regressed run {name!r}: {', '.join(what)}")
    md = out_dir / "compare.md"
    md.write_text(render_markdown(comparison), encoding="utf-8")
    print(f"wrote {md} and {out_dir / 'table.md'}")


def _update_baseline(suite: Suite, records: Sequence[Mapping[str, Any]], directory: Path) -> int:
    bad = [r for r in records if r["status"] != "ok"]
    if bad:
        names = ", ".join(f"{Path(r['job_dir']).name} ({r['status']}: {r.get('error')})" for r in bad)
        print(f"not updating the baseline: {len(bad)} run(s) did not finish ok: {names}", file=sys.stderr)
        return EXIT_REGRESSION
    write_baseline(records, directory)
    print(f"updated the baseline of suite {suite.name!r} on purpose: {len(records)} record(s) written to "
          f"{directory}; review the change and commit it")  # fmt: skip
    return EXIT_OK
