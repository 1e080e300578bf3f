"""Traffic statistics of one level of the simulation (server, vhost, app or stream)."""

from __future__ import annotations

import attrs

from omeapi._engine.values import Metrics

__all__ = ["Counter"]


@attrs.define
class Counter:
    """Statistics of one level (server, vhost, app or stream)."""

    created: float
    owner: object = None
    bytes_in: int = 0
    bytes_out: int = 0
    rate_in: int = 0
    rate_out: int = 0
    max_in: int = 0
    max_out: int = 0
    last_recv: float = 0.0
    last_sent: float = 0.0
    connections: dict[str, int] = attrs.field(factory=dict)
    max_connections: int = 0
    max_connections_time: float = 0.0

    def reset_rates(self) -> None:
        self.rate_in = self.rate_out = 0
        self.connections = {}

    def add(self, bytes_in: int, bytes_out: int, rate_in: int, rate_out: int) -> None:
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        self.rate_in += rate_in
        self.rate_out += rate_out

    def connect(self, kind: str, count: int) -> None:
        if count:
            self.connections[kind] = self.connections.get(kind, 0) + count

    def settle(self, now: float) -> None:
        self.max_in = max(self.max_in, self.rate_in)
        self.max_out = max(self.max_out, self.rate_out)
        if self.rate_in:
            self.last_recv = now
        if self.rate_out:
            self.last_sent = now
        total = sum(self.connections.values())
        if total > self.max_connections:
            self.max_connections, self.max_connections_time = total, now

    def metrics(self, now: float) -> Metrics:
        age = max(now - self.created, 1e-3)
        return Metrics(
            created=self.created,
            last_updated=now,
            last_recv=self.last_recv or self.created,
            last_sent=self.last_sent or self.created,
            total_bytes_in=self.bytes_in,
            total_bytes_out=self.bytes_out,
            avg_throughput_in=int(self.bytes_in * 8 / age),
            avg_throughput_out=int(self.bytes_out * 8 / age),
            max_throughput_in=self.max_in,
            max_throughput_out=self.max_out,
            last_throughput_in=self.rate_in,
            last_throughput_out=self.rate_out,
            connections=dict(self.connections),
            max_total_connections=self.max_connections,
            max_total_connection_time=self.max_connections_time or self.created,
        )
