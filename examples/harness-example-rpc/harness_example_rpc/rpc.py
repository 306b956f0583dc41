"""A request/response service: the smallest complete system a plugin can offer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

from harness.api import ConfigIssue, System, Workload, cluster_size


@dataclass
class PoissonParams:
    requests: int = 2000
    rate_per_s: float = 100.0
    mean_service_ms: float = 5.0  # reference-core CPU per request (exponential)
    files: int = 50  # each request reads one file of `file_kib`, Zipf-popular
    file_kib: float = 64.0
    zipf_s: float = 1.1


class PoissonRequests(Workload):
    name = "poisson_requests"
    description = "Open-loop Poisson requests at a target rate; latency from intended start"
    kind = "rpc"
    Params = PoissonParams

    @classmethod
    def check(cls, params: PoissonParams) -> list[ConfigIssue]:
        issues = []
        if params.requests < 1:
            issues.append(ConfigIssue("workload.requests", params.requests, "must be >= 1"))
        if params.rate_per_s <= 0:
            issues.append(ConfigIssue("workload.rate_per_s", params.rate_per_s, "must be > 0"))
        return issues

    def requests(self, rng: Any) -> list[tuple[float, float, int]]:
        """(intended start s, service demand s, file index) for every request."""
        p = self.params
        weights = [1.0 / (rank + 1) ** p.zipf_s for rank in range(p.files)]
        at, out = 0.0, []
        for _ in range(p.requests):
            at += rng.expovariate(p.rate_per_s)
            demand = rng.expovariate(1000.0 / p.mean_service_ms)
            out.append((at, demand, rng.choices(range(p.files), weights)[0]))
        return out


@dataclass
class RpcPoolParams:
    servers: int = 0  # 0: every node but the first (which balances load)
    policy: str = "round_robin"  # round_robin | least_loaded
    request_bytes: int = 512
    reply_bytes: int = 4096


class RpcPool(System):
    name = "rpc_pool"
    description = "A load balancer and a pool of RPC servers (example third-party plugin)"
    Params = RpcPoolParams
    serves = ("rpc",)

    @classmethod
    def check(cls, params: RpcPoolParams, config: Any) -> list[ConfigIssue]:
        nodes = cluster_size(config)
        if params.policy not in ("round_robin", "least_loaded"):
            return [ConfigIssue("system.policy", params.policy, "allowed: round_robin, least_loaded")]
        if nodes < 2 or params.servers > nodes - 1:
            return [ConfigIssue("system.servers", params.servers, f"must be <= {nodes - 1} (nodes - 1) on this cluster")]
        return []

    def run(self, workload: Workload) -> Generator[Any, Any, None]:
        rt = self.rt
        balancer, pool = rt.nodes[0], rt.nodes[1 : 1 + (self.params.servers or len(rt.nodes) - 1)]
        for server in pool:
            for f in range(workload.params.files):
                rt.place(server, f"file-{f}", workload.params.file_kib * 1024)
        self.file_bytes = workload.params.file_kib * 1024
        self.outstanding = {s.id: 0 for s in pool}
        self.turn = 0
        done = []
        for at, demand, f in workload.requests(rt.rng("requests")):
            if at > rt.now:
                yield rt.sleep(at - rt.now)
            done.append(rt.spawn(self._serve(balancer, self._pick(pool), at, demand, f)))
        yield rt.all_of(done)
        rt.recorder.work_done(len(done), "requests")

    def _pick(self, pool: list[Any]) -> Any:
        if self.params.policy == "least_loaded":
            return min(pool, key=lambda s: (self.outstanding[s.id], s.id))
        self.turn += 1
        return pool[self.turn % len(pool)]

    def _serve(self, balancer: Any, server: Any, intended: float, demand: float, f: int) -> Generator[Any, Any, None]:
        rt = self.rt
        self.outstanding[server.id] += 1
        try:
            yield rt.transfer(balancer, server, self.params.request_bytes)
            yield rt.read(server, self.file_bytes, file=f"file-{f}")
            yield rt.compute(server, demand)
            yield rt.transfer(server, balancer, self.params.reply_bytes)
            rt.recorder.latency("request", rt.now - intended)
        except Exception:
            rt.recorder.count("requests_failed")
        finally:
            self.outstanding[server.id] -= 1

