"""RFC 9112 section 4: every status line rawpush writes carries the reason
phrase registered for its code (RFC 9110 section 15), never an empty one
("HTTP/1.1 404 " reads as a broken server in curl -v, proxies' logs and
captures). Each answer is read off the wire of a real server; the ASGI
path is not here: there the ASGI server writes the status line."""

from __future__ import annotations

import asyncio
import base64
import os
from http import HTTPStatus

import pytest

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import HTTPConnection, refusal_before_request
from rawpush.server.app import Server
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, read_until_eof


def status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


async def first_line(port: int, raw: bytes, *, eof: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        if eof:
            writer.write_eof()
        async with asyncio.timeout(WAIT):
            return await reader.readline()
    finally:
        writer.close()


def get(path: str, *extra: str) -> bytes:
    head = [f"GET {path} HTTP/1.1", "Host: x", *extra, "", ""]
    return "\r\n".join(head).encode()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (get("/healthz"), 200),
        (get("/nowhere"), 404),
        (b"DELETE /publish/news HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (get("/ws/news"), 426),
        (get("/sse/bad%20name"), 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (get("/" + "a" * 9000), 414),
        (b"POST /publish/n HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"\x16\x03\x01 garbage\r\n\r\n", 400),
    ],
    ids=["200", "404", "405", "426", "400", "431", "414", "413", "505", "400-garbage"],
)
async def test_9112_4_each_answer_has_its_reason_phrase(
    server: Server, raw: bytes, status: int
) -> None:
    assert await first_line(server.port, raw) == status_line(status)


async def test_9112_4_event_stream_and_publish(server: Server) -> None:
    assert await first_line(server.port, get("/sse/news")) == status_line(200)
    body = b"POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    assert await first_line(server.port, body) == status_line(200)


async def test_9112_4_switching_protocols_and_continue(server: Server) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = get(
        "/ws/news", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
    )  # fmt: skip
    assert await first_line(server.port, upgrade) == status_line(101)
    expect = (
        b"POST /publish/n HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    # RFC 9110 section 10.1.1: the interim answer before the body is sent.
    assert await first_line(server.port, expect) == status_line(100)


async def test_9112_4_408_after_the_header_timeout(make_server: MakeServer) -> None:
    server = await make_server(header_timeout=0.05)
    assert await first_line(server.port, b"GET / HTTP/1.1\r\n") == status_line(408)


async def test_9112_4_prebuilt_503_and_429(make_server: MakeServer) -> None:
    full = await make_server(max_connections=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", full.port)
    try:
        writer.write(get("/healthz"))
        async with asyncio.timeout(WAIT):
            assert await reader.readline() == status_line(200)
        assert await first_line(full.port, get("/healthz")) == status_line(503)
    finally:
        writer.close()
    per_address = await make_server(max_connections_per_address=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", per_address.port)
    try:
        writer.write(get("/healthz"))
        async with asyncio.timeout(WAIT):
            assert await reader.readline() == status_line(200)
        assert await first_line(per_address.port, get("/healthz")) == status_line(429)
    finally:
        writer.close()


def test_9112_4_refusal_before_request_is_built_with_its_phrase() -> None:
    built = refusal_before_request(HTTPError("draining", 503))
    assert built.startswith(status_line(503))


def test_9112_4_a_status_outside_the_registry_has_an_empty_phrase() -> None:
    conn = HTTPConnection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.next_request() is not None
    # RFC 9112 section 4: the phrase may be empty; 299 has none registered.
    assert conn.respond(299).startswith(b"HTTP/1.1 299 \r\n")


async def test_9112_4_a_refused_connection_reads_the_whole_answer(make_server: MakeServer) -> None:
    server = await make_server(max_connections=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(get("/healthz"))
        async with asyncio.timeout(WAIT):
            await reader.readline()
        r2, w2 = await asyncio.open_connection("127.0.0.1", server.port)
        w2.write(get("/healthz"))
        answer = await read_until_eof(r2)
        w2.close()
        assert answer.startswith(status_line(503)) and b"Retry-After: 1" in answer
    finally:
        writer.close()
