"""``harness``: run a benchmark (Hydra), or one of the verbs below.

    harness [key=value ...]            one run of the default (or given) config
    harness -m system=a,b seed=1,2     a sweep through Hydra's launcher (joblib by default)
    harness plugins                    what every installed plugin provides
    harness report DIR                 table, CSV, Markdown and plots of a result set
    harness compare BASE CURRENT       metric-by-metric comparison; exit 1 on regression
    harness export OUT.csv|.parquet    every indexed run x metric, tidy (--results-dir DIR)
    harness suite NAME                 run a committed suite, compare with its baseline
                                       (--update-baseline refreshes it on purpose)
    harness new-plugin NAME            write a plugin package to start from
                                       (--kind system|workload|hardware, --dir DIR)

Bad input stops before anything runs with one line naming the key, the value and what
is allowed (HYDRA_FULL_ERROR=1 shows the traceback instead).
"""

from __future__ import annotations

import os
import sys
from typing import Callable

EXIT_OK, EXIT_BAD_INPUT = 0, 2  # 1: some run failed (see harness.sweep.summarize)


# Verb -> "module:function"; imported only when used, so start-up stays cheap.
VERBS = {
    "plugins": "harness.plugins_cmd:main",
    "report": "harness.report.table:report_main",
    "compare": "harness.compare:compare_main",
    "export": "harness.export_cmd:main",
    "suite": "harness.suite:suite_main",
    "new-plugin": "harness.scaffold:new_plugin_main",
}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in VERBS:
        sys.exit(_verb(argv[0])(argv[1:]))
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        sys.exit(EXIT_OK)
    sys.exit(run_benchmarks(argv))


def _verb(name: str) -> Callable[[list[str]], int]:
    import importlib

    module, _, function = VERBS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def run_benchmarks(argv: list[str]) -> int:
    from harness import preflight, sweep
    from harness.config.validate import ConfigError

    multirun = any(a in ("-m", "--multirun") for a in argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        sweep.state.expected_runs = preflight.check(overrides, multirun)
    except ConfigError as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _hydra_main(argv)
    return sweep.state.exit_code


def _hydra_main(argv: list[str]) -> None:
    import hydra

    from harness import CONF_DIR, sweep
    from harness.config.schema import register_schemas

    register_schemas()
    task = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)(sweep.task)
    saved = sys.argv
    sys.argv = [saved[0], *argv]
    try:
        task()
    finally:
        sys.argv = saved


if __name__ == "__main__":
    main()
