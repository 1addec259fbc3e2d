"""WebSocket over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL,
the extended CONNECT, the one WebSocket driver over DATA frames, close."""

from __future__ import annotations

import json

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, TextMessage

from tests.h2.support_client import H2Client, client, serving

_ENABLE_CONNECT_PROTOCOL = 0x8


async def _open(conn: H2Client, path: str) -> int:
    return await conn.request(
        "CONNECT",
        path,
        [("sec-websocket-version", "13"), ("origin", "http://127.0.0.1")],
        end=False,
        extra_pseudo=[(":protocol", "websocket")],
    )


async def _messages(conn: H2Client, sid: int, ws: Connection, count: int) -> list[object]:
    seen: list[object] = []
    taken = 0

    def more() -> bool:
        nonlocal taken
        body = conn.streams[sid].body
        if len(body) > taken:
            ws.receive_data(bytes(body[taken:]))
            taken = len(body)
            seen.extend(ws.events())
        return len(seen) >= count

    await conn.until(more, f"{count} WebSocket events")
    return seen


async def test_8441_3_server_advertises_enable_connect_protocol() -> None:
    async with serving() as server, client(server.port) as conn:
        await conn.until(lambda: _ENABLE_CONNECT_PROTOCOL in conn.remote_settings, "SETTINGS")
        assert conn.remote_settings[_ENABLE_CONNECT_PROTOCOL] == 1


async def test_8441_5_websocket_text_both_ways_and_close() -> None:
    async with serving() as server, client(server.port) as conn:
        await conn.until(lambda: _ENABLE_CONNECT_PROTOCOL in conn.remote_settings, "SETTINGS")
        sid = await _open(conn, "/ws/news")
        state = await conn.head(sid)
        # Section 5: a 200, with no Sec-WebSocket-Accept and no Upgrade.
        assert state.status == 200
        assert state.header("sec-websocket-accept") is None
        assert state.header("upgrade") is None
        ws = Connection(ConnectionType.CLIENT)
        await server.hub.publish("news", "from the hub")
        got = await _messages(conn, sid, ws, 1)
        assert isinstance(got[0], TextMessage)
        assert json.loads(got[0].data)["data"] == "from the hub"
        # Text the other way: a publish over the WebSocket reaches the hub,
        # and comes back to this subscriber.
        await conn.send(sid, ws.send(TextMessage(data="from the client")))
        got = await _messages(conn, sid, ws, 2)
        assert isinstance(got[1], TextMessage)
        assert json.loads(got[1].data)["data"] == "from the client"
        await conn.send(sid, ws.send(CloseConnection(code=1000)))
        got = await _messages(conn, sid, ws, 3)
        assert isinstance(got[2], CloseConnection) and got[2].code == 1000
        await conn.until(lambda: conn.streams[sid].ended, "END_STREAM after the close")


async def test_8441_4_a_get_to_a_websocket_route_is_refused() -> None:
    async with serving() as server, client(server.port) as conn:
        sid = await conn.request("GET", "/ws/news", [("sec-websocket-version", "13")])
        # A GET is no WebSocket over HTTP/2 (only an extended CONNECT is):
        # the handshake check refuses the version, as it would HTTP/2 over h11.
        assert (await conn.response(sid)).status == 505


async def test_9113_5_2_one_websocket_stream_held_back_does_not_hold_its_siblings() -> None:
    # RFC 9113 5.2: a WebSocket session that stops reading (its publishes
    # wait on the hub, or it takes its turn) holds back its own stream's
    # credit, not the connection: a sibling's message still gets through.
    from rawpush.server.h2_stream import H2Stream

    async with serving() as server, client(server.port) as conn:
        await conn.until(lambda: _ENABLE_CONNECT_PROTOCOL in conn.remote_settings, "SETTINGS")
        held_sid, free_sid = await _open(conn, "/ws/held"), await _open(conn, "/ws/free")
        assert (await conn.head(held_sid)).status == (await conn.head(free_sid)).status == 200
        assert server._ctx is not None
        [held] = [
            c for c in server._ctx.connections
            if isinstance(c, H2Stream) and c.stream_id == held_sid
        ]  # fmt: skip
        held.pause_reading()
        ws = Connection(ConnectionType.CLIENT)
        await conn.send(free_sid, ws.send(TextMessage(data="still flowing")))
        got = await _messages(conn, free_sid, ws, 1)
        assert json.loads(got[0].data)["data"] == "still flowing"  # type: ignore[attr-defined]
        held.resume_reading()
        other = Connection(ConnectionType.CLIENT)
        await conn.send(held_sid, other.send(TextMessage(data="after the hold")))
        got = await _messages(conn, held_sid, other, 1)
        assert json.loads(got[0].data)["data"] == "after the hold"  # type: ignore[attr-defined]
