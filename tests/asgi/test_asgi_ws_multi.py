"""``GET /ws`` (many channels on one WebSocket, JSON control messages)
served by rawpush.asgi.App, driven in process by a scripted ASGI server:
the same replies, replays, authorization and drain as on rawpush's own
HTTP/1.1 host, carried as ``websocket.send`` text and bytes messages."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt

from rawpush import Hub, HubConfig, ServerConfig
from rawpush.asgi import App
from rawpush.asgi.ws_multi import WS_MULTI_TEXT_KEY, ASGIMultiWSSession
from rawpush.auth import AuthConfig, Grant, JWTConfig, PatternSet, StaticToken
from rawpush.hub import HubEvent
from rawpush.proto.multichannel import parse_binary_message
from tests.asgi.support import WAIT, ScriptedWS


def _app(hub: Hub, **config: object) -> App:
    return App(hub, ServerConfig(**config), drain_on_signal=False)  # type: ignore[arg-type]


async def _open(app: App, path: str = "/ws", **options: object) -> ScriptedWS:
    ws = ScriptedWS(app, path, **options)  # type: ignore[arg-type]
    assert (await ws.open())["type"] == "websocket.accept"
    return ws


async def test_ws_multi_three_channels_resume_by_since_then_live_then_unsubscribe() -> None:
    hub = Hub()
    app = _app(hub)
    first = {ch: (await hub.publish(ch, f"{ch}0")).id for ch in ("a", "b", "c")}
    second = {ch: (await hub.publish(ch, f"{ch}1")).id for ch in ("a", "b")}
    ws = await _open(app)
    ws.say(op="subscribe", channel="a", since=first["a"], ref="1")
    ws.say(op="subscribe", channel="b", since=first["b"], ref="2")
    ws.say(op="subscribe", channel="c", ref="3")  # no since: from now
    got = [await ws.recv_json() for _ in range(5)]
    # Each ack before its channel's replay, in the order asked.
    assert got == [
        {"type": "ack", "ref": "1", "op": "subscribe", "channel": "a", "id": second["a"]},
        {"type": "event", "channel": "a", "id": second["a"], "event": "message", "data": "a1"},
        {"type": "ack", "ref": "2", "op": "subscribe", "channel": "b", "id": second["b"]},
        {"type": "event", "channel": "b", "id": second["b"], "event": "message", "data": "b1"},
        {"type": "ack", "ref": "3", "op": "subscribe", "channel": "c", "id": first["c"]},
    ]
    live = [await hub.publish(ch, f"live {ch}", event="tick") for ch in ("c", "b", "a")]
    got = [await ws.recv_json() for _ in range(3)]
    assert [(m["channel"], m["id"], m["event"]) for m in got] == [
        (e.channel, e.id, "tick") for e in live
    ]
    assert await ws.ask(op="unsubscribe", channel="b", ref="u") == {
        "type": "ack", "ref": "u", "op": "unsubscribe", "channel": "b", "id": None
    }
    await hub.publish("b", "not for us any more")
    after = await hub.publish("a", "still ours")
    assert (await ws.recv_json())["id"] == after.id
    assert hub.stats().channels["b"].subscribers == 0
    await ws.leave()
    # The client left: every subscription of the socket went with it.
    assert hub.stats().subscribers == 0
    assert not app.context.connections
    await hub.close()


async def test_ws_multi_publish_is_acked_with_its_id_and_bad_messages_get_errors_by_ref() -> None:
    hub = Hub()
    app = _app(hub)
    ws = await _open(app)
    assert (await ws.ask(op="subscribe", channel="p"))["type"] == "ack"
    ws.say(op="publish", channel="p", data="hé", event="note", ref="pub")
    got = [await ws.recv_json() for _ in range(2)]
    ack = next(m for m in got if m["type"] == "ack")
    event = next(m for m in got if m["type"] == "event")
    assert (ack["ref"], ack["op"], ack["channel"]) == ("pub", "publish", "p")
    assert ack["id"] == event["id"] == await hub.latest_id("p")
    assert (event["event"], event["data"]) == ("note", "hé")
    # Not JSON: an error with no ref (there is none to read), socket kept.
    ws.say("not json")
    error = await ws.recv_json()
    assert (error["type"], error["code"]) == ("error", "bad_request") and "ref" not in error
    unknown = await ws.ask(op="dance", ref="d")
    assert (unknown["type"], unknown["code"], unknown["ref"]) == ("error", "bad_request", "d")
    twice = await ws.ask(op="subscribe", channel="p", ref="again")
    assert (twice["code"], twice["ref"], twice["channel"]) == ("bad_request", "again", "p")
    bad_channel = await ws.ask(op="publish", channel="a/b", data="x", ref="slash")
    assert (bad_channel["code"], bad_channel["ref"]) == ("bad_request", "slash")
    # A binary message carries no control message on /ws.
    ws.say_bytes(b"\x00\x01")
    assert (await ws.recv_json())["code"] == "bad_request"
    assert await ws.ask(op="ping", ref="alive") == {"type": "pong", "ref": "alive"}
    # Still serving: the socket survived every error.
    assert (await ws.ask(op="publish", channel="q", data="x", ref="q"))["type"] == "ack"
    await ws.leave()
    await hub.close()


async def test_6455_5_6_ws_multi_binary_event_is_one_binary_message_header_newline_bytes() -> None:
    hub = Hub()
    app = _app(hub)
    ws = await _open(app)
    await ws.ask(op="subscribe", channel="bin")
    octets = bytes(range(256))  # not UTF-8, newlines included
    published = await hub.publish("bin", octets, event="blob")
    message = await ws.recv()
    assert message["type"] == "websocket.send" and "text" not in message
    header, payload = parse_binary_message(message["bytes"])
    assert header == {
        "type": "event", "channel": "bin", "id": published.id, "event": "blob", "binary": True
    }
    assert payload == octets
    # A base64 publish is a binary publish: back as bytes, acked by id.
    ws.say(op="publish", channel="bin", data=base64.b64encode(b"\xff\n\x00").decode(),
           encoding="base64", ref="b")
    got = [await ws.recv() for _ in range(2)]
    acks = [json.loads(m["text"]) for m in got if "text" in m]
    [echoed] = [parse_binary_message(m["bytes"]) for m in got if "bytes" in m]
    assert echoed[1] == b"\xff\n\x00" and acks[0]["id"] == echoed[0]["id"]
    await ws.leave()
    await hub.close()


async def test_ws_multi_since_older_than_the_history_is_a_gap_for_that_channel() -> None:
    hub = Hub(HubConfig(history_size=2))
    app = App(hub, ServerConfig(hub=HubConfig(history_size=2)), drain_on_signal=False)
    ids = [(await hub.publish("g", f"g{n}")).id for n in range(5)]
    ws = await _open(app)
    ws.say(op="subscribe", channel="g", since=ids[0], ref="g")
    got = [await ws.recv_json() for _ in range(4)]
    assert got[0]["type"] == "ack" and got[0]["id"] == ids[-1]
    assert got[1] == {"type": "gap", "channel": "g"}
    assert [m["id"] for m in got[2:]] == ids[-2:]
    await ws.leave()
    await hub.close()


async def test_ws_multi_each_channel_is_authorized_under_the_connection_grant() -> None:
    team = StaticToken(
        "t0k3n",
        subscribe=PatternSet.parse(["open.*", "team.*"]),
        publish=PatternSet.parse(["team.*"]),
    )
    auth = AuthConfig(
        static_tokens=(team,),
        anonymous=Grant(subscribe=PatternSet.parse(["open.*"]), source="anonymous"),
    )
    hub = Hub()
    app = _app(hub, auth=auth)
    anonymous = await _open(app)
    assert (await anonymous.ask(op="subscribe", channel="open.a"))["type"] == "ack"
    refused = await anonymous.ask(op="subscribe", channel="team.a", ref="t")
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "unauthorized", "t")
    forged = await anonymous.ask(op="publish", channel="open.a", data="x", ref="f")
    assert (forged["code"], forged["ref"]) == ("unauthorized", "f")
    assert await hub.latest_id("open.a") is None  # nothing was published
    await anonymous.leave()
    member = await _open(app, headers=((b"authorization", b"Bearer t0k3n"),))
    assert (await member.ask(op="subscribe", channel="team.a"))["type"] == "ack"
    assert (await member.ask(op="subscribe", channel="secret"))["code"] == "forbidden"
    assert (await member.ask(op="publish", channel="open.a", data="x"))["code"] == "forbidden"
    ws_ack = await member.ask(op="publish", channel="team.b", data="x", ref="ok")
    assert (ws_ack["type"], ws_ack["ref"]) == ("ack", "ok")
    await member.leave()
    await hub.close()


async def test_6750_ws_multi_publish_needs_the_publish_token() -> None:
    hub = Hub()
    app = _app(hub, publish_token="secret")
    anonymous = await _open(app)
    assert (await anonymous.ask(op="subscribe", channel="n"))["type"] == "ack"
    refused = await anonymous.ask(op="publish", channel="n", data="forged", ref="1")
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "unauthorized", "1")
    assert await hub.latest_id("n") is None
    await anonymous.leave()
    signed = await _open(app, headers=((b"authorization", b"Bearer secret"),))
    assert (await signed.ask(op="publish", channel="n", data="signed", ref="2"))["type"] == "ack"
    await signed.leave()
    await hub.close()


async def test_ws_multi_publish_rules_rate_bucket_and_switch() -> None:
    hub = Hub()
    app = _app(hub, ws_publish_rate=0.001, ws_publish_burst=1)
    ws = await _open(app)
    assert (await ws.ask(op="publish", channel="r", data="1"))["type"] == "ack"
    limited = await ws.ask(op="publish", channel="r", data="2", ref="2")
    assert (limited["code"], limited["ref"]) == ("rate_limited", "2")
    await ws.leave()
    app = _app(hub, ws_publish=False)
    ws = await _open(app)
    assert (await ws.ask(op="publish", channel="r", data="3"))["code"] == "forbidden"
    await ws.leave()
    await hub.close()


async def test_6455_7_4_1_ws_multi_drain_closes_1001_with_the_retry_hint() -> None:
    hub = Hub()
    app = _app(hub, drain_retry_ms=1500)
    ws = await _open(app)
    await ws.ask(op="subscribe", channel="d1")
    await ws.ask(op="subscribe", channel="d2")
    queued = await hub.publish("d2", "before the drain")
    await app.shutdown()
    await ws.done()
    *events, closing = ws.pending()
    # What was accepted before the drain goes out before the close.
    assert [json.loads(m["text"])["id"] for m in events] == [queued.id]
    assert (closing["type"], closing["code"]) == ("websocket.close", 1001)
    assert 1500 <= int(closing["reason"].split("retry=")[1]) <= 3000
    assert hub.stats().subscribers == 0
    # Draining: a new /ws is refused rather than accepted and closed.
    late = ScriptedWS(app)
    assert (await late.open())["type"] == "websocket.close"
    await hub.close()


async def test_6455_7_4_1_ws_multi_message_over_the_limit_is_1009() -> None:
    hub = Hub()
    app = _app(hub)
    ws = await _open(app)
    await ws.ask(op="subscribe", channel="big")
    ws.say("x" * (app.config.ws.max_message_size + 1))
    closing = await ws.recv()
    assert (closing["type"], closing["code"]) == ("websocket.close", 1009)
    await ws.done()
    assert hub.stats().subscribers == 0
    await hub.close()


async def test_ws_multi_other_paths_are_still_refused() -> None:
    app = App(drain_on_signal=False)
    for path in ("/wsx", "/ws-/a", "/echo"):
        refused = ScriptedWS(app, path)
        assert (await refused.open())["type"] == "websocket.close", path
        async with asyncio.timeout(WAIT):
            await refused.done()
    await app.shutdown()


_SMALL_QUEUES = {"write_high_water": 16 * 1024, "write_low_water": 4096,
                 "queue_max_bytes": 64 * 1024, "close_timeout": 0.05}


async def test_6455_7_4_1_ws_multi_stalled_reader_is_cut_and_loses_its_subscriptions() -> None:
    hub = Hub()
    app = _app(hub, **_SMALL_QUEUES)
    ws = await _open(app)
    await ws.ask(op="subscribe", channel="s1")
    await ws.ask(op="subscribe", channel="s2")
    ws.reading.clear()  # the next event's send never returns
    assert ws.task is not None
    for n in range(200):  # bounded: 16 KiB + 64 KiB of 8 KiB events overflow
        if ws.task.done():
            break
        await hub.publish(f"s{n % 2 + 1}", "x" * 8192)
    await ws.done()
    # The 1008 waits behind the stalled send; the reader has close_timeout
    # to take it, then it is dropped (as over HTTP/1.1).
    metrics = app.metrics.render()
    assert 'rawpush_disconnects_total{reason="overflow"} 1' in metrics
    assert 'rawpush_disconnects_total{reason="close_timeout"} 1' in metrics
    assert hub.stats().subscribers == 0
    await hub.close()


async def test_ws_multi_drop_oldest_tells_of_a_gap_on_every_channel() -> None:
    hub = Hub()
    app = _app(hub, overflow="drop-oldest", **_SMALL_QUEUES)
    ws = await _open(app)
    await ws.ask(op="subscribe", channel="d1")
    await ws.ask(op="subscribe", channel="d2")
    ws.reading.clear()
    published = [await hub.publish(f"d{n % 2 + 1}", "x" * 8192) for n in range(40)]
    dropped = 'rawpush_dropped_total{transport="ws"}'
    assert dropped in app.metrics.render()  # 40 x 8 KiB is over every buffer
    ws.reading.set()
    last = published[-1].id
    seen: list[Any] = []
    for _ in range(len(published) + 1):  # bounded: each event at most once, and the notice
        message = await ws.recv_json()
        seen.append(message)
        if message.get("id") == last:
            break
    # The notice names no channel: drop-oldest may have lost either's events.
    assert {"type": "gap"} in seen
    ids = [m["id"] for m in seen if m["type"] == "event"]
    assert ids == sorted(ids, key=lambda i: [int(p) for p in i.split("-")]) and ids[-1] == last
    assert len(ids) < len(published)
    await ws.leave()
    await hub.close()


async def test_ws_multi_events_are_encoded_once_and_a_backplane_gap_names_its_channel() -> None:
    hub = Hub()
    app = _app(hub)
    one, two = await _open(app), await _open(app)
    for ws in (one, two):
        await ws.ask(op="subscribe", channel="shared")
    event = await hub.publish("shared", "for both")
    texts = [(await ws.recv())["text"] for ws in (one, two)]
    # One message, built for the first subscriber and reused for the second.
    assert texts[0] is texts[1] is event.encoded[WS_MULTI_TEXT_KEY]
    await two.leave()
    # A backplane that lost events (Redis trimmed them) hands the hub a gap
    # marker in their place; on /ws it names the channel.
    [exchange] = app.context.connections
    session = exchange.session
    assert isinstance(session, ASGIMultiWSSession)
    session._deliver(HubEvent("9-0", "shared", None, "", gap=True))
    assert await one.recv_json() == {"type": "gap", "channel": "shared"}
    await one.leave()
    await hub.close()


async def test_ws_multi_a_token_that_expires_ends_the_socket_with_4001() -> None:
    secret = "s" * 40
    closed = AuthConfig(jwt=JWTConfig(secret=secret), anonymous=Grant(source="anonymous"))
    hub = Hub()
    app = _app(hub, auth=closed)
    claims = {"sub": "u", "exp": time.time() + 0.5, "rawpush": {"subscribe": ["a"]}}
    token = jwt.encode(claims, secret, algorithm="HS256")
    ws = await _open(app, headers=((b"authorization", f"Bearer {token}".encode()),))
    assert (await ws.ask(op="subscribe", channel="a"))["type"] == "ack"
    # Bounded by recv's wait; the grant's expiry closes the socket.
    closing = await ws.recv()
    assert (closing["type"], closing["code"]) == ("websocket.close", 4001)
    await ws.done()
    assert hub.stats().subscribers == 0
    await hub.close()


async def test_ws_multi_is_refused_when_the_ws_transport_is_left_out() -> None:
    app = App(config=ServerConfig(transports=("sse", "poll")), drain_on_signal=False)
    refused = ScriptedWS(app, extensions={"websocket.http.response": {}})
    start = await refused.open()
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 404)
    await refused.done()
    await app.shutdown()


async def test_ws_multi_a_burst_of_controls_is_answered_in_order_while_reading_pauses() -> None:
    hub = Hub()
    app = _app(hub)
    ws = await _open(app)
    # Far more than the 16 that may wait on the hub before reading pauses.
    burst = 64
    for n in range(burst):
        ws.say(op="publish", channel=f"c{n % 3}", data=str(n), ref=str(n))
    got = [await ws.recv_json() for _ in range(burst)]
    assert [(m["type"], m["ref"]) for m in got] == [("ack", str(n)) for n in range(burst)]
    last = {m["channel"]: m["id"] for m in got}
    assert last == {f"c{n}": await hub.latest_id(f"c{n}") for n in range(3)}
    await ws.leave()
    await hub.close()
