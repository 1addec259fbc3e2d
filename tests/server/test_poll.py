"""``/poll/{channel}`` end to end, with the standard library's HTTP client
(in a thread) as the client nobody here wrote."""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any

from rawpush.hub import HubConfig, HubEvent
from rawpush.proto.longpoll import PollEvent, poll_body
from rawpush.server.app import Server
from rawpush.server.encoding import poll_answer
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, request


def _http(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


async def test_stdlib_client_publishes_and_polls(server: Server) -> None:
    port = server.port
    status, start = await asyncio.to_thread(_http, port, "GET", "/poll/p?timeout=5")
    # No cursor: the answer is immediate and carries the cursor to start from.
    assert status == 200 and start == {"events": [], "cursor": "0-0"}
    status, published = await asyncio.to_thread(_http, port, "POST", "/publish/p", b"one")
    assert status == 200
    status, got = await asyncio.to_thread(
        _http, port, "GET", f"/poll/p?cursor={start['cursor']}&timeout=5"
    )
    assert got["events"] == [{"id": published["id"], "event": "message", "data": "one"}]
    assert got["cursor"] == published["id"]
    # A poll without a cursor on a channel with events starts at the newest.
    status, latest = await asyncio.to_thread(_http, port, "GET", "/poll/p")
    assert latest == {"events": [], "cursor": published["id"]}


async def test_long_poll_waits_for_the_next_event(server: Server) -> None:
    waiting = asyncio.ensure_future(request(server.port, "GET", "/poll/w?cursor=0-0&timeout=9"))
    async with asyncio.timeout(WAIT):
        while server.hub.stats().waiters == 0:
            await asyncio.sleep(0.01)
    event = await server.hub.publish("w", "woke")
    answer = json.loads((await asyncio.wait_for(waiting, WAIT)).body)
    assert [e["id"] for e in answer["events"]] == [event.id]


async def test_short_poll_and_timeout_answer_empty(server: Server) -> None:
    short = await request(server.port, "GET", "/poll/e?cursor=0-0&timeout=0")
    assert json.loads(short.body) == {"events": [], "cursor": "0-0"}
    waited = await request(server.port, "GET", "/poll/e?cursor=0-0&timeout=0.05")
    assert json.loads(waited.body) == {"events": [], "cursor": "0-0"}
    assert (await request(server.port, "GET", "/poll/e?timeout=nan")).status == 400
    assert (await request(server.port, "GET", "/poll/e?cursor=junk")).status == 400


async def test_gap_when_the_cursor_is_older_than_the_history(make_server: MakeServer) -> None:
    server = await make_server(hub=HubConfig(history_size=2))
    first = await server.hub.publish("g", "lost")
    for i in range(3):
        await server.hub.publish("g", f"kept{i}")
    answer = json.loads((await request(server.port, "GET", f"/poll/g?cursor={first.id}")).body)
    assert answer["gap"] is True
    assert [e["data"] for e in answer["events"]] == ["kept1", "kept2"]


async def test_client_hanging_up_leaves_nothing_waiting(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /poll/gone?cursor=0-0&timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(WAIT):
        while server.hub.stats().waiters == 0:
            await asyncio.sleep(0.01)
        writer.close()
        while server.hub.stats().waiters or server.hub.stats().subscribers:
            await asyncio.sleep(0.01)
    # Events published afterwards are still kept for the next poll.
    event = await server.hub.publish("gone", "later")
    answer = json.loads((await request(server.port, "GET", "/poll/gone?cursor=0-0")).body)
    assert [e["id"] for e in answer["events"]] == [event.id]
    del reader


async def test_drain_answers_pending_polls(make_server: MakeServer) -> None:
    server = await make_server()
    waiting = asyncio.ensure_future(request(server.port, "GET", "/poll/d?cursor=0-0&timeout=30"))
    async with asyncio.timeout(WAIT):
        while server.hub.stats().waiters == 0:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(server.close(), WAIT)
    answer = await asyncio.wait_for(waiting, WAIT)
    assert answer.status == 200
    assert json.loads(answer.body) == {"events": [], "cursor": "0-0"}


def test_poll_answer_matches_the_core_encoder() -> None:
    events = (
        HubEvent("1-0", "c", None, "plain"),
        HubEvent("1-1", "c", "named", 'quotes " and\nlines é'),
    )
    for gap in (False, True):
        expected = poll_body(
            [PollEvent(e.id, e.event or "message", str(e.data)) for e in events], "1-1", gap=gap
        )
        assert poll_answer(events, "1-1", gap) == expected
    # Encoded once: the cached item is the very same object next time.
    assert events[0].encoded["poll"] is events[0].encoded["poll"]
    first = events[0].encoded["poll"]
    poll_answer(events, "1-1", False)
    assert events[0].encoded["poll"] is first
