"""``GET /sse?channel=A&channel=B``: one stream, many channels, resume of each."""

from __future__ import annotations

import asyncio
import json

from rawpush.auth import AuthConfig, Grant, PatternSet, StaticToken
from rawpush.proto.multichannel import parse_position
from rawpush.server.app import Server
from tests.server.conftest import MakeServer
from tests.server.support import eventually, open_sse, request


async def _subscribed(server: Server, n: int) -> None:
    await eventually(lambda: server.hub.stats().subscribers >= n, what="subscribed")


async def test_9_2_6_every_event_names_its_channel_and_position(server: Server) -> None:
    stream = await open_sse(server.port, "/sse?channel=a&channel=b")
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        await _subscribed(server, 2)
        one = await server.hub.publish("b", "x", event="tick")
        two = await server.hub.publish("a", "y")
        first, second = await stream.events(2)
        assert first.event == "tick"
        assert json.loads(first.data) == {
            "channel": "b",
            "id": one.id,
            "event": "tick",
            "data": "x",
        }
        assert first.id == f"_,{one.id}"
        assert second.event == "message"
        assert json.loads(second.data)["channel"] == "a"
        assert second.id == f"{two.id},{one.id}"
    finally:
        stream.close()


async def test_9_2_4_resume_every_channel_after_a_drop_no_loss_no_repeat(server: Server) -> None:
    channels = ["c0", "c1", "c2", "c3", "c4"]
    path = "/sse?" + "&".join(f"channel={c}" for c in channels)
    stream = await open_sse(server.port, path)
    await _subscribed(server, 5)
    for i in range(10):
        await server.hub.publish(channels[i % 5], f"m{i}")
    seen = await stream.events(10)
    stream.close()
    last = seen[-1].id or ""
    await eventually(lambda: server.hub.stats().subscribers == 0, what="dropped")
    # Published while the client was away, on every channel.
    missed: dict[str, list[str]] = {
        c: [(await server.hub.publish(c, f"late-{c}-{k}")).id for k in range(2)] for c in channels
    }
    again = await open_sse(server.port, path, [("Last-Event-ID", last)])
    try:
        got = await again.events(10)
        by_channel: dict[str, list[str]] = {}
        for event in got:
            item = json.loads(event.data)
            by_channel.setdefault(item["channel"], []).append(item["id"])
        assert by_channel == missed
        # The last position names the newest id of every channel.
        assert parse_position(got[-1].id or "", 5) == tuple(missed[c][-1] for c in channels)
    finally:
        again.close()


async def test_9_2_4_resume_with_query_position_and_fresh_slot(server: Server) -> None:
    first = await server.hub.publish("a", "old")
    await server.hub.publish("a", "new")
    await server.hub.publish("b", "before-subscribe")
    stream = await open_sse(server.port, f"/sse?channel=a&channel=b&lastEventId={first.id},_")
    try:
        [event] = await stream.events(1)
        assert json.loads(event.data)["data"] == "new"
        await _subscribed(server, 2)
        await server.hub.publish("b", "live")
        [live] = await stream.events(1)
        assert json.loads(live.data)["channel"] == "b"
        assert json.loads(live.data)["data"] == "live"
    finally:
        stream.close()


async def test_gap_is_per_channel_without_id(make_server: MakeServer) -> None:
    server = await make_server()
    stream = await open_sse(server.port, "/sse?channel=a&channel=b&lastEventId=_,99999999999999-0")
    try:
        [gap] = await stream.events(1)
        assert gap.event == "gap"
        assert json.loads(gap.data) == {"channel": "b"}
        assert gap.id == ""  # a fresh stream: the last event ID did not move
    finally:
        stream.close()


async def test_bad_requests_are_400(make_server: MakeServer) -> None:
    server = await make_server(max_channels_per_connection=2)
    for path in (
        "/sse",  # no channel
        "/sse?channel=a&channel=b&channel=c",  # over the limit
        "/sse?channel=a&channel=a",  # twice
        "/sse?channel=a%2Fb",  # not a channel name
        "/sse?channel=a&channel=b&lastEventId=1-0",  # one id for two channels
        "/sse?channel=a&lastEventId=nope",  # not an id
    ):
        answer = await request(server.port, "GET", path)
        assert answer.status == 400, path


async def test_each_channel_authorized(make_server: MakeServer) -> None:
    token = StaticToken("t0k3n", subscribe=PatternSet.parse(["pub.*"]))
    auth = AuthConfig(static_tokens=(token,), anonymous=Grant(source="anonymous"))
    server = await make_server(auth=auth)
    bearer = [("Authorization", "Bearer t0k3n")]
    nobody = await request(server.port, "GET", "/sse?channel=pub.1")
    assert nobody.status == 401
    one_refused = await request(server.port, "GET", "/sse?channel=pub.1&channel=secret", bearer)
    assert one_refused.status == 403
    stream = await open_sse(server.port, "/sse?channel=pub.1&channel=pub.2", bearer)
    try:
        assert stream.status == 200
    finally:
        stream.close()


async def test_9_2_6_drain_ends_with_a_retry_hint_and_loses_nothing(
    make_server: MakeServer,
) -> None:
    server = await make_server(drain_retry_ms=2500)
    stream = await open_sse(server.port, "/sse?channel=a&channel=b")
    await _subscribed(server, 2)
    sent = [await server.hub.publish(c, "x") for c in ("a", "b")]
    closing = asyncio.ensure_future(server.close())
    try:
        got = await stream.rest()
        assert [json.loads(e.data)["id"] for e in got] == [e.id for e in sent]
        assert 2500 <= (stream.decoder.retry or 0) <= 5000
    finally:
        stream.close()
        await closing
