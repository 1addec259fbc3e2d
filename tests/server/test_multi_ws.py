"""``GET /ws``: channels chosen by JSON control messages, acks and errors by ref."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rawpush.auth import AuthConfig, Grant, PatternSet, StaticToken
from rawpush.server.app import Server
from rawpush.ws import Close, Text
from tests.server.conftest import MakeServer
from tests.server.support import RawWS, eventually, raw_ws


async def _recv(ws: RawWS, n: int) -> list[dict[str, Any]]:
    events = await ws.recv_until(Text, n)
    return [json.loads(e.data) for e in events if isinstance(e, Text)]


async def _ask(ws: RawWS, **message: Any) -> dict[str, Any]:
    await ws.send_text(json.dumps(message))
    [answer] = await _recv(ws, 1)
    return answer


async def test_subscribe_ack_then_live_events_tagged_with_channel(server: Server) -> None:
    ws = await raw_ws(server.port, "/ws")
    try:
        assert ws.status == 101
        ack = await _ask(ws, op="subscribe", channel="a", ref="1")
        assert ack == {"type": "ack", "ref": "1", "op": "subscribe", "channel": "a", "id": None}
        await _ask(ws, op="subscribe", channel="b", ref="2")
        one = await server.hub.publish("b", "x", event="tick")
        two = await server.hub.publish("a", "y")
        got = await _recv(ws, 2)
        assert got == [
            {"type": "event", "channel": "b", "id": one.id, "event": "tick", "data": "x"},
            {"type": "event", "channel": "a", "id": two.id, "event": "message", "data": "y"},
        ]
        assert (await _ask(ws, op="unsubscribe", channel="a", ref="3"))["type"] == "ack"
        await server.hub.publish("a", "not for us")
        three = await server.hub.publish("b", "still")
        [event] = await _recv(ws, 1)
        assert event["id"] == three.id
    finally:
        ws.close()


async def test_resume_five_channels_by_since_after_a_drop(server: Server) -> None:
    channels = [f"w{i}" for i in range(5)]
    ws = await raw_ws(server.port, "/ws")
    last: dict[str, str] = {}
    for c in channels:
        await _ask(ws, op="subscribe", channel=c)
    for i in range(10):
        await server.hub.publish(channels[i % 5], f"m{i}")
    for event in await _recv(ws, 10):
        last[event["channel"]] = event["id"]
    ws.close()
    await eventually(lambda: server.hub.stats().subscribers == 0, what="dropped")
    missed = {c: [(await server.hub.publish(c, f"late{k}")).id for k in range(3)] for c in channels}
    again = await raw_ws(server.port, "/ws")
    try:
        for c in channels:
            await again.send_text(json.dumps({"op": "subscribe", "channel": c, "since": last[c]}))
        got = await _recv(again, 5 + 15)
        acks = [m for m in got if m["type"] == "ack"]
        assert [a["id"] for a in acks] == [missed[c][-1] for c in channels]
        seen: dict[str, list[str]] = {}
        for m in got:
            if m["type"] == "event":
                seen.setdefault(m["channel"], []).append(m["id"])
        assert seen == missed
    finally:
        again.close()


async def test_errors_carry_code_and_ref_and_keep_the_socket(make_server: MakeServer) -> None:
    server = await make_server(max_channels_per_connection=1)
    ws = await raw_ws(server.port, "/ws")
    try:
        assert (await _ask(ws, op="dance", ref="1"))["code"] == "bad_request"
        await ws.send_text("not json")
        assert (await _recv(ws, 1))[0]["code"] == "bad_request"
        bad = await _ask(ws, op="subscribe", channel="a/b", ref="2")
        assert (bad["code"], bad["ref"], bad["channel"]) == ("bad_request", "2", "a/b")
        await _ask(ws, op="subscribe", channel="a")
        again = await _ask(ws, op="subscribe", channel="a", ref="3")
        assert again["code"] == "bad_request"
        over = await _ask(ws, op="subscribe", channel="b", ref="4")
        assert (over["type"], over["code"], over["ref"]) == ("error", "too_many_channels", "4")
        assert (await _ask(ws, op="unsubscribe", channel="z"))["code"] == "bad_request"
        ws.conn.send_binary(b"\x00")
        await ws.send_raw(ws.conn.data_to_send())
        assert (await _recv(ws, 1))[0]["code"] == "bad_request"
        # Still open and serving.
        ack = await _ask(ws, op="publish", channel="q", data="hi", ref="5")
        assert ack["type"] == "ack" and ack["id"]
    finally:
        ws.close()


async def test_publish_ack_id_and_the_ws_publish_rules(make_server: MakeServer) -> None:
    server = await make_server(ws_publish_rate=1.0, ws_publish_burst=1)
    ws = await raw_ws(server.port, "/ws")
    try:
        await _ask(ws, op="subscribe", channel="p")
        await ws.send_text(json.dumps({"op": "publish", "channel": "p", "data": "x", "ref": "a"}))
        got = await _recv(ws, 2)
        ack = next(m for m in got if m["type"] == "ack")
        event = next(m for m in got if m["type"] == "event")
        assert ack["id"] == event["id"]
        limited = await _ask(ws, op="publish", channel="p", data="y", ref="b")
        assert (limited["code"], limited["ref"]) == ("rate_limited", "b")
    finally:
        ws.close()
    off = await make_server(ws_publish=False)
    ws = await raw_ws(off.port, "/ws")
    try:
        refused = await _ask(ws, op="publish", channel="p", data="y")
        assert refused["code"] == "forbidden"
    finally:
        ws.close()


async def test_each_channel_authorized(make_server: MakeServer) -> None:
    token = StaticToken("t0k3n", subscribe=PatternSet.parse(["pub.*"]), publish=PatternSet.NONE)
    auth = AuthConfig(static_tokens=(token,), anonymous=Grant(source="anonymous"))
    server = await make_server(auth=auth)
    anonymous = await raw_ws(server.port, "/ws")
    try:
        assert (await _ask(anonymous, op="subscribe", channel="pub.a"))["code"] == "unauthorized"
    finally:
        anonymous.close()
    ws = await raw_ws(server.port, "/ws", headers=[("Authorization", "Bearer t0k3n")])
    try:
        assert (await _ask(ws, op="subscribe", channel="pub.a"))["type"] == "ack"
        assert (await _ask(ws, op="subscribe", channel="secret"))["code"] == "forbidden"
        assert (await _ask(ws, op="publish", channel="pub.a", data="x"))["code"] == "forbidden"
        assert (await _ask(ws, op="subscribe", channel="pub.b"))["type"] == "ack"
    finally:
        ws.close()


async def test_interop_websockets_library_control_messages(server: Server) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": "lib", "ref": "s"}))
        assert json.loads(await ws.recv())["ref"] == "s"
        await ws.send(json.dumps({"op": "publish", "channel": "lib", "data": "hé", "ref": "p"}))
        got = [json.loads(await ws.recv()) for _ in range(2)]
        assert {m["type"] for m in got} == {"ack", "event"}
        assert next(m for m in got if m["type"] == "event")["data"] == "hé"


async def test_6455_7_4_1_drain_closes_1001_with_the_retry_hint(make_server: MakeServer) -> None:
    server = await make_server(drain_retry_ms=2500)
    ws = await raw_ws(server.port, "/ws")
    try:
        await _ask(ws, op="subscribe", channel="d")
        closing = asyncio.ensure_future(server.close())
        events = await ws.recv_until(Close)
        close = next(e for e in events if isinstance(e, Close))
        assert close.code == 1001
        assert "retry=" in close.reason
        await closing
    finally:
        ws.close()


async def test_ping_is_answered_with_pong_and_its_ref(server: Server) -> None:
    ws = await raw_ws(server.port, "/ws")
    try:
        assert await _ask(ws, op="ping") == {"type": "pong"}
        assert await _ask(ws, op="ping", ref="ping") == {"type": "pong", "ref": "ping"}
        # A bad ping is an error reply naming it; the connection stays.
        error = await _ask(ws, op="ping", channel="a")
        assert (error["type"], error["op"], error["code"]) == ("error", "ping", "bad_request")
        ack = await _ask(ws, op="subscribe", channel="a", ref="s")
        assert ack["type"] == "ack"
        event = await server.hub.publish("a", "after pings")
        [got] = await _recv(ws, 1)
        assert (got["type"], got["id"]) == ("event", event.id)
        assert await _ask(ws, op="ping", ref="p") == {"type": "pong", "ref": "p"}
    finally:
        ws.close()
