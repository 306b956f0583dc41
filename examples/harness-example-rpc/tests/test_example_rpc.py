"""The example plugin passes the harness's conformance suite, like every plugin must."""

from harness.testing import PluginConformance


class TestRpcPool(PluginConformance):
    system = "rpc_pool"
    workload = "poisson_requests"
    overrides = ["workload.requests=200", "cluster=small_rack"]
