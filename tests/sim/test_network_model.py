"""Flow network: max-min fair sharing, completions, cancellation, capacity changes."""

from __future__ import annotations

import math
import random

import pytest

from harness.sim.models.network import FlowNetwork


def network(**links: float) -> FlowNetwork:
    net = FlowNetwork()
    for name, capacity in links.items():
        net.add_link(name, capacity)
    return net


def reference_max_min(capacity: dict[str, float], flows: dict[int, tuple[list[str], float]]) -> dict[int, float]:
    """Textbook progressive filling, O(n^2): the oracle for the incremental solver."""
    residual = dict(capacity)
    active = set(flows)
    rates: dict[int, float] = {}
    while active:
        share, link = min(
            ((residual[l] / n, l) for l in sorted(residual) if (n := sum(l in flows[f][0] for f in active))),
            default=(math.inf, None),
        )
        cap = min(flows[f][1] for f in active)
        frozen = [f for f in active if flows[f][1] == cap] if cap <= share else [f for f in active if link in flows[f][0]]
        level = cap if cap <= share else share
        for f in frozen:
            rates[f] = level
            active.discard(f)
            for l in flows[f][0]:
                residual[l] = max(0.0, residual[l] - level)
    return rates


def test_two_flows_sharing_a_link_get_half_each() -> None:
    net = network(a=100.0)
    net.start_flow(1, ["a"], 1000, now=0.0)
    net.start_flow(2, ["a"], 1000, now=0.0)
    assert net.rate(1) == net.rate(2) == 50.0


def test_unused_share_goes_to_the_other_flow() -> None:
    """Flow 2 is held to 10 by link b, so flow 1 gets the other 90 of link a (max-min)."""
    net = network(a=100.0, b=10.0)
    net.start_flow(1, ["a"], 1000, now=0.0)
    net.start_flow(2, ["a", "b"], 1000, now=0.0)
    assert net.rate(2) == 10.0
    assert net.rate(1) == 90.0


def test_rate_cap_limits_a_flow_and_frees_the_rest() -> None:
    net = network(a=100.0)
    net.start_flow(1, ["a"], 1000, now=0.0, rate_cap_Bps=20.0)
    net.start_flow(2, ["a"], 1000, now=0.0)
    assert (net.rate(1), net.rate(2)) == (20.0, 80.0)


def test_completion_times_are_exact() -> None:
    """Two 100-byte flows on a 10 B/s link, the second half as big.

    Both run at 5 B/s; flow 2 (50 B) ends at t=10, then flow 1 runs alone at 10 B/s and
    its remaining 50 B take 5 s more: t=15.
    """
    net = network(a=10.0)
    net.start_flow(1, ["a"], 100, now=0.0)
    net.start_flow(2, ["a"], 50, now=0.0)
    assert net.next_completion() == pytest.approx(10.0)
    assert net.advance(10.0) == [2]
    assert net.rate(1) == 10.0
    assert net.next_completion() == pytest.approx(15.0)
    assert net.advance(15.0) == [1]
    assert net.next_completion() is None


def test_flow_started_later_shares_from_its_start() -> None:
    net = network(a=10.0)
    net.start_flow(1, ["a"], 100, now=0.0)
    net.start_flow(2, ["a"], 20, now=4.0)  # flow 1 has 60 B left
    assert net.next_completion() == pytest.approx(8.0)  # 20 B at 5 B/s
    assert net.advance(8.0) == [2]
    assert net.next_completion() == pytest.approx(12.0)  # 40 B left at 10 B/s


def test_advance_past_several_completions_returns_them_in_start_order() -> None:
    net = network(a=10.0)
    net.start_flow(7, ["a"], 30, now=0.0)
    net.start_flow(3, ["a"], 10, now=0.0)
    assert net.advance(100.0) == [7, 3]
    assert net.link_bytes["a"] == pytest.approx(40.0)


def test_cancel_returns_delivered_bytes() -> None:
    net = network(a=10.0)
    net.start_flow(1, ["a"], 100, now=0.0)
    net.start_flow(2, ["a"], 100, now=0.0)
    assert net.cancel_flow(1, now=4.0) == pytest.approx(20.0)
    assert net.rate(2) == 10.0
    assert net.next_completion() == pytest.approx(4.0 + 80.0 / 10.0)
    with pytest.raises(KeyError):
        net.cancel_flow(1, now=5.0)


def test_zero_byte_flow_finishes_immediately() -> None:
    net = network(a=10.0)
    net.start_flow(1, ["a"], 0, now=2.0)
    assert net.next_completion() == 2.0
    assert net.advance(2.0) == [1]


