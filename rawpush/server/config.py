"""One documented, validated configuration object for a rawpush server.

``ServerConfig`` is composed of the configurations of the layers it runs,
each the single home of its limits, plus the server's own knobs::

    ServerConfig(
        port=8080,
        ws=WSConfig(max_frame_size=..., max_message_size=...),   # WebSocket core
        http=HTTPConfig(max_header_bytes=..., max_body_bytes=...),  # HTTP parser
        hub=HubConfig(history_size=..., history_bytes=...),      # the hub
        overflow="drop-oldest",
    )

The largest message a user can send crosses several of those limits (a
publish body, a WebSocket frame and message, a subscriber's queue, the
resume history); ``with_max_message_size(n)`` moves them together, and
``rawpush serve --max-message-size N`` is that method.

Every field is checked when the object is made: a bad value raises
``ConfigError`` (a ``ValueError``) naming the field, never a failure later
inside a connection.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn, Self

from rawpush.auth import AuthConfig, AuthConfigError, JWTVerifier
from rawpush.hub.config import HubConfig
from rawpush.proto.http import HTTPConfig
from rawpush.proto.ws.config import WSConfig

__all__ = [
    "ENCODED_EVENT_MARGIN",
    "TRANSPORTS",
    "ConfigError",
    "OverflowPolicy",
    "ServerConfig",
    "max_encoded_size",
]


class ConfigError(ValueError):
    """A ``ServerConfig`` field is out of range or of the wrong type."""


class OverflowPolicy(StrEnum):
    """What happens when a subscriber's outgoing queue is full."""

    #: end the subscriber's connection (WebSocket close 1008, SSE stream ended)
    DISCONNECT = "disconnect"
    #: drop the oldest queued events and tell the client there is a gap
    DROP_OLDEST = "drop-oldest"
    #: the publisher waits until the subscriber's queue has room again
    BLOCK = "block"


#: Bytes an event's framing adds around its data, at most, with room to
#: spare: the id (at most 41 characters), the event name (at most 128),
#: field names, JSON keys and punctuation, the chunk header.
ENCODED_EVENT_MARGIN = 64 * 1024

#: The smallest frame limit the WebSocket core accepts: a control frame
#: may carry 125 bytes (RFC 6455 section 5.5), and must never be refused.
_MIN_FRAME_LIMIT = 125

#: RFC 6750 section 2.1: the only characters a Bearer credential can hold,
#: so a token outside them could never be presented.
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
#: An origin as browsers serialize it (RFC 6454 section 6.1): scheme, host
#: and optional port, no path, no trailing slash; or the opaque "null".
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+|null")


def max_encoded_size(data_bytes: int) -> int:
    """The most bytes one event with ``data_bytes`` of UTF-8 data can take
    in a subscriber's queue, over every transport.

    SSE is the worst case: each line break of the data, one byte, becomes
    ``"\\ndata: "``, seven (WHATWG HTML section 9.2.6 has one ``data:``
    field per line). The JSON of a WebSocket event is at most six bytes per
    byte of data (a control character escaped as ``\\u00XX``).
    """
    return 7 * data_bytes + ENCODED_EVENT_MARGIN


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: the transports ``ServerConfig.transports`` may name, in routing order
TRANSPORTS: tuple[str, ...] = ("ws", "sse", "poll")
#: other spellings of them (the browser client's name for WebSocket)
_TRANSPORT_ALIASES = {"websocket": "ws"}

