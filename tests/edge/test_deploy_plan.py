"""The pure parts of the deploy plugin: image files, chunking, pipes. No simulation runs."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from plugins.edge.deploy.images import IMAGES, Layer, file_sizes
from plugins.edge.deploy.pipes import Pipe, Slots
from plugins.edge.deploy.plan import chunks


def test_file_sizes_add_up_and_repeat_for_the_same_seed() -> None:
    layer = IMAGES["ubuntu_seed"].layers[0]
    sizes = file_sizes(layer, 7, "ubuntu_seed", 0)
    assert len(sizes) == layer.files
    assert sizes.sum() == pytest.approx(layer.uncompressed_bytes)
    assert np.median(sizes) < sizes.mean()  # many small files, a few big ones
    assert np.array_equal(sizes, file_sizes(layer, 7, "ubuntu_seed", 0))
    assert not np.array_equal(sizes, file_sizes(layer, 8, "ubuntu_seed", 0))


def test_the_seed_image_is_about_45_plus_51_mb() -> None:
    image = IMAGES["ubuntu_seed"]
    assert image.layers[-1].compressed_mb == 51.0
    assert 44e6 < image.compressed_bytes - image.layers[-1].compressed_bytes < 46e6


@pytest.mark.parametrize("chunk_mb", [0.5, 4.0, 100.0])
def test_chunks_carry_every_byte_and_every_file_once(chunk_mb: float) -> None:
    layer = Layer(10.0, 26.0, 800)
    sizes = file_sizes(layer, 1, "x", 0)
    parts = chunks(layer.compressed_bytes, sizes, chunk_mb * 1e6)
    assert sum(c.compressed for c in parts) == pytest.approx(layer.compressed_bytes)
    assert sum(c.uncompressed for c in parts) == pytest.approx(layer.uncompressed_bytes)
    assert sum(c.new_files for c in parts) == layer.files
    written = sum(size for c in parts for _, size in c.pieces)
    assert written == pytest.approx(layer.uncompressed_bytes)
    offsets = [at for c in parts for at, _ in c.pieces]
    assert offsets == sorted(offsets)  # tar order: the extractor writes front to back


def test_a_big_file_is_written_piece_by_piece_as_it_arrives() -> None:
    sizes = np.array([1000.0, 50e6, 1000.0])
    parts = chunks(20e6, sizes, 4e6)
    assert len(parts) == 5
    assert all(len(c.pieces) >= 1 for c in parts)
    assert [c.new_files for c in parts] == [2, 0, 0, 0, 1]


class _Rt:
    def __init__(self) -> None:
        self.env = simpy.Environment()

    def event(self) -> simpy.Event:
        return self.env.event()


def test_a_full_pipe_holds_the_writer_until_the_reader_takes() -> None:
    rt = _Rt()
    pipe = Pipe(rt, capacity=1)
    first, second = pipe.put("a"), pipe.put("b")
    assert first.triggered and not second.triggered
    got = pipe.get()
    assert got.value == "a" and second.triggered
    assert pipe.get().value == "b"
    waiting = pipe.get()
    assert not waiting.triggered
    pipe.put("c")
    assert waiting.value == "c"


def test_slots_are_granted_in_request_order() -> None:
    rt = _Rt()
    slots = Slots(rt, 1)
    a, b, c = slots.acquire(), slots.acquire(), slots.acquire()
    assert a.triggered and not b.triggered
    slots.release()
    assert b.triggered and not c.triggered


def test_the_gains_table_compares_every_strategy_with_stock(tmp_path) -> None:
    import json

    from plugins.edge.deploy.gains import deploy_times, gains_table, markdown

    for i, (system, seconds) in enumerate([("docker_pull", 100.0), ("docker_pi", 40.0), ("docker_pull_seq", 95.0)]):
        run = tmp_path / str(i)
        run.mkdir()
        record = {"status": "ok", "choices": {"hardware": "rpi3", "cluster": "deploy_10mbps", "system": system},
                  "metrics": [{"name": "deploy_time", "value": seconds, "unit": "s"}]}
        (run / "record.json").write_text(json.dumps(record))
    rows = gains_table(deploy_times(tmp_path))
    assert rows == [("rpi3", "deploy_10mbps", 100.0, [5.0, None, None, 60.0])]
    assert "| rpi3 | 10mbps | 100.0 | 5.0% |  |  | 60.0% |" in markdown(rows)
