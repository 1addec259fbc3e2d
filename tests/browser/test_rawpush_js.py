"""rawpush.js in headless Chromium against a real ``rawpush serve``.

- the files: ``/rawpush.js``, ``.min.js``, ``.mjs`` and ``.d.ts`` with
  their types, caching headers and a 304 for a current copy; the classic
  script, the minified one and the ES module all give the same API;
- each transport on its own delivers three channels, and after the
  server is killed and restarted (in-memory hub: the history is gone) the
  client surfaces a gap on every channel and goes on receiving;
- fallback: WebSocket refused -> SSE; SSE refused too -> long poll; events
  flow in every case.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.browser.rawpush_js_support import (
    SUBSCRIBE,
    Serve,
    client_page,
    metrics,
    post,
    serve_help,
    unexpected,
)
from tests.browser.support import ID_RE, LIMIT, WAIT_MS, launch, open_page, wait_js

if TYPE_CHECKING:
    from playwright.async_api import WebSocketRoute

CHANNELS = ["a", "b", "c"]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=WAIT_MS / 1000) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_9110_8_8_3_client_files_with_types_etag_and_304() -> None:
    server = Server(ServerConfig(port=0))
    await server.start()
    try:
        for path, kind in [
            ("/rawpush.js", "text/javascript; charset=utf-8"),
            ("/rawpush.min.js", "text/javascript; charset=utf-8"),
            ("/rawpush.mjs", "text/javascript; charset=utf-8"),
            ("/rawpush.d.ts", "text/plain; charset=utf-8"),
        ]:
            status, headers, body = await asyncio.to_thread(_get, server.url + path)
            assert status == 200, path
            assert headers["Content-Type"] == kind
            assert headers["Cache-Control"] == "public, max-age=300"
            assert body
            again = await asyncio.to_thread(
                _get, server.url + path, {"If-None-Match": headers["ETag"]}
            )
            assert again[0] == 304 and again[2] == b""
            assert again[1]["ETag"] == headers["ETag"]
        size = len((await asyncio.to_thread(_get, server.url + "/rawpush.min.js"))[2])
        # Under 10 KB with no build step to use it; README "In the browser"
        # states the size.
        assert size < 10_000, size
    finally:
        await server.close()


async def test_classic_minified_and_module_give_the_same_api() -> None:
    async with launch() as browser:
        server = Server(ServerConfig(port=0))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, server.url + "/healthz")
                await page.add_script_tag(url="/rawpush.min.js")
                minified = await page.evaluate("Object.keys(window.rawpush).sort()")
                module = await page.evaluate(
                    "async () => Object.keys(await import('/rawpush.mjs')).sort()"
                )
                # The module ran the full script, which replaced the global.
                got = await page.evaluate(
                    """async () => {
                        const m = await import('/rawpush.mjs');
                        const c = m.connect('', {transports: ['sse']});
                        const ids = [];
                        c.subscribe('api', e => ids.push(e.id));
                        await new Promise(ok => c.on('state', s => s.state === 'open' && ok()));
                        const id = await c.publish('api', 'x', {event: 'tick'});
                        while (!ids.length) await new Promise(ok => setTimeout(ok, 20));
                        c.close();
                        return [id, ids[0], c.state];
                    }"""
                )
                assert errors == []
        finally:
            await server.close()
    assert minified == ["connect", "version"]
    assert module == ["connect", "default", "version"]
    assert got[0] == got[1] and ID_RE.fullmatch(got[0]) and got[2] == "closed"


@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
async def test_each_transport_three_channels_restart_surfaces_a_gap(
    transport: str, tmp_path: Path
) -> None:
    """In-memory hub: a restart loses the history, so the ids the client
    resumes from are unknown to the new process and every channel gets a
    gap; events published after the restart all arrive, in order. On
    WebSocket and SSE the three channels share one connection."""
    async with launch() as browser:
        serve = Serve(tmp_path)
        await asyncio.to_thread(serve.start)
        try:
            async with asyncio.timeout(LIMIT * 2):
                page, errors = await client_page(browser, serve.url)
                options = {"transports": [transport], "minDelay": 50, "maxDelay": 400}
                await page.evaluate(SUBSCRIBE, [CHANNELS, options])
                await wait_js(page, "window.client.state === 'open'")
                # WebSocket and SSE carry the three channels on one connection
                # (/ws control messages, /sse?channel=...); long poll asks once
                # per channel.
                label = {"websocket": "ws", "sse": "sse", "poll": "poll"}[transport]
                if transport != "poll":
                    open_now = await asyncio.to_thread(metrics, serve.url)
                    assert open_now[f'rawpush_connections{{transport="{label}"}}'] == 1
                before = {
                    ch: await asyncio.to_thread(post, serve.url, ch, f"{ch}0") for ch in CHANNELS
                }
                await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")

                await asyncio.to_thread(serve.kill)
                await wait_js(page, "window.client.state === 'reconnecting'")
                await asyncio.to_thread(serve.start)
                await wait_js(page, "window.client.state === 'open'")
                await wait_js(page, "n => window.gaps.length >= n", len(CHANNELS))
                after: dict[str, list[str]] = {ch: [] for ch in CHANNELS}
                for n in range(1, 4):
                    for ch in CHANNELS:
                        after[ch].append(await asyncio.to_thread(post, serve.url, ch, f"{ch}{n}"))
                await wait_js(page, "Object.values(window.got).every(l => l.length === 4)")
                got = await page.evaluate("window.got")
                gaps = await page.evaluate("window.gaps")
                closes = await page.evaluate("window.client.closes.length")
                # The refused reconnects while the server was down are logged
                # by the browser; nothing else may be.
                assert unexpected(errors) == []
        finally:
            await asyncio.to_thread(serve.stop)

    assert sorted(gaps) == CHANNELS
    assert closes >= 1
    for ch in CHANNELS:
        assert [row[0] for row in got[ch]] == [before[ch], *after[ch]], ch
        assert [row[1] for row in got[ch]] == [f"{ch}{n}" for n in range(4)]
        assert {row[2] for row in got[ch]} == {transport}


async def test_fallback_websocket_refused_then_sse_refused(tmp_path: Path) -> None:
    """A proxy that refuses the upgrade (and then the event stream): the
    client falls through to SSE, then long poll, and events flow each time.
    The refusals are made in the browser (Playwright routes), so the same
    server serves every step."""
    async with launch() as browser:
        serve = Serve(tmp_path)
        await asyncio.to_thread(serve.start)
        try:
            async with asyncio.timeout(LIMIT * 2):
                context = await browser.new_context()
                await context.route_web_socket(
                    re.compile(r"/ws(/|$)"), lambda ws: ws.close(code=1008)
                )
                page, errors = await client_page(context, serve.url)
                options = {"minDelay": 50, "maxDelay": 400}
                await page.evaluate(SUBSCRIBE, [CHANNELS, options])
                await wait_js(page, "window.client.state === 'open'")
                first = await page.evaluate("window.client.transport")
                ids = [await asyncio.to_thread(post, serve.url, ch, "via sse") for ch in CHANNELS]
                await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")

                await context.route("**/sse/**", lambda route: route.fulfill(status=403))
                await context.route("**/sse?*", lambda route: route.fulfill(status=403))
                await page.evaluate("window.client.reconnect()")
                await wait_js(
                    page, "window.client.transport === 'poll' && window.client.state === 'open'"
                )
                more = [await asyncio.to_thread(post, serve.url, ch, "via poll") for ch in CHANNELS]
                await wait_js(page, "Object.values(window.got).every(l => l.length === 2)")
                got = await page.evaluate("window.got")
                states = await page.evaluate("window.states")
                await context.close()
                assert all("403" in e or "WebSocket" in e for e in errors), errors
        finally:
            await asyncio.to_thread(serve.stop)

    assert first == "sse"
    assert "open:sse" in states and states[-1] == "open:poll"
    for n, ch in enumerate(CHANNELS):
        assert [(r[0], r[2]) for r in got[ch]] == [(ids[n], "sse"), (more[n], "poll")]


async def test_serve_transports_flag_disables_websocket_then_sse(tmp_path: Path) -> None:
    assert "--transports" in serve_help()
    async with launch() as browser:
        for flag, expected in [("sse,poll", "sse"), ("poll", "poll")]:
            serve = Serve(tmp_path, "--transports", flag)
            await asyncio.to_thread(serve.start)
            try:
                async with asyncio.timeout(LIMIT):
                    page, _ = await client_page(browser, serve.url)
                    await page.evaluate(SUBSCRIBE, [CHANNELS, {"minDelay": 50}])
                    await wait_js(page, "window.client.state === 'open'")
                    transport = await page.evaluate("window.client.transport")
                    ids = [await asyncio.to_thread(post, serve.url, ch, flag) for ch in CHANNELS]
                    await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")
                    got = await page.evaluate("window.got")
                    await page.close()
            finally:
                await asyncio.to_thread(serve.stop)
            assert transport == expected, flag
            assert [got[ch][0][0] for ch in CHANNELS] == ids


def test_d_ts_names_the_fixed_api() -> None:
    text = (Path(__file__).parents[2] / "rawpush/server/static/rawpush.d.ts").read_text()
    for name in (
        "connect(",
        "subscribe(",
        "publish(",
        "on(",
        "close(",
        "transport",
        "unsubscribe(",
    ):
        assert name in text, name


def _post_bytes(base: str, channel: str, data: bytes) -> str:
    request = urllib.request.Request(
        f"{base}/publish/{channel}",
        data=data,
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    with _OPENER.open(request, timeout=WAIT_MS / 1000) as response:
        ident: str = json.loads(response.read())["id"]
    return ident


@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
async def test_binary_payloads_reach_the_page_as_bytes(transport: str) -> None:
    """An ``application/octet-stream`` publish arrives as a Uint8Array
    (a binary WebSocket message; base64 with the marker on SSE and long
    poll), and the page publishes bytes back."""
    payload = bytes(range(256)) + b"\n\x00end"
    async with launch() as browser:
        server = Server(ServerConfig(port=0))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, server.url + "/healthz")
                await page.add_script_tag(url="/rawpush.js")
                await page.evaluate(
                    """transport => {
                        window.bin = [];
                        const c = window.client = rawpush.connect('', {transports: [transport]});
                        c.subscribe('bin', m => window.bin.push([m.id,
                            m.data instanceof Uint8Array ? Array.from(m.data) : m.data]));
                    }""",
                    transport,
                )
                await wait_js(page, "window.client.state === 'open'")
                first = await asyncio.to_thread(_post_bytes, server.url, "bin", payload)
                await wait_js(page, "window.bin.length === 1")
                second = await page.evaluate(
                    "() => window.client.publish('bin', new Uint8Array([0, 255, 10, 13]))"
                )
                await wait_js(page, "window.bin.length === 2")
                got = await page.evaluate("window.bin")
                assert errors == []
        finally:
            await server.close()
    assert got == [[first, list(payload)], [second, [0, 255, 10, 13]]]


async def test_after_a_fallback_the_client_moves_back_up(tmp_path: Path) -> None:
    """WebSocket refused at first: the client settles on SSE; once the
    upgrade goes through again it returns to WebSocket after
    ``upgradeAfter``, resuming by id."""
    refusing = [True]

    async def upgrade(ws: WebSocketRoute) -> None:
        if refusing[0]:
            await ws.close(code=1008)
        else:
            ws.connect_to_server()  # then frames pass both ways untouched

    async with launch() as browser:
        serve = Serve(tmp_path)
        await asyncio.to_thread(serve.start)
        try:
            async with asyncio.timeout(LIMIT * 2):
                context = await browser.new_context()
                await context.route_web_socket(re.compile(r"/ws(/|$)"), upgrade)
                page, errors = await client_page(context, serve.url)
                options = {"minDelay": 50, "maxDelay": 400, "upgradeAfter": 1500}
                await page.evaluate(SUBSCRIBE, [CHANNELS, options])
                await wait_js(page, "window.client.state === 'open'")
                first = await page.evaluate("window.client.transport")
                ids = [await asyncio.to_thread(post, serve.url, ch, "one") for ch in CHANNELS]
                await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")
                refusing[0] = False
                await wait_js(
                    page,
                    "window.client.transport === 'websocket' && window.client.state === 'open'",
                )
                more = [await asyncio.to_thread(post, serve.url, ch, "two") for ch in CHANNELS]
                await wait_js(page, "Object.values(window.got).every(l => l.length === 2)")
                got = await page.evaluate("window.got")
                await context.close()
                assert unexpected(errors) == []
        finally:
            await asyncio.to_thread(serve.stop)
    assert first == "sse"
    for n, ch in enumerate(CHANNELS):
        assert [(r[0], r[2]) for r in got[ch]] == [(ids[n], "sse"), (more[n], "websocket")]
