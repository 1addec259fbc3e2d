"""Credentials as a browser carries them, in headless Chromium: a cookie
for EventSource (which cannot set headers) and a single-use ticket in a
WebSocket URL (no long-lived token in a URL), against a server that
refuses anonymous readers."""

from __future__ import annotations

import asyncio
import time

import jwt

from rawpush.auth import AuthConfig, Grant, JWTConfig
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.browser.support import LIMIT, launch, open_page, wait_js

SECRET = "b" * 40
CLOSED = AuthConfig(jwt=JWTConfig(secret=SECRET), anonymous=Grant(source="anonymous"))

_EVENTSOURCE = """url => {
  const es = new EventSource(url, { withCredentials: true });
  const seen = { data: [], errors: 0, open: false };
  es.onopen = () => { seen.open = true; };
  es.onmessage = (m) => seen.data.push(m.data);
  es.onerror = () => { seen.errors += 1; if (!seen.open) es.close(); };
  return seen;
}"""

_TICKET_SOCKET = """async ([token, channel]) => {
  const answer = await fetch("/tickets", {
    method: "POST",
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ channels: [channel] }),
  });
  const { ticket } = await answer.json();
  const open = (t) => {
    const ws = new WebSocket(`ws://${location.host}/ws/${channel}?ticket=${t}`);
    const seen = { frames: [], opened: false, closed: null };
    ws.onopen = () => { seen.opened = true; };
    ws.onmessage = (m) => seen.frames.push(JSON.parse(m.data));
    ws.onclose = (e) => { seen.closed = e.code; };
    return seen;
  };
  return { first: open(ticket), again: open(ticket) };
}"""


def _token(channels: list[str]) -> str:
    claims = {"exp": time.time() + 600, "rawpush": {"subscribe": channels}}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_eventsource_with_a_cookie_and_websocket_with_a_ticket() -> None:
    async with launch() as browser:
        server = Server(ServerConfig(port=0, auth=CLOSED))
        await server.start()
        try:
            async with asyncio.timeout(LIMIT):
                context = await browser.new_context()
                base = f"http://127.0.0.1:{server.port}"
                await context.add_cookies(
                    [{"name": "rawpush_token", "value": _token(["news"]), "url": base}]
                )
                # A page of the server with no script of its own (same origin).
                page, errors = await open_page(context, f"{base}/healthz")
                allowed = await page.evaluate_handle(_EVENTSOURCE, "/sse/news")
                refused = await page.evaluate_handle(_EVENTSOURCE, "/sse/secret")
                sockets = await page.evaluate_handle(_TICKET_SOCKET, [_token(["news"]), "news"])
                await wait_js(page, "s => s.first.opened && s.again.closed !== null", sockets)
                await wait_js(page, "s => s.open", allowed)
                await wait_js(page, "s => s.errors > 0", refused)
                await server.hub.publish("news", "for members")
                await wait_js(page, "s => s.data.length === 1", allowed)
                await wait_js(page, "s => s.first.frames.length === 1", sockets)
                got = await allowed.evaluate("s => s.data")
                seen = await sockets.evaluate("s => s")
                denied = await refused.evaluate("s => s")
                await context.close()
        finally:
            await server.close()
        assert got == ["for members"]
        assert seen["first"]["frames"][0]["data"] == "for members"
        # The same ticket twice: the second upgrade is refused (401), so the
        # browser never opens it (1006 to the page).
        assert seen["again"]["opened"] is False and seen["again"]["closed"] == 1006
        assert denied["open"] is False and denied["data"] == []
        assert not [e for e in errors if "/sse/secret" not in e and "/ws/news" not in e]
