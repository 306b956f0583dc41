"""The pure parts of the migration plugin: stop conditions, batches, push order, page
layout and sampling, the version ledger. No simulation runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plugins.edge.migration.pages import PageLedger, layout, sample_touched
from plugins.edge.migration.policy import PostcopyPusher, PrecopyPolicy, RoundPlanner, RoundStats

PAGE = 4096.0


def stats(round_: int = 1, sent: int = 1000, dirtied: int = 500, duration: float = 1.0,
          total_sent: int = 1000, guest: int = 10_000, skipped: int = 0) -> RoundStats:
    return RoundStats(round_, sent, skipped, dirtied, duration, sent * PAGE, total_sent, guest)


# -- pre-copy stop conditions ----------------------------------------------------------
def test_precopy_continues_while_the_dirty_set_shrinks_and_the_link_keeps_up() -> None:
    policy = PrecopyPolicy(PAGE)
    policy.first_rate()
    assert policy.after_round(stats(dirtied=500)).stop is False


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"dirtied": 49}, "converged"),
        ({"round_": 30, "dirtied": 500}, "max_rounds"),
        ({"total_sent": 30_001, "dirtied": 500}, "max_sent_factor"),
        ({"dirtied": 1000, "duration": 1.0}, "dirty_rate_exceeds_link"),  # dirtied as fast as sent
    ],
)
def test_each_stop_condition_starts_the_last_round(kwargs: dict, reason: str) -> None:
    policy = PrecopyPolicy(PAGE)
    policy.first_rate()
    decision = policy.after_round(stats(**kwargs))
    assert decision.stop and decision.reason == reason


def test_the_dirty_rate_condition_can_be_switched_off() -> None:
    policy = PrecopyPolicy(PAGE, stop_on_dirty_rate=False)
    policy.first_rate()
    assert not policy.after_round(stats(dirtied=1000)).stop


def test_adaptive_rate_follows_xen_start_100_then_dirty_rate_plus_50_capped_at_500() -> None:
    mbit = 1e6 / 8
    policy = PrecopyPolicy(PAGE, adaptive_rate=True)
    assert policy.first_rate() == 100 * mbit
    dirty_pages_for = lambda rate_mbit: int(rate_mbit * mbit / PAGE)  # noqa: E731 - per 1 s round
    decision = policy.after_round(stats(dirtied=dirty_pages_for(150)))
    assert decision.next_rate_Bps == pytest.approx(dirty_pages_for(150) * PAGE + 50 * mbit)
    decision = policy.after_round(stats(round_=2, dirtied=dirty_pages_for(480), sent=500))
    assert decision.next_rate_Bps == 500 * mbit
    # At the cap, a round that sent more than the one before it means no progress: stop.
    decision = policy.after_round(stats(round_=3, dirtied=dirty_pages_for(200), sent=900))
    assert decision.stop and decision.reason == "no_progress_at_max_rate"


def test_adaptive_rate_stops_when_pages_are_dirtied_faster_than_the_cap() -> None:
    policy = PrecopyPolicy(PAGE, adaptive_rate=True)
    policy.first_rate()
    decision = policy.after_round(stats(dirtied=int(600e6 / 8 / PAGE)))
    assert decision.stop and decision.reason == "dirty_rate_exceeds_link"


# -- batches of a round -------------------------------------------------------------------
def test_round_planner_skips_pages_redirtied_in_this_round_and_counts_them() -> None:
    to_send = np.arange(0, 100)
    dirty_now = np.zeros(100, dtype=bool)
    dirty_now[[3, 4, 50]] = True
    planner = RoundPlanner(to_send, batch_pages=10, skip_redirtied=True)
    sent = []
    while not planner.done:
        sent.extend(planner.next_batch(dirty_now).tolist())
    assert sent == [p for p in range(100) if p not in (3, 4, 50)]
    assert planner.skipped == 3


def test_round_planner_without_skipping_sends_everything_in_batches() -> None:
    planner = RoundPlanner(np.arange(25), batch_pages=10, skip_redirtied=False)
    sizes = []
    while not planner.done:
        sizes.append(planner.next_batch(np.ones(25, dtype=bool)).size)
    assert sizes == [10, 10, 5] and planner.skipped == 0


# -- post-copy push order ------------------------------------------------------------------
def test_push_without_prepaging_goes_in_address_order_and_skips_pages_taken_by_faults() -> None:
    pusher = PostcopyPusher(np.arange(100), 100, batch_pages=10, prepaging=False)
    pusher.take(np.arange(10, 20))
    assert pusher.next_batch().tolist() == list(range(10))
    assert pusher.next_batch().tolist() == list(range(20, 30))
    assert pusher.remaining == 70


def test_prepaging_pushes_the_neighbourhood_of_the_latest_fault_first() -> None:
    pusher = PostcopyPusher(np.arange(1000), 1000, batch_pages=8, prepaging=True)
    pusher.take(np.array([600]))
    pusher.note_fault(np.array([600]))
    batch = pusher.next_batch()
    assert batch.size == 8 and set(batch.tolist()) <= set(range(590, 611))
    every = set(batch.tolist())
    while pusher.remaining:
        every |= set(pusher.next_batch().tolist())
    assert every == set(range(1000)) - {600}


# -- pages ------------------------------------------------------------------------------------
def test_layout_places_tiers_in_runs_and_covers_every_page_once() -> None:
    rng = np.random.default_rng(3)
    space = layout(10_000, 256, ((0.05, 0.9), (0.95, 0.1)), 1000.0, 4000.0, 10.0, 64, rng)
    pages = np.concatenate([c.pages for c in space.classes])
    assert np.array_equal(np.sort(pages), np.arange(space.total))
    hot = space.classes[0].pages
    assert hot.size % 64 == 0 and np.all(np.diff(hot.reshape(-1, 64), axis=1) == 1)
    assert space.classes[0].write_rate == pytest.approx(900.0 / hot.size)


def test_sampled_writes_hit_each_page_with_probability_one_minus_exp_minus_rate_t() -> None:
    rng = np.random.default_rng(5)
    space = layout(20_000, 0, ((0.1, 0.8), (0.9, 0.2)), 2000.0, 2000.0, 0.0, 64, rng)
    hot, cold = space.classes
    seconds = 0.5
    counts = np.zeros(space.total)
    for _ in range(200):
        counts[sample_touched(space, seconds, rng)] += 1
    for cls in (hot, cold):
        expected = -math.expm1(-cls.write_rate * seconds)
        assert counts[cls.pages].mean() / 200 == pytest.approx(expected, rel=0.05)


def test_ledger_flags_a_destination_without_the_latest_version() -> None:
    ledger = PageLedger(10)
    pages = np.arange(10)
    ledger.receive(pages, ledger.snapshot(pages))
    assert ledger.stale_pages().size == 0
    ledger.write_at_source(np.array([2, 7]))
    assert ledger.stale_pages().tolist() == [2, 7]
    ledger.receive(np.array([2]), ledger.snapshot(np.array([2])))
    assert ledger.stale_pages().tolist() == [7]
    ledger.write_at_destination(np.array([7, 1]))  # 7 was stale: a lost update
    assert ledger.lost_updates == 1
    ledger.read_at_destination(np.array([3]))
    assert ledger.stale_reads == 0
