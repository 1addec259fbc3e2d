"""Who may publish and subscribe, seen from the wire: one rule on every
path (RFC 6750 answers), tickets, expiry, origins and rate limits. Each
test talks to a real server over loopback."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest

from rawpush.auth import AuthConfig, Grant, JWTConfig, MemoryTicketStore, PatternSet
from rawpush.server.app import Server
from rawpush.ws import Close, Text
from tests.server.conftest import FAST, MakeServer
from tests.server.support import WAIT, eventually, metric, open_sse, raw_ws, request

SECRET = "s" * 40
#: nobody without a token may do anything
CLOSED = AuthConfig(jwt=JWTConfig(secret=SECRET), anonymous=Grant(source="anonymous"))


def token(
    subscribe: list[str] | None = None, publish: list[str] | None = None, **claims: Any
) -> str:
    body: dict[str, Any] = {"sub": "u1", "exp": time.time() + 3600}
    body.update(claims)
    body["rawpush"] = {"subscribe": subscribe or [], "publish": publish or []}
    return jwt.encode(body, SECRET, algorithm="HS256")


def bearer(value: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {value}")]


async def test_6750_a_websocket_without_the_publish_token_cannot_publish(
    make_server: MakeServer,
) -> None:
    # The forged publish of the issue: two plain WebSocket clients, a token set.
    server = await make_server(publish_token="s3cret")
    reader = await raw_ws(server.port, "/ws/secure")
    writer = await raw_ws(server.port, "/ws/secure")
    try:
        await writer.send_text("forged")
        events = await writer.read_all()
        closes = [e for e in events if isinstance(e, Close)]
        assert closes and closes[0].code == 1008
        assert await server.hub.latest_id("secure") is None
        # With the token on the upgrade, publishing works (a backend).
        backend = await raw_ws(server.port, "/ws/secure", headers=bearer("s3cret"))
        await backend.send_text("signed")
        [text] = [e for e in await reader.recv_until(Text) if isinstance(e, Text)]
        assert json.loads(text.data)["data"] == "signed"
        backend.close()
    finally:
        reader.close()
        writer.close()


async def test_6750_3_publish_without_a_token_is_401_with_a_challenge(
    make_server: MakeServer,
) -> None:
    server = await make_server(publish_token="s3cret")
    refused = await request(server.port, "POST", "/publish/a", body=b"x")
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith('Bearer realm="rawpush"')
    wrong = await request(server.port, "POST", "/publish/a", bearer("nope"), body=b"x")
    assert wrong.status == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    ok = await request(server.port, "POST", "/publish/a", bearer("s3cret"), body=b"x")
    assert ok.status == 200


async def test_ws_publish_off_refuses_even_the_token(make_server: MakeServer) -> None:
    server = await make_server(publish_token="s3cret", ws_publish=False)
    ws = await raw_ws(server.port, "/ws/a", headers=bearer("s3cret"))
    try:
        await ws.send_text("x")
        closes = [e for e in await ws.read_all() if isinstance(e, Close)]
        assert closes[0].code == 1008
        assert await server.hub.latest_id("a") is None
    finally:
        ws.close()


@pytest.mark.parametrize("path", ["/sse/news", "/poll/news?timeout=0", "/ws/news"])
async def test_6750_3_1_a_subscriber_without_a_credential_gets_401(
    make_server: MakeServer, path: str
) -> None:
    server = await make_server(auth=CLOSED)
    headers = []
    if path.startswith("/ws/"):
        headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ]
    refused = await request(server.port, "GET", path, headers)
    assert refused.status == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="rawpush"'
    # Valid, but without the right to this channel: 403 insufficient_scope.
    other = await request(server.port, "GET", path, headers + bearer(token(["sports"])))
    assert other.status == 403
    assert 'error="insufficient_scope"' in other.headers["www-authenticate"]


async def test_a_jwt_grants_its_channels_on_every_transport(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    # A WebSocket on a channel subscribes to it too: both rights are needed.
    right = token(["news", "user.42.*", "chat.*"], ["chat.*"])
    sse = await open_sse(server.port, "/sse/user.42.inbox", bearer(right))
    assert sse.status == 200
    ws = await raw_ws(server.port, "/ws/chat.room", headers=bearer(right))
    assert ws.status == 101
    try:
        await ws.send_text("hello")  # publish right on chat.*
        await eventually(lambda: server.hub.stats().channels.get("chat.room") is not None)
        await server.hub.publish("user.42.inbox", "for you")
        [event] = await sse.events(1)
        assert event.data == "for you"
    finally:
        sse.close()
        ws.close()


@pytest.mark.parametrize(
    "bad",
    [
        jwt.encode({"rawpush": {"subscribe": ["*"]}, "exp": time.time() + 60}, "x" * 40),
        jwt.encode({"rawpush": {"subscribe": ["*"]}, "exp": time.time() - 3600}, SECRET),
        jwt.encode({"rawpush": {"subscribe": ["*"]}}, "", algorithm="none"),
    ],
    ids=["wrong-key", "expired", "alg-none"],
)
async def test_7519_bad_tokens_are_401_invalid_token(make_server: MakeServer, bad: str) -> None:
    server = await make_server(auth=CLOSED)
    refused = await request(server.port, "GET", "/poll/a?timeout=0", bearer(bad))
    assert refused.status == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_a_ticket_is_good_once(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    asked = await request(
        server.port, "POST", "/tickets", bearer(token(["news"])), body=b'{"channels":["news"]}'
    )
    assert asked.status == 200 and asked.headers["cache-control"] == "no-store"
    ticket = json.loads(asked.body)["ticket"]
    first = await request(server.port, "GET", f"/poll/news?timeout=0&ticket={ticket}")
    assert first.status == 200
    again = await request(server.port, "GET", f"/poll/news?timeout=0&ticket={ticket}")
    assert again.status == 401
    beyond = await request(
        server.port, "POST", "/tickets", bearer(token(["news"])), body=b'{"channels":["other"]}'
    )
    assert beyond.status == 403


async def test_an_expired_ticket_is_refused() -> None:
    now = [1000.0]
    store = MemoryTicketStore(clock=lambda: now[0])
    server = Server(FAST.__class__(**{**_fast(), "auth": CLOSED}), tickets=store)
    await server.start()
    try:
        asked = await request(
            server.port, "POST", "/tickets", bearer(token(["news"])), body=b'{"channels":["news"]}'
        )
        ticket = json.loads(asked.body)["ticket"]
        now[0] += 31  # past the 30 s default
        late = await request(server.port, "GET", f"/sse/news?ticket={ticket}")
        assert late.status == 401
    finally:
        await server.close()


def _fast() -> dict[str, Any]:
    return {f: getattr(FAST, f) for f in FAST.__dataclass_fields__}


async def test_a_token_expiring_mid_stream_ends_it(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    short = token(["news"], exp=time.time() + 1.5)
    sse = await open_sse(server.port, "/sse/news", bearer(short))
    ws = await raw_ws(server.port, "/ws/news", headers=bearer(short))
    try:
        assert sse.status == 200 and ws.status == 101
        await sse.rest()  # the server ends the stream by itself
        assert b"retry:" in bytes(sse.raw)
        closes = [e for e in await ws.read_all() if isinstance(e, Close)]
        assert closes[0].code == 4001
        assert metric(server, 'rawpush_disconnects_total{reason="token_expired"}') == 2
    finally:
        sse.close()
        ws.close()


async def test_a_cookie_from_a_foreign_page_is_refused(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED, allowed_origins=("https://app.example",))
    cookie = [("Cookie", f"rawpush_token={token(['news'])}")]
    foreign = await request(
        server.port, "GET", "/poll/news?timeout=0", [*cookie, ("Origin", "https://evil.example")]
    )
    assert foreign.status == 403
    friendly = await request(
        server.port, "GET", "/poll/news?timeout=0", [*cookie, ("Origin", "https://app.example")]
    )
    assert friendly.status == 200


async def test_ws_publish_rate_limit_closes_1008(make_server: MakeServer) -> None:
    server = await make_server(ws_publish_rate=1.0, ws_publish_burst=3)
    ws = await raw_ws(server.port, "/ws/fast")
    try:
        for i in range(5):
            ws.conn.send_text(str(i))
        await ws.send_raw(ws.conn.data_to_send())
        closes = [e for e in await ws.read_all() if isinstance(e, Close)]
        assert closes[0].code == 1008
        assert metric(server, 'rawpush_rate_limited_total{what="ws_publish"}') == 1
    finally:
        ws.close()


async def test_6585_4_post_publish_rate_limit_is_429(make_server: MakeServer) -> None:
    server = await make_server(publish_rate=0.5, publish_burst=2)
    codes = [
        (await request(server.port, "POST", "/publish/a", body=b"x")).status for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    over = await request(server.port, "POST", "/publish/a", body=b"x")
    assert int(over.headers["retry-after"]) >= 1


async def test_6585_4_connections_per_address_are_limited(make_server: MakeServer) -> None:
    server = await make_server(max_connections_per_address=2)
    held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    await eventually(lambda: server._ctx is not None and server._ctx.accepted == 2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    async with asyncio.timeout(WAIT):
        answer = await reader.read(200)
    assert answer.startswith(b"HTTP/1.1 429 ")
    writer.close()
    for _, w in held:
        w.close()


async def test_metrics_can_require_a_token(make_server: MakeServer) -> None:
    server = await make_server(metrics_token="m3trics")
    assert (await request(server.port, "GET", "/metrics")).status == 401
    assert (await request(server.port, "GET", "/metrics", bearer("m3trics"))).status == 200


def test_the_publish_token_alone_lets_anyone_read() -> None:
    from rawpush.server.security import auth_config

    config = auth_config(FAST.__class__(publish_token="s3cret"))
    assert config.anonymous.subscribe == PatternSet.ALL
    assert config.anonymous.publish == PatternSet.NONE


def test_serve_flags_build_the_authorization() -> None:
    from rawpush.cli import build_parser
    from rawpush.cli.serve import config_from_args

    def config(*flags: str) -> Any:
        return config_from_args(build_parser().parse_args(["serve", *flags]))

    assert config().auth is None  # the open hub, said at start-up
    closed = config("--jwt-secret", SECRET, "--anonymous", "none", "--jwt-audience", "hub")
    assert closed.auth.jwt.audience == "hub"
    assert closed.auth.anonymous.subscribe == PatternSet.NONE
    assert config("--jwt-secret", SECRET).auth.anonymous.subscribe == PatternSet.ALL
    off = config("--ws-publish", "off", "--publish-rate", "5", "--metrics-token", "m")
    assert (off.ws_publish, off.publish_rate, off.metrics_token) == (False, 5.0, "m")
    assert config().ws_publish_rate == 1000.0
    assert config("--ws-publish-rate", "50").ws_publish_rate == 50.0
    # "none" lifts the per-socket limit, as the config's None does.
    assert config("--ws-publish-rate", "none").ws_publish_rate is None


async def test_the_python_clients_carry_a_token(make_server: MakeServer) -> None:
    from rawpush.client import EventSource, LongPoller

    server = await make_server(auth=CLOSED)
    right = token(["news"])
    base = f"http://127.0.0.1:{server.port}"
    poller = LongPoller(f"{base}/poll/news", timeout=0, token=right)
    await poller.poll_once()  # no events yet: a 200 with the head cursor
    async with EventSource(f"{base}/sse/news", token=right) as source:
        first = asyncio.ensure_future(anext(aiter(source)))
        await eventually(lambda: server.hub.stats().subscribers == 1)
        await server.hub.publish("news", "signed in")
        async with asyncio.timeout(WAIT):
            event = await first
        assert event.data == "signed in"


async def test_6585_4_new_channels_per_address_are_limited(make_server: MakeServer) -> None:
    # Inventing channel names is what fills the hub's cap: a budget per address.
    server = await make_server(new_channels_per_minute=2)
    codes = [
        (await request(server.port, "POST", f"/publish/new{i}", body=b"x")).status
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    # Publishing to a channel that exists is not creating one.
    assert (await request(server.port, "POST", "/publish/new0", body=b"y")).status == 200
    assert metric(server, 'rawpush_rate_limited_total{what="new_channel"}') == 1
