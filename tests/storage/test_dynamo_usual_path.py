"""The fused request path (``RequestPath.usual_coordinator``, ``usual_get``, ``usual_put``)
must compute exactly what the general path computes: every metric, every latency sample and
every history row the same, with the fused path on and off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.testing import run_config
from plugins.storage.dynamo.coordinator import RequestPath
from plugins.storage.dynamo.system import Dynamo

CONFIGS = {
    "default": [],
    "crash": ["faults=dynamo_crash"],
    "partition": ["faults=dynamo_partition"],
    "standard faults": ["faults=standard"],
    "read-modify-write, merge": ["workload.preset=f", "system.reconcile=merge"],
    "vector clocks, constant service": ["system.clocks=vector", "system.service_times=constant"],
    "join": ["system.initial_members=7", "+system.membership=[{at_s:5,op:join,node:7}]"],
    "100 nodes": ["cluster=dynamo_100", "hardware=x86_server", "workload.operation_count=20000",
                  "workload.record_count=20000", "workload.target_ops_per_s=20000", "workload.threads=100"],
}


def _run(overrides: list[str], root: Path, monkeypatch: pytest.MonkeyPatch, usual: bool) -> dict[str, Any]:
    """One run, with the fused path on (``usual``) or off; its results and how many gets it fused."""
    histories: list[dict] = []
    fused = [0]
    report, usual_get = Dynamo._report, RequestPath.usual_get

    def keep_history(self: Dynamo, stats: Any) -> None:
        report(self, stats)
        histories.append({name: list(column) for name, column in self.history.columns().items()})

    def count_fused(self: RequestPath, *args: Any) -> Any:
        fused[0] += 1
        return usual_get(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(Dynamo, "_report", keep_history)
        patch.setattr(RequestPath, "usual_get", count_fused)
        if not usual:
            patch.setattr(RequestPath, "_usual_ring", lambda self: None)
        record = run_config(["system=dynamo", "workload=ycsb", "rerun=true", *overrides], root,
                            job="usual" if usual else "general")
    assert record["status"] == "ok", record["error"]
    metrics = {m["name"]: m["value"] for m in record["metrics"] if not m["name"].startswith("wall")}
    return {"metrics": metrics, "distributions": record["distributions"], "history": histories[0],
            "fused_gets": fused[0]}


@pytest.mark.parametrize("overrides", list(CONFIGS.values()), ids=list(CONFIGS))
def test_the_fused_path_changes_no_result(overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    fused = _run(overrides, tmp_path, monkeypatch, usual=True)
    general = _run(overrides, tmp_path, monkeypatch, usual=False)
    assert fused["fused_gets"] > 0 and general["fused_gets"] == 0  # each path really ran
    assert fused["metrics"] == general["metrics"]
    assert fused["distributions"] == general["distributions"]
    assert fused["history"] == general["history"]
