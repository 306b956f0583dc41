"""The stream pipeline's pure parts: windows, the join, the placer, the rescaling policy."""

from __future__ import annotations

import pytest

from plugins.edge.streams.operators import JoinState, Record, WindowState, alert, keep
from plugins.edge.streams.placer import Branch, LinkInfo, Pipeline, SiteInfo, place
from plugins.edge.streams.scaling import ScalingPolicy
from plugins.edge.streams.workload import IotPipeline, IotPipelineParams

PI_SITE = SiteInfo("edge", nodes=4, cores=4, speed=0.08)
CLOUD = SiteInfo("cloud", nodes=4, cores=4, speed=0.6)


def _pipeline(**params: float) -> Pipeline:
    w = IotPipeline(IotPipelineParams(**params), seed=0)
    return Pipeline(tuple(w.operators()), w.params.item_bytes, w.window_output_rate(), w.params.join_cpu_ms / 1e3,
                    0.01, 0.7)


def _branches(rate: float, mbit: float = 20.0, latency_s: float = 0.02, n: int = 3) -> list[Branch]:
    return [Branch(SiteInfo(f"edge{i}", 4, 4, 0.08), rate, LinkInfo(latency_s, mbit * 1e6 / 8)) for i in range(n)]


def test_tumbling_window_aggregates_what_arrived_before_its_end() -> None:
    state = WindowState(length=1.0, slide=1.0)
    state.add(Record(0.1, key=3, weight=1.0), now=0.2)
    state.add(Record(0.6, key=3, weight=2.0), now=0.7)
    state.add(Record(1.1, key=3, weight=1.0), now=1.2)  # next window
    assert state.fire(0.99, branch=0) == []
    out = state.fire(1.0, branch=0)
    assert [(r.key, r.weight, r.born, r.window_end) for r in out] == [(3, 3.0, 0.6, 1.0)]
    assert len(state) == 1


def test_a_sliding_window_counts_a_record_in_length_over_slide_windows() -> None:
    state = WindowState(length=2.0, slide=0.5)
    assert state.add(Record(0.3, key=1, weight=1.0), now=0.3) == 4
    assert sorted(end for end, _key in state.cells) == [0.5, 1.0, 1.5, 2.0]
    # Its weight is shared, so the outputs still account for exactly one reading.
    out = [r for t in (0.5, 1.0, 1.5, 2.0) for r in state.fire(t, branch=0)]
    assert len(out) == 4 and sum(r.weight for r in out) == pytest.approx(1.0)


def test_the_join_waits_for_every_site_then_times_out_the_missing() -> None:
    join = JoinState(branches=2, wait_s=1.0)
    a = Record(0.9, 5, 4.0, kind="aggregate", window_end=1.0, branch=0)
    b = Record(0.95, 5, 6.0, kind="aggregate", window_end=1.0, branch=1)
    assert join.add(a) is None
    joined = join.add(b)
    assert (joined.weight, joined.born, joined.kind) == (10.0, 0.95, "joined")
    join.add(Record(1.9, 7, 1.0, kind="aggregate", window_end=2.0, branch=0))
    assert join.expire(2.5) == [] and join.partial == 0
    late = join.expire(3.0)
    assert [r.weight for r in late] == [1.0] and join.partial == 1


def test_filter_and_detector_decisions_follow_the_readings_draws() -> None:
    assert keep(Record(0, 0, 1, u_filter=0.2), 0.5) and not keep(Record(0, 0, 1, u_filter=0.7), 0.5)
    flagged = alert(Record(3.0, 2, 1.0, u_alert=0.01, branch=1), 0.02)
    assert flagged is not None and (flagged.kind, flagged.weight, flagged.born) == ("alert", 0.0, 3.0)
    assert alert(Record(3.0, 2, 1.0, u_alert=0.5), 0.02) is None


def test_naive_strategies_put_everything_in_one_place() -> None:
    pipe, branches = _pipeline(), _branches(400.0)
    assert place("cloud", pipe, branches, CLOUD).cuts == (0, 0, 0)
    edge = place("edge", pipe, branches, CLOUD)
    assert edge.cuts == (3, 3, 3) and edge.join_site == "edge0"


def test_a_heavy_detector_that_pi_sites_cannot_carry_goes_to_the_cloud() -> None:
    plan = place("latency_aware", _pipeline(detect_cpu_ms=5.0), _branches(400.0, mbit=10.0), CLOUD)
    assert plan.feasible
    assert all(cut <= 1 for cut in plan.cuts)  # detect (index 1) and what follows run in the cloud
    assert plan.join_site == "cloud"
    # sized to the load: 200 readings/s x 5 ms on 0.6-speed cores at 70% -> 3 instances per site
    assert all(plan.parallelism[(b, "detect")] == 3 for b in range(3))


def test_a_light_detector_stays_at_the_edge_and_only_aggregates_cross_the_wan() -> None:
    cheap = place("latency_aware", _pipeline(detect_cpu_ms=0.2), _branches(400.0, latency_s=0.04), CLOUD)
    assert cheap.cuts == (3, 3, 3)
    ships_raw = place("cloud", _pipeline(detect_cpu_ms=0.2), _branches(400.0, latency_s=0.04), CLOUD)
    assert cheap.wan_Bps < 0.05 * ships_raw.wan_Bps


def test_a_thin_link_forces_the_filter_to_the_edge() -> None:
    # 400 readings/s x 2 kB = 6.4 Mbit/s of raw data cannot go up a 5 Mbit/s link at 70%.
    plan = place("latency_aware", _pipeline(detect_cpu_ms=5.0), _branches(400.0, mbit=5.0), CLOUD)
    assert all(cut >= 1 for cut in plan.cuts) and plan.feasible


def test_when_nothing_fits_the_placer_picks_the_least_overloaded_plan() -> None:
    plan = place("latency_aware", _pipeline(detect_cpu_ms=50.0), _branches(400.0), CLOUD)
    assert not plan.feasible
    assert plan.max_utilization <= place("edge", _pipeline(detect_cpu_ms=50.0), _branches(400.0), CLOUD).max_utilization


@pytest.mark.parametrize("utilization, fill, instances, expected", [
    (1.4, 0.1, 2, 4),    # DS2: straight to ceil(2 x 1.4 / 0.7) = 4
    (0.9, 0.0, 2, 3),    # busy: at least one more
    (0.5, 0.6, 2, 3),    # a half-full queue triggers a step too
    (3.0, 0.0, 4, 6),    # never above the cores available
    (0.1, 0.0, 3, 2),    # idle: one fewer...
    (0.1, 0.0, 2, 2),    # ...but never below the plan
    (0.1, 0.2, 3, 3),    # not while records still wait
    (0.5, 0.0, 3, 3),
])
def test_the_rescaling_policy(utilization: float, fill: float, instances: int, expected: int) -> None:
    assert ScalingPolicy().decide(utilization, fill, instances, min_instances=2, max_instances=6) == expected
