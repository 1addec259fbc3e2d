"""A real uvicorn with ``--ws rawpush.uvicorn:WebSocketProtocol``, real clients.

Named after the section each test checks: RFC 6455 (4.2.2 handshake, 5.4
fragments, 5.5 control frames, 7 closing), RFC 7692 (permessage-deflate),
and the ASGI WebSocket spec (``asgi_...``).
"""

from __future__ import annotations

import json
import uuid

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from rawpush.client import connect as rawpush_connect
from rawpush.ws import Binary, Close, Ping, Pong, Text
from tests.uvicorn.support import RawClient, Uvicorn, http_get_json


async def test_asgi_scope_of_a_websocket_connection() -> None:
    async with Uvicorn("--root-path", "/base") as server:
        url = server.url + "/scope?a=1&b=%20"
        async with websockets.connect(
            url, subprotocols=[Subprotocol("p1"), Subprotocol("p2")]
        ) as ws:
            scope = json.loads(await ws.recv())
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["root_path"] == "/base"
    assert scope["path"] == "/base/scope"
    assert scope["raw_path"] == "/base/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["subprotocols"] == ["p1", "p2"]
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["state"] == {"started": "yes"}
    assert scope["extensions"] == {"websocket.http.response": {}}
    headers = dict(scope["headers"])
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["upgrade"] == "websocket"
    assert all(name == name.lower() for name, _ in scope["headers"])


async def test_asgi_path_is_percent_decoded_raw_path_is_not() -> None:
    async with Uvicorn() as server:
        raw = await RawClient.open(server.port, "/sc%6Fpe")
        [text] = await raw.events(1)
        raw.close()
    assert isinstance(text, Text)
    scope = json.loads(text.data)
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/sc%6Fpe"


async def test_4_2_2_subprotocol_and_extra_headers_in_the_101() -> None:
    async with (
        Uvicorn() as server,
        websockets.connect(
            server.url + "/headers", subprotocols=[Subprotocol("chat"), Subprotocol("x")]
        ) as ws,
    ):
        assert ws.subprotocol == "chat"
        assert ws.response is not None
        assert ws.response.headers["x-extra"] == "yes"
        assert ws.response.headers["set-cookie"] == "a=b"
        assert ws.response.headers["server"] == "uvicorn"


async def test_asgi_close_before_accept_is_403() -> None:
    async with Uvicorn() as server:
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(server.url + "/deny"):
                pass
    assert info.value.response.status_code == 403


async def test_asgi_http_response_extension_denies_with_the_apps_response() -> None:
    async with Uvicorn() as server:
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(server.url + "/respond"):
                pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["x-why"] == "no token"
    assert response.body == b"go away"


async def test_asgi_app_failing_before_accept_is_500() -> None:
    async with Uvicorn() as server:
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(server.url + "/raise-early"):
                pass
    assert info.value.response.status_code == 500


async def test_7_4_1_app_failing_after_accept_closes_with_1011() -> None:
    async with Uvicorn() as server, websockets.connect(server.url + "/raise") as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1011


async def test_7_1_2_close_code_and_reason_from_the_app() -> None:
    async with (
        Uvicorn() as server,
        websockets.connect(server.url + "/close?code=4001&reason=bye") as ws,
    ):
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert (ws.close_code, ws.close_reason) == (4001, "bye")


async def test_7_1_5_peer_close_code_and_reason_reach_the_app() -> None:
    key = uuid.uuid4().hex
    async with Uvicorn() as server:
        async with websockets.connect(f"{server.url}/watch?id={key}") as ws:
            await ws.close(4002, "later")
        seen = await http_get_json(server.port, f"/last?id={key}")
    assert seen == {"code": 4002, "reason": "later"}


async def test_7_1_5_connection_lost_without_close_is_1006() -> None:
    key = uuid.uuid4().hex
    async with Uvicorn() as server:
        raw = await RawClient.open(server.port, f"/watch?id={key}")
        raw.writer.transport.abort()
        seen = await http_get_json(server.port, f"/last?id={key}")
    assert seen == {"code": 1006, "reason": ""}


