"""The core plugin: the ``sim`` backend, cost and energy, and checks of the core groups.

Registered through the ``harness`` entry-point group like any third-party plugin, so
each of these answers can be overridden or extended by another plugin.
"""

from __future__ import annotations

from typing import Any, Iterator

from omegaconf import DictConfig

from harness.api import Backend, ConfigIssue, Metric, RunOutcome, hookimpl

HOURS_PER_YEAR = 8766.0  # 365.25 days
JOULES_PER_KWH = 3.6e6
DISK_KINDS = ("sd", "ssd", "hdd")
FAULT_KINDS = ("crash", "recover", "partition", "heal", "slow", "corrupt")
SLOW_RESOURCES = ("cpu", "disk")
TARGET_KINDS = ("random", "node", "group", "rack", "site")


@hookimpl(trylast=True)
def harness_make_backend(name: str) -> Backend | None:
    if name == "sim":
        from harness.sim.backend import SimBackend

        return SimBackend()
    return None


@hookimpl
def harness_run_metrics(config: DictConfig, outcome: RunOutcome) -> list[Metric]:
    """Cost = node-hours x hourly rate (+ energy x electricity price), energy from watts."""
    seconds = outcome.makespan_s
    cost: dict[str, float] = {}
    energy: dict[str, float] = {}
    for node in outcome.nodes:
        joules = node_energy_j(node.profile, node.cores, node.cpu_busy_core_s, seconds - node.down_s)
        usd = node_hourly_usd(node.profile) * seconds / 3600.0
        usd += joules / JOULES_PER_KWH * float(node.profile.price.electricity_usd_per_kwh)
        cost[node.profile_name] = cost.get(node.profile_name, 0.0) + usd
        energy[node.profile_name] = energy.get(node.profile_name, 0.0) + joules
    metrics = [Metric("cost", sum(cost.values()), "USD"), Metric("energy", sum(energy.values()), "J")]
    for kind in sorted(cost):
        metrics += [Metric(f"cost[{kind}]", cost[kind], "USD"), Metric(f"energy[{kind}]", energy[kind], "J")]
    return metrics


def node_hourly_usd(profile: Any) -> float:
    price = profile.price
    amortised = price.purchase_usd / (price.lifetime_years * HOURS_PER_YEAR) if price.purchase_usd else 0.0
    return float(price.hourly_usd) + amortised


def node_energy_j(profile: Any, cores: int, busy_core_s: float, up_s: float) -> float:
    """Linear power model: idle watts while up, plus (busy - idle) times CPU utilisation."""
    if up_s <= 0:
        return 0.0
    utilisation = min(1.0, busy_core_s / (cores * up_s))
    power = profile.power
    return float(power.idle_w * up_s + (power.busy_w - power.idle_w) * utilisation * up_s)


@hookimpl
def harness_validate(config: DictConfig) -> list[ConfigIssue]:
    issues = list(_hardware_issues("hardware", config.hardware))
    for name, profile in config.cluster.profiles.items():
        issues += _hardware_issues(f"cluster.profiles.{name}", profile)
    issues += _cluster_issues(config.cluster)
    issues += _fault_issues(config)
    yield_ = _at_least("backend.network_quantum_s", config.backend.network_quantum_s, 0)
    issues += list(yield_)
    if config.backend.timeout_s <= 0:
        issues.append(ConfigIssue("backend.timeout_s", config.backend.timeout_s, "must be > 0 seconds"))
    return issues


def _hardware_issues(prefix: str, hw: DictConfig) -> Iterator[ConfigIssue]:
    yield from _at_least(f"{prefix}.cpu.cores", hw.cpu.cores, 1)
    yield from _positive(f"{prefix}.cpu.speed", hw.cpu.speed)
    yield from _positive(f"{prefix}.memory.ram_mib", hw.memory.ram_mib)
    for key in ("os_reserved_mib", "swap_mib"):
        yield from _at_least(f"{prefix}.memory.{key}", hw.memory[key], 0)
    if not 0 <= hw.memory.swappiness <= 200:
        yield ConfigIssue(f"{prefix}.memory.swappiness", hw.memory.swappiness, "must be between 0 and 200")
    yield from _dirty_issues(f"{prefix}.memory", hw.memory)
    if hw.disk.kind not in DISK_KINDS:
        yield ConfigIssue(f"{prefix}.disk.kind", hw.disk.kind, f"allowed: {', '.join(DISK_KINDS)}")
    yield from _at_least(f"{prefix}.disk.count", hw.disk.count, 1)
    for key in ("seq_read_mbps", "seq_write_mbps", "rand_read_iops", "rand_write_iops", "fs_block_kib", "erase_block_mib"):
        yield from _positive(f"{prefix}.disk.{key}", hw.disk[key])
    yield from _positive(f"{prefix}.nic.bandwidth_mbit", hw.nic.bandwidth_mbit)
    for key in ("idle_w", "busy_w"):
        yield from _at_least(f"{prefix}.power.{key}", hw.power[key], 0)
    for key in ("hourly_usd", "purchase_usd", "electricity_usd_per_kwh"):
        yield from _at_least(f"{prefix}.price.{key}", hw.price[key], 0)
    yield from _positive(f"{prefix}.price.lifetime_years", hw.price.lifetime_years)


