"""The short exchanges over HTTP/2 (RFC 9113 section 8.1): long poll,
publish, /metrics, /healthz, the demo page; and an idle connection."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from tests.h2.support_client import client, serving
from tests.tls_support import self_signed


async def test_9113_8_1_healthz_and_demo_page() -> None:
    async with serving() as server, client(server.port) as conn:
        health = await conn.response(await conn.request("GET", "/healthz"))
        assert (health.status, bytes(health.body)) == (200, b"ok\n")
        assert health.header("content-length") == "3"
        page = await conn.response(await conn.request("GET", "/"))
        assert page.status == 200
        assert b"<html" in bytes(page.body).lower()
        missing = await conn.response(await conn.request("GET", "/nowhere"))
        assert missing.status == 404
        assert "error" in json.loads(bytes(missing.body))


async def test_9113_8_1_publish_with_a_body_then_long_poll_gets_it() -> None:
    async with serving() as server, client(server.port) as conn:
        start = await conn.response(await conn.request("GET", "/poll/news"))
        assert start.status == 200
        cursor = json.loads(bytes(start.body))["cursor"]
        # The poll waits on stream 3 while stream 5 publishes: two requests
        # in flight on one connection.
        poll = await conn.request("GET", f"/poll/news?cursor={cursor}&timeout=5")
        published = await conn.request(
            "POST", "/publish/news", [("content-type", "text/plain")], b"hello"
        )
        reply = await conn.response(published)
        assert reply.status == 200
        assert "id" in json.loads(bytes(reply.body))
        answer = await conn.response(poll)
        assert answer.status == 200
        assert [e["data"] for e in json.loads(bytes(answer.body))["events"]] == ["hello"]


async def test_9113_8_1_body_over_the_limit_is_413() -> None:
    from rawpush.proto.http import HTTPConfig

    async with serving(http=HTTPConfig(max_body_bytes=10)) as server, client(server.port) as conn:
        text = [("content-type", "text/plain")]
        sid = await conn.request("POST", "/publish/news", text, b"x" * 11)
        assert (await conn.response(sid)).status == 413


async def test_9113_metrics_count_h2_connections_and_streams() -> None:
    async with serving() as server, client(server.port) as conn:
        state = await conn.response(await conn.request("GET", "/metrics"))
        text = bytes(state.body).decode()
        assert 'rawpush_protocol_connections{protocol="h2"} 1' in text
        assert "rawpush_h2_streams 1" in text  # this very request
        # A client reset is counted.
        sid = await conn.request("GET", "/sse/news")
        await conn.head(sid)
        conn.conn.reset_stream(sid)
        await conn.flush()
        probe = await conn.request("GET", "/healthz")
        await conn.response(probe)
        assert server.metrics.get("rawpush_h2_resets_received_total") == 1


async def test_9113_3_3_http1_still_served_on_the_cleartext_port() -> None:
    import asyncio

    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        # "P" first: a cut that could still be the preface, then HTTP/1.1.
        writer.write(b"P")
        await writer.drain()
        writer.write(b"OST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()
        assert server.metrics.get("rawpush_protocol_connections_total", (("protocol", "h1"),)) == 1


async def test_9113_3_3_preface_cut_into_single_bytes() -> None:
    import asyncio

    from rawpush.proto.h2 import PREFACE

    async with serving() as server, client(server.port) as conn:
        assert conn  # the h2 client sends its preface whole; now one cut in bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for byte in PREFACE:
            writer.write(bytes([byte]))
            await writer.drain()
        writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an empty SETTINGS
        first = await asyncio.wait_for(reader.readexactly(9), 10)
        assert first[3] == 0x4  # the server's SETTINGS (section 3.4)
        writer.close()


async def test_no_http2_refuses_prior_knowledge() -> None:
    import asyncio

    from rawpush.proto.h2 import PREFACE

    async with serving(http2=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(PREFACE)
        head = await asyncio.wait_for(reader.read(100), 10)
        assert head.startswith(b"HTTP/1.1 4") or head.startswith(b"HTTP/1.1 5")
        writer.close()


async def test_9113_3_2_a_tls_connection_over_the_limit_is_closed_before_its_handshake(
    tmp_path: Path,
) -> None:
    # A TLS connection counts from its accept: over the limit it is closed
    # there, so a flood of handshakes costs the server no cryptography.
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(cafile=cert)
    context.set_alpn_protocols(["h2"])
    async with serving(max_connections=1, certfile=cert, keyfile=key) as server:
        async with client(server.port, ssl_context=context) as first:
            assert (await first.response(await first.request("GET", "/healthz"))).status == 200
            with pytest.raises((ConnectionError, ssl.SSLError)):
                async with client(server.port, ssl_context=context):
                    pass
        reason = (("reason", "max_connections"),)
        assert server.metrics.get("rawpush_disconnects_total", reason) == 1


async def test_9113_idle_connection_is_closed_after_keepalive_timeout() -> None:
    async with serving(keepalive_timeout=0.2) as server, client(server.port) as conn:
        await conn.until(lambda: conn.closed, "the idle close")
        assert conn.goaways and conn.goaways[0][1] == 0
        reason = (("reason", "idle_timeout"),)
        assert server.metrics.get("rawpush_disconnects_total", reason) == 1