def test_zero_capacity_stalls_flows_until_restored() -> None:
    net = network(a=10.0, b=10.0)
    net.start_flow(1, ["a", "b"], 100, now=0.0)
    net.set_capacity("b", 0.0, now=2.0)  # 20 B delivered so far
    assert net.rate(1) == 0.0
    assert net.next_completion() is None
    net.set_capacity("b", 5.0, now=10.0)
    assert net.next_completion() == pytest.approx(10.0 + 80.0 / 5.0)


def test_slow_link_reduces_rate_mid_flow() -> None:
    net = network(a=10.0)
    net.start_flow(1, ["a"], 100, now=0.0)
    net.set_capacity("a", 2.0, now=5.0)
    assert net.next_completion() == pytest.approx(5.0 + 50.0 / 2.0)


def test_link_bytes_count_in_flight_progress() -> None:
    net = network(a=10.0, b=10.0)
    net.start_flow(1, ["a", "b"], 100, now=0.0)
    net.advance(3.0)
    assert net.link_bytes == {"a": pytest.approx(30.0), "b": pytest.approx(30.0)}


def test_time_cannot_go_backwards() -> None:
    net = network(a=10.0)
    net.advance(5.0)
    with pytest.raises(ValueError):
        net.start_flow(1, ["a"], 10, now=4.0)


def test_invalid_arguments_raise() -> None:
    net = network(a=10.0)
    with pytest.raises(KeyError):
        net.start_flow(1, ["nope"], 10, now=0.0)
    with pytest.raises(ValueError):
        net.start_flow(1, ["a", "a"], 10, now=0.0)
    with pytest.raises(ValueError):
        net.start_flow(1, ["a"], -1, now=0.0)
    with pytest.raises(ValueError):
        net.add_link("a", 5.0)
    with pytest.raises(ValueError):
        net.add_link("b", -5.0)


def test_incremental_rates_match_full_recomputation() -> None:
    """Random starts, cancellations, completions and capacity changes, checked after each."""
    for seed in range(25):
        rng = random.Random(seed)
        capacity = {f"l{i}": rng.choice([10.0, 25.0, 40.0, 100.0]) for i in range(10)}
        net = network(**capacity)
        live: dict[int, tuple[list[str], float]] = {}
        t = 0.0
        for fid in range(70):
            t += rng.random()
            for done in net.advance(t):
                live.pop(done)
            roll = rng.random()
            if roll < 0.6:
                path = rng.sample(sorted(capacity), rng.randint(1, 3))
                cap = rng.choice([None, None, None, 7.0])
                net.start_flow(fid, path, rng.choice([5.0, 60.0, 400.0]), t, cap)
                live[fid] = (path, math.inf if cap is None else cap)
            elif roll < 0.8 and live:
                victim = rng.choice(sorted(live))
                net.cancel_flow(victim, t)
                live.pop(victim)
            else:
                link = rng.choice(sorted(capacity))
                capacity[link] = rng.choice([0.0, 10.0, 50.0])
                net.set_capacity(link, capacity[link], t)
            expected = reference_max_min(capacity, live)
            for f in live:
                assert net.rate(f) == pytest.approx(expected[f], rel=1e-9, abs=1e-9), (seed, fid, f)


def test_min_interval_defers_recomputation_but_never_oversubscribes() -> None:
    net = FlowNetwork(min_interval_s=1.0)
    net.add_link("a", 10.0)
    net.start_flow(1, ["a"], 100, now=0.0)
    assert net.rate(1) == 10.0  # first computation is immediate
    net.start_flow(2, ["a"], 100, now=0.5)
    assert net.rate(2) == 0.0  # waits for the next recomputation at t=1
    assert net.next_completion() == pytest.approx(1.0)
    assert net.advance(1.0) == []
    assert net.rate(1) == net.rate(2) == 5.0


def test_same_events_give_identical_results() -> None:
    def run() -> list[tuple[int, float]]:
        rng = random.Random(7)
        net = FlowNetwork()
        for i in range(20):
            net.add_link(("l", i), 100.0)
        out = []
        t = 0.0
        for fid in range(200):
            t += rng.random() * 0.1
            net.start_flow(fid, [("l", j) for j in rng.sample(range(20), 3)], rng.random() * 50, t)
            out.extend((f, t) for f in net.advance(t))
        while (nxt := net.next_completion()) is not None:
            out.extend((f, nxt) for f in net.advance(nxt))
        return out

    assert run() == run()
