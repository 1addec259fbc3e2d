"""Headless Chromium against rawpush.asgi.App mounted in a FastAPI app,
under uvicorn and under hypercorn (real processes on loopback).

- a page served by the FastAPI app itself (``tests/asgi/fastapi_site``)
  subscribes to the mounted ``/push/sse/…`` and ``/push/ws/…`` with the
  browser's own ``EventSource`` and ``WebSocket``, resuming from a known
  id (``lastEventId``, WHATWG HTML 9.2.4); events published from a
  FastAPI route, from ``POST /push/publish/…`` and from the page's
  WebSocket reach both, in order, with their ids; a resume from further
  back than the history reaches gets the gap notice first;
- the demo page of ``uvicorn rawpush.asgi:app`` (the app alone, and mounted) shows a
  published message in its WebSocket, SSE and long-poll columns;
- rawpush.js subscribes to three channels over one multi-channel ``/ws``
  of the mounted app (no fallback to ``/ws/{channel}``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from tests.asgi.site import HISTORY
from tests.asgi.support import SERVERS, STOPPED, Running, fetch, launch, publish, stop
from tests.browser import support as browser
from tests.browser.support import ID_RE, LIMIT, WAIT_MS, open_page, wait_js


@pytest.fixture(params=SERVERS)
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    server = launch(request.param, "tests.asgi.fastapi_site:api")
    try:
        yield server
    finally:
        code, output = stop(server)
    assert code in STOPPED and "Traceback" not in output, output


async def _announce(running: Running, channel: str, data: str) -> str:
    status, _, body = await fetch("POST", f"{running.base}/announce/{channel}", data.encode())
    assert status == 200, body
    ident: str = json.loads(body)["id"]
    return ident


async def test_whatwg_9_2_eventsource_and_websocket_on_a_fastapi_page(running: Running) -> None:
    async with browser.launch() as chromium, asyncio.timeout(LIMIT):
        first = await publish(running, "page", "one")
        second = await publish(running, "page", "two")
        page, errors = await open_page(chromium, f"{running.base}/?channel=page&from={first}")
        # The replay of "two" proves both subscribed: what follows is live.
        await wait_js(page, "window.got.sse.length >= 1 && window.got.ws.length >= 1")
        routed = await _announce(running, "page", "from a route")
        await wait_js(page, "window.got.ws.length >= 2")
        await page.evaluate("window.wsSend('from the page')")
        await wait_js(page, "window.got.ws.length >= 3")
        posted = await publish(running, "page", "posted")
        await wait_js(page, "window.got.sse.length >= 4 && window.got.ws.length >= 4")
        got = await page.evaluate("window.got")
        state = await page.evaluate("window.state")

        # Further back than the history: the gap notice, then what it keeps.
        ids = [await publish(running, "gap", f"g{n}") for n in range(HISTORY + 2)]
        gap_url = f"{running.base}/?channel=gap&from={ids[0]}"
        gap_page, gap_errors = await open_page(chromium, gap_url)
        count = HISTORY + 1
        await wait_js(
            gap_page, "n => window.got.sse.length >= n && window.got.ws.length >= n", count
        )
        gapped = await gap_page.evaluate("window.got")
    assert errors == [] and gap_errors == []
    assert state == {"sse": "open", "ws": "open"}
    assert ID_RE.fullmatch(got["ws"][2][0])  # the id the hub gave the page's own publish
    expected = [[second, "two"], [routed, "from a route"], got["ws"][2], [posted, "posted"]]
    assert got["ws"][2][1] == "from the page"
    assert got["sse"] == expected and got["ws"] == expected
    kept = [[ident, f"g{n + 2}"] for n, ident in enumerate(ids[-HISTORY:])]
    for kind in ("sse", "ws"):
        assert gapped[kind] == [["", "(gap)"], *kept], kind


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(
    ("app", "prefix"), [("rawpush.asgi:app", ""), ("tests.asgi.fastapi_site:api", "/push")]
)
async def test_demo_page_of_the_app_alone_shows_a_message_in_all_three_columns(
    server: str, app: str, prefix: str
) -> None:
    # Alone, and mounted under /push in a FastAPI app: the page's URLs are
    # relative to where it is served.
    alone = launch(server, app)
    try:
        async with browser.launch() as chromium, asyncio.timeout(LIMIT):
            from playwright.async_api import expect

            page, errors = await open_page(chromium, alone.base + prefix + "/")
            for kind in ("ws", "sse", "poll"):
                await expect(page.locator(f"#{kind}-state")).to_have_text("open", timeout=WAIT_MS)
            publish_url = f"{alone.base}{prefix}/publish/demo"
            status, _, body = await fetch("POST", publish_url, b"from Python")
            assert status == 200, body
            ident = json.loads(body)["id"]
            rows = {}
            for kind in ("ws", "sse", "poll"):
                row = page.locator(f"#{kind}-log li")
                await expect(row).to_have_count(1, timeout=WAIT_MS)
                rows[kind] = (
                    await row.locator(".id").text_content(),
                    await row.locator(".data").text_content(),
                )
    finally:
        code, output = stop(alone)
    assert code in STOPPED and "Traceback" not in output, output
    assert errors == []
    assert rows == {kind: (ident, "from Python") for kind in ("ws", "sse", "poll")}


CHANNELS = ["ma", "mb", "mc"]


@pytest.mark.parametrize("server", SERVERS)
async def test_rawpush_js_carries_every_channel_over_one_multi_channel_ws(server: str) -> None:
    """rawpush.js against the mounted app asks for the multi-channel
    ``/ws`` and gets it: one socket for three channels, no fallback to
    ``/ws/{channel}`` (the ASGI host once refused ``/ws`` with 404)."""
    running = launch(server)
    try:
        async with browser.launch() as chromium, asyncio.timeout(LIMIT):
            page, errors = await open_page(chromium, f"{running.push}/healthz")
            sockets: list[str] = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            await page.add_script_tag(url="/push/rawpush.js")
            await page.evaluate(
                """channels => {
                    window.got = {};
                    const c = window.client = rawpush.connect("/push", {transports: ["websocket"]});
                    for (const ch of channels) {
                        window.got[ch] = [];
                        c.subscribe(ch, m => window.got[ch].push([m.id, m.data, m.transport]));
                    }
                }""",
                CHANNELS,
            )
            # Over /ws the client is open once every subscribe is acked, so
            # what is published from here on reaches it.
            await wait_js(page, "window.client.state === 'open'")
            sent = {ch: await publish(running, ch, f"to {ch}") for ch in CHANNELS}
            await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")
            got = await page.evaluate("window.got")
            transport = await page.evaluate("window.client.transport")
    finally:
        code, output = stop(running)
    assert code in STOPPED and "Traceback" not in output, output
    assert errors == []
    assert transport == "websocket"
    assert sockets == [f"{running.push.replace('http', 'ws', 1)}/ws"]
    assert got == {ch: [[sent[ch], f"to {ch}", "websocket"]] for ch in CHANNELS}
