"""Control-plane RPCs between GFS processes, on the runtime's message model.

A call pays the one-way latency plus serialisation each way (as ``rt.send`` does) and
runs the handler as a process on the callee's node, so it dies if that node crashes.
When the callee is down or cut off, or dies mid-call, or the reply cannot come back,
the caller learns it only by waiting out its timeout, as a real client would. Bulk data
never goes through here: it moves as flows (``rt.transfer``).
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Optional

from harness.api import CorruptBlock, MissingBlock, NodeDown, Unreachable
from plugins.storage.gfs.costs import RPC_BYTES


class RpcFailed(Exception):
    """No reply within the timeout (callee down, partitioned, or crashed mid-call)."""


FAULTS = (NodeDown, Unreachable, RpcFailed, MissingBlock, CorruptBlock)


class Rpc:
    def __init__(self, rt: Any, timeout_s: float) -> None:
        self.rt = rt
        self.timeout_s = timeout_s

    def _delay(self, src: Any, dst: Any, nbytes: float) -> float:
        return self.rt.topology.one_way_latency_s(src, dst) + nbytes / min(src.nic_Bps, dst.nic_Bps)

    def _up(self, src: Any, dst: Any) -> bool:
        return dst.alive and self.rt.reachable(src, dst)

    def call(self, src: Any, dst: Any, handler: Callable[[], Generator[Any, Any, Any]],
             req_bytes: float = RPC_BYTES, reply_bytes: float = RPC_BYTES) -> Generator[Any, Any, Any]:
        """``reply = yield from rpc.call(a, b, lambda: server.handle(...))``."""
        rt = self.rt
        began = rt.now
        rt.recorder.count("rpc_calls", 1, "calls")
        if src.id != dst.id:
            yield rt.sleep(self._delay(src, dst, req_bytes))
        if not self._up(src, dst):
            yield from self._time_out(began)
        reply = yield rt.spawn(_replying(handler()), node=dst)
        if reply is None or not self._up(dst, src):  # died mid-call, or the reply is cut off
            yield from self._time_out(began)
        if src.id != dst.id:
            yield rt.sleep(self._delay(dst, src, reply_bytes))
        return reply[0]

    def _time_out(self, began: float) -> Generator[Any, Any, None]:
        self.rt.recorder.count("rpc_timeouts", 1, "calls")
        yield self.rt.sleep(began + self.timeout_s - self.rt.now)
        raise RpcFailed("no reply")


def _replying(body: Generator[Any, Any, Any]) -> Generator[Any, Any, Optional[tuple[Any]]]:
    """Wrap the handler's value so a crash (which yields None) is told from a None reply.
    A fault the handler met on another node, unhandled, means no reply: the caller times
    out (and the exception cannot escape into a caller that may itself be gone)."""
    try:
        value = yield from body
    except FAULTS:
        return None
    return (value,)
