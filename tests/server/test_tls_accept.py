"""A TLS connection is counted from its TCP accept: under ``max_connections``
and in the gauges while it shakes hands (RFC 8446 section 4), closed when
``tls_handshake_timeout`` runs out or the handshake fails, then served as
any connection, ALPN included (RFC 7301 section 3.2, RFC 9113 section 3.2)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from rawpush.server.app import Server
from tests.conftest import require
from tests.h2.support_client import client
from tests.server.conftest import FAST, MakeServer
from tests.server.support import WAIT, eventually, metric
from tests.tls_support import self_signed

try:
    import uvloop
except ImportError:  # pragma: no cover - the bench extra brings it
    HAVE_UVLOOP = False
else:
    HAVE_UVLOOP = True

HANDSHAKING = 'rawpush_connections{transport="tls_handshake"}'
HTTP = 'rawpush_connections{transport="http"}'
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _reason(server: Server, reason: str) -> float:
    return metric(server, f'rawpush_disconnects_total{{reason="{reason}"}}')


def _accepted(server: Server) -> int:
    assert server._ctx is not None
    return server._ctx.accepted


@pytest.fixture
def cert(tmp_path: Path) -> tuple[str, str]:
    return self_signed(tmp_path)


@pytest.fixture
async def tls_server(make_server: MakeServer, cert: tuple[str, str]) -> AsyncIterator[MakeServer]:
    async def make(**overrides: object) -> Server:
        return await make_server(certfile=cert[0], keyfile=cert[1], **overrides)

    yield make


def _context(cafile: str, protocols: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(protocols)
    return context


async def _silent(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP client that never sends its ClientHello."""
    return await asyncio.open_connection("127.0.0.1", port)


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Return once the server has closed the connection (EOF or reset);
    what it sent before (TLS records after a handshake) is dropped."""
    async with asyncio.timeout(WAIT):
        try:
            while await reader.read(65536):
                pass
        except ConnectionResetError:
            pass


@dataclasses.dataclass
class _MemoryTLS:
    """A client's TLS over a plain stream, by memory BIOs, so a test
    decides which bytes go out in which TCP write."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    tls: ssl.SSLObject
    incoming: ssl.MemoryBIO
    outgoing: ssl.MemoryBIO


async def _shake_hands(port: int, cafile: str) -> _MemoryTLS:
    """Connect and shake hands as ``http/1.1``, leaving the client's last
    flight (its Finished) unsent in ``outgoing``."""
    reader, writer = await _silent(port)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _context(cafile, ["http/1.1"]).wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    async with asyncio.timeout(WAIT):
        for _ in range(10):  # bounded: a TLS 1.3 handshake is two flights
            try:
                tls.do_handshake()
                return _MemoryTLS(reader, writer, tls, incoming, outgoing)
            except ssl.SSLWantReadError:
                writer.write(outgoing.read())
                incoming.write(await reader.read(65536))
    raise AssertionError("no handshake in ten flights")


# -- counted while shaking hands -------------------------------------------------


async def test_8446_4_clients_in_their_handshake_count_against_max_connections(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    n = 3
    server = await tls_server(max_connections=n, tls_handshake_timeout=60.0)
    silent = [await _silent(server.port) for _ in range(n)]
    await eventually(lambda: metric(server, HANDSHAKING) == n, what="n handshakes counted")
    assert _accepted(server) == n
    # One more is over the limit: closed at once, before any TLS.
    reader, writer = await _silent(server.port)
    await _until_closed(reader)
    writer.close()
    assert _reason(server, "max_connections") == 1
    assert metric(server, HANDSHAKING) == n
    # A place freed is a place a real client gets.
    silent[0][1].close()
    await eventually(lambda: metric(server, HANDSHAKING) == n - 1, what="a place freed")
    tls_reader, tls_writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=_context(cert[0], ["http/1.1"])
    )
    tls_writer.write(REQUEST)
    async with asyncio.timeout(WAIT):
        assert (await tls_reader.read()).startswith(b"HTTP/1.1 200 ")
    tls_writer.close()
    for _, writer in silent[1:]:
        writer.close()
    await eventually(lambda: _accepted(server) == 0, what="every place given back")
    assert metric(server, HANDSHAKING) == 0
    assert metric(server, HTTP) == 0


async def test_8446_4_the_per_address_limit_applies_from_the_accept(
    tls_server: MakeServer,
) -> None:
    server = await tls_server(max_connections_per_address=1, tls_handshake_timeout=60.0)
    _, first = await _silent(server.port)
    await eventually(lambda: metric(server, HANDSHAKING) == 1, what="the first counted")
    reader, writer = await _silent(server.port)
    await _until_closed(reader)
    writer.close()
    assert _reason(server, "max_connections_per_address") == 1
    first.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


# -- bounded by the handshake timeout ------------------------------------------------


async def test_8446_4_a_handshake_not_done_in_time_is_closed(tls_server: MakeServer) -> None:
    server = await tls_server(tls_handshake_timeout=0.2)
    reader, writer = await _silent(server.port)
    # Half a ClientHello record header: started, never finished.
    writer.write(b"\x16\x03")
    await _until_closed(reader)
    writer.close()
    assert _reason(server, "tls_handshake_timeout") == 1
    assert metric(server, HANDSHAKING) == 0
    assert _accepted(server) == 0


