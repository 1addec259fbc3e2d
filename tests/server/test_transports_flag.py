"""``ServerConfig.transports`` (``rawpush serve --transports sse,poll``):
the routes of a transport left out answer 404 on every host (HTTP/1.1,
HTTP/2 and the ASGI app all route through ``rawpush.server.routes``), a
WebSocket upgrade included, so a client falls back to what is served."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from rawpush.asgi import App
from rawpush.cli import build_parser
from rawpush.cli.serve import config_from_args
from rawpush.server.config import ConfigError, ServerConfig
from tests.cli.support import run
from tests.h2.support_client import client, serving
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, open_sse, raw_ws, request

#: a WebSocket opening handshake's request headers (RFC 6455 section 4.1)
UPGRADE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
]
#: every route of each transport, with a method it answers
ROUTES = {
    "ws": [("GET", "/ws"), ("GET", "/ws/c")],
    "sse": [("GET", "/sse/c"), ("HEAD", "/sse/c"), ("GET", "/sse?channel=c"),
            ("HEAD", "/sse?channel=c"), ("OPTIONS", "/sse/c")],
    "poll": [("GET", "/poll/c?timeout=0"), ("GET", "/poll?channel=c&timeout=0"),
             ("OPTIONS", "/poll/c")],
}  # fmt: skip


def test_default_serves_every_transport() -> None:
    assert ServerConfig().transports == ("ws", "sse", "poll")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (("sse,poll",), ("sse", "poll")),
        (("poll", "sse"), ("sse", "poll")),
        (["websocket", " POLL "], ("ws", "poll")),
        ("ws", ("ws",)),
        (("sse", "sse,sse"), ("sse",)),
    ],
)
def test_a_comma_list_in_any_order_and_spelling(given: Any, kept: tuple[str, ...]) -> None:
    assert ServerConfig(transports=given).transports == kept


@pytest.mark.parametrize("given", [(), ("",), ("sse,",), ("http",), (5,), 5, None])
def test_unknown_or_no_transport_is_refused(given: Any) -> None:
    with pytest.raises(ConfigError, match=r"ServerConfig\.transports"):
        ServerConfig(transports=given)


async def test_cli_flag_parses_a_comma_list_and_is_in_the_help() -> None:
    parse = build_parser().parse_args
    args = parse(["serve", "--transports", "sse,poll"])
    assert config_from_args(args).transports == ("sse", "poll")
    args = parse(["serve", "--transports", "sse", "--transports", "ws"])
    assert config_from_args(args).transports == ("ws", "sse")
    code, out, _ = await run("serve", "--help")
    assert code == 0 and "--transports" in out


@pytest.mark.parametrize("served", ["ws", "sse", "poll"])
async def test_9110_15_5_5_a_left_out_transport_is_404_on_every_route(
    make_server: MakeServer, served: str
) -> None:
    server = await make_server(transports=(served,))
    for transport, routes in ROUTES.items():
        for method, target in routes:
            if transport == served == "ws":
                ws = await raw_ws(server.port, target)
                ws.close()
                assert ws.status == 101, target
                continue
            if transport == served == "sse" and method == "GET":
                stream = await open_sse(server.port, target)
                stream.close()
                assert stream.status == 200, target
                continue
            headers = UPGRADE if transport == "ws" else None
            answer = await request(server.port, method, target, headers)
            if transport == served:
                assert answer.status in (200, 204), (target, answer.status)
                continue
            assert answer.status == 404, (method, target, answer.status)
            if method != "HEAD":
                said = json.loads(answer.body)["error"]
                assert f"{transport} transport is disabled" in said, said
    # Publishing is no transport: it stays.
    assert (await request(server.port, "POST", "/publish/c", body=b"x")).status == 200


async def test_6455_4_1_a_refused_upgrade_is_a_status_other_than_101(
    make_server: MakeServer,
) -> None:
    server = await make_server(transports=("sse", "poll"))
    for path in ("/ws", "/ws/c"):
        ws = await raw_ws(server.port, path)
        assert ws.status == 0, path  # the handshake failed: no 101
        ws.close()
    # The other transports deliver.
    stream = await open_sse(server.port, "/sse/c")
    try:
        event = await server.hub.publish("c", "via sse")
        got = await stream.events(1)
        assert [(e.id, e.data) for e in got] == [(event.id, "via sse")]
    finally:
        stream.close()


async def test_9113_8_1_http2_refuses_a_left_out_transport() -> None:
    async with serving(transports=("poll",)) as server, client(server.port) as conn:
        for path in ("/sse/c", "/sse?channel=c"):
            refused = await conn.response(await conn.request("GET", path))
            assert refused.status == 404, path
            assert b"sse transport is disabled" in bytes(refused.body)
        served = await conn.response(await conn.request("GET", "/poll/c"))
        assert served.status == 200
        connect = await conn.request(
            "CONNECT",
            "/ws/c",
            [("sec-websocket-version", "13")],
            end=False,
            extra_pseudo=[(":protocol", "websocket")],
        )
        assert (await conn.head(connect)).status == 404  # RFC 8441 section 5: no 200


async def _asgi(app: App, scope_type: str, path: str, query: bytes = b"") -> list[dict[str, Any]]:
    first = {"type": "websocket.connect"} if scope_type == "websocket" else {
        "type": "http.request", "body": b"", "more_body": False}  # fmt: skip
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait(first)
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": scope_type, "method": "GET", "path": path, "raw_path": path.encode(),
        "query_string": query, "headers": [(b"host", b"test")], "http_version": "1.1",
        "extensions": {"websocket.http.response": {}},
    }  # fmt: skip
    async with asyncio.timeout(WAIT):
        await app(scope, inbox.get, send)
    return sent


async def test_asgi_app_refuses_a_left_out_transport() -> None:
    app = App(config=ServerConfig(transports=("poll",)), drain_on_signal=False)
    try:
        for path, query in (("/sse/c", b""), ("/sse", b"channel=c")):
            sent = await _asgi(app, "http", path, query)
            assert (sent[0]["type"], sent[0]["status"]) == ("http.response.start", 404), path
        sent = await _asgi(app, "websocket", "/ws/c")
        assert sent[0]["type"] == "websocket.http.response.start"
        assert sent[0]["status"] == 404
        body = b"".join(m.get("body", b"") for m in sent)
        assert b"ws transport is disabled" in body
        sent = await _asgi(app, "http", "/poll/c", b"timeout=0")
        assert sent[0]["status"] == 200
    finally:
        await app.hub.close()