#: fields whose values an error message must not show
_SECRETS = frozenset({"auth", "publish_token", "metrics_token"})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything a rawpush server can be told (see the module docstring).

    Make a changed copy with ``dataclasses.replace(config, port=0)``; a
    nested limit with ``dataclasses.replace(config, ws=WSConfig(...))``.
    """

    #: address to bind (default "127.0.0.1": this machine only); "0.0.0.0"
    #: or "::" listens on every interface
    host: str = "127.0.0.1"
    #: TCP port to bind, 0-65535 (default 8000); 0 lets the OS pick one
    #: (then read ``Server.port``)
    port: int = 8000

    # -- the layers' own configurations ------------------------------------
    #: WebSocket limits, in bytes, of every WebSocket route (defaults:
    #: ``max_frame_size`` and ``max_message_size`` 1 MiB, else close 1009)
    ws: WSConfig = field(default_factory=WSConfig)
    #: HTTP parser limits (defaults: ``max_header_bytes`` 16 KiB, else 431;
    #: ``max_body_bytes`` 1 MiB, the largest publish, else 413)
    http: HTTPConfig = field(default_factory=HTTPConfig)
    #: hub history and channel limits (defaults: ``history_size`` 1000 events
    #: and ``history_bytes`` 1 MiB per channel, ``max_channels`` 10000); the
    #: server makes its hub from it unless a hub is passed to ``Server``
    hub: HubConfig = field(default_factory=HubConfig)

    # -- heartbeat -------------------------------------------------------
    #: seconds between WebSocket pings sent by the server (default 20)
    ws_ping_interval: float = 20.0
    #: seconds to wait for the pong before closing with 1011 (default 20)
    ws_ping_timeout: float = 20.0
    #: seconds between SSE comment lines that keep proxies from timing out
    #: (default 15)
    sse_heartbeat_interval: float = 15.0

    # -- timeouts (slow and idle peers) ----------------------------------
    #: seconds for a request head to arrive completely, else 408 (slowloris;
    #: default 10)
    header_timeout: float = 10.0
    #: seconds a keep-alive connection with no request in flight stays open
    #: (default 30)
    keepalive_timeout: float = 30.0
    #: seconds the WebSocket closing handshake may take (default 5)
    close_timeout: float = 5.0
    #: seconds an SSE stream whose socket accepts no bytes is kept (default 30)
    write_stall_timeout: float = 30.0
    #: the longest wait, in seconds, a long poll may ask for (default 60)
    max_poll_timeout: float = 60.0
    #: channels one multi-channel connection (``/sse?channel=..``, ``/ws``,
    #: ``/poll?channel=..``) may hold (default 32); more is 400, or an error
    #: reply on ``/ws``
    max_channels_per_connection: int = 32

    # -- connections -------------------------------------------------------
    #: open connections at most; one more gets 503 (default 10000)
    max_connections: int = 10_000
    #: listen(2) backlog: pending connections the kernel queues for accept
    #: (default 2048; asyncio's 100 drops reconnect storms)
    backlog: int = 2048

    # -- backpressure ----------------------------------------------------
    #: bytes of encoded events one subscriber may have queued while its
    #: socket is slow (default 8 MiB); then ``overflow`` decides. The
    #: default holds one event of the largest default message in its
    #: worst encoding (``max_encoded_size(1 MiB)``, about 7.1 MiB), so the
    #: defaults fit together; queued events are shared with every other
    #: subscriber, so this bounds what one reader may hold back, not a
    #: copy per reader
    queue_max_bytes: int = 8 * 1024 * 1024
    #: events one subscriber may have queued (default 1000)
    queue_max_messages: int = 1000
    #: what a full subscriber queue does (default ``disconnect``); the
    #: string spelling ("drop-oldest") is accepted too
    overflow: OverflowPolicy = OverflowPolicy.DISCONNECT
    #: bytes in a transport's write buffer at which the server stops
    #: writing to it and queues instead (default 64 KiB)
    write_high_water: int = 64 * 1024
    #: the kernel send buffer of a subscriber's socket (SO_SNDBUF, bytes;
    #: Linux doubles it for its own bookkeeping); what does not fit waits in
    #: the bounded outbox instead. Default 128 KiB; None keeps the system's
    #: autotuning (up to 4 MiB per socket, pinned by a reader that stops)
    subscriber_sndbuf: int | None = 128 * 1024
    #: bytes the write buffer must fall to before queued events flow again
    #: (default 16 KiB; at most ``write_high_water``)
    write_low_water: int = 16 * 1024

    # -- security ----------------------------------------------------------
    #: when set, POST /publish needs ``Authorization: Bearer <token>``
    #: (default None: anyone may publish)
    publish_token: str | None = None
    #: when set, WebSocket upgrades from other origins get 403 and CORS
    #: headers are sent only to these origins, e.g. ``("https://app.example",)``;
    #: None (the default) allows any origin
    allowed_origins: tuple[str, ...] | None = None
    #: who may subscribe and publish (``rawpush.auth.AuthConfig``: JWTs,
    #: static tokens, the anonymous rights, cookie, tickets, a hook);
    #: default None: built from ``publish_token`` alone, and without one
    #: the hub is open to anyone who can reach it
    auth: AuthConfig | None = None
    #: False refuses publishing over WebSocket outright (close 1008), even
    #: for a client with the publish right (default True)
    ws_publish: bool = True
    #: messages per second one WebSocket connection may publish (default
    #: 1000; None: unlimited); over it the connection is closed with 1008
    ws_publish_rate: float | None = 1000.0
    #: WebSocket messages one connection may publish at once, above its rate
    #: (default 1000)
    ws_publish_burst: int = 1000
    #: POST publishes per second per client address (and per token), with
    #: ``publish_burst`` at once; over it: 429 with Retry-After (default
    #: None: unlimited, as a backend usually publishes from one address)
    publish_rate: float | None = None
    #: POST publishes one address (or token) may make at once, above its
    #: rate (default 100)
    publish_burst: int = 100
    #: new channels (channels with no event yet) one client address, and one
    #: token, may create by POST per minute, in bursts of as many; over it:
    #: 429 with Retry-After (default None: unlimited; the hub's channel cap
    #: and idle expiry still apply)
    new_channels_per_minute: int | None = None
    #: connections one client address may hold open (default None:
    #: unlimited; load balancers and load tests come from one address)
    max_connections_per_address: int | None = None
    #: when set, ``GET /metrics`` needs ``Authorization: Bearer <token>``
    #: (default None: anyone may read the metrics)
    metrics_token: str | None = None
    #: PEM certificate chain: serve https:// and wss:// (default None)
    certfile: str | None = None
    #: PEM private key, when not inside ``certfile`` (default None)
    keyfile: str | None = None
    #: seconds a TLS client has to finish its handshake, counted against
    #: ``max_connections`` all along; then it is closed (default 10)
    tls_handshake_timeout: float = 10.0

    # -- transports ----------------------------------------------------------
    #: the transports served, comma-separated (default ws,sse,poll): "ws"
    #: (/ws and /ws/{channel}; "websocket" is the same), "sse" (/sse...),
    #: "poll" (/poll...); the routes of one left out answer 404, a refused
    #: WebSocket upgrade included, so clients fall back to the others
    transports: tuple[str, ...] = TRANSPORTS

    # -- WebSocket -----------------------------------------------------------
    #: "deflate" to accept permessage-deflate (RFC 7692) offers on every
    #: WebSocket route; None (the default) never compresses
    compression: str | None = None
    #: mount a channel-less WebSocket echo at ``/echo`` (conformance runs;
    #: default False)
    ws_echo: bool = False

    # -- HTTP/2 --------------------------------------------------------------
    #: serve HTTP/2: ALPN "h2" over TLS, prior knowledge in cleartext (RFC
    #: 9113 section 3); False speaks HTTP/1.1 only (default True)
    http2: bool = True
    #: SETTINGS_MAX_CONCURRENT_STREAMS: streams one HTTP/2 connection may
    #: have open at once (default 100; RFC 9113 section 6.5.2)
    h2_max_concurrent_streams: int = 100

    # -- drain ---------------------------------------------------------------
    #: retry hint, in milliseconds, sent to SSE clients when the server shuts
    #: down (default 1000)
    drain_retry_ms: int = 1000
    #: seconds close() waits for connections to finish before aborting them
    #: (default 5)
    drain_timeout: float = 5.0

    # -- write coalescing ------------------------------------------------------
    #: seconds an SSE stream served by ``rawpush.asgi`` holds its first
    #: pending event for more to join it, all sent as one ASGI body message
    #: (fewer messages for the ASGI server to frame and send, at up to this
    #: much added latency; half of ``write_high_water`` pending sends at
    #: once). 0-1; default 0: every event is sent as soon as it is queued
    write_coalesce_window: float = 0.0

    def __post_init__(self) -> None:
        self._check_layers()
        self._check_address()
        self._check_times()
        self._check_counts()
        self._check_security()
        self._check_transports()
        if self.compression not in (None, "deflate"):
            self._fail("compression", "must be None or 'deflate'")
        if not isinstance(self.ws_echo, bool):
            self._fail("ws_echo", "must be True or False")
        if not isinstance(self.http2, bool):
            self._fail("http2", "must be True or False")
        streams = self.h2_max_concurrent_streams
        if not _is_int(streams) or not 1 <= streams < 1 << 31:
            self._fail("h2_max_concurrent_streams", "must be an int from 1 to 2**31 - 1")

    # -- the largest message -------------------------------------------------

    def with_max_message_size(self, n: int) -> Self:
        """A copy in which a message of ``n`` bytes gets through everywhere.

        The per-message limits become ``n``: ``http.max_body_bytes`` (a
        publish over POST), ``ws.max_message_size`` and ``ws.max_frame_size``
        (a publish over WebSocket, sent as one frame, as clients do; the
        frame limit never goes below 125 bytes, RFC 6455 section 5.5). The
        bounds that hold several messages grow, if needed, to hold one:
        ``queue_max_bytes`` to ``max_encoded_size(n)`` (a paused subscriber
        otherwise overflows on a single event) and ``hub.history_bytes`` to
        ``n`` (a bigger event is not kept for resume). Nothing else changes;
        set a limit after this call to choose it apart.
        """
        if not _is_int(n) or n < 1:
            raise ConfigError(f"max message size must be an int >= 1, not {n!r}")
        return dataclasses.replace(
            self,
            ws=dataclasses.replace(
                self.ws, max_frame_size=max(n, _MIN_FRAME_LIMIT), max_message_size=n
            ),
            http=dataclasses.replace(self.http, max_body_bytes=n),
            hub=dataclasses.replace(self.hub, history_bytes=max(self.hub.history_bytes, n)),
            queue_max_bytes=max(self.queue_max_bytes, max_encoded_size(n)),
        )

    # -- validation ------------------------------------------------------------

    def _fail(self, name: str, why: str) -> NoReturn:
        if name in _SECRETS:
            # Never echo a secret: error messages end up in logs.
            raise ConfigError(f"ServerConfig.{name} {why}")
        value = getattr(self, name)
        raise ConfigError(f"ServerConfig.{name} {why}, not {value!r}")

    def _set(self, name: str, value: Any) -> None:
        # Frozen: normalizing a field in __post_init__ goes around __setattr__.
        object.__setattr__(self, name, value)

    def _check_layers(self) -> None:
        for name, kind in (("ws", WSConfig), ("http", HTTPConfig), ("hub", HubConfig)):
            if not isinstance(getattr(self, name), kind):
                self._fail(name, f"must be a {kind.__name__}")

    def _check_address(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            self._fail("host", "must be a non-empty string")
        if not _is_int(self.port) or not 0 <= self.port <= 65535:
            self._fail("port", "must be an int in 0-65535")

    def _check_times(self) -> None:
        for name in (
            "ws_ping_interval",
            "ws_ping_timeout",
            "sse_heartbeat_interval",
            "header_timeout",
            "keepalive_timeout",
            "close_timeout",
            "write_stall_timeout",
            "max_poll_timeout",
            "drain_timeout",
            "tls_handshake_timeout",
        ):
            value = getattr(self, name)
            # "> 0" is also False for NaN.
            if not _is_number(value) or not value > 0:
                self._fail(name, "must be a positive number of seconds")
        if not _is_int(self.drain_retry_ms) or self.drain_retry_ms < 0:
            self._fail("drain_retry_ms", "must be an int >= 0 (milliseconds)")
        window = self.write_coalesce_window
        # "0 <= x <= 1" is also False for NaN. Past a second a wait is a
        # stall the reader sees, not a batch.
        if not _is_number(window) or not 0 <= window <= 1:
            self._fail("write_coalesce_window", "must be a number of seconds from 0 to 1")

    def _check_counts(self) -> None:
        for name in (
            "max_connections",
            "backlog",
            "queue_max_bytes",
            "queue_max_messages",
            "write_high_water",
            "max_channels_per_connection",
        ):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                self._fail(name, "must be an int >= 1")
        if not _is_int(self.write_low_water) or self.write_low_water < 0:
            self._fail("write_low_water", "must be an int >= 0")
        if self.write_low_water > self.write_high_water:
            # asyncio refuses high < low (set_write_buffer_limits), per connection.
            self._fail("write_low_water", f"must be <= write_high_water ({self.write_high_water})")
        if not isinstance(self.overflow, OverflowPolicy):
            try:
                self._set("overflow", OverflowPolicy(self.overflow))
            except ValueError:
                choices = ", ".join(repr(p.value) for p in OverflowPolicy)
                self._fail("overflow", f"must be an OverflowPolicy ({choices})")

    def _check_security(self) -> None:
        token = self.publish_token
        if token is not None and (not isinstance(token, str) or not _B64TOKEN.fullmatch(token)):
            self._fail("publish_token", "must be a Bearer token (RFC 6750 section 2.1 characters)")
        if self.metrics_token is not None and (
            not isinstance(self.metrics_token, str) or not _B64TOKEN.fullmatch(self.metrics_token)
        ):
            self._fail("metrics_token", "must be a Bearer token (RFC 6750 section 2.1 characters)")
        if self.auth is not None and not isinstance(self.auth, AuthConfig):
            self._fail("auth", "must be a rawpush.auth.AuthConfig or None")
        if self.auth is not None and self.auth.jwt is not None:
            try:  # a weak secret or an unusable key is refused now, not per request
                JWTVerifier(self.auth.jwt)
            except AuthConfigError as exc:
                self._fail("auth", f"jwt: {exc}")
        for name in ("ws_publish",):
            if not isinstance(getattr(self, name), bool):
                self._fail(name, "must be True or False")
        for name in ("ws_publish_rate", "publish_rate"):
            rate = getattr(self, name)
            if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
                self._fail(name, "must be a number of messages per second > 0")
        for name in ("ws_publish_burst", "publish_burst"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                self._fail(name, "must be an int >= 1")
        sndbuf = self.subscriber_sndbuf
        if sndbuf is not None and (not _is_int(sndbuf) or sndbuf < 4096):
            self._fail("subscriber_sndbuf", "must be an int >= 4096 (bytes) or None")
        per_minute = self.new_channels_per_minute
        if per_minute is not None and (not _is_int(per_minute) or per_minute < 1):
            self._fail("new_channels_per_minute", "must be an int >= 1 or None")
        limit = self.max_connections_per_address
        if limit is not None and (not _is_int(limit) or limit < 1):
            self._fail("max_connections_per_address", "must be an int >= 1 or None")
        self._check_origins()
        for name in ("certfile", "keyfile"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
                self._set(name, value)
            if value is not None and (not isinstance(value, str) or not value):
                self._fail(name, "must be a file path or None")
        if self.keyfile is not None and self.certfile is None:
            self._fail("keyfile", "is given without certfile")

    def _check_transports(self) -> None:
        given = self.transports
        if isinstance(given, str):
            given = (given,)
        if not isinstance(given, tuple | list | set | frozenset):
            self._fail("transports", "must be a tuple of transport names")
        names: set[str] = set()
        for item in given:
            if not isinstance(item, str):
                self._fail("transports", "must be a tuple of transport names")
            # One flag value may list several ("--transports sse,poll").
            for word in item.split(","):
                name = word.strip().lower()
                name = _TRANSPORT_ALIASES.get(name, name)
                if name not in TRANSPORTS:
                    choices = ", ".join(TRANSPORTS)
                    raise ConfigError(
                        f"ServerConfig.transports names {word.strip()!r}, not a transport"
                        f" (one of {choices})"
                    )
                names.add(name)
        if not names:
            self._fail("transports", "must name at least one transport")
        self._set("transports", tuple(t for t in TRANSPORTS if t in names))

    def _check_origins(self) -> None:
        origins = self.allowed_origins
        if origins is None:
            return
        if not isinstance(origins, tuple | list):
            self._fail("allowed_origins", "must be a tuple of origin strings or None")
        for origin in origins:
            if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"ServerConfig.allowed_origins: {origin!r} is not an origin"
                    " (scheme://host[:port], no path, RFC 6454 section 6.1)"
                )
        self._set("allowed_origins", tuple(origins))
