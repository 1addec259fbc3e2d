"""What every connection of one server shares: configuration, hub, metrics,
the set of live connections, and whether the server is draining.

A plain object passed to each host, so that two servers in one process
(tests do this) never share state through module globals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from rawpush.auth import (
    Authenticator,
    ConcurrencyLimiter,
    KeyedLimiter,
    MemoryTicketStore,
    TicketStore,
)
from rawpush.hub import Hub
from rawpush.server import security
from rawpush.server.config import ServerConfig
from rawpush.server.host import Carrier, Session
from rawpush.server.metrics import Labels, Metrics, labels

__all__ = ["Context", "labels"]


@dataclass(eq=False)
class Context:
    config: ServerConfig
    hub: Hub
    metrics: Metrics
    index_html: bytes
    #: ``rawpush echo``: every request is the WebSocket echo, no hub routes
    echo_only: bool = False
    #: transport labels whose sessions keep subscriber queues (gauges)
    queued: tuple[str, ...] = ("ws", "sse")
    connections: set[Carrier] = field(default_factory=set)
    #: connections counted against max_connections (refused ones are not)
    accepted: int = 0
    draining: bool = False
    #: set when draining starts: long polls waiting on the hub answer at once
    drain_event: asyncio.Event = field(default_factory=asyncio.Event)
    #: where single-use tickets live (in memory, or Redis for a cluster)
    tickets: TicketStore | None = None
    #: who may subscribe and publish (``rawpush.server.security``)
    auth: Authenticator = field(init=False)
    #: open connections per client address, when limited
    per_address: ConcurrencyLimiter[str] | None = field(init=False)
    #: POST publishes per client address and per token, when limited
    publish_limiter: KeyedLimiter[str] | None = field(init=False)
    #: new channels per client address and per token, when limited
    channel_limiter: KeyedLimiter[str] | None = field(init=False)

    def __post_init__(self) -> None:
        # The parser limits are config.http and config.ws themselves: one
        # frozen object each, shared by every connection of the server.
        self.metrics.add_folder(self.fold_counters)
        cfg = self.config
        if self.tickets is None:
            self.tickets = MemoryTicketStore()
        self.auth = security.authenticator(cfg, self.tickets)
        limit = cfg.max_connections_per_address
        self.per_address = ConcurrencyLimiter(limit) if limit is not None else None
        rate = cfg.publish_rate
        self.publish_limiter = (
            KeyedLimiter(rate, cfg.publish_burst) if rate is not None else None
        )
        per_minute = cfg.new_channels_per_minute
        self.channel_limiter = (
            KeyedLimiter(per_minute / 60.0, per_minute) if per_minute is not None else None
        )

    def fold_counters(self) -> None:
        """Add what each open connection counted since the last fold (bytes
        and messages, kept as plain ints on the hot path) to the metrics."""
        for conn in self.connections:
            conn.fold_counters()

    def sessions(self) -> Iterable[Session]:
        for conn in self.connections:
            if conn.session is not None:
                yield conn.session

    def collect(self) -> Iterable[tuple[str, Labels, float]]:
        """Gauges sampled when /metrics is rendered (cheaper than keeping
        them current on every write)."""
        depth_bytes = dict.fromkeys(self.queued, 0)
        depth_msgs = dict.fromkeys(self.queued, 0)
        for session in self.sessions():
            outbox = session.outbox
            if outbox is not None and session.transport_name in depth_bytes:
                depth_bytes[session.transport_name] += outbox.queued_bytes
                depth_msgs[session.transport_name] += len(outbox)
        for name in depth_bytes:
            yield "rawpush_queue_bytes", labels(name), depth_bytes[name]
            yield "rawpush_queue_messages", labels(name), depth_msgs[name]
        yield "rawpush_channels", (), len(self.hub.stats().channels)
        for name, value in self.hub.backplane.counters().items():
            yield f"rawpush_backplane_{name}_total", (), value
