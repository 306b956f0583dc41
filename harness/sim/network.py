"""Drives the pure flow-level network model (``models.network.FlowNetwork``) from SimPy.

The model knows rates and remaining bytes; this driver turns "the next flow finishes at
t" into one pending SimPy timeout, re-armed whenever the flow set changes. Flows started
at the same instant share one rate recomputation.
"""

from __future__ import annotations

from typing import Hashable, Sequence

import simpy

from harness.sim.models.network import FlowNetwork


class NetworkDriver:
    def __init__(self, env: simpy.Environment, links: dict[Hashable, float], quantum_s: float = 0.0) -> None:
        self.env = env
        self.model = FlowNetwork(min_interval_s=quantum_s)
        for link, capacity_Bps in links.items():
            self.model.add_link(link, capacity_Bps)
        self._done: dict[int, simpy.Event] = {}
        self._next_id = 0
        self._generation = 0  # stale wake-ups carry an old generation and are ignored
        self._rearm_pending = False

    def start(self, path: Sequence[Hashable], nbytes: float) -> tuple[int, simpy.Event]:
        flow = self._next_id
        self._next_id += 1
        done = self.env.event()
        self._done[flow] = done
        self.model.start_flow(flow, path, nbytes, self.env.now)
        self._rearm_soon()
        return flow, done

    def cancel(self, flow: int) -> float:
        if self._done.pop(flow, None) is None:
            return 0.0
        delivered = self.model.cancel_flow(flow, self.env.now)
        self._rearm_soon()
        return delivered

    def set_capacity(self, link: Hashable, capacity_Bps: float) -> None:
        self.model.set_capacity(link, capacity_Bps, self.env.now)
        self._rearm_soon()

    def _rearm_soon(self) -> None:
        # Coalesce all changes made at this instant into one recomputation.
        if self._rearm_pending:
            return
        self._rearm_pending = True
        self.env.timeout(0).callbacks.append(self._rearm_now)

    def _rearm_now(self, _event: simpy.Event) -> None:
        self._rearm_pending = False
        self._finish(self.model.advance(self.env.now))
        self._arm()

    def _arm(self) -> None:
        self._generation += 1
        when = self.model.next_completion()
        if when is None:
            return
        generation = self._generation
        timeout = self.env.timeout(max(0.0, when - self.env.now))
        timeout.callbacks.append(lambda _e: self._wake(generation))

    def _wake(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._finish(self.model.advance(self.env.now))
        self._arm()

    def _finish(self, flows: list[int]) -> None:
        for flow in flows:
            done = self._done.pop(flow, None)
            if done is not None:
                done.succeed()
