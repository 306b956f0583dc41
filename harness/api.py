"""The public API for plugin authors: everything a plugin needs, nothing it should not.

A system or workload is a small declarative class (in the manner of benchopt's solvers):
a ``name``, a one-line ``description``, a ``Params`` dataclass that types its config
group, and one or two methods. Plugins register classes through the hooks in
``harness.hookspecs`` using the ``hookimpl`` marker below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generator, Protocol

import pluggy

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from harness.metrics.recorder import Recorder
    from harness.sim.runtime import Runtime

hookimpl = pluggy.HookimplMarker("harness")


def __getattr__(name: str) -> Any:
    # The fault exceptions a system may catch, re-exported lazily (SimPy stays unimported
    # until a run needs it).
    if name in ("NodeDown", "Unreachable", "CorruptBlock", "MissingBlock", "OutOfMemory"):
        from harness.sim import runtime

        return getattr(runtime, name)
    if name in ("node_hourly_usd", "node_energy_j"):  # the cost and energy models, for per-part breakdowns
        from harness import builtin

        return getattr(builtin, name)
    raise AttributeError(name)

__all__ = [
    "NodeDown",
    "Unreachable",
    "CorruptBlock",
    "MissingBlock",
    "OutOfMemory",
    "node_hourly_usd",
    "node_energy_j",
    "hookimpl",
    "System",
    "Workload",
    "Backend",
    "ConfigIssue",
    "Metric",
    "RunOutcome",
    "NodeUsage",
    "NoParams",
    "cluster_size",
]


def cluster_size(config: DictConfig) -> int:
    """How many nodes the run's cluster preset builds (for ``System.check``)."""
    return sum(int(group.count) for group in config.cluster.groups)


@dataclass
class NoParams:
    """Params of a system or workload that takes none."""


@dataclass(frozen=True)
class ConfigIssue:
    """One semantic problem with a config: shown to the user as one line."""

    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"{self.key}={self.value!r}: {self.allowed}"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit}


@dataclass
class NodeUsage:
    """How one node was used during a run (input to cost and energy)."""

    name: str
    profile_name: str
    profile: Any  # the node's hardware profile config
    cores: int
    cpu_busy_core_s: float
    down_s: float


@dataclass
class RunOutcome:
    """What a backend returns; handed to ``harness_run_metrics`` hooks."""

    makespan_s: float
    metrics: list[Metric] = field(default_factory=list)
    distributions: dict[str, Any] = field(default_factory=dict)
    nodes: list[NodeUsage] = field(default_factory=list)
    recorder: Recorder | None = None


class Workload:
    """What is asked of a system, generated deterministically from the run's seed.

    ``kind`` names the interface a system must speak to serve this workload (for
    example ``"batch"`` for MapReduce-style jobs, ``"kv"`` for key-value operations).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any, seed: int) -> None:
        self.params = params
        self.seed = seed

    @classmethod
    def check(cls, params: Any) -> list[ConfigIssue]:
        """Semantic checks on ``params`` beyond their types (key prefix: ``workload.``)."""
        return []


class System:
    """One design under test. ``run`` is a simulation process body: a generator that
    yields runtime events (compute, disk, network, sleep) and returns when the workload
    is done. Decisions are real; only time and resource use are modelled.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    serves: ClassVar[tuple[str, ...]] = ()  # workload kinds this system can serve

    def __init__(self, params: Any, runtime: Runtime) -> None:
        self.params = params
        self.rt = runtime

    @classmethod
    def check(cls, params: Any, config: DictConfig) -> list[ConfigIssue]:
        """Semantic checks on ``params`` given the whole config (key prefix: ``system.``)."""
        return []

    def run(self, workload: Workload) -> Generator[Any, Any, None]:
        raise NotImplementedError

    def on_node_recover(self, node: Any) -> None:
        """Called when a crashed node comes back, so the system can restart its daemons."""


class Backend(Protocol):
    """Executes one run. ``sim`` is the built-in one; a ``live`` backend can come later."""

    name: str
    simulated: bool

    def execute(self, config: DictConfig, system: type[System], system_params: Any,
                workload: type[Workload], workload_params: Any) -> RunOutcome:
        """Deploy ``system`` on the configured cluster, serve ``workload``, measure."""
        ...
