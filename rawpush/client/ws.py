"""The asyncio WebSocket client: ``connect(url)``.

::

    async with connect("ws://127.0.0.1:9001/") as ws:
        await ws.send("hello")
        print(await ws.recv())
        await ws.ping()          # waits for the matching pong
        async for message in ws:
            ...

``connect`` is also awaitable (``ws = await connect(url)``; then call
``await ws.close()`` yourself). The connection object is a
``WebSocketClient`` (see ``rawpush.client.ws_protocol``).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from urllib.parse import urlsplit

from rawpush.client.limits import MAX_JSON_EVENT
from rawpush.client.ws_errors import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidURI,
    retry_hint,
)
from rawpush.client.ws_protocol import Message, WebSocketClient
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.deflate import DeflateParams, deflate_offer
from rawpush.proto.ws.handshake_client import ClientHandshake

__all__ = [
    "WSURI",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidURI",
    "Message",
    "WebSocketClient",
    "connect",
    "parse_uri",
    "retry_hint",
]


@dataclass(frozen=True, slots=True)
class WSURI:
    """A parsed ws:// or wss:// URI (section 3)."""

    secure: bool
    host: str
    port: int
    resource: str  # path and query: the request target (section 3)

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port only when it is not the scheme's default
        (RFC 6455 section 4.1)."""
        # Section 4.1 item 4: the port only when it is not the default.
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_uri(url: str) -> WSURI:
    """Split ``url`` into what the handshake needs, or raise ``InvalidURI``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURI(f"{url!r}: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise InvalidURI(f"{url!r} is not a ws:// or wss:// URI")
    if not parts.hostname:
        raise InvalidURI(f"{url!r} has no host")
    if parts.fragment or url.endswith("#"):
        # Section 3: "Fragment identifiers ... MUST NOT be used on these URIs."
        raise InvalidURI(f"{url!r} has a fragment")
    secure = parts.scheme == "wss"
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return WSURI(secure, parts.hostname, port or (443 if secure else 80), resource)


class _Connect:
    """What ``connect()`` returns: awaitable, and an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Sequence[str],
        extra_headers: Sequence[tuple[str, str]],
        origin: str | None,
        ping_interval: float | None,
        ping_timeout: float | None,
        max_frame_size: int,
        max_message_size: int,
        max_queue: int,
        write_limit: int,
        open_timeout: float | None,
        close_timeout: float,
        ssl: ssl_module.SSLContext | bool | None,
        compression: str | DeflateParams | None,
    ) -> None:
        self._uri = parse_uri(url)
        self._deflate: DeflateParams | None = None
        if compression == "deflate":
            compression = DeflateParams()
        if isinstance(compression, DeflateParams):
            if any(name.lower() == "sec-websocket-extensions" for name, _ in extra_headers):
                raise ValueError("compression sets Sec-WebSocket-Extensions itself")
            # The inflate bound is the message limit, whatever the params said.
            self._deflate = replace(compression, max_message_size=max_message_size)
            extra_headers = (
                *extra_headers,
                ("Sec-WebSocket-Extensions", deflate_offer(self._deflate)),
            )
        elif compression is not None:
            raise ValueError(
                f"compression must be None, 'deflate' or DeflateParams, not {compression!r}"
            )
        if ssl and not self._uri.secure:
            raise InvalidURI(f"ssl given for {url!r}: use wss://")
        self._subprotocols = tuple(subprotocols)
        self._extra_headers = tuple(extra_headers)
        self._origin = origin
        self._config = WSConfig(max_frame_size=max_frame_size, max_message_size=max_message_size)
        self._options = {
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
        }
        self._max_queue = max_queue
        self._write_limit = write_limit
        self._open_timeout = open_timeout
        self._ssl = ssl
        self._ws: WebSocketClient | None = None

    def _ssl_context(self) -> ssl_module.SSLContext | None:
        if not self._uri.secure:
            return None
        if isinstance(self._ssl, ssl_module.SSLContext):
            return self._ssl
        # Verified certificates and host names by default.
        return ssl_module.create_default_context()

    async def _open(self) -> WebSocketClient:
        uri = self._uri
        loop = asyncio.get_running_loop()
        handshake = ClientHandshake(
            uri.host_header,
            uri.resource,
            subprotocols=self._subprotocols,
            extra_headers=self._extra_headers,
            origin=self._origin,
        )
        ws = WebSocketClient(
            handshake,
            self._config,
            ping_interval=self._options["ping_interval"],
            ping_timeout=self._options["ping_timeout"],
            close_timeout=self._options["close_timeout"] or 0.0,
            max_queue=self._max_queue,
            write_limit=self._write_limit,
            deflate=self._deflate,
        )
        context = self._ssl_context()
        try:
            async with asyncio.timeout(self._open_timeout):
                await loop.create_connection(
                    lambda: ws,
                    uri.host,
                    uri.port,
                    ssl=context,
                    server_hostname=uri.host if context is not None else None,
                )
                await ws.opened
        except BaseException:
            ws.abort()
            raise
        return ws

    def __await__(self) -> Generator[object, None, WebSocketClient]:
        return self._open().__await__()

    async def __aenter__(self) -> WebSocketClient:
        self._ws = await self._open()
        return self._ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._ws is not None
        await self._ws.close()


def connect(
    url: str,
    *,
    subprotocols: Sequence[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
    origin: str | None = None,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    max_frame_size: int = MAX_JSON_EVENT,
    max_message_size: int = MAX_JSON_EVENT,
    max_queue: int = 16,
    write_limit: int = 64 * 1024,
    open_timeout: float | None = 10.0,
    close_timeout: float = 5.0,
    ssl: ssl_module.SSLContext | bool | None = None,
    compression: str | DeflateParams | None = None,
) -> _Connect:
    """Open a WebSocket connection to ``url`` (ws:// or wss://).

    - ``subprotocols``: offered in order; ``ws.subprotocol`` is the chosen one.
    - ``ping_interval``/``ping_timeout``: a keepalive Ping every interval; no
      Pong within the timeout closes with 1011. None disables either.
    - ``max_frame_size``/``max_message_size``: a bigger one from the server
      closes with 1009 (section 7.4.1). The default, 6 MiB + 64 KiB
      (``rawpush.client.limits.MAX_JSON_EVENT``), takes the largest event a
      rawpush server sends with its defaults: a 1 MiB publish arrives as
      one JSON text frame ``{"id", "event", "data"}``, and JSON escaping can
      make the data up to 6 times longer (a control character becomes
      ``\\u00XX``), plus 64 KiB for the id, the name and the punctuation.
    - ``max_queue``: received messages held before we stop reading the socket.
    - ``write_limit``: transport buffer size at which ``send`` starts waiting.
    - ``open_timeout``: bound on TCP + TLS + the opening handshake.
    - ``close_timeout``: how long ``close`` waits for the server to close TCP.
    - ``ssl``: an ``SSLContext`` for wss://; by default a verifying one.
    - ``compression``: "deflate" offers permessage-deflate (RFC 7692);
      ``ws.compression`` tells whether the server took it. Off by default.
      A ``rawpush.ws.DeflateParams`` offers those parameters
      instead (window sizes, no context takeover, zlib level); its
      ``max_message_size`` is replaced by this call's.

    Raises ``InvalidURI``, ``InvalidHandshake`` (with the HTTP status),
    ``TimeoutError`` or ``OSError`` when the connection cannot be opened.
    """
    return _Connect(
        url,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        origin=origin,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_frame_size=max_frame_size,
        max_message_size=max_message_size,
        max_queue=max_queue,
        write_limit=write_limit,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        ssl=ssl,
        compression=compression,
    )
