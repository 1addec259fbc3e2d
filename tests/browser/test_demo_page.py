"""Headless Chromium against the running server.

The browser is Debian's ``chromium`` driven by Playwright with its
executable path set: no browser download (never ``playwright install``).
The server runs in-process on 127.0.0.1, port 0. Publishes from Python go
through ``urllib`` (an HTTP client independent of rawpush's own).

- the demo page at ``/`` (built on rawpush.js): all three transports open,
  a message typed into the form and sent with Enter and one POSTed from
  Python show in the WebSocket, SSE and long-poll columns, in order, with a
  latency; publishing at a steady rate fills every column's latency and
  bytes-per-event plots (empty before), polling costs more bytes per event
  than SSE, a named event, a multi-line message (shown as sent) and a
  100 KB payload (truncated, its size shown, no column wider than the
  page) appear, each drop button reconnects its column, which resumes and
  shows the new position, a refused publish is shown on the page with no dialog,
  and nothing is logged to the console;
- the browser's own ``EventSource``: after a drain (``retry:`` hint, stream
  ended) and a restart on the same port, it reconnects with
  ``Last-Event-ID`` and gets what it missed; if the history no longer
  reaches back that far, an ``event: gap`` listener fires first;
- the browser's ``WebSocket``: JSON text frames in, text it sends is
  published, ``?lastEventId=`` replays;
- the browser's ``fetch`` on ``/poll``: a pending poll is answered by a
  publish, and an evicted cursor is answered with ``"gap": true``.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from typing import TYPE_CHECKING

import pytest

from rawpush.hub import Hub, HubConfig
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.browser.support import (
    ID_RE,
    LIMIT,
    SCREENSHOT,
    WAIT_MS,
    launch,
    open_page,
    wait_js,
)

if TYPE_CHECKING:
    from playwright.async_api import Request


def _post(url: str, data: str) -> str:
    # No proxy: the environment's proxy variables must not see 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url,
        data=data.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    with opener.open(request, timeout=WAIT_MS / 1000) as response:
        assert response.status == 200
        ident: str = json.loads(response.read())["id"]
    return ident


async def publish(server: Server, channel: str, data: str) -> str:
    """POST /publish/{channel} from Python; return the event id."""
    return await asyncio.to_thread(_post, f"{server.url}/publish/{channel}", data)


# -- the demo page ---------------------------------------------------------------


async def test_demo_page_shows_each_message_in_all_three_columns() -> None:
    async with launch() as browser:
        from playwright.async_api import expect

        server = Server(ServerConfig(port=0))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, server.url + "/")
                for kind in ("ws", "sse", "poll"):
                    badge = page.locator(f"#{kind}-state")
                    await expect(badge).to_have_text("open", timeout=WAIT_MS)

                # The real user path: type, press Enter. The form clears the
                # field once the publish was accepted, so the order is fixed
                # before the second publish goes out.
                data = page.locator("input[name=data]")
                await data.fill("typed in the form")
                await data.press("Enter")
                await expect(data).to_have_value("", timeout=WAIT_MS)
                posted_id = await publish(server, "demo", "posted from Python")

                for kind in ("ws", "sse", "poll"):
                    await expect(page.locator(f"#{kind}-log li")).to_have_count(2, timeout=WAIT_MS)
                columns: dict[str, list[dict[str, str]]] = {}
                for kind in ("ws", "sse", "poll"):
                    rows = await page.locator(f"#{kind}-log li").evaluate_all(
                        """lis => lis.map(li => ({
                            id: li.querySelector('.id').textContent,
                            data: li.querySelector('.data').textContent,
                            lat: li.querySelector('.lat').textContent,
                        }))"""
                    )
                    columns[kind] = list(reversed(rows))  # the page shows newest first
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
                assert errors == []
        finally:
            await server.close()

        ws = columns["ws"]
        assert [row["data"] for row in ws] == ["typed in the form", "posted from Python"]
        assert ws[1]["id"] == posted_id
        assert all(ID_RE.fullmatch(row["id"]) for row in ws)
        expected = [(r["id"], r["data"]) for r in ws]
        for kind in ("sse", "poll"):
            assert [(r["id"], r["data"]) for r in columns[kind]] == expected, kind
        for kind, rows in columns.items():
            for row in rows:
                assert re.fullmatch(r"\d+ ms", row["lat"]), (kind, row)


_INK = """id => {
    const c = document.getElementById(id);
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
    return n;
}"""
_PLOTS = [f"{kind}-{what}-plot" for kind in ("ws", "sse", "poll") for what in ("lat", "bytes")]


async def test_demo_page_plots_costs_and_shows_payloads_as_sent() -> None:
    async with launch() as browser:
        from playwright.async_api import expect

        server = Server(ServerConfig(port=0))
        await server.start()
        dialogs: list[str] = []
        try:
            async with asyncio.timeout(LIMIT * 2):
                page, errors = await open_page(browser, server.url + "/")
                page.on("dialog", lambda d: dialogs.append(d.message))
                for kind in ("ws", "sse", "poll"):
                    await expect(page.locator(f"#{kind}-state")).to_have_text("open")
                before = [await page.evaluate(_INK, plot) for plot in _PLOTS]
                await page.screenshot(path=str(SCREENSHOT.with_name("rawpush-demo-before.png")))

                await page.evaluate(
                    "() => { const r = document.getElementById('rate');"
                    " r.value = '10'; r.dispatchEvent(new Event('input')); }"
                )
                await wait_js(
                    page,
                    """() => ['ws', 'sse', 'poll'].every(k =>
                        demo.series[k].length >= 3 && demo.bytes[k].length >= 2)""",
                )
                await page.evaluate(
                    "() => { const r = document.getElementById('rate');"
                    " r.value = '0'; r.dispatchEvent(new Event('input')); }"
                )
                after = [await page.evaluate(_INK, plot) for plot in _PLOTS]
                costs = await page.evaluate(
                    "() => Object.fromEntries(['ws', 'sse', 'poll'].map(k =>"
                    " [k, [demo.bytes[k].at(-1), demo.series[k].at(-1)]]))"
                )
                for button in ("#send-named", "#send-multiline", "#send-big"):
                    await page.click(button)
                    await expect(page.locator("#status")).to_contain_text("published")
                for kind in ("ws", "sse", "poll"):
                    await expect(page.locator(f"#{kind}-log li .size")).to_have_count(1)
                rows = await page.locator("#sse-log li").evaluate_all(
                    """lis => lis.slice(0, 3).map(li => ({
                        event: (li.querySelector('.event') || {}).textContent || null,
                        data: li.querySelector('.data').textContent,
                        size: (li.querySelector('.size') || {}).textContent || null,
                        wrap: getComputedStyle(li.querySelector('.data')).whiteSpace,
                    }))"""
                )
                widths = await page.evaluate(
                    """() => [document.documentElement.scrollWidth, window.innerWidth,
                        ...['ws', 'sse', 'poll'].map(k => {
                            const s = document.getElementById(k);
                            return s.scrollWidth - s.clientWidth; })]"""
                )
                await page.screenshot(path=str(SCREENSHOT), full_page=True)

                # The drop buttons: each column reconnects, says so, resumes.
                for kind in ("ws", "sse", "poll"):
                    await page.click(f"#{kind} button.drop")
                    await expect(page.locator(f"#{kind}-reconnects")).to_have_text("1")
                    await expect(page.locator(f"#{kind}-state")).to_have_text("open")
                dropped = await publish(server, "demo", "after the drops")
                for kind in ("ws", "sse", "poll"):
                    top = page.locator(f"#{kind}-log li").first
                    await expect(top.locator(".id")).to_have_text(dropped)
                    await expect(page.locator(f"#{kind}-pos")).to_have_text(dropped)
                assert errors == []

                # A refused publish (no such channel name) is said on the page.
                await page.evaluate(
                    "() => { document.querySelector('input[name=channel]').value = 'no spaces';"
                    " document.getElementById('send-named').click(); }"
                )
                await expect(page.locator("#status.error")).to_contain_text("invalid channel name")
        finally:
            await server.close()

    assert before == [0] * len(_PLOTS)
    assert all(ink > 0 for ink in after), dict(zip(_PLOTS, after, strict=True))
    for kind, (per_event, (p50, p99)) in costs.items():
        assert 0 < per_event < 5000, (kind, per_event)
        assert 0 <= p50 <= p99 < 5000, (kind, p50, p99)
    assert costs["poll"][0] > costs["sse"][0], costs
    big, multi, named = rows
    assert named["event"] == "tick" and named["data"] == "a named event"
    assert multi["data"] == "line one\nline two\n  indented line three"
    assert multi["wrap"] == "pre-wrap"
    assert big["size"] is not None and big["size"].startswith("102400 bytes")
    assert len(big["data"]) == 501
    assert widths[0] <= widths[1] and widths[2:] == [0, 0, 0], widths
    assert dialogs == []


# -- the browser's EventSource ------------------------------------------------------

_EVENTSOURCE = """channel => {
    window.got = []; window.opens = 0; window.errors = 0;
    const es = new EventSource("/sse/" + channel);
    window.es = es;
    es.onopen = () => { window.opens += 1; };
    es.onerror = () => { window.errors += 1; };
    es.onmessage = (m) => { window.got.push(["message", m.lastEventId, m.data]); };
    es.addEventListener("gap", (m) => { window.got.push(["gap", m.lastEventId, m.data]); });
}"""


@pytest.mark.parametrize("evicted", [False, True], ids=["replay", "gap"])
async def test_eventsource_resumes_with_last_event_id_after_a_restart(evicted: bool) -> None:
    """The server drains (``retry:`` hint, stream ended) and comes back on the
    same port with the same hub; events published meanwhile reach the page
    only if EventSource sent ``Last-Event-ID``. With a history of two and
    four missed events, the ``gap`` listener fires before the replay."""
    async with launch() as browser:
        hub = Hub(HubConfig(history_size=2 if evicted else 100))
        config = ServerConfig(port=0, drain_retry_ms=300, drain_timeout=3.0)
        first = Server(config, hub=hub)
        await first.start()
        second: Server | None = None
        sse_headers: list[dict[str, str]] = []
        pending: list[asyncio.Task[None]] = []

        async def record(request: Request) -> None:
            sse_headers.append(await request.all_headers())

        def on_request(request: Request) -> None:
            if "/sse/" in request.url:
                pending.append(asyncio.ensure_future(record(request)))

        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, first.url + "/healthz")
                page.on("request", on_request)
                await page.evaluate(_EVENTSOURCE, "resume")
                await wait_js(page, "window.opens === 1")
                first_id = await publish(first, "resume", "before")
                await wait_js(page, "window.got.length === 1")

                await first.close()
                missed = [(await hub.publish("resume", f"missed {n}")).id for n in range(4)]
                second = Server(ServerConfig(port=first.port, drain_timeout=3.0), hub=hub)
                await second.start()
                await wait_js(page, "window.opens === 2")
                live_id = await publish(second, "resume", "after")
                expected_count = 2 + (3 if evicted else 4)
                await wait_js(page, "n => window.got.length >= n", expected_count)
                got = await page.evaluate("window.got")
                last_event_id = await page.evaluate("window.got.at(-1)[1]")
                await page.evaluate("window.es.close()")
                await asyncio.gather(*pending)
                # Only a refused reconnect attempt may be logged.
                assert all("ERR_CONNECTION_REFUSED" in e for e in errors), errors
        finally:
            if second is not None:
                await second.close()
            await first.close()
            await hub.close()

        head = [["message", first_id, "before"]]
        if evicted:
            # The gap comes first; it carries no id, so lastEventId stays put.
            replayed = [["gap", first_id, ""]]
            replayed += [["message", missed[n], f"missed {n}"] for n in (2, 3)]
        else:
            replayed = [["message", missed[n], f"missed {n}"] for n in range(4)]
        assert got == [*head, *replayed, ["message", live_id, "after"]]
        assert last_event_id == live_id
        # What the browser sent: nothing the first time, the id it had seen on
        # every reconnect (a refused attempt may come in between).
        assert "last-event-id" not in sse_headers[0]
        assert len(sse_headers) >= 2
        assert all(h.get("last-event-id") == first_id for h in sse_headers[1:])


# -- the browser's WebSocket ----------------------------------------------------------

_WEBSOCKET = """async (path) => {
    const ws = new WebSocket("ws://" + location.host + path);
    const frames = [];
    ws.onmessage = (m) => frames.push([typeof m.data, m.data]);
    ws.onclose = (c) => { ws.closed = [c.code, c.wasClean]; };
    ws.frames = frames;
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    return ws;
}"""


async def test_browser_websocket_receives_json_frames_and_publishes_text() -> None:
    async with launch() as browser:
        server = Server(ServerConfig(port=0))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, server.url + "/healthz")
                ws = await page.evaluate_handle(_WEBSOCKET, "/ws/chat")
                posted_id = await publish(server, "chat", "from Python")
                await wait_js(page, "ws => ws.frames.length === 1", ws)
                await ws.evaluate("ws => ws.send('from the browser \u00e9')")
                await wait_js(page, "ws => ws.frames.length === 2", ws)
                frames = await ws.evaluate("ws => ws.frames")
                replay = await server.hub.since("chat", posted_id)

                # A second socket resuming after the first event gets the second.
                again = await page.evaluate_handle(_WEBSOCKET, f"/ws/chat?lastEventId={posted_id}")
                await wait_js(page, "ws => ws.frames.length === 1", again)
                resumed = await again.evaluate("ws => ws.frames")

                await ws.evaluate("ws => ws.close(1000)")
                await wait_js(page, "ws => ws.closed !== undefined", ws)
                closed = await ws.evaluate("ws => ws.closed")
                assert errors == []
        finally:
            await server.close()

        assert [kind for kind, _ in frames] == ["string", "string"]
        events = [json.loads(text) for _, text in frames]
        assert events[0] == {"id": posted_id, "event": "message", "data": "from Python"}
        assert events[1]["data"] == "from the browser \u00e9"
        assert set(events[1]) == {"id", "event", "data"}
        # It really went through the hub: the next event on the channel.
        assert [(e.id, e.data) for e in replay.events] == [(events[1]["id"], events[1]["data"])]
        assert [json.loads(text) for _, text in resumed] == [events[1]]
        assert closed == [1000, True]


# -- the browser's fetch on /poll --------------------------------------------------------


async def test_browser_fetch_long_poll_and_gap() -> None:
    async with launch() as browser:
        server = Server(ServerConfig(port=0, hub=HubConfig(history_size=2)))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                page, errors = await open_page(browser, server.url + "/healthz")
                start = await page.evaluate("async () => (await fetch('/poll/lp')).json()")
                # A poll that waits (no event after the cursor yet) ...
                await page.evaluate(
                    """cursor => {
                        window.answer = null;
                        fetch('/poll/lp?timeout=10&cursor=' + encodeURIComponent(cursor))
                            .then(r => r.json()).then(b => { window.answer = b; });
                    }""",
                    start["cursor"],
                )
                await asyncio.sleep(0.3)
                assert await page.evaluate("window.answer") is None
                # ... is answered by the publish.
                first_id = await publish(server, "lp", "one")
                await wait_js(page, "window.answer !== null")
                answer = await page.evaluate("window.answer")

                # A cursor the history of two no longer reaches: "gap": true.
                later = [await publish(server, "lp", f"n{n}") for n in range(3)]
                gap = await page.evaluate(
                    "async c => (await fetch('/poll/lp?timeout=0&cursor=' + c)).json()", first_id
                )
                assert errors == []
        finally:
            await server.close()

        assert start["events"] == []
        assert answer["events"] == [{"id": first_id, "event": "message", "data": "one"}]
        assert answer["cursor"] == first_id
        assert gap["gap"] is True
        assert [e["id"] for e in gap["events"]] == later[1:]
        assert gap["cursor"] == later[-1]
