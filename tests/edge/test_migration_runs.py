"""Live migration end to end on the simulated cluster: each strategy shows its trade-off,
the page ledger catches deliberately broken designs, and faults end the way each design
promises (an aborted pre-copy leaves the guest at the source; post-copy loses it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config
from harness.testing import metrics_of, run_config

BASE = ["system=live_migration", "system.warmup_s=0.2", "system.cooldown_s=0.2"]
GAME16 = [*BASE, "workload=migrate_game_server", "workload.memory_mb=16"]  # 16 MB: ~1.3 s at 100 Mbit/s


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("migration")
    done: dict[tuple[str, ...], dict] = {}

    def go(*overrides: str) -> dict[str, float]:
        key = tuple(overrides)
        if key not in done:
            record = run_config(list(overrides), root, f"run{len(done)}")
            assert record["status"] == "ok", record["error"]
            done[key] = {name: value for name, (value, _unit) in metrics_of(record).items()}
        return done[key]

    return go


def correct(m: dict[str, float]) -> bool:
    return m["pages_lost"] == 0 and m["source_released_early"] == 0 and m["migration_succeeded"] == 1


def test_each_strategy_trades_downtime_total_time_and_bytes(run) -> None:
    pre, stop, post, hybrid = (run(*GAME16, f"system.strategy={s}") for s in ("precopy", "stop_and_copy", "postcopy", "hybrid"))
    assert all(correct(m) for m in (pre, stop, post, hybrid))
    # Stop-and-copy: the guest is down for the whole copy, every page crosses once.
    assert stop["downtime"] == pytest.approx(stop["migration_time"], rel=0.05)
    assert stop["sent_per_guest_page"] == 1.0
    # Pre-copy: tiny downtime, paid for with pages sent again and a longer migration.
    assert pre["downtime"] < 0.1 * stop["downtime"]
    assert pre["sent_per_guest_page"] > 1.1 and pre["migration_rounds"] > 2
    assert pre["migration_time"] > stop["migration_time"]
    # Post-copy: resumes at once, each page crosses once, the guest stalls on faults instead.
    assert post["downtime"] < 0.1 * stop["downtime"]
    assert post["sent_per_guest_page"] == 1.0
    assert post["pages_fetched_on_fault"] > 0 and post["app_slowdown"] > pre["app_slowdown"]
    # Hybrid: one live pass then a short stop-and-copy: in between on downtime and bytes.
    assert pre["downtime"] < hybrid["downtime"] < stop["downtime"]
    assert 1.0 < hybrid["sent_per_guest_page"] < pre["sent_per_guest_page"]


@pytest.mark.parametrize(
    ("strategy", "bug"),
    [("precopy", "skip_stop_and_copy"), ("postcopy", "release_source_early"), ("postcopy", "no_fault_handling")],
)
def test_the_ledger_catches_a_deliberately_broken_migration(run, strategy: str, bug: str) -> None:
    m = run(*GAME16, f"system.strategy={strategy}", f"system.deliberate_bug={bug}")
    assert m["migration_succeeded"] == 1  # the broken design believes it worked...
    assert m["source_released_early"] == 1 and m["pages_lost"] > 0  # ...the checker does not


def test_a_diabolical_guest_stops_precopy_on_its_dirty_rate_and_an_idle_one_converges(run) -> None:
    busy = run(*BASE, "workload=migrate_memory_intensive", "workload.memory_mb=32")
    idle = run(*BASE, "workload=migrate_idle", "workload.memory_mb=32")
    assert busy.get("stop_dirty_rate_exceeds_link") == 1 and idle.get("stop_converged") == 1
    assert busy["downtime"] > 20 * idle["downtime"]
    assert correct(busy) and correct(idle)


def test_skipping_redirtied_pages_sends_fewer_pages(run) -> None:
    skip = run(*GAME16)
    no_skip = run(*GAME16, "system.skip_redirtied=false")
    assert skip["pages_sent"] < no_skip["pages_sent"]


def test_adaptive_rate_limit_is_gentler_but_slower_on_a_fast_link(run) -> None:
    fast = run(*GAME16, "hardware=x86_server")
    limited = run(*GAME16, "hardware=x86_server", "system.rate_limit=adaptive")
    assert limited["migration_time"] > 5 * fast["migration_time"]
    assert limited["bytes_migrated"] > fast["bytes_migrated"]


def test_prepaging_cuts_faults_when_the_push_can_outrun_the_guest(run) -> None:
    idle = [*BASE, "workload=migrate_idle", "workload.memory_mb=32", "system.strategy=postcopy"]
    with_prepaging, without = run(*idle), run(*idle, "system.prepaging=false")
    assert with_prepaging["pages_fetched_on_fault"] < 0.6 * without["pages_fetched_on_fault"]


def test_lz4_compression_divides_the_bytes_on_the_wire(run) -> None:
    plain = run(*GAME16, "system.strategy=stop_and_copy")
    lz4 = run(*GAME16, "system.strategy=stop_and_copy", "system.compression=lz4")
    assert lz4["bytes_migrated"] == pytest.approx(plain["bytes_migrated"] / 2.084, rel=0.02)
    assert lz4["downtime"] < plain["downtime"]


def test_a_container_moves_less_memory_but_its_writable_layer_goes_through_both_disks(run) -> None:
    vm = run(*BASE, "workload=migrate_game_server", "system.strategy=stop_and_copy")
    ct = run(*BASE, "workload=migrate_game_server", "workload.guest=container", "system.strategy=stop_and_copy")
    assert ct["guest_bytes"] < vm["guest_bytes"]
    assert vm["disk_write_bytes"] == 0 and ct["disk_write_bytes"] >= 16e6
    assert correct(ct)


def test_a_destination_crash_aborts_precopy_at_the_source_then_a_retry_succeeds(run) -> None:
    m = run(*BASE, "workload=migrate_game_server", "faults=migration_dest_crash")
    assert m["migration_aborts"] == 1 and m["migration_attempts"] == 2
    assert correct(m) and m["vm_lost"] == 0


def test_a_destination_crash_during_postcopy_loses_the_guest(run) -> None:
    m = run(*BASE, "workload=migrate_game_server", "system.strategy=postcopy", "faults=migration_dest_crash")
    assert m["vm_lost"] == 1 and m["vm_lost_after_switchover"] == 1 and m["migration_succeeded"] == 0


def test_postcopy_survives_a_short_link_cut_only_with_recovery(run) -> None:
    post = [*BASE, "workload=migrate_game_server", "system.strategy=postcopy", "faults=migration_link_cut"]
    assert run(*post)["vm_lost"] == 1
    recovered = run(*post, "system.postcopy_recovery=true")
    assert correct(recovered) and recovered["vm_lost"] == 0


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("system.strategy=teleport", "system.strategy='teleport': allowed: precopy, stop_and_copy, postcopy, hybrid"),
        ("system.destination=0", "system.destination=0: must differ from system.source (0)"),
        ("workload.memory_mb=4000", "does not fit on hardware=rpi3"),
        ("workload.guest=unikernel", "workload.guest='unikernel': allowed: vm, container"),
    ],
)
def test_bad_input_is_one_clear_line(override: str, needle: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(compose_config([*GAME16, override]))
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_the_same_seed_gives_the_same_migration(tmp_path: Path) -> None:
    first = run_config([*GAME16, "system.strategy=postcopy", "seed=5"], tmp_path, "a")
    second = run_config([*GAME16, "system.strategy=postcopy", "seed=5", "rerun=true"], tmp_path, "b")
    assert first["metrics"] == second["metrics"]
