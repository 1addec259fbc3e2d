"""One documented configuration object for a rawpush server.

Every default is what ../shared/DESIGN.md promises users; every one can be
changed from Python (``ServerConfig(...)``) or the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OverflowPolicy(StrEnum):
    """What happens when a subscriber's outgoing queue is full."""

    #: end the subscriber's connection (WebSocket close 1008, SSE stream ended)
    DISCONNECT = "disconnect"
    #: drop the oldest queued events and tell the client there is a gap
    DROP_OLDEST = "drop-oldest"
    #: the publisher waits until the subscriber's queue has room again
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000

    # -- heartbeat -------------------------------------------------------
    #: seconds between WebSocket pings sent by the server
    ws_ping_interval: float = 20.0
    #: seconds to wait for the pong before closing with 1011
    ws_ping_timeout: float = 20.0
    #: seconds between SSE comment lines that keep proxies from timing out
    sse_heartbeat_interval: float = 15.0

    # -- timeouts (slow and idle peers) ----------------------------------
    #: a request head must arrive completely within this time (slowloris)
    header_timeout: float = 10.0
    #: a keep-alive connection with no request in flight is closed after this
    keepalive_timeout: float = 30.0
    #: the WebSocket closing handshake must finish within this time
    close_timeout: float = 5.0
    #: an SSE stream whose socket accepts no bytes for this long is ended
    write_stall_timeout: float = 30.0

    # -- limits -----------------------------------------------------------
    max_connections: int = 10_000
    #: listen(2) backlog: pending connections the kernel queues for accept
    backlog: int = 2048
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    max_frame_size: int = 1024 * 1024
    max_message_size: int = 1024 * 1024
    max_poll_timeout: float = 60.0

    # -- backpressure ----------------------------------------------------
    queue_max_bytes: int = 1024 * 1024
    queue_max_messages: int = 1000
    overflow: OverflowPolicy = OverflowPolicy.DISCONNECT
    #: transport write buffer high/low watermarks (bytes)
    write_high_water: int = 64 * 1024
    write_low_water: int = 16 * 1024

    # -- hub ---------------------------------------------------------------
    history_size: int = 1000
    history_bytes: int = 1024 * 1024

    # -- security ----------------------------------------------------------
    #: when set, POST /publish needs ``Authorization: Bearer <token>``
    publish_token: str | None = None
    #: when set, WebSocket upgrades from other origins get 403 and CORS
    #: headers are sent only to these origins; None allows any origin
    allowed_origins: tuple[str, ...] | None = None
    certfile: str | None = None
    keyfile: str | None = None

    # -- WebSocket -----------------------------------------------------------
    #: "deflate" to accept permessage-deflate (RFC 7692) offers on every
    #: WebSocket route; None (the default) never compresses
    compression: str | None = None
    #: mount a channel-less WebSocket echo at ``/echo`` (conformance runs)
    ws_echo: bool = False

    # -- drain ---------------------------------------------------------------
    #: retry hint (ms) sent to SSE clients when the server shuts down
    drain_retry_ms: int = 1000
    #: how long close() waits for connections to finish before aborting them
    drain_timeout: float = 5.0