async def test_8446_4_a_failed_handshake_is_closed_with_a_debug_line_only(
    tls_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await tls_server()
    caplog.set_level(logging.DEBUG)
    reader, writer = await _silent(server.port)
    writer.write(REQUEST)  # plain HTTP to the TLS port: no ClientHello
    await _until_closed(reader)
    writer.close()
    await eventually(lambda: _reason(server, "tls_handshake_failed") == 1, what="the failure")
    assert _accepted(server) == 0
    assert metric(server, HANDSHAKING) == 0
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


async def test_8446_4_a_client_gone_during_its_handshake_gives_its_place_back(
    tls_server: MakeServer,
) -> None:
    server = await tls_server(tls_handshake_timeout=60.0)
    _, writer = await _silent(server.port)
    await eventually(lambda: metric(server, HANDSHAKING) == 1, what="the handshake counted")
    writer.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")
    assert metric(server, HANDSHAKING) == 0
    # The client left: no reason of the server's is counted.
    assert _reason(server, "tls_handshake_timeout") == 0
    assert _reason(server, "tls_handshake_failed") == 0


async def test_8446_4_a_drain_closes_connections_still_in_their_handshake(
    tls_server: MakeServer,
) -> None:
    server = await tls_server(tls_handshake_timeout=60.0)
    reader, writer = await _silent(server.port)
    await eventually(lambda: metric(server, HANDSHAKING) == 1, what="the handshake counted")
    await server.close()
    await _until_closed(reader)
    writer.close()
    assert _accepted(server) == 0


# -- then served as any connection ---------------------------------------------------


async def test_7301_3_2_alpn_http11_is_served_and_counted_as_http(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    server = await tls_server()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=_context(cert[0], ["http/1.1"])
    )
    assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
    await eventually(lambda: metric(server, HTTP) == 1, what="counted as http")
    assert metric(server, HANDSHAKING) == 0
    writer.write(REQUEST)
    async with asyncio.timeout(WAIT):
        assert (await reader.read()).startswith(b"HTTP/1.1 200 ")
    writer.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


async def test_9113_3_2_alpn_h2_is_handed_to_the_http2_host(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    server = await tls_server()
    async with client(server.port, ssl_context=_context(cert[0], ["h2", "http/1.1"])) as conn:
        assert conn.writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        sid = await conn.request("GET", "/healthz")
        assert (await conn.response(sid)).status == 200
        assert metric(server, 'rawpush_protocol_connections{protocol="h2"}') == 1
        assert metric(server, HANDSHAKING) == 0
        assert _accepted(server) == 1
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


async def test_6455_3_wss_subscribes_and_receives(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    server = await tls_server()
    context = ssl.create_default_context(cafile=cert[0])
    async with connect(f"wss://127.0.0.1:{server.port}/ws/tls", ssl=context) as ws:
        event = await server.hub.publish("tls", "secret")
        async with asyncio.timeout(WAIT):
            assert json.loads(await ws.recv())["id"] == event.id
        assert metric(server, 'rawpush_connections{transport="ws"}') == 1
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


async def test_8446_4_6_1_a_request_in_the_handshakes_last_flight_is_answered(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    # The client's Finished and its first request in one TCP write (RFC 8446
    # section 4.4.4: application data may follow Finished at once): the
    # request reaches the server before the host is installed.
    server = await tls_server()
    c = await _shake_hands(server.port, cert[0])
    async with asyncio.timeout(WAIT):
        c.tls.write(REQUEST)
        c.writer.write(c.outgoing.read())  # Finished and the request together
        answer = b""
        while not answer.endswith(b"ok\n"):
            data = await c.reader.read(65536)
            assert data, f"closed after {answer!r}"
            c.incoming.write(data)
            with contextlib.suppress(ssl.SSLWantReadError):
                answer += c.tls.read(65536)
    assert answer.startswith(b"HTTP/1.1 200 ")
    c.writer.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


async def test_8446_6_1_a_close_notify_in_the_handshakes_last_flight_ends_the_connection(
    tls_server: MakeServer, cert: tuple[str, str]
) -> None:
    # Finished, then close_notify at once: the end of the connection too
    # reaches the server before the host is installed, and is given to it.
    server = await tls_server()
    c = await _shake_hands(server.port, cert[0])
    with contextlib.suppress(ssl.SSLWantReadError):
        c.tls.unwrap()  # puts the close_notify alert in outgoing
    c.writer.write(c.outgoing.read())
    await _until_closed(c.reader)
    c.writer.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")
    assert metric(server, HTTP) == 0


async def test_8446_4_a_handshake_aborted_past_the_drain_deadline_gets_a_reset(
    tls_server: MakeServer,
) -> None:
    server = await tls_server(tls_handshake_timeout=60.0)
    reader, writer = await _silent(server.port)
    await eventually(lambda: metric(server, HANDSHAKING) == 1, what="the handshake counted")
    assert server._ctx is not None
    [accepting] = server._ctx.connections
    accepting.abort()  # what close() does to what the drain did not end
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionResetError):
            await reader.read(1)
    writer.close()
    await eventually(lambda: _accepted(server) == 0, what="the place given back")


async def _uvloop_handshakes(cert: tuple[str, str]) -> None:
    config = dataclasses.replace(FAST, certfile=cert[0], keyfile=cert[1], tls_handshake_timeout=0.2)
    server = Server(config)
    await server.start()
    try:
        reader, writer = await _silent(server.port)
        await _until_closed(reader)  # the timeout holds on uvloop's own listener
        writer.close()
        context = _context(cert[0], ["h2", "http/1.1"])
        async with client(server.port, ssl_context=context) as conn:
            assert (await conn.response(await conn.request("GET", "/healthz"))).status == 200
    finally:
        await server.close()


def test_8446_4_on_uvloop_the_handshake_timeout_holds_and_alpn_h2_works(
    cert: tuple[str, str],
) -> None:
    # uvloop reads a socket from its accept on, so the listener keeps ssl=
    # there: handshakes are bounded, though counted only once done.
    require("uvloop", HAVE_UVLOOP)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_uvloop_handshakes(cert))
