"""The one hook specification module: every hook a plugin may implement.

Plugins are discovered through the ``harness`` entry-point group (built-in plugins
included, exactly like third-party ones) and implement these hooks with
``@harness.api.hookimpl``. Each hook is listed with its signature in ``docs/plugins.md``;
a test fails if the two drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from omegaconf import DictConfig

    from harness.api import Backend, ConfigIssue, Metric, RunOutcome, System, Workload

hookspec = pluggy.HookspecMarker("harness")


@hookspec
def harness_systems() -> list[type[System]]:
    """Return the system classes this plugin provides.

    Called once per process when the registry is built. Each class subclasses
    ``harness.api.System``; its ``name`` is what ``system=<name>`` selects. Not
    firstresult: every plugin's list is merged; a duplicate name is an error naming both
    plugins.
    """


@hookspec
def harness_workloads() -> list[type[Workload]]:
    """Return the workload classes this plugin provides.

    Each class subclasses ``harness.api.Workload``; its ``name`` is what
    ``workload=<name>`` selects and its ``kind`` says which systems can serve it. Not
    firstresult: lists are merged.
    """


@hookspec
def harness_config_dirs() -> list[str | Path]:
    """Return directories whose sub-folders are config groups (``system/``,
    ``workload/``, ``hardware/``, ``cluster/``, ``faults/``, ``suite/``).

    They are appended to Hydra's config search path, so their YAML files appear as
    choices of those groups without any edit to the harness. Not firstresult.
    """


@hookspec(firstresult=True)
def harness_make_backend(name: str) -> Backend | None:
    """Return the backend that executes runs for ``backend.name == name``, or None.

    firstresult: the first non-None answer wins. The built-in ``sim`` backend is
    registered ``trylast``, so any plugin can override it or add another (``live``).
    """


@hookspec
def harness_validate(config: DictConfig) -> list[ConfigIssue]:
    """Return semantic problems with a composed config (empty list when fine).

    Called after Hydra has type-checked the config and before anything runs. Each
    ``ConfigIssue`` names the key, the value and what is allowed; the first one is shown
    to the user as one line. Not firstresult: all plugins' issues are collected.
    """


@hookspec
def harness_run_metrics(config: DictConfig, outcome: RunOutcome) -> list[Metric]:
    """Return extra metrics derived from a finished run (for example cost and energy).

    ``outcome`` carries the simulated duration, per-node busy time and the recorder.
    Not firstresult: every plugin's metrics are appended to the record.
    """
