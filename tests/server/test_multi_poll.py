"""``GET /poll?channel=A&channel=B``: one long poll for many channels."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rawpush.auth import AuthConfig, Grant, PatternSet, StaticToken
from rawpush.server.app import Server
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, eventually, request


async def _poll(server: Server, query: str, headers: list[tuple[str, str]] | None = None) -> Any:
    answer = await request(server.port, "GET", "/poll?" + query, headers)
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


async def test_no_cursor_answers_now_with_every_position(server: Server) -> None:
    one = await server.hub.publish("b", "x")
    got = await _poll(server, "channel=a&channel=b")
    assert got == {"events": [], "cursor": f"0-0,{one.id}", "gaps": []}


async def test_events_of_every_channel_no_loss_no_repeat(server: Server) -> None:
    channels = ["p0", "p1", "p2"]
    query = "&".join(f"channel={c}" for c in channels)
    cursor = (await _poll(server, query))["cursor"]
    sent: dict[str, list[str]] = {c: [] for c in channels}
    seen: dict[str, list[str]] = {c: [] for c in channels}
    for round_ in range(3):
        for c in channels:
            sent[c].append((await server.hub.publish(c, f"{c}-{round_}")).id)
        got = await _poll(server, f"{query}&cursor={cursor}&timeout=0")
        for item in got["events"]:
            seen[item["channel"]].append(item["id"])
        cursor = got["cursor"]
    assert seen == sent
    assert (await _poll(server, f"{query}&cursor={cursor}&timeout=0"))["events"] == []


async def test_waits_for_the_first_event_on_any_channel(server: Server) -> None:
    cursor = (await _poll(server, "channel=a&channel=b"))["cursor"]
    waiting = asyncio.ensure_future(_poll(server, f"channel=a&channel=b&cursor={cursor}&timeout=9"))
    await eventually(lambda: server.hub.stats().subscribers == 2, what="waiting")
    event = await server.hub.publish("b", "wake", event="tick")
    got = await waiting
    assert got["events"] == [{"channel": "b", "id": event.id, "event": "tick", "data": "wake"}]
    assert got["cursor"] == f"0-0,{event.id}"
    await eventually(lambda: server.hub.stats().subscribers == 0, what="unsubscribed")


async def test_answers_on_the_first_event_not_at_its_timeout(server: Server) -> None:
    # The wait (30 s) outlasts the client's bound (WAIT, 10 s): only an
    # answer sent when the event arrives gets back in time.
    cursor = (await _poll(server, "channel=e1&channel=e2"))["cursor"]
    waiting = asyncio.ensure_future(
        _poll(server, f"channel=e1&channel=e2&cursor={cursor}&timeout=30")
    )
    await eventually(lambda: server.hub.stats().subscribers == 2, what="waiting")
    event = await server.hub.publish("e1", "now")
    got = await waiting
    assert [item["id"] for item in got["events"]] == [event.id]
    assert got["cursor"] == f"{event.id},0-0"
    await eventually(lambda: server.hub.stats().subscribers == 0, what="unsubscribed")


async def test_drain_answers_a_waiting_poll(server: Server) -> None:
    cursor = (await _poll(server, "channel=d1&channel=d2"))["cursor"]
    waiting = asyncio.ensure_future(
        _poll(server, f"channel=d1&channel=d2&cursor={cursor}&timeout=30")
    )
    await eventually(lambda: server.hub.stats().subscribers == 2, what="waiting")
    await asyncio.wait_for(server.close(), WAIT)
    got = await asyncio.wait_for(waiting, WAIT)
    assert got == {"events": [], "cursor": "0-0,0-0", "gaps": []}


async def test_client_hanging_up_leaves_nothing_subscribed(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    target = "/poll?channel=h1&channel=h2&cursor=0-0,0-0&timeout=30"
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await eventually(lambda: server.hub.stats().subscribers == 2, what="waiting")
    writer.close()
    await eventually(lambda: server.hub.stats().subscribers == 0, what="unsubscribed")
    del reader


async def test_gap_names_the_channel_and_moves_past_it(server: Server) -> None:
    got = await _poll(server, "channel=a&channel=b&cursor=_,99999999999999-0&timeout=0")
    assert got["gaps"] == ["b"]
    again = await _poll(server, f"channel=a&channel=b&cursor={got['cursor']}&timeout=0")
    assert again["gaps"] == []


async def test_bad_cursor_and_limits_are_400(make_server: MakeServer) -> None:
    server = await make_server(max_channels_per_connection=2)
    for query in (
        "",
        "channel=a&channel=b&channel=c",
        "channel=a&cursor=1-0,2-0",
        "channel=a&cursor=x",
    ):
        answer = await request(server.port, "GET", "/poll?" + query)
        assert answer.status == 400, query


async def test_each_channel_authorized(make_server: MakeServer) -> None:
    token = StaticToken("t0k3n", subscribe=PatternSet.parse(["pub.*"]))
    auth = AuthConfig(static_tokens=(token,), anonymous=Grant(source="anonymous"))
    server = await make_server(auth=auth)
    bearer = [("Authorization", "Bearer t0k3n")]
    assert (await request(server.port, "GET", "/poll?channel=pub.a")).status == 401
    mixed = await request(server.port, "GET", "/poll?channel=pub.a&channel=secret", bearer)
    assert mixed.status == 403
    assert (await _poll(server, "channel=pub.a&channel=pub.b", bearer))["gaps"] == []


def _counter(text: str, name: str, transport: str) -> float:
    prefix = f'{name}{{transport="{transport}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_bytes_of_a_poll_answer_count_under_poll(server: Server) -> None:
    # The answer is written while the connection still serves the poll:
    # its bytes are the poll transport's, not "http"'s (between requests).
    answers = b""
    for query in ("channel=m1&channel=m2", "channel=m1&cursor=0-0&timeout=0"):
        answers += (await request(server.port, "GET", "/poll?" + query)).body
    single = await request(server.port, "GET", "/poll/m1?timeout=0")
    answers += single.body
    metrics = (await request(server.port, "GET", "/metrics")).body.decode()
    assert _counter(metrics, "rawpush_bytes_out_total", "poll") > len(answers)
