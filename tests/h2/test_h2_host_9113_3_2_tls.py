"""HTTP/2 over TLS (RFC 9113 section 3.2): ALPN "h2" picks the HTTP/2 host,
"http/1.1" (or no ALPN) the HTTP/1.1 one, on the same port."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from tests.h2.support_client import WAIT, client, serving
from tests.tls_support import self_signed


def _context(cafile: str, protocols: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(protocols)
    return context


async def test_9113_3_2_alpn_h2_serves_sse_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with serving(certfile=cert, keyfile=key) as server:
        context = _context(cert, ["h2", "http/1.1"])
        async with client(server.port, ssl_context=context) as conn:
            ssl_object = conn.writer.get_extra_info("ssl_object")
            assert ssl_object.selected_alpn_protocol() == "h2"
            sid = await conn.request("GET", "/sse/news")
            assert (await conn.head(sid)).status == 200
            await server.hub.publish("news", "secure")
            assert (await conn.events(sid, 1))[0].data == "secure"
        labels = (("protocol", "h2"),)
        assert server.metrics.get("rawpush_protocol_connections_total", labels) == 1


async def test_9113_3_2_alpn_http11_gets_http11(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with serving(certfile=cert, keyfile=key) as server:
        context = _context(cert, ["http/1.1"])
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()


async def test_9113_3_2_no_http2_offers_only_http11(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with serving(certfile=cert, keyfile=key, http2=False) as server:
        context = _context(cert, ["h2", "http/1.1"])
        _, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.close()
