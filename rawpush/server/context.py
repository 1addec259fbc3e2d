"""What every connection of one server shares: configuration, hub, metrics,
the set of live connections, and whether the server is draining.

A plain object passed to each protocol instance, so that two servers in one
process (tests do this) never share state through module globals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rawpush.hub import Hub
from rawpush.proto.http import HTTPConfig
from rawpush.proto.ws.config import WSConfig
from rawpush.server.config import ServerConfig
from rawpush.server.metrics import Labels, Metrics

if TYPE_CHECKING:
    from rawpush.server.outbox import Outbox
    from rawpush.server.protocol import HTTPProtocol

#: Transports as labelled in /metrics; "http" is a connection between requests.
TRANSPORTS = ("http", "ws", "sse", "poll")


#: One shared label tuple per transport, rather than one per connection.
_LABELS: dict[str, Labels] = {name: (("transport", name),) for name in TRANSPORTS}


def labels(transport: str) -> Labels:
    found = _LABELS.get(transport)
    return found if found is not None else (("transport", transport),)


class Session(Protocol):
    """A long-lived exchange that owns a connection after its request (WS, SSE)."""

    transport_name: str
    outbox: Outbox

    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None: ...
    def connection_lost(self) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def drain(self) -> None: ...


@dataclass(eq=False)
class Context:
    config: ServerConfig
    hub: Hub
    metrics: Metrics
    index_html: bytes
    connections: set[HTTPProtocol] = field(default_factory=set)
    #: connections counted against max_connections (refused ones are not)
    accepted: int = 0
    draining: bool = False
    #: set when draining starts: long polls waiting on the hub answer at once
    drain_event: asyncio.Event = field(default_factory=asyncio.Event)
    #: parser limits, built once and shared by every connection
    http_config: HTTPConfig = field(init=False)
    ws_config: WSConfig = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.http_config = HTTPConfig(
            max_header_bytes=cfg.max_header_bytes, max_body_bytes=cfg.max_body_bytes
        )
        self.ws_config = WSConfig(
            max_frame_size=cfg.max_frame_size, max_message_size=cfg.max_message_size
        )
        self.metrics.add_folder(self.fold_counters)

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
        depth_bytes = dict.fromkeys(("ws", "sse"), 0)
        depth_msgs = dict.fromkeys(("ws", "sse"), 0)
        for session in self.sessions():
            depth_bytes[session.transport_name] += session.outbox.queued_bytes
            depth_msgs[session.transport_name] += len(session.outbox)
        for name in depth_bytes:
            yield "rawpush_queue_bytes", labels(name), depth_bytes[name]
            yield "rawpush_queue_messages", labels(name), depth_msgs[name]
        yield "rawpush_channels", (), len(self.hub.stats().channels)
        for name, value in self.hub.backplane.counters().items():
            yield f"rawpush_backplane_{name}_total", (), value
