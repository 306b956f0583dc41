"""The consistency checker judges a history: stale reads, violations of R+W>N, lost writes."""

from __future__ import annotations

from plugins.storage.consistency import History


def test_a_read_covering_the_last_acknowledged_write_is_fresh() -> None:
    h = History(promise=True)
    h.write(key=1, invoke=0.0, complete=1.0, ok=True, version=10, parents=(), strict=True, epoch=0)
    h.write(key=1, invoke=1.5, complete=1.8, ok=True, version=11, parents=(10,), strict=True, epoch=0)
    assert not h.read(1, 2.0, 2.5, True, [11], strict=True, epoch=0)
    h.write(key=1, invoke=3.0, complete=3.5, ok=True, version=12, parents=(10,), strict=True, epoch=0)
    h.write(key=1, invoke=4.0, complete=4.5, ok=True, version=13, parents=(11, 12), strict=True, epoch=0)
    assert not h.read(1, 5.0, 5.5, True, [13], True, 0)
    assert not h.read(1, 5.0, 5.5, True, [11, 12, 13], True, 0), "siblings that include it"
    assert h.stale_reads == h.violations == 0


def test_a_strict_read_missing_an_acknowledged_write_is_a_violation() -> None:
    h = History(promise=True)
    h.write(1, 0.0, 1.0, True, 10, (), True, 0)
    h.write(1, 0.5, 1.2, True, 11, (), True, 0)  # concurrent with 10: has not seen it
    assert h.read(1, 2.0, 2.5, True, [10], True, 0), "the last acknowledged write is 11"
    assert h.stale_reads == 1 and h.violations == 1 and h.stale_reads_sloppy == 0


def test_stale_reads_under_sloppy_quorums_are_counted_not_called_violations() -> None:
    h = History(promise=True)
    h.write(1, 0.0, 1.0, True, 10, (), strict=False, epoch=0)  # acknowledged by a stand-in
    assert h.read(1, 2.0, 2.5, True, [], True, 0)
    assert (h.stale_reads, h.violations, h.stale_reads_sloppy) == (1, 0, 1)
    weak = History(promise=False)  # R + W <= N promises nothing
    weak.write(1, 0.0, 1.0, True, 10, (), True, 0)
    weak.read(1, 2.0, 2.5, True, [], True, 0)
    assert (weak.stale_reads, weak.violations) == (1, 0)


def test_only_writes_acknowledged_before_the_read_started_count() -> None:
    h = History(promise=True)
    h.write(1, 0.0, 3.0, True, 10, (), True, 0)  # acknowledged after the read was invoked
    h.write(1, 0.0, 0.5, False, 11, (), True, 0)  # never acknowledged
    assert not h.read(1, 2.0, 3.5, True, [], True, 0)
    assert h.stale_reads == 0


def test_durability_counts_acknowledged_writes_no_survivor_covers() -> None:
    h = History(promise=True)
    h.write(1, 0.0, 1.0, True, 10, (-1,), True, 0)
    h.write(1, 1.0, 2.0, True, 11, (-1, 10), True, 0)  # saw the loaded record and 10
    h.write(1, 1.5, 2.0, True, 12, (), True, 0)  # concurrent, then overwritten without being seen
    h.write(2, 1.0, 2.0, True, 13, (), True, 0)
    survivors = {1: [11], 2: [13]}
    assert h.check_durability(lambda key: survivors.get(key, [])) == 1
    names = {name: value for name, value, _ in h.metrics()}
    assert names["acked_writes_lost"] == 1 and names["acked_writes"] == 4


def test_the_history_keeps_every_operation_as_columns() -> None:
    h = History(promise=True)
    h.write(1, 0.0, 1.0, True, 10, (), True, 0)
    h.read(1, 2.0, 2.5, True, [10, 7], True, 0)
    cols = h.columns()
    assert list(cols["kind"]) == [0, 1] and list(cols["invoke"]) == [0.0, 2.0]
    assert list(cols["versions"]) == [1, 2] and list(cols["value"]) == [10, 10]
    assert h.sibling_reads == 1 and h.max_siblings == 2 and len(h) == 2
