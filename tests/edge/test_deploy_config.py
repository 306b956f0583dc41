"""Bad deploy settings stop with one clear line naming the key."""

from __future__ import annotations

import pytest

from harness.config.validate import ConfigError, validate
from harness.preflight import compose_config

BASE = ["system=docker_pull", "workload=image_pull"]


@pytest.mark.parametrize("override, fragment", [
    ("system.download=zigzag", "system.download='zigzag': allowed: parallel, sequential"),
    ("system.decompress_parallel_fraction=1.5", "system.decompress_parallel_fraction=1.5"),
    ("system.chunk_mb=0", "system.chunk_mb=0"),
    ("system.pipe_chunks=0", "system.pipe_chunks=0"),
    ("system.tls_ref_mbps=0", "system.tls_ref_mbps=0"),
    ("system.boards.cortex-a53-armv7l.sha256_mbps=0", "system.boards.cortex-a53-armv7l.sha256_mbps=0"),
    ("workload.image=windows", "workload.image='windows': allowed: alpine, nginx"),
    ("workload.nodes=8", "workload.nodes=8: must be <= 7"),
])
def test_bad_values_are_one_line(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(compose_config([*BASE, override]))
    message = str(info.value)
    assert fragment in message and "\n" not in message


def test_a_memory_tight_read_larger_than_the_working_set_is_refused() -> None:
    with pytest.raises(ConfigError, match="workload.read_kib"):
        validate(compose_config(["system=docker_pull", "workload=memory_tight", "workload.working_set_mib=0.25"]))


def test_every_preset_composes() -> None:
    systems = ("docker_pull", "docker_pull_seq", "docker_pull_mt", "docker_pull_pipe", "docker_pi")
    clusters = ("deploy_256kbps", "deploy_1mbps", "deploy_10mbps", "deploy_100mbps", "deploy_1gbps")
    for system, cluster in zip(systems, clusters):
        validate(compose_config([f"system={system}", "workload=memory_tight", f"cluster={cluster}"]))
