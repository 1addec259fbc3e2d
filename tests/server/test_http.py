"""The HTTP side: routes and their statuses, limits, timeouts, security,
metrics. Each test talks to a real server over loopback."""

from __future__ import annotations

import asyncio
import json
import sys

import h11
import pytest

from rawpush.proto.http import HTTPConfig
from rawpush.server.app import Server
from tests.server.conftest import FAST, MakeServer
from tests.server.support import WAIT, exchange, read_until_eof, request


async def test_routes_answer_with_the_right_status(server: Server) -> None:
    port = server.port
    index = await request(port, "GET", "/")
    assert index.status == 200
    assert index.headers["content-type"].startswith("text/html")
    assert b"rawpush" in index.body and b"<script" in index.body
    head = await request(port, "HEAD", "/")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(index.body))
    assert (await request(port, "GET", "/healthz")).body == b"ok\n"
    assert (await request(port, "GET", "/nowhere")).status == 404
    wrong = await request(port, "DELETE", "/publish/news")
    assert wrong.status == 405
    assert wrong.headers["allow"] == "POST, OPTIONS"
    assert (await request(port, "POST", "/sse/news")).headers["allow"] == "GET, HEAD, OPTIONS"
    for path in ("/sse/bad%20name", "/poll/a/b", "/ws/", "/publish/" + "x" * 200):
        bad = await request(port, "POST" if "publish" in path else "GET", path)
        assert bad.status == 400, path
    # A GET to /ws without an upgrade: 426 names what the endpoint speaks.
    plain = await request(port, "GET", "/ws/news")
    assert plain.status == 426
    assert plain.headers["upgrade"] == "websocket"
    sse_head = await request(port, "HEAD", "/sse/news")
    assert sse_head.status == 200
    assert sse_head.headers["content-type"].startswith("text/event-stream")


