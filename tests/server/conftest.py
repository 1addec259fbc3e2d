"""Servers for the tests: real sockets on 127.0.0.1, an OS-chosen port, and
timeouts short enough that every timer fires within a second. tests/h2
(through its support_raw) and tests/client use these same fixtures."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from rawpush.server.app import Server
from rawpush.server.config import ServerConfig

#: timeouts short enough for tests, long enough for a loaded 2-core machine
FAST = ServerConfig(
    port=0,
    ws_ping_interval=30.0,
    ws_ping_timeout=30.0,
    sse_heartbeat_interval=30.0,
    header_timeout=5.0,
    keepalive_timeout=5.0,
    close_timeout=1.0,
    write_stall_timeout=5.0,
    drain_timeout=3.0,
)

MakeServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Start servers on 127.0.0.1, port 0, with ``FAST`` and overrides;
    each is closed at the end of the test."""
    servers: list[Server] = []

    async def make(**overrides: Any) -> Server:
        server = Server(dataclasses.replace(FAST, **overrides))
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def server(make_server: MakeServer) -> Server:
    """A cleartext server: HTTP/1.1, and HTTP/2 with prior knowledge
    (RFC 9113 section 3.3)."""
    return await make_server()
