"""Bad input: one clear line naming the key, the value and what is allowed; no traceback."""

from __future__ import annotations

import pytest

from conftest import harness

CASES = [
    # (arguments, what the one line must mention)
    (["system=__nope__"], ["system", "__nope__", "mapreduce"]),  # unknown choice lists choices
    (["hardware=__nope__"], ["hardware", "__nope__", "rpi3"]),
    (["seed=notanumber"], ["seed", "notanumber"]),  # wrong type
    (["hardware.cpu.cores=0"], ["hardware.cpu.cores", "0", ">= 1"]),  # semantic check
    (["hardware.memory.dirty_background_ratio=30"], ["hardware.memory.dirty_background_ratio", "30", "below dirty_ratio"]),
    (["cluster.rack_uplink_gbit=-5"], ["cluster.rack_uplink_gbit", "-5", "> 0"]),  # negative bandwidth
    (["+system.no_such_knob=1"], ["no_such_knob"]),  # unknown key in a plugin's params
    (["system=rpc_pool", "workload=wordcount"], ["workload", "wordcount", "cannot serve"]),
    (["system=rpc_pool", "workload=poisson_requests", "system.servers=99"], ["system.servers", "99"]),
    (["faults.events=[{kind: explode}]"], ["faults.events.0.kind", "explode", "crash"]),
    (["faults.events=[{kind: crash, exclude: random}]"], ["faults.events.0.exclude", "random", "node:<id>"]),
    (["faults.events=[{kind: slow, resources: [gpu]}]"], ["faults.events.0.resources", "gpu", "cpu, disk"]),
]


@pytest.mark.parametrize("args,mentions", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_gives_one_clear_line(workdir, args, mentions):
    result = harness(*args, cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in mentions:
        assert word in lines[0], (word, lines[0])
    assert not (workdir / "results").exists(), "bad input must not create run directories"


def test_sweep_with_one_bad_value_stops_before_running(workdir):
    result = harness("-m", "hardware=rpi3,__nope__", cwd=workdir)
    assert result.returncode == 2
    assert "__nope__" in result.stderr and "Traceback" not in result.stderr


def test_a_key_only_the_swept_choices_have_is_one_line_before_running(workdir):
    # Hydra composes the defaults plus the unswept overrides first: wordcount has no such key.
    result = harness("-m", "system=dynamo", "workload=ycsb_a,ycsb_b", "workload.operation_count=100", cwd=workdir)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "workload.operation_count" in lines[0] and "sweep" in lines[0], result.stderr
    assert not (workdir / "results").exists()


def test_full_error_env_shows_traceback(workdir):
    result = harness("seed=notanumber", cwd=workdir, env={"HYDRA_FULL_ERROR": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr
