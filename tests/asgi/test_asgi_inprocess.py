"""rawpush.asgi.App driven in-process by a scripted ASGI server: the
scope translation, the answers as messages, and the paths a real server
rarely shows on demand (a send that never returns, a refused handshake,
the limits)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from rawpush import Hub, ServerConfig
from rawpush.asgi import App
from rawpush.asgi.scope import Message, build_request, raw_path, response_messages
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import HTTPConfig
from rawpush.server.answers import Refusal, Reply

WAIT = 10.0


class Peer:
    """The server side of one ASGI call: what the app receives, what it sent."""

    def __init__(self, *incoming: Message) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        for message in incoming:
            self.inbox.put_nowait(message)
        self.sent: list[Message] = []
        self.seen = asyncio.Condition()
        #: sends of body messages wait on this once it is set (a stalled reader)
        self.stall: asyncio.Event | None = None

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        async with self.seen:
            self.sent.append(message)
            self.seen.notify_all()
        if self.stall is not None and message["type"] == "http.response.body":
            await self.stall.wait()

    async def until(self, test: Callable[[list[Message]], bool]) -> None:
        async with asyncio.timeout(WAIT), self.seen:
            await self.seen.wait_for(lambda: test(self.sent))


def http_scope(path: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": [(b"host", b"test")], "http_version": "1.1",
    }
    scope.update(extra)
    return scope


def ws_scope(path: str, query: bytes = b"", **extra: Any) -> dict[str, Any]:
    return http_scope(path, type="websocket", query_string=query, **extra)


async def call(app: App, scope: dict[str, Any], peer: Peer) -> asyncio.Task[None]:
    return asyncio.ensure_future(app(scope, peer.receive, peer.send))


def body_of(peer: Peer) -> bytes:
    return b"".join(m.get("body", b"") for m in peer.sent if m["type"].endswith(".body"))


# -- the scope ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ({"raw_path": b"/push/sse/a", "path": "/push/sse/a", "root_path": "/push"}, "/sse/a"),
        # uvicorn --root-path: raw_path is already relative to the mount
        ({"raw_path": b"/sse/a", "path": "/push/sse/a", "root_path": "/push"}, "/sse/a"),
        ({"raw_path": b"/a/b/poll/c", "root_path": "/a/b/"}, "/poll/c"),
        ({"raw_path": b"/push", "root_path": "/push"}, "/"),
        # RFC 3986 2.2: the encoded "/" stays data, in the prefix's wake too
        ({"raw_path": b"/push/publish%2Fa", "root_path": "/push"}, "/publish%2Fa"),
        ({"raw_path": b"/p%75sh/x", "root_path": "/push"}, "/x"),
        # no raw_path: the decoded path, re-encoded
        ({"path": "/sse/a b", "root_path": ""}, "/sse/a%20b"),
        ({"raw_path": b"/sse/a?x=1"}, "/sse/a"),
    ],
)
def test_3986_2_2_routing_reads_the_raw_path_below_the_mount(
    scope: dict[str, Any], path: str
) -> None:
    assert raw_path(scope) == path


def test_9112_3_request_from_scope_query_and_long_target() -> None:
    config = HTTPConfig(max_target_bytes=64)
    scope = http_scope("/poll/a", query_string=b"cursor=1-0&timeout=0")
    request = build_request(scope, config)
    assert (request.path, request.query, request.target) == (
        "/poll/a", {"cursor": "1-0", "timeout": "0"}, "/poll/a?cursor=1-0&timeout=0"
    )
    with pytest.raises(HTTPError) as refused:
        build_request(http_scope("/" + "a" * 64), config)
    assert refused.value.status == 414


def test_9110_9_3_2_head_keeps_content_length_and_drops_the_body() -> None:
    start, body = response_messages(Reply(200, [("X", "1")], b"hello"), "HEAD")
    assert (b"content-length", b"5") in start["headers"] and body["body"] == b""
    start, _ = response_messages(Reply(204), "GET")
    assert all(name != b"content-length" for name, _ in start["headers"])
    start, _ = response_messages(Reply(200, stream_head=True), "HEAD")
    assert all(name != b"content-length" for name, _ in start["headers"])
    start, body = response_messages(Refusal(HTTPError("no", 404)), "GET")
    assert start["status"] == 404 and json.loads(body["body"]) == {"error": "no"}


# -- the app ----------------------------------------------------------------------


async def test_lifespan_starts_and_drains_and_closes_its_own_hub() -> None:
    app = App(drain_on_signal=False)
    peer = Peer({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    async with asyncio.timeout(WAIT):
        await app({"type": "lifespan"}, peer.receive, peer.send)
    assert [m["type"] for m in peer.sent] == [
        "lifespan.startup.complete", "lifespan.shutdown.complete"
    ]
    assert app.context.draining and app.hub.closed
    with pytest.raises(ValueError, match="unsupported"):
        await app({"type": "telepathy"}, peer.receive, peer.send)


async def test_9110_15_5_14_body_over_the_limit_is_413() -> None:
    config = ServerConfig(http=HTTPConfig(max_body_bytes=4))
    app = App(config=config, drain_on_signal=False)
    peer = Peer({"type": "http.request", "body": b"abc", "more_body": True},
                {"type": "http.request", "body": b"de"})
    await (await call(app, http_scope("/publish/a", "POST"), peer))
    assert peer.sent[0]["status"] == 413
    peer = Peer()
    scope = http_scope("/publish/a", "POST", headers=[(b"content-length", b"5")])
    await (await call(app, scope, peer))
    assert peer.sent[0]["status"] == 413
    await app.shutdown()


async def test_sse_stalled_send_pauses_the_session_then_overflow_cuts_it() -> None:
    config = ServerConfig(write_high_water=16 * 1024, write_low_water=4096,
                          queue_max_bytes=64 * 1024)
    hub = Hub(config.hub)
    app = App(hub, config, drain_on_signal=False)
    peer = Peer({"type": "http.request"})
    peer.stall = asyncio.Event()  # the first body message never returns
    task = await call(app, http_scope("/sse/s"), peer)
    await peer.until(lambda sent: any(m["type"] == "http.response.start" for m in sent))
    for _ in range(200):  # bounded: 16 KiB + 64 KiB of 8 KiB events overflow
        if task.done():
            break
        await hub.publish("s", "x" * 8192)
    async with asyncio.timeout(WAIT):
        await task
    metrics = app.metrics.render()
    assert 'rawpush_disconnects_total{reason="overflow"} 1' in metrics
    assert hub.stats().channels["s"].subscribers == 0
    assert not app.context.connections
    await hub.close()


async def test_sse_disconnect_ends_the_stream_and_the_subscription() -> None:
    hub = Hub()
    app = App(hub, drain_on_signal=False)
    peer = Peer({"type": "http.request"})
    task = await call(app, http_scope("/sse/d"), peer)
    await peer.until(lambda sent: any(m["type"] == "http.response.start" for m in sent))
    await hub.publish("d", "one")
    await peer.until(lambda sent: b"one" in body_of(peer))
    peer.inbox.put_nowait({"type": "http.disconnect"})
    async with asyncio.timeout(WAIT):
        await task
    assert hub.stats().channels["d"].subscribers == 0
    assert b"data: one\n" in body_of(peer)
    await hub.close()


async def test_poll_is_cancelled_when_the_client_leaves() -> None:
    hub = Hub()
    app = App(hub, drain_on_signal=False)
    first = await hub.publish("p", "x")
    peer = Peer({"type": "http.request"})
    scope = http_scope("/poll/p", query_string=f"cursor={first.id}&timeout=30".encode())
    task = await call(app, scope, peer)
    peer.inbox.put_nowait({"type": "http.disconnect"})
    async with asyncio.timeout(WAIT):
        await task
    assert peer.sent == []  # nobody to answer
    await hub.close()


async def test_6455_4_2_2_refused_handshake_is_a_denial_response_or_a_close() -> None:
    app = App(drain_on_signal=False)
    peer = Peer({"type": "websocket.connect"})
    scope = ws_scope("/nope", extensions={"websocket.http.response": {}})
    await (await call(app, scope, peer))
    assert peer.sent[0]["type"] == "websocket.http.response.start"
    assert peer.sent[0]["status"] == 404 and b"error" in body_of(peer)
    peer = Peer({"type": "websocket.connect"})
    await (await call(app, ws_scope("/ws/a", b"lastEventId=nonsense"), peer))
    assert [m["type"] for m in peer.sent] == ["websocket.close"]
    # An Origin outside the allow-list is refused as over HTTP/1.1.
    app = App(config=ServerConfig(allowed_origins=("https://ok",)), drain_on_signal=False)
    peer = Peer({"type": "websocket.connect"})
    await (await call(app, ws_scope("/ws/a", headers=[(b"origin", b"https://evil")]), peer))
    assert [m["type"] for m in peer.sent] == ["websocket.close"]


async def _ws(app: App, *messages: Message) -> Peer:
    peer = Peer({"type": "websocket.connect"})
    task = await call(app, ws_scope("/ws/w"), peer)
    await peer.until(lambda sent: any(m["type"] == "websocket.accept" for m in sent))
    for message in messages:
        peer.inbox.put_nowait(message)
    async with asyncio.timeout(WAIT):
        await task
    return peer


async def test_6455_7_4_1_binary_is_published_as_bytes_and_too_big_is_1009() -> None:
    app = App(drain_on_signal=False)
    # A binary message is a binary publish; the peer, subscribed to the
    # channel, gets it back as bytes, not as text (section 5.6).
    peer = Peer({"type": "websocket.connect"})
    task = await call(app, ws_scope("/ws/w"), peer)
    await peer.until(lambda sent: any(m["type"] == "websocket.accept" for m in sent))
    peer.inbox.put_nowait({"type": "websocket.receive", "bytes": b"\x00\xff"})
    await peer.until(lambda sent: any(m.get("bytes") == b"\x00\xff" for m in sent))
    peer.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    async with asyncio.timeout(WAIT):
        await task
    assert [m for m in peer.sent if m["type"] == "websocket.send"] == [
        {"type": "websocket.send", "bytes": b"\x00\xff"}
    ]
    limit = app.config.ws.max_message_size
    peer = await _ws(app, {"type": "websocket.receive", "text": "x" * (limit + 1)})
    assert peer.sent[-1]["code"] == 1009
    # Fewer characters than the limit, more UTF-8 bytes: the limit is on bytes.
    peer = await _ws(app, {"type": "websocket.receive", "text": "\u00e9" * (limit // 2 + 1)})
    assert peer.sent[-1]["code"] == 1009
    peer = await _ws(app, {"type": "websocket.disconnect", "code": 1000})
    assert peer.sent[-1]["type"] == "websocket.accept"  # nothing after the peer left
    await app.shutdown()


async def test_ws_text_is_published_and_delivered_and_drain_closes_1001() -> None:
    hub = Hub()
    app = App(hub, drain_on_signal=False)
    peer = Peer({"type": "websocket.connect"})
    task = await call(app, ws_scope("/ws/t"), peer)
    await peer.until(lambda sent: any(m["type"] == "websocket.accept" for m in sent))
    peer.inbox.put_nowait({"type": "websocket.receive", "text": "hi"})
    await peer.until(lambda sent: sent[-1]["type"] == "websocket.send")
    assert json.loads(peer.sent[-1]["text"])["data"] == "hi"
    await app.shutdown()
    async with asyncio.timeout(WAIT):
        await task
    closing = peer.sent[-1]
    assert (closing["type"], closing["code"]) == ("websocket.close", 1001)
    # The drain hint (rawpush.client.ws_errors.retry_hint reads it).
    assert closing["reason"].startswith("server shutting down; retry=")
    # Draining: a new subscriber is refused rather than drained at once.
    peer = Peer({"type": "websocket.connect"})
    await (await call(app, ws_scope("/ws/t"), peer))
    assert [m["type"] for m in peer.sent] == ["websocket.close"]
    await hub.close()


async def test_max_connections_counts_exchanges() -> None:
    app = App(config=ServerConfig(max_connections=1), drain_on_signal=False)
    first = Peer({"type": "http.request"})
    task = await call(app, http_scope("/sse/m"), first)
    await first.until(bool)
    second = Peer({"type": "http.request"})
    await (await call(app, http_scope("/healthz"), second))
    assert second.sent[0]["status"] == 503
    await app.shutdown()
    async with asyncio.timeout(WAIT):
        await task
    assert b"retry: " in body_of(first)  # the drain hint (spread over 1000 .. 2000 ms)



async def test_6455_7_4_1_stalled_ws_reader_gets_1008_then_close_timeout_ends_it() -> None:
    config = ServerConfig(write_high_water=16 * 1024, write_low_water=4096,
                          queue_max_bytes=64 * 1024, close_timeout=0.05)
    hub = Hub(config.hub)
    app = App(hub, config, drain_on_signal=False)
    peer = Peer({"type": "websocket.connect"})
    stall = asyncio.Event()

    async def send(message: Message) -> None:
        await Peer.send(peer, message)
        if message["type"] == "websocket.send":
            await stall.wait()  # the first event is never taken

    task = asyncio.ensure_future(app(ws_scope("/ws/stall"), peer.receive, send))
    await peer.until(lambda sent: any(m["type"] == "websocket.accept" for m in sent))
    for _ in range(200):  # bounded: 16 KiB + 64 KiB of 8 KiB events overflow
        if task.done():
            break
        await hub.publish("stall", "x" * 8192)
    async with asyncio.timeout(WAIT):
        await task
    metrics = app.metrics.render()
    assert 'rawpush_disconnects_total{reason="overflow"} 1' in metrics
    assert 'rawpush_disconnects_total{reason="close_timeout"} 1' in metrics
    assert hub.stats().channels["stall"].subscribers == 0
    await hub.close()


async def test_6585_4_connections_per_client_address_are_limited_429() -> None:
    app = App(config=ServerConfig(max_connections_per_address=1), drain_on_signal=False)
    client: dict[str, Any] = {"client": ["10.0.0.1", 5000]}
    first = Peer({"type": "http.request"})
    task = await call(app, http_scope("/sse/a", **client), first)
    await first.until(bool)
    second = Peer({"type": "http.request"})
    await (await call(app, http_scope("/healthz", **client), second))
    assert second.sent[0]["status"] == 429
    other = Peer({"type": "http.request"})
    await (await call(app, http_scope("/healthz", client=["10.0.0.2", 5000]), other))
    assert other.sent[0]["status"] == 200
    await app.shutdown()
    async with asyncio.timeout(WAIT):
        await task
    # Released with the stream: the address may connect again.
    again = Peer({"type": "http.request"})
    await (await call(app, http_scope("/healthz", **client), again))
    assert again.sent[0]["status"] != 429


async def test_6750_ws_publish_without_the_token_is_refused_as_over_http11() -> None:
    hub = Hub()
    app = App(hub, ServerConfig(publish_token="secret"), drain_on_signal=False)
    peer = await _ws(app, {"type": "websocket.receive", "text": "forged"})
    assert peer.sent[-1]["type"] == "websocket.close" and peer.sent[-1]["code"] == 1008
    assert await hub.latest_id("w") is None  # nothing was published
    # With the token (RFC 6750 section 2.1), the same message is published.
    peer = Peer({"type": "websocket.connect"})
    scope = ws_scope("/ws/w", headers=[(b"host", b"t"), (b"authorization", b"Bearer secret")])
    task = await call(app, scope, peer)
    await peer.until(lambda sent: any(m["type"] == "websocket.accept" for m in sent))
    peer.inbox.put_nowait({"type": "websocket.receive", "text": "signed"})
    await peer.until(lambda sent: sent[-1]["type"] == "websocket.send")
    assert json.loads(peer.sent[-1]["text"])["data"] == "signed"
    peer.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    async with asyncio.timeout(WAIT):
        await task
    await hub.close()


async def test_6750_3_1_a_reader_without_rights_gets_401_on_every_transport_over_asgi() -> None:
    # The same rule as over HTTP/1.1: nobody reads without a credential here.
    from rawpush.auth import AuthConfig, Grant, JWTConfig

    closed = AuthConfig(jwt=JWTConfig(secret="a" * 40), anonymous=Grant(source="anonymous"))
    hub = Hub()
    app = App(hub, ServerConfig(auth=closed), drain_on_signal=False)
    for path in ("/sse/news", "/poll/news"):
        peer = Peer({"type": "http.request", "body": b"", "more_body": False})
        task = await call(app, http_scope(path), peer)
        async with asyncio.timeout(WAIT):
            await task
        start = peer.sent[0]
        assert start["type"] == "http.response.start" and start["status"] == 401, path
        assert (b"www-authenticate", b'Bearer realm="rawpush"') in start["headers"]
    peer = Peer({"type": "websocket.connect"})
    task = await call(app, ws_scope("/ws/news"), peer)
    async with asyncio.timeout(WAIT):
        await task
    assert not any(m["type"] == "websocket.accept" for m in peer.sent)
    refused = peer.sent[0]
    assert refused["type"] in ("websocket.close", "websocket.http.response.start")
    await hub.close()
