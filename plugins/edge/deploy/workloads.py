"""Workloads of kind ``container``: pull an image, or run memory-tight services on small nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.api import ConfigIssue, Workload

from plugins.edge.deploy.images import IMAGES, Image


def _image_issue(image: str) -> list[ConfigIssue]:
    if image not in IMAGES:
        return [ConfigIssue("workload.image", image, f"allowed: {', '.join(sorted(IMAGES))}")]
    return []


@dataclass
class ImagePullParams:
    image: str = "ubuntu_seed"  # a preset of plugins/edge/deploy/images.py
    nodes: int = 1  # nodes that pull the image at once; 0: every node but the registry


class ImagePull(Workload):
    name = "image_pull"
    description = "Deploy one container image from a registry on one or more nodes (seed 003)"
    kind = "container"
    Params = ImagePullParams

    @classmethod
    def check(cls, params: ImagePullParams) -> list[ConfigIssue]:
        if params.nodes < 0:
            return [ConfigIssue("workload.nodes", params.nodes, "must be >= 0 (0: every node but the registry)")]
        return _image_issue(params.image)

    @property
    def image(self) -> Image:
        return IMAGES[self.params.image]


@dataclass
class MemoryTightParams:
    image: str = "ubuntu_seed"  # the image deployed while the services run
    nodes: int = 1
    deploy: bool = True  # pull `image` during the serving period (false: services only)
    deploy_at_s: float = 10.0  # ...this long after the services are up
    services_mib: float = 256.0  # the running services' files, already on disk (their image)
    agent_mib: float = 200.0  # node agent: dockerd + containerd + kubelet resident memory
    agent_hot_fraction: float = 0.25  # share the agent touches every period; the rest stays cold
    agent_period_s: float = 10.0  # the agent's housekeeping period (status write, memory touched)
    containers: int = 3
    container_mib: float = 180.0  # anonymous memory per container
    container_hot_fraction: float = 0.5
    working_set_mib: float = 64.0  # image files each container reads while serving
    request_rate_per_s: float = 4.0  # per container, Poisson, open loop
    duration_s: float = 120.0  # serving time after the containers have started
    read_kib: float = 512.0  # file data read per request, at a random offset of the working set
    service_ms: float = 2.0  # reference-core CPU per request
    log_bytes: float = 200.0  # appended to the container's log per request


class MemoryTight(Workload):
    name = "memory_tight"
    description = "A node agent and containers needing more than the node's RAM: swappiness and SD-card tuning"
    kind = "container"
    Params = MemoryTightParams

    @classmethod
    def check(cls, params: MemoryTightParams) -> list[ConfigIssue]:
        positive = ("services_mib", "agent_mib", "agent_period_s", "container_mib", "working_set_mib",
                    "request_rate_per_s", "duration_s", "read_kib")
        for key in positive:
            if getattr(params, key) <= 0:
                return [ConfigIssue(f"workload.{key}", getattr(params, key), "must be > 0")]
        for key in ("agent_hot_fraction", "container_hot_fraction"):
            if not 0.0 <= getattr(params, key) <= 1.0:
                return [ConfigIssue(f"workload.{key}", getattr(params, key), "must be within 0..1")]
        if params.containers < 1:
            return [ConfigIssue("workload.containers", params.containers, "must be >= 1")]
        if params.nodes < 0:
            return [ConfigIssue("workload.nodes", params.nodes, "must be >= 0 (0: every node but the registry)")]
        if params.working_set_mib * 1024 < params.read_kib:
            return [ConfigIssue("workload.read_kib", params.read_kib, "must fit in working_set_mib")]
        for key in ("service_ms", "log_bytes", "deploy_at_s"):
            if getattr(params, key) < 0:
                return [ConfigIssue(f"workload.{key}", getattr(params, key), "must be >= 0")]
        return _image_issue(params.image)

    @property
    def image(self) -> Image:
        return IMAGES[self.params.image]

    def arrivals(self, rng: Any) -> list[tuple[float, int]]:
        """(intended start after the services are up, container) for every request."""
        p = self.params
        out = []
        for c in range(p.containers):
            at = rng.expovariate(p.request_rate_per_s)
            while at < p.duration_s:
                out.append((at, c))
                at += rng.expovariate(p.request_rate_per_s)
        return sorted(out)


WORKLOADS = (ImagePull, MemoryTight)
