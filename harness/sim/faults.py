"""Plays a fault schedule against the runtime: crashes, recoveries, partitions, slow
nodes, corrupted blocks. Targets are picked from a named random stream, so the same
seed hits the same nodes.
"""

from __future__ import annotations

from typing import Any, Generator

from omegaconf import DictConfig

from harness.sim.cluster import Node
from harness.sim.runtime import Runtime

KINDS = ("crash", "recover", "partition", "heal", "slow", "corrupt")


class FaultInjector:
    def __init__(self, rt: Runtime, faults: DictConfig) -> None:
        self.rt = rt
        self.faults = faults
        self.rng = rt.rng("faults")

    def start(self) -> None:
        for index, event in enumerate(self.faults.events):
            self.rt.spawn(self._play(index, event))
        rate = float(self.faults.crash_rate_per_node_hour)
        if rate > 0:
            for node in self.rt.nodes:
                self.rt.spawn(self._random_crashes(node, rate))

    def _play(self, index: int, event: DictConfig) -> Generator[Any, Any, None]:
        yield self.rt.sleep(event.at_s)
        nodes = self.targets(event.target, event.count, f"event{index}", event.exclude)
        undo = getattr(self, f"_{event.kind}")(nodes, event)
        if undo is not None and event.duration_s is not None:
            yield self.rt.sleep(event.duration_s)
            undo()

    def _crash(self, nodes: list[Node], _event: DictConfig) -> Any:
        for node in nodes:
            self.rt.crash(node)
        return lambda: [self.rt.recover(n) for n in nodes]

    def _recover(self, nodes: list[Node], _event: DictConfig) -> None:
        for node in nodes:
            self.rt.recover(node)

    def _partition(self, nodes: list[Node], event: DictConfig) -> Any:
        other = None
        if event.peer:
            other = frozenset(n.id for n in self.targets(event.peer, 0, "peer"))
        cut = self.rt.partition(frozenset(n.id for n in nodes), other)
        self.rt.recorder.count("partitions")
        return lambda: self.rt.heal(cut)

    def _heal(self, _nodes: list[Node], _event: DictConfig) -> None:
        for cut in list(self.rt._partitions):
            self.rt.heal(cut)

    def _slow(self, nodes: list[Node], event: DictConfig) -> Any:
        attributes = [f"{resource}_slow" for resource in event.resources]
        for node in nodes:
            for attribute in attributes:
                setattr(node, attribute, float(event.factor))

        def restore() -> None:
            for node in nodes:
                for attribute in attributes:
                    setattr(node, attribute, 1.0)

        return restore

    def _corrupt(self, nodes: list[Node], event: DictConfig) -> None:
        for node in nodes:
            files = list(node.files)  # insertion order: deterministic
            k = max(1, round(len(files) * float(event.fraction))) if files else 0
            for name in self.rng.sample(files, k):
                node.corrupted.add(name)
            self.rt.recorder.count("blocks_corrupted", k)

    def _random_crashes(self, node: Node, rate_per_hour: float) -> Generator[Any, Any, None]:
        rng = self.rt.rng(f"faults/random/{node.id}")
        mean_recovery = self.faults.mean_recovery_s
        while True:
            yield self.rt.sleep(rng.expovariate(rate_per_hour / 3600.0))
            self.rt.crash(node)
            if mean_recovery is None:
                return
            yield self.rt.sleep(rng.expovariate(1.0 / float(mean_recovery)))
            self.rt.recover(node)

    def targets(self, target: str, count: int, label: str, exclude: str | None = None) -> list[Node]:
        """Resolve ``node:<id>``, ``group:<g>``, ``rack:<r>``, ``site:<s>`` or ``random``,
        leaving out the nodes ``exclude`` (same forms) names."""
        nodes = self.rt.nodes
        if exclude:
            spared = {n.id for n in self.targets(exclude, 0, label)}
            nodes = [n for n in nodes if n.id not in spared]
        kind, _, name = target.partition(":")
        if kind == "random":
            return sorted(self.rng.sample(nodes, min(count, len(nodes))), key=lambda n: n.id)
        if kind == "node":
            return [n for n in nodes if str(n.id) == name or n.name == name]
        matches = [n for n in nodes if getattr(n, kind, None) == name]
        if kind == "group" and 0 < count < len(matches):
            return sorted(self.rng.sample(matches, count), key=lambda n: n.id)
        return matches
