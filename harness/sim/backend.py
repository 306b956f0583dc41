"""The ``sim`` backend: builds the simulated cluster and runs one system on it."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from harness.api import Metric, NodeUsage, RunOutcome, System, Workload
from harness.metrics.recorder import Recorder
from harness.sim.cluster import Node, Topology, build_nodes
from harness.sim.faults import FaultInjector
from harness.sim.kernel import Kernel
from harness.sim.runtime import Runtime


class SimBackend:
    name = "sim"
    simulated = True

    def execute(
        self,
        config: DictConfig,
        system: type[System],
        system_params: Any,
        workload: type[Workload],
        workload_params: Any,
    ) -> RunOutcome:
        kernel = Kernel(config.seed, config.backend.timeout_s, config.backend.max_sim_time_s)
        rt = build_runtime(kernel, config)
        work = workload(workload_params, seed=kernel.rng.child("workload").derived_seed())
        design = system(system_params, rt)
        rt.recover_listeners.append(design.on_node_recover)
        FaultInjector(rt, config.faults).start()
        kernel.run_until(rt.spawn(design.run(work)))
        makespan = kernel.env.now
        metrics, distributions = rt.recorder.summarize(makespan)
        metrics += node_metrics(rt.nodes, makespan) + link_metrics(rt.net.model.link_bytes)
        metrics.append(Metric("sim_events", float(kernel.events_processed), "events"))
        return RunOutcome(makespan, metrics, distributions, [usage(n) for n in rt.nodes], rt.recorder)


def build_runtime(kernel: Kernel, config: DictConfig) -> Runtime:
    nodes = build_nodes(kernel.env, config.cluster, config.hardware)
    topology = Topology(config.cluster, nodes)
    return Runtime(kernel, nodes, topology, Recorder(), float(config.backend.network_quantum_s))


def usage(node: Node) -> NodeUsage:
    return NodeUsage(node.name, node.profile_name, node.profile, node.cores, node.stats.cpu_busy_core_s, node.stats.down_s)


def link_metrics(link_bytes: dict[Any, float]) -> list[Metric]:
    """Bytes that crossed rack uplinks and WAN links: where shared capacity is scarce."""
    uplink = sum(v for k, v in link_bytes.items() if k[0] == "rack_up")
    wan = sum(v for k, v in link_bytes.items() if k[0] == "wan")
    return [Metric("bytes_rack_uplinks", float(uplink), "B"), Metric("bytes_wan", float(wan), "B")]


def node_metrics(nodes: list[Node], makespan: float) -> list[Metric]:
    """Cluster-wide resource totals: what the run cost in disk, network and CPU."""
    total = lambda attr: float(sum(getattr(n.stats, attr) for n in nodes))  # noqa: E731
    core_seconds = sum(n.cores for n in nodes) * makespan
    return [
        Metric("disk_read_bytes", total("disk_read_bytes"), "B"),
        Metric("disk_write_bytes", total("disk_write_bytes"), "B"),
        Metric("device_write_bytes", total("device_write_bytes"), "B"),
        Metric("swap_out_bytes", total("swap_out_bytes"), "B"),
        Metric("swap_in_bytes", total("swap_in_bytes"), "B"),
        Metric("disk_busy_time", total("disk_busy_s"), "s"),
        Metric("cpu_utilization", total("cpu_busy_core_s") / core_seconds if core_seconds else 0.0, "ratio"),
    ]
