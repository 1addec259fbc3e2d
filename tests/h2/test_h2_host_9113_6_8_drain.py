"""Drain over HTTP/2 (RFC 9113 section 6.8): GOAWAY with the last stream
id first, then each stream's goodbye as over HTTP/1.1 (SSE retry hint,
WebSocket 1001, polls answered), then the connection closes."""

from __future__ import annotations

import asyncio
import json

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection

from tests.h2.support_client import client, serving


async def test_9113_6_8_drain_goaway_then_sse_retry_hint_ws_1001_poll_answered() -> None:
    async with serving(drain_retry_ms=1234) as server, client(server.port) as conn:
        sse = [await conn.request("GET", "/sse/news") for _ in range(2)]
        ws_id = await conn.request(
            "CONNECT",
            "/ws/news",
            [("sec-websocket-version", "13")],
            end=False,
            extra_pseudo=[(":protocol", "websocket")],
        )
        start = await conn.response(await conn.request("GET", "/poll/news"))
        cursor = json.loads(bytes(start.body))["cursor"]
        poll = await conn.request("GET", f"/poll/news?cursor={cursor}&timeout=30")
        for sid in (*sse, ws_id):
            assert (await conn.head(sid)).status == 200
        closing = asyncio.ensure_future(server.close())
        await conn.until(lambda: bool(conn.goaways), "GOAWAY")
        assert conn.goaways[0] == (poll, 0)  # last stream id, NO_ERROR
        for sid in sse:
            await conn.response(sid)
            body = bytes(conn.streams[sid].body)
            assert body.startswith(b"retry: ") or b"\nretry: " in body, body
            retry = int(body.rsplit(b"retry: ", 1)[1].split(b"\n", 1)[0])
            assert 1234 <= retry <= 2468
        assert (await conn.response(poll)).status == 200
        ws = Connection(ConnectionType.CLIENT)
        ws.receive_data(bytes(conn.streams[ws_id].body))
        closes = [e for e in ws.events() if isinstance(e, CloseConnection)]
        assert closes and closes[0].code == 1001
        await conn.send(ws_id, ws.send(closes[0].response()), end=True)
        await conn.until(lambda: conn.closed, "the connection to close")
        await asyncio.wait_for(closing, 10)