async def test_7_4_1_message_over_ws_max_size_is_1009() -> None:
    key = uuid.uuid4().hex
    async with Uvicorn("--ws-max-size", "1024") as server:
        async with websockets.connect(f"{server.url}/watch?id={key}") as ws:
            await ws.send(b"x" * 1025)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        seen = await http_get_json(server.port, f"/last?id={key}")
    assert ws.close_code == 1009
    assert seen["code"] == 1009


async def test_5_4_large_fragmented_and_whole_messages_echoed() -> None:
    big = bytes(range(256)) * 16384  # 4 MiB
    async with (
        Uvicorn() as server,
        websockets.connect(server.url + "/echo", max_size=None, compression=None) as ws,
    ):
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(["\u00e9" * 70000, "\u20ac" * 70000])  # fragmented text
        assert await ws.recv() == "\u00e9" * 70000 + "\u20ac" * 70000


async def test_5_5_3_pong_goes_out_before_the_echo_of_the_message_around_the_ping() -> None:
    async with Uvicorn() as server:
        raw = await RawClient.open(server.port)
        conn = raw.conn
        conn.send_text("first ", fin=False)
        conn.send_ping(b"in between")
        conn.send_text("second", fin=True)
        conn.send_binary(b"then this")
        conn.send_close(1000, "done")
        raw.flush()  # all in one segment
        events = await raw.events(4)
        raw.close()
    assert events == [
        Pong(b"in between"),
        Text("first second"),
        Binary(b"then this"),
        Close(1000, ""),  # the echo carries the code only (section 5.5.1)
    ]


async def test_5_5_2_keepalive_pings_are_rearmed_after_each_pong() -> None:
    async with Uvicorn("--ws-ping-interval", "0.05", "--ws-ping-timeout", "5") as server:
        raw = await RawClient.open(server.port)
        for _ in range(3):
            [ping] = await raw.events(1)
            assert isinstance(ping, Ping) and len(ping.payload) == 4
            raw.flush()  # the core's Pong
        raw.conn.send_close()
        raw.flush()
        events = await raw.events(3)
        raw.close()
    assert events[-1] == Close(1000, "")


async def test_5_5_2_unanswered_ping_closes_with_1011() -> None:
    async with Uvicorn("--ws-ping-interval", "0.05", "--ws-ping-timeout", "0.05") as server:
        raw = await RawClient.open(server.port)
        events = await raw.events(3)  # Ping, Close, then the server's EOF
        raw.close()
    assert isinstance(events[0], Ping)
    assert events[1] == Close(1011, "keepalive ping timeout")


async def test_rfc7692_permessage_deflate_negotiated_and_used() -> None:
    text = "compressible " * 10000
    async with Uvicorn() as server:
        async with websockets.connect(server.url + "/echo", compression="deflate") as ws:
            assert ws.response is not None
            assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
            await ws.send(text)
            assert await ws.recv() == text
        async with rawpush_connect(server.url + "/echo", compression="deflate") as client:
            assert client.compression == "deflate"
            await client.send(text)
            assert await client.recv() == text


async def test_rfc7692_off_with_ws_per_message_deflate_false() -> None:
    async with (
        Uvicorn("--ws-per-message-deflate", "false") as server,
        websockets.connect(server.url + "/echo", compression="deflate") as ws,
    ):
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        await ws.send("plain")
        assert await ws.recv() == "plain"


async def test_rawpush_client_echo_subprotocol_and_close() -> None:
    async with Uvicorn() as server:
        async with rawpush_connect(server.url + "/echo", subprotocols=["v2"]) as client:
            assert client.subprotocol == "v2"
            await client.send("hi")
            assert await client.recv() == "hi"
            await client.send(b"\x00\xff")
            assert await client.recv() == b"\x00\xff"
        assert client.close_code == 1000


async def test_7_4_1_shutdown_closes_open_connections_with_1012() -> None:
    async with Uvicorn() as server, websockets.connect(server.url + "/echo") as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        code = await server.interrupt()
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1012
    assert code == 0
