"""Several ``rawpush serve --redis`` processes on one real redis-server.

What a deployment behind a load balancer relies on: an event published on
one node reaches subscribers on every node over all three transports; a
cursor issued by one node resumes on another (no sticky sessions); a node
dying mid-stream costs its clients a reconnect, not an event; a Redis
restart makes publishes fail with 503 meanwhile and loses nothing accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt as pyjwt
import pytest

from rawpush.hub import HubConfig
from rawpush.hub.redis import RedisBackplane

from .nodes import Node, SSEClient, WSClient, get_json, publish, request
from .redis_server import RedisServer, require_redis

StartNodes = Callable[..., list[Node]]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


def _start(redis: RedisServer, directory: Path, count: int, *args: str) -> list[Node]:
    # Start them all first: the interpreters boot in parallel.
    nodes = [Node(redis.url, directory, "abc"[i], *args) for i in range(count)]
    for node in nodes:
        node.wait_ready()
    return nodes


@pytest.fixture(scope="module")
def nodes(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Node]]:
    started = _start(redis_server, tmp_path_factory.mktemp("nodes"), 3)
    yield started
    for node in started:
        node.stop()


@pytest.fixture
def start_nodes(tmp_path: Path) -> Iterator[StartNodes]:
    started: list[Node] = []

    def start(redis: RedisServer, count: int, *args: str) -> list[Node]:
        new = _start(redis, tmp_path, count, *args)
        started.extend(new)
        return new

    yield start
    for node in started:
        node.stop()


async def publish_ok(node: Node, channel: str, data: str) -> str:
    status, event_id = await publish(node.port, channel, data)
    assert status == 200 and event_id is not None
    return event_id


async def poll_until(port: int, channel: str, cursor: str, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    for _ in range(count + 5):
        if len(events) >= count:
            break
        answer = await get_json(port, f"/poll/{channel}?cursor={cursor}&timeout=5")
        assert not answer.get("gap")
        events += answer["events"]
        cursor = answer["cursor"]
    return events


async def test_publish_on_one_node_reaches_the_others_over_every_transport(
    nodes: list[Node],
) -> None:
    a, b, c = nodes
    first = await publish_ok(a, "fanout", "first")
    # Subscribing after ``first`` makes the start deterministic: whatever the
    # server does before its subscription is live, the resume covers it.
    ws = [await WSClient.open(n.port, "fanout", first) for n in (b, c)]
    sse = [await SSEClient.open(n.port, "fanout", first) for n in (b, c)]
    polls = [asyncio.ensure_future(poll_until(n.port, "fanout", first, 5)) for n in (b, c)]
    sent = [await publish_ok(a, "fanout", f"m{i}") for i in range(5)]
    for client in ws:
        got = [await client.next() for _ in sent]
        assert [(m["id"], m["data"]) for m in got if m] == [
            (i, f"m{n}") for n, i in enumerate(sent)
        ]
        await client.close()
    for stream in sse:
        events = [await stream.next() for _ in sent]
        assert [(e.id, e.data) for e in events if e] == [(i, f"m{n}") for n, i in enumerate(sent)]
        stream.close()
    for poll in polls:
        assert [e["id"] for e in await asyncio.wait_for(poll, 15)] == sent


async def test_a_cursor_from_one_node_resumes_on_another(nodes: list[Node]) -> None:
    a, b, c = nodes
    sent = [await publish_ok(a, "resume", f"m{i}") for i in range(5)]
    answer = await get_json(b.port, f"/poll/resume?cursor={sent[1]}&timeout=0")
    assert [e["id"] for e in answer["events"]] == sent[2:] and not answer.get("gap")
    stream = await SSEClient.open(c.port, "resume", sent[1])
    ws = await WSClient.open(b.port, "resume", sent[1])
    try:
        replayed = [await stream.next() for _ in range(3)]
        assert [e.id for e in replayed if e] == sent[2:]
        assert [(m or {}).get("id") for m in [await ws.next() for _ in range(3)]] == sent[2:]
        live = await publish_ok(c, "resume", "live")
        event = await stream.next()
        assert event is not None and event.id == live
        message = await ws.next()
        assert message is not None and message["id"] == live
    finally:
        stream.close()
        await ws.close()


async def test_a_gap_is_reported_by_every_node(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    _, b, c = nodes
    # Publish straight into Redis with a short history: 105 appends leave
    # the newest 100 (the backplane's minimum), so ids[0..4] are gone.
    config = HubConfig(history_size=5)
    backplane = RedisBackplane(redis_server.url, config=config)
    try:
        ids = [(await backplane.append("gappy", str(i))).id for i in range(105)]
    finally:
        await backplane.close()
    answer = await get_json(b.port, f"/poll/gappy?cursor={ids[0]}&timeout=0")
    assert answer["gap"] is True and answer["events"][0]["id"] == ids[5]
    stream = await SSEClient.open(c.port, "gappy", ids[0])
    ws = await WSClient.open(b.port, "gappy", ids[0])
    try:
        notice = await stream.next()
        assert notice is not None and notice.event == "gap"
        following = await stream.next()
        assert following is not None and following.id == ids[5]
        assert await ws.next() == {"gap": True}
        message = await ws.next()
        assert message is not None and message["id"] == ids[5]
        # The last evicted id itself is no gap: the client has that event.
        edge = await get_json(c.port, f"/poll/gappy?cursor={ids[4]}&timeout=0")
        assert not edge.get("gap") and len(edge["events"]) == 100
    finally:
        stream.close()
        await ws.close()


async def test_a_killed_node_costs_a_reconnect_not_an_event(
    redis_server: RedisServer, start_nodes: StartNodes
) -> None:
    a, b, c = start_nodes(redis_server, 3)
    total = 120
    first = await publish_ok(a, "kill", "first")
    sent: list[str] = []
    killed = asyncio.Event()

    async def publisher() -> None:
        for i in range(total):
            sent.append(await publish_ok(a, "kill", str(i)))
            if i == total // 3:
                b.kill()
                killed.set()
            await asyncio.sleep(0.004)

    async def sse_reader() -> list[str]:
        got: list[str] = []
        stream = await SSEClient.open(b.port, "kill", first)
        for _ in range(total * 2):
            if len(got) == total:
                break
            event = await stream.next()
            if event is None:  # node gone: another node, same cursor
                stream.close()
                stream = await SSEClient.open(c.port, "kill", got[-1] if got else first)
                continue
            assert event.id is not None
            got.append(event.id)
        stream.close()
        return got

    async def ws_reader() -> list[str]:
        got: list[str] = []
        ws = await WSClient.open(b.port, "kill", first)
        for _ in range(total * 2):
            if len(got) == total:
                break
            message = await ws.next()
            if message is None:
                await ws.close()
                ws = await WSClient.open(c.port, "kill", got[-1] if got else first)
                continue
            got.append(str(message["id"]))
        await ws.close()
        return got

    async def poll_reader() -> list[str]:
        got: list[str] = []
        port, cursor = b.port, first
        for _ in range(total * 2):
            if len(got) == total:
                break
            try:
                answer = await get_json(port, f"/poll/kill?cursor={cursor}&timeout=2")
            except (OSError, ValueError, IndexError, AssertionError):
                port = c.port  # B died under this poll
                continue
            assert not answer.get("gap")
            got += [e["id"] for e in answer["events"]]
            cursor = answer["cursor"]
        return got

    readers = [asyncio.ensure_future(r()) for r in (sse_reader, ws_reader, poll_reader)]
    await asyncio.sleep(0.3)
    await publisher()
    assert killed.is_set()
    for reader in readers:
        assert await asyncio.wait_for(reader, 20) == sent


async def test_redis_restart_mid_stream(tmp_path: Path, start_nodes: StartNodes) -> None:
    require_redis()
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        a, b = start_nodes(redis, 2)
        first = await publish_ok(a, "restart", "first")
        stream = await SSEClient.open(b.port, "restart", first)
        sent = [await publish_ok(a, "restart", f"before{i}") for i in range(3)]
        redis.stop(save=True)  # a Redis with persistence: it comes back with its data
        status, _ = await publish(a.port, "restart", "refused")
        assert status == 503
        redis.start()
        for i in range(3):
            for _ in range(50):  # the first tries may still meet the outage
                status, event_id = await publish(a.port, "restart", f"after{i}")
                if status == 200 and event_id is not None:
                    sent.append(event_id)
                    break
                assert status == 503
                await asyncio.sleep(0.1)
        got = [await stream.next(timeout=15) for _ in sent]
        assert [e.id for e in got if e] == sent  # same connection, nothing twice
        stream.close()
        # The outage is visible to operators: B's reader had to reconnect.
        status, text = await request(b.port, "GET", "/metrics")
        assert status == 200
        counts = dict(
            line.rsplit(" ", 1)
            for line in text.decode().splitlines()
            if line.startswith("rawpush_backplane_")
        )
        assert int(counts["rawpush_backplane_reconnects_total"]) >= 1
        assert counts["rawpush_backplane_lost_live_total"] == "0"
    finally:
        with contextlib.suppress(Exception):
            redis.kill()


async def test_a_ticket_issued_on_one_node_is_good_once_on_another(
    redis_server: RedisServer, start_nodes: StartNodes
) -> None:
    secret = "k" * 40
    a, b = start_nodes(redis_server, 2, "--jwt-secret", secret, "--anonymous", "none")
    bearer = pyjwt.encode(
        {"exp": time.time() + 600, "rawpush": {"subscribe": ["vip"]}}, secret, algorithm="HS256"
    )
    status, body = await request(
        a.port,
        "POST",
        "/tickets",
        b'{"channels":["vip"]}',
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert status == 200, body
    ticket = json.loads(body)["ticket"]
    status, _ = await request(b.port, "GET", f"/poll/vip?timeout=0&ticket={ticket}")
    assert status == 200
    # Single use across the cluster: neither node takes it again.
    for node in (a, b):
        status, _ = await request(node.port, "GET", f"/poll/vip?timeout=0&ticket={ticket}")
        assert status == 401


async def test_whatwg_9_2_3_a_resume_storm_gets_no_non_200_while_redis_is_up(
    nodes: list[Node],
) -> None:
    # An EventSource that gets a non-200 answer never reconnects (WHATWG
    # HTML section 9.2.3): 1,000 clients resuming at once, as after a node
    # restart, must all be answered 200 and replayed what they missed. An
    # end-to-end guard: the regression test, on a pool small enough to
    # fail without shared reads, is in tests/hub/test_redis_storms.py.
    a, b = nodes[0], nodes[1]
    ids = [await publish_ok(a, "resume-storm", str(i)) for i in range(10)]
    opened = await asyncio.gather(
        *(SSEClient.open(b.port, "resume-storm", ids[i % 10]) for i in range(1000)),
        return_exceptions=True,
    )
    try:
        refused = [o for o in opened if not isinstance(o, SSEClient)]
        assert refused == []
        for i, client in enumerate(opened[:50]):  # each one resumes where it was
            assert isinstance(client, SSEClient)
            if i % 10 < 9:  # the others are at the head: nothing to replay
                first = await client.next()
                assert first is not None and first.id == ids[i % 10 + 1]
    finally:
        for client in opened:
            if isinstance(client, SSEClient):
                client.close()