async def test_keep_alive_serves_several_requests_on_one_connection(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    conn = h11.Connection(h11.CLIENT)
    try:
        for i in range(3):
            published = await exchange(
                reader, writer, "POST", "/publish/k", body=b"%d" % i, conn=conn
            )
            assert published.status == 200
            conn.start_next_cycle()
        polled = await exchange(reader, writer, "GET", "/poll/k?cursor=0-0&timeout=0", conn=conn)
        assert [e["data"] for e in json.loads(polled.body)["events"]] == ["0", "1", "2"]
    finally:
        writer.close()


async def test_publish_answers_with_the_id(server: Server) -> None:
    reply = await request(server.port, "POST", "/publish/news?event=flash", body="héllo".encode())
    assert reply.status == 200
    event_id = json.loads(reply.body)["id"]
    replay = await server.hub.since("news", "0-0")
    assert [(e.id, e.event, e.data) for e in replay.events] == [(event_id, "flash", "héllo")]
    assert (await request(server.port, "POST", "/publish/news", body=b"\xff")).status == 400
    assert (
        await request(server.port, "POST", "/publish/news?event=a%0Ab", body=b"x")
    ).status == 400


async def test_publish_token_is_required_when_set(make_server: MakeServer) -> None:
    server = await make_server(publish_token="s3cret")
    port = server.port
    assert (await request(port, "POST", "/publish/a", body=b"x")).status == 401
    wrong = [("Authorization", "Bearer nope")]
    denied = await request(port, "POST", "/publish/a", wrong, b"x")
    assert denied.status == 401
    assert denied.headers["www-authenticate"].startswith("Bearer")
    right = [("Authorization", "Bearer s3cret")]
    assert (await request(port, "POST", "/publish/a", right, b"x")).status == 200


async def test_cors_headers_and_preflight(make_server: MakeServer) -> None:
    open_server = await make_server()
    pre = await request(
        open_server.port, "OPTIONS", "/publish/a", [("Origin", "https://x.example")]
    )
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Authorization" in pre.headers["access-control-allow-headers"]
    polled = await request(open_server.port, "GET", "/poll/a")
    assert polled.headers["access-control-allow-origin"] == "*"

    strict = await make_server(allowed_origins=("https://ok.example",))
    good = [("Origin", "https://ok.example")]
    reply = await request(strict.port, "POST", "/publish/a", good, b"x")
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == "https://ok.example"
    assert reply.headers["vary"] == "Origin"
    evil = [("Origin", "https://evil.example")]
    assert (await request(strict.port, "OPTIONS", "/sse/a", evil)).status == 403
    assert (await request(strict.port, "GET", "/poll/a", evil)).status == 403


async def test_oversize_head_gets_431(make_server: MakeServer) -> None:
    server = await make_server(http=HTTPConfig(max_header_bytes=1024))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
    data = await read_until_eof(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 431 ")


async def test_oversize_body_gets_413(make_server: MakeServer) -> None:
    server = await make_server(http=HTTPConfig(max_body_bytes=100))
    reply = await request(server.port, "POST", "/publish/a", body=b"x" * 101)
    assert reply.status == 413


async def test_slowloris_head_is_cut_off_with_408(make_server: MakeServer) -> None:
    server = await make_server(header_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
    data = await read_until_eof(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert server.metrics.get("rawpush_disconnects_total", (("reason", "header_timeout"),)) == 1


async def test_idle_keep_alive_connection_is_closed(make_server: MakeServer) -> None:
    server = await make_server(keepalive_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    conn = h11.Connection(h11.CLIENT)
    assert (await exchange(reader, writer, "GET", "/healthz", conn=conn)).status == 200
    assert await read_until_eof(reader) == b""  # closed without a word
    writer.close()


async def test_max_connections_answers_503_then_closes(make_server: MakeServer) -> None:
    server = await make_server(max_connections=2)
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    # Wait until both are accepted, so the third one is the one over the limit.
    for reader, writer in held:
        assert (await exchange(reader, writer, "GET", "/healthz")).status == 200
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await read_until_eof(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 503 ")
    for _, w in held:
        w.close()


async def test_metrics_show_the_counters(server: Server) -> None:
    port = server.port
    await request(port, "POST", "/publish/m", body=b"x")
    await request(port, "GET", "/nowhere")
    text = (await request(port, "GET", "/metrics")).body.decode()
    for needle in (
        'rawpush_connections{transport="http"}',
        'rawpush_bytes_in_total{transport="http"}',
        'rawpush_bytes_out_total{transport="http"}',
        'rawpush_messages_in_total{transport="http"} 1',
        "rawpush_published_total 1",
        'rawpush_queue_bytes{transport="ws"} 0',
        'rawpush_queue_messages{transport="sse"} 0',
        'rawpush_http_responses_total{status="404"} 1',
        "rawpush_channels 1",
        "# TYPE rawpush_connections gauge",
    ):
        assert needle in text, needle


async def test_start_close_and_port() -> None:
    server = Server()
    with pytest.raises(RuntimeError):
        _ = server.port
    async with Server(FAST) as running:
        assert running.port > 0
        assert running.url == f"http://127.0.0.1:{running.port}"
        assert (await request(running.port, "GET", "/healthz")).status == 200
    await running.close()  # idempotent
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", running.port)


async def test_rawpush_serve_and_lazy_exports() -> None:
    import rawpush

    server = await rawpush.serve(port=0, hub=rawpush.HubConfig(history_size=5))
    try:
        assert isinstance(server, rawpush.Server)
        assert server.config.hub.history_size == 5
        assert (await request(server.port, "GET", "/healthz")).status == 200
    finally:
        await server.close()
    # The sans-IO core must not pull in asyncio (DESIGN.md "Layers").
    code = "import sys, rawpush.ws, rawpush.sse; assert 'asyncio' not in sys.modules"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    assert await asyncio.wait_for(proc.wait(), WAIT) == 0


async def test_publish_is_503_when_the_hub_refuses() -> None:
    from rawpush.hub import Hub

    hub = Hub()
    async with Server(FAST, hub=hub) as server:
        assert server.hub is hub
        await hub.close()
        reply = await request(server.port, "POST", "/publish/a", body=b"x")
        assert reply.status == 503