def _dirty_issues(prefix: str, memory: DictConfig) -> Iterator[ConfigIssue]:
    if not 0 <= memory.dirty_ratio <= 100:
        yield ConfigIssue(f"{prefix}.dirty_ratio", memory.dirty_ratio, "must be a percentage, 0 to 100")
    elif memory.dirty_ratio > 0 and not 0 <= memory.dirty_background_ratio < memory.dirty_ratio:
        yield ConfigIssue(f"{prefix}.dirty_background_ratio", memory.dirty_background_ratio,
                          f"must be >= 0 and below dirty_ratio ({memory.dirty_ratio})")
    yield from _at_least(f"{prefix}.dirty_expire_s", memory.dirty_expire_s, 0)


def _cluster_issues(cluster: DictConfig) -> Iterator[ConfigIssue]:
    if not cluster.groups:
        yield ConfigIssue("cluster.groups", [], "needs at least one node group")
    sites = set()
    for i, group in enumerate(cluster.groups):
        yield from _at_least(f"cluster.groups.{i}.count", group.count, 1)
        yield from _at_least(f"cluster.groups.{i}.racks", group.racks, 1)
        if group.profile != "default" and group.profile not in cluster.profiles:
            allowed = ", ".join(["default", *sorted(cluster.profiles)])
            yield ConfigIssue(f"cluster.groups.{i}.profile", group.profile, f"allowed: {allowed}")
        sites.add(group.site)
    yield from _positive("cluster.rack_uplink_gbit", cluster.rack_uplink_gbit)
    for key in ("intra_rack", "inter_rack"):
        yield from _at_least(f"cluster.latency_ms.{key}", cluster.latency_ms[key], 0)
    linked = set()
    for i, link in enumerate(cluster.wan):
        yield from _positive(f"cluster.wan.{i}.bandwidth_mbit", link.bandwidth_mbit)
        yield from _at_least(f"cluster.wan.{i}.latency_ms", link.latency_ms, 0)
        for end in ("a", "b"):
            if link[end] not in sites:
                yield ConfigIssue(f"cluster.wan.{i}.{end}", link[end], f"allowed: {', '.join(sorted(sites))}")
        linked.add(frozenset((link.a, link.b)))
    for a in sorted(sites):
        for b in sorted(sites):
            if a < b and frozenset((a, b)) not in linked:
                yield ConfigIssue("cluster.wan", f"{a}<->{b}", "every pair of sites needs a WAN link")


def _fault_issues(config: DictConfig) -> Iterator[ConfigIssue]:
    faults = config.faults
    yield from _at_least("faults.crash_rate_per_node_hour", faults.crash_rate_per_node_hour, 0)
    for i, event in enumerate(faults.events):
        key = f"faults.events.{i}"
        if event.kind not in FAULT_KINDS:
            yield ConfigIssue(f"{key}.kind", event.kind, f"allowed: {', '.join(FAULT_KINDS)}")
        yield from _at_least(f"{key}.at_s", event.at_s, 0)
        kind = str(event.target).partition(":")[0]
        if kind not in TARGET_KINDS:
            yield ConfigIssue(f"{key}.target", event.target, "allowed: random, node:<id>, group:<g>, rack:<r>, site:<s>")
        if event.exclude is not None and str(event.exclude).partition(":")[0] not in TARGET_KINDS[1:]:
            yield ConfigIssue(f"{key}.exclude", event.exclude, "allowed: node:<id>, group:<g>, rack:<r>, site:<s>")
        if event.kind == "slow" and event.factor < 1:
            yield ConfigIssue(f"{key}.factor", event.factor, "a slow node's factor must be >= 1")
        if not event.resources or not set(event.resources) <= set(SLOW_RESOURCES):
            yield ConfigIssue(f"{key}.resources", list(event.resources), f"allowed: a non-empty list of {', '.join(SLOW_RESOURCES)}")
        if not 0 <= event.fraction <= 1:
            yield ConfigIssue(f"{key}.fraction", event.fraction, "must be between 0 and 1")


def _positive(key: str, value: float) -> Iterator[ConfigIssue]:
    if not value > 0:
        yield ConfigIssue(key, value, "must be > 0")


def _at_least(key: str, value: float, low: float) -> Iterator[ConfigIssue]:
    if not value >= low:
        yield ConfigIssue(key, value, f"must be >= {low:g}")
