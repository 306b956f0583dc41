"""The memory-tight service workload: what a small edge node does between deployments.

On each node a node agent (dockerd, containerd, kubelet) holds memory it mostly never
touches again, and a few containers hold their heaps and serve open-loop requests, each
reading a slice of its files (through the page cache), computing and appending to its log
on the SD card. Their anonymous memory plus their file working sets exceed the node's
RAM, so the kernel must choose between swapping cold heap pages out and dropping cached
file pages, which it does per ``vm.swappiness`` (the runtime's memory model). Part way
through, the node deploys a new image with the system's pull strategy, competing for the
same page cache and SD card. Everything below asks the runtime; nothing here computes a
time.
"""

from __future__ import annotations

from typing import Any, Generator

from harness.api import NodeDown, OutOfMemory

SERVICES_FILE = "services/rootfs"
AGENT = "agent"
STATUS_BYTES = 4096.0  # the agent's status/heartbeat file rewritten every period (ESTIMATE)
WARM_READ_MIB = 16.0  # a container reads its binaries and libraries when it starts (ESTIMATE)
MIB = float(1 << 20)


def run_services(system: Any, workload: Any) -> Generator[Any, Any, None]:
    rt, p = system.rt, workload.params
    nodes = system.targets
    for node in nodes:
        rt.place(node, SERVICES_FILE, p.services_mib * MIB)
        rt.spawn(_agent(rt, node, p), node=node)
    starts = [rt.spawn(_start_containers(rt, node, p), node=node) for node in nodes]
    yield rt.all_of(starts)
    begin = rt.now
    usage = {node.id: _io(node) for node in nodes}
    deployment = rt.spawn(_deploy_later(system, nodes, p.deploy_at_s)) if p.deploy else None
    requests = []
    for node in nodes:
        requests += _schedule(rt, node, p, workload.arrivals(rt.rng(f"requests/{node.id}")), begin)
    yield rt.all_of(requests)
    _report_services(rt, nodes, usage, len(requests), rt.now - begin)
    if deployment is not None:
        yield deployment
    rt.recorder.primary_ops = ("request",)
    rt.recorder.work_done(len(requests), "requests")


def _agent(rt: Any, node: Any, p: Any) -> Generator[Any, Any, None]:
    """Allocated once; every period it wakes, touches its hot part and writes its status."""
    yield rt.alloc(node, AGENT, p.agent_mib * MIB, hot_fraction=p.agent_hot_fraction)
    while True:
        yield rt.sleep(p.agent_period_s)
        yield rt.touch(node, AGENT)
        yield rt.write(node, STATUS_BYTES, "rand")


def _start_containers(rt: Any, node: Any, p: Any) -> Generator[Any, Any, None]:
    for c in range(p.containers):
        try:
            yield rt.alloc(node, _owner(c), p.container_mib * MIB, hot_fraction=p.container_hot_fraction)
        except OutOfMemory:
            rt.recorder.count("containers_oom")
            continue
        warm = min(WARM_READ_MIB, p.working_set_mib) * MIB
        yield rt.read(node, warm, file=SERVICES_FILE, offset=_working_set_start(c, p))


def _deploy_later(system: Any, nodes: list[Any], delay: float) -> Generator[Any, Any, None]:
    yield system.rt.sleep(delay)
    yield from system.deployments.deploy(nodes)


def _schedule(rt: Any, node: Any, p: Any, arrivals: list[tuple[float, int]], begin: float) -> list[Any]:
    rng = rt.rng(f"offsets/{node.id}")
    span = p.working_set_mib * MIB - p.read_kib * 1024
    return [rt.spawn(_request(rt, node, p, c, begin + at, _working_set_start(c, p) + rng.random() * span))
            for at, c in arrivals]


def _request(rt: Any, node: Any, p: Any, c: int, intended: float, offset: float) -> Generator[Any, Any, None]:
    """Open loop: the request waits for its intended start, then for the node."""
    if intended > rt.now:
        yield rt.sleep(intended - rt.now)
    try:
        yield rt.touch(node, _owner(c))  # swapped-out hot pages come back first
        yield rt.read(node, p.read_kib * 1024, file=SERVICES_FILE, offset=offset)
        yield rt.compute(node, p.service_ms / 1e3)
        if p.log_bytes > 0:
            yield rt.write(node, p.log_bytes, "seq")
        rt.recorder.latency("request", rt.now - intended)
    except NodeDown:
        rt.recorder.count("requests_failed")


def _report_services(rt: Any, nodes: list[Any], before: dict[int, tuple[float, ...]], count: int, span: float) -> None:
    totals = [sum(_io(n)[i] - before[n.id][i] for n in nodes) for i in range(4)]
    rt.recorder.value("service_time", span, "s")
    rt.recorder.value("service_disk_read_bytes", totals[0], "B")
    rt.recorder.value("service_disk_write_bytes", totals[1], "B")
    rt.recorder.value("service_swap_out_bytes", totals[2], "B")
    rt.recorder.value("service_swap_in_bytes", totals[3], "B")


def _io(node: Any) -> tuple[float, ...]:
    s = node.stats
    return (s.disk_read_bytes, s.disk_write_bytes, s.swap_out_bytes, s.swap_in_bytes)


def _owner(c: int) -> str:
    return f"container{c}"


def _working_set_start(c: int, p: Any) -> float:
    total = p.services_mib * MIB
    return (c * p.working_set_mib * MIB) % max(MIB, total - p.working_set_mib * MIB)
