"""YCSB core workloads: mixes, key distributions, pacing, and the system-neutral kv driver."""

from __future__ import annotations

from collections import Counter
from typing import Any, Generator

import numpy as np
import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.sim.backend import build_runtime
from harness.sim.kernel import Kernel
from plugins.storage.ycsb import generators
from plugins.storage.ycsb.kv import INSERT, OP_NAMES, READ, RMW, SCAN, UPDATE, KvLoad, KvOp, drive
from plugins.storage.ycsb.workload import Ycsb, YcsbParams


def _ops(**overrides: Any):
    params = YcsbParams(**{"operation_count": 20000, **overrides})
    return Ycsb(params, seed=11).operations()


@pytest.mark.parametrize("preset, expected", [
    ("a", {READ: 0.5, UPDATE: 0.5}), ("b", {READ: 0.95, UPDATE: 0.05}), ("c", {READ: 1.0}),
    ("d", {READ: 0.95, INSERT: 0.05}), ("e", {SCAN: 0.95, INSERT: 0.05}), ("f", {READ: 0.5, RMW: 0.5}),
])
def test_presets_follow_the_core_workload_mixes(preset: str, expected: dict[int, float]) -> None:
    counts = Counter(_ops(preset=preset).kinds.tolist())
    assert set(counts) == set(expected)
    for kind, share in expected.items():
        assert abs(counts[kind] / 20000 - share) < 0.015, (OP_NAMES[kind], counts[kind])


def test_zipfian_keys_are_skewed_and_scrambled_over_the_key_space() -> None:
    keys = _ops(preset="c", record_count=1000).keys
    counts = np.bincount(keys, minlength=1000)
    assert counts.max() > 20 * counts.mean(), "a few keys are very hot"
    hottest = np.argsort(counts)[-10:]
    assert hottest.max() > 500, "hot keys are scattered (scrambled), not the first ids"
    uniform = np.bincount(_ops(preset="c", record_count=1000, request_distribution="uniform").keys, minlength=1000)
    assert uniform.max() < 3 * uniform.mean()


def test_the_zeta_constant_matches_ycsb() -> None:
    assert abs(generators.zeta(generators.SCRAMBLED_ITEM_COUNT, 0.99) - generators.SCRAMBLED_ZETAN) < 1e-6


def test_latest_favours_recent_inserts_and_inserts_extend_the_key_space() -> None:
    ops = _ops(preset="d", record_count=1000)
    inserts = ops.keys[ops.kinds == INSERT]
    assert list(inserts) == list(range(1000, 1000 + len(inserts))), "inserts take the next keys in order"
    reads = ops.keys[ops.kinds == READ]
    assert np.median(reads) > 900, "reads concentrate on the newest records"
    newest_so_far = 999 + np.cumsum(ops.kinds == INSERT)
    assert np.all(ops.keys <= newest_so_far), "no read of a key not inserted yet"


def test_scans_have_lengths_up_to_the_maximum() -> None:
    ops = _ops(preset="e", max_scan_length=100)
    lengths = ops.scan_lens[ops.kinds == SCAN]
    assert lengths.min() >= 1 and lengths.max() == 100 and 40 < lengths.mean() < 60


def test_open_loop_pacing_and_determinism() -> None:
    ops = _ops(target_ops_per_s=200.0)
    assert np.allclose(np.diff(ops.times), 1 / 200.0)
    poisson = _ops(target_ops_per_s=200.0, arrival="poisson")
    assert abs(np.mean(np.diff(poisson.times)) - 1 / 200.0) < 2e-4
    assert np.array_equal(_ops().keys, _ops().keys)
    assert not np.array_equal(Ycsb(YcsbParams(), seed=1).operations().keys, Ycsb(YcsbParams(), seed=2).operations().keys)


def test_named_configs_pick_the_preset_and_bad_values_are_one_line() -> None:
    config = compose_config(["system=dynamo", "workload=ycsb_b"])
    assert validate(config).workload_params.preset == "b"
    with pytest.raises(ConfigError, match=r"workload.preset='z': allowed: a, b, c, d, e, f"):
        validate(compose_config(["system=dynamo", "workload=ycsb", "workload.preset=z"]))
    with pytest.raises(ConfigError, match="workload.read_proportion=1.5"):
        validate(compose_config(["system=dynamo", "workload=ycsb", "workload.read_proportion=1.5"]))


# -- the kv interface is system-neutral: any generator-based store can serve YCSB ----------
class OneServer:
    """A toy kv system: one server, one request at a time, 10 ms each (an M/D/1 queue)."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.busy = rt.env.event().succeed()
        self.loaded = 0

    def kv_load(self, load: KvLoad, clients: int) -> Generator[Any, Any, None]:
        self.loaded = load.records
        yield self.rt.sleep(0)

    def kv_call(self, op: KvOp) -> Generator[Any, Any, bool]:
        previous, mine = self.busy, self.rt.event()
        self.busy = mine
        yield previous  # FIFO: wait for the request ahead
        yield self.rt.sleep(0.010)
        mine.succeed()
        return op.key < self.loaded or op.kind == INSERT


def _serve(**params: Any) -> Any:
    config = compose_config(["system=dynamo", "workload=ycsb", "cluster=single_node"])
    kernel = Kernel(0, 60, 1e6)
    rt = build_runtime(kernel, config)
    workload = Ycsb(YcsbParams(**{"record_count": 100, "operation_count": 200, **params}), seed=3)
    service = OneServer(rt)
    done = rt.spawn(drive(rt, workload, service))
    kernel.run_until(done)
    return rt, done.value


def test_open_loop_latency_counts_queueing_from_the_intended_start() -> None:
    rt, stats = _serve(target_ops_per_s=50.0)  # 50% load: little waiting
    light = np.percentile(rt.recorder.samples("read") + rt.recorder.samples("update"), 99)
    assert 0.0099 < light < 0.03 and stats.ok == 200
    rt, stats = _serve(target_ops_per_s=200.0)  # twice the capacity: the backlog grows
    overload = rt.recorder.samples("read") + rt.recorder.samples("update")
    assert max(overload) > 0.9, "late operations are charged from when they should have started"


def test_closed_loop_throughput_is_bounded_by_the_server() -> None:
    rt, stats = _serve(mode="closed", threads=4)
    assert stats.ok == 200
    assert abs(stats.ok / (stats.last_done - stats.first_start) - 100.0) < 2.0  # 1 / 10 ms
    assert min(rt.recorder.samples("read")) >= 0.0099
