"""Every installed system passes the plugin conformance kit (``harness.testing``).

The cases come from the plugin registry, so a newly installed or built-in plugin is
covered without an edit here. Each system runs with a workload it serves: the one its
first run in the ``ci`` suite uses, with that run's tiny ``system.*``/``workload.*``
overrides; a system the suite does not cover gets the first workload of a kind it serves
(alphabetically), at that workload's defaults. A system no workload serves is skipped.
"""

from __future__ import annotations

from typing import Any

from harness.plugin_manager import registry
from harness.results.record import parse_overrides
from harness.suite import load_suite
from harness.testing import PluginConformance

TINY_KEYS = ("system.", "workload.", "+system.", "+workload.")


def _from_suite(system: str) -> tuple[str, list[str]] | None:
    for run in load_suite("ci").runs:
        choices = parse_overrides(run.overrides)
        if choices.get("system") == system and "workload" in choices:
            return choices["workload"], [o for o in run.overrides if o.startswith(TINY_KEYS)]
    return None


def _served_by(provided: Any) -> str | None:
    kinds = set(getattr(provided.cls, "serves", ()))
    served = sorted(name for name, w in registry().workloads.items() if w.cls.kind in kinds)
    return served[0] if served else None


def conformance_cases() -> dict[str, tuple[str, list[str]]]:
    """system -> (workload, tiny overrides), for every registered system that can run."""
    cases: dict[str, tuple[str, list[str]]] = {}
    for system, provided in sorted(registry().systems.items()):
        found = _from_suite(system)
        workload = found[0] if found else _served_by(provided)
        if workload is not None:
            cases[system] = (workload, found[1] if found else [])
    return cases


def _test_class(system: str, workload: str, overrides: list[str]) -> type:
    attrs = {"system": system, "workload": workload, "overrides": overrides, "__module__": __name__}
    return type(f"TestConformance_{system}", (PluginConformance,), attrs)


CASES = conformance_cases()
for _system, (_workload, _overrides) in CASES.items():
    globals()[f"TestConformance_{_system}"] = _test_class(_system, _workload, _overrides)


def test_the_built_in_and_example_systems_are_covered() -> None:
    assert "mapreduce" in CASES, "the built-in MapReduce plugin has a conformance case"
    assert CASES["mapreduce"][0] == "wordcount"
    assert "rpc_pool" in CASES and CASES["rpc_pool"] == ("poisson_requests", ["workload.requests=200"])
