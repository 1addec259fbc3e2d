"""A WebSocket echo server, for conformance tests and interop (``rawpush echo``).

Every text or binary message comes back unchanged, with the same type; any
request target is accepted. It is ``rawpush.Server`` with every request
routed to the echo (``rawpush.server.ws_echo``): the same HTTP/1.1 host and
the same WebSocket driver as ``/ws/{channel}``, so what passes here passes
on the path ``rawpush serve`` users run.

::

    server = EchoServer(port=0)
    await server.start()
    print(server.url)
    ...
    await server.close()

Compression: with ``EchoConfig(compression="deflate")`` (``rawpush echo
--compression deflate``) the server accepts a permessage-deflate offer
(RFC 7692) and compresses its echoes; off by default.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from ssl import SSLContext

from rawpush.proto.http import HTTPConfig
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.handshake import DEFAULT_MAX_HEADER_BYTES
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig

__all__ = ["EchoConfig", "EchoServer", "run_echo"]


@dataclass(frozen=True, slots=True)
class EchoConfig:
    """Limits and timeouts of the echo server."""

    max_frame_size: int = 1 << 20
    max_message_size: int = 1 << 20
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    #: Seconds to receive the whole request head (slowloris guard): 408.
    header_timeout: float = 10.0
    #: Seconds to wait for the client to close TCP after the closing handshake.
    close_timeout: float = 5.0
    #: Bytes buffered for writing before we stop reading that client.
    write_limit: int = 256 * 1024
    #: "deflate" to accept permessage-deflate (RFC 7692); None: never.
    compression: str | None = None

    def __post_init__(self) -> None:
        if self.compression not in (None, "deflate"):
            raise ValueError(f"compression must be None or 'deflate', not {self.compression!r}")

    def server_config(self, host: str, port: int) -> ServerConfig:
        """The ``ServerConfig`` of an echo server with these limits."""
        return ServerConfig(
            host=host,
            port=port,
            ws=WSConfig(max_frame_size=self.max_frame_size, max_message_size=self.max_message_size),
            http=HTTPConfig(max_header_bytes=self.max_header_bytes),
            header_timeout=self.header_timeout,
            close_timeout=self.close_timeout,
            write_high_water=self.write_limit,
            write_low_water=self.write_limit // 4,
            compression=self.compression,
            # An echo peer answers as fast as it can; pings would only add
            # frames the conformance cases do not expect.
            ws_ping_interval=24 * 3600.0,
        )


class EchoServer(Server):
    """A WebSocket echo server on ``host``:``port`` (0 picks a free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9001,
        config: EchoConfig | None = None,
        *,
        ssl: SSLContext | None = None,
    ) -> None:
        self.echo_config = config or EchoConfig()
        super().__init__(
            self.echo_config.server_config(host, port), echo_only=True, ssl_context=ssl
        )

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl is not None else "ws"
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}/"

    async def __aenter__(self) -> EchoServer:
        await super().__aenter__()
        return self


async def run_echo(
    host: str = "127.0.0.1",
    port: int = 9001,
    config: EchoConfig | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run an echo server until ``stop`` is set (or forever)."""
    async with EchoServer(host, port, config):
        await (stop or asyncio.Event()).wait()
