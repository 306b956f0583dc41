"""Operator rescaling, sans I/O: how many instances a stateless operator should have now.

Seed 003: "Operator elasticity: can we rescale stream processing operators dynamically?
Easy if we accept to drop data, harder otherwise." Only stateless operators (filter,
detect) are rescaled here, so no state has to move; a removed instance stops receiving
records and finishes its queue, so scaling down drops nothing.

The decision follows DS2 (Kalavri et al., "Three steps is all you need: fast, accurate,
automatic scaling decisions for distributed streaming dataflows", OSDI 2018): from the
*measured* busy time of the instances over the last interval, the number of instances
that would run at the target utilisation, reached in one step rather than one instance
at a time. A queue already half full also triggers a step up (a burst the busy time of
one interval may not show yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScalingPolicy:
    target: float = 0.7  # utilisation a rescaled operator is sized for
    high: float = 0.85  # step up when the instances were busier than this...
    queue_high: float = 0.5  # ...or the fullest queue is above this share of its capacity
    low: float = 0.3  # step down (one instance) when busy less than this and the queues are empty

    def decide(self, utilization: float, max_fill: float, instances: int, min_instances: int,
               max_instances: int) -> int:
        """The instance count to have: within [min_instances (the plan), max_instances (cores)]."""
        if instances < 1:
            return instances
        if utilization >= self.high or max_fill >= self.queue_high:
            wanted = max(instances + 1, math.ceil(instances * utilization / self.target))
            return min(max_instances, wanted)
        if utilization <= self.low and max_fill == 0 and instances > min_instances:
            return instances - 1
        return instances
