"""One ``rawpush echo`` server for the whole battery.

The server runs on its own event loop in a thread, so the cases can drive
it with plain blocking sockets (``rawclient.RawClient``): no event loop in
the tests, and one server start for hundreds of cases.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from rawpush.server.echo import EchoConfig, EchoServer
from tests.conformance.rawclient import RawClient

# Small enough that the limit cases stay fast, big enough for 65536-byte echoes.
MAX_MESSAGE = 256 * 1024
HEADER_TIMEOUT = 0.5
MAX_HEADER_BYTES = 8192


class ServerThread:
    def __init__(self, config: EchoConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = EchoServer("127.0.0.1", 0, config)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> EchoServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def echo_port() -> Iterator[int]:
    config = EchoConfig(
        max_frame_size=MAX_MESSAGE,
        max_message_size=MAX_MESSAGE,
        max_header_bytes=MAX_HEADER_BYTES,
        header_timeout=HEADER_TIMEOUT,
        close_timeout=2.0,
    )
    with ServerThread(config) as server:
        yield server.port


@pytest.fixture
def ws(echo_port: int) -> Iterator[RawClient]:
    """A raw client whose opening handshake is done."""
    client = RawClient(echo_port).open()
    yield client
    client.close()


@pytest.fixture
def raw(echo_port: int) -> Iterator[Callable[[], RawClient]]:
    """Raw clients with no handshake yet, for the opening-handshake cases."""
    clients: list[RawClient] = []

    def make() -> RawClient:
        clients.append(RawClient(echo_port))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
