"""A FastAPI application with rawpush mounted at ``/push``, for the browser
tests: ``GET /`` is the host's own page, whose script subscribes to the
mounted endpoints with the browser's ``EventSource`` and ``WebSocket``;
``POST /announce/{channel}`` publishes from a route, into the shared hub.

The page records what arrives in ``window.got`` (``{sse: [...], ws:
[...]}``, each item ``[id, data]``) and each transport's state in
``window.state``; ``?from=ID`` resumes both from that id (``lastEventId``
in the WebSocket's query; the EventSource has no header to set on its
first request, so it uses the same query, which rawpush reads as well).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

import rawpush
import rawpush.asgi
from tests.asgi.site import config

hub = rawpush.Hub(config.hub)
push = rawpush.asgi.App(hub, config)

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>host page</title>
<p id="state">starting</p>
<script>
const params = new URLSearchParams(location.search);
const channel = params.get("channel") || "page";
const from = params.get("from");
const query = from ? "?lastEventId=" + encodeURIComponent(from) : "";
window.got = { sse: [], ws: [] };
window.state = { sse: "connecting", ws: "connecting" };
const es = new EventSource("/push/sse/" + channel + query);
es.onopen = () => { window.state.sse = "open"; };
es.onmessage = (e) => { window.got.sse.push([e.lastEventId, e.data]); };
es.addEventListener("gap", () => { window.got.sse.push(["", "(gap)"]); });
const ws = new WebSocket("ws://" + location.host + "/push/ws/" + channel + query);
ws.onopen = () => { window.state.ws = "open"; };
ws.onclose = (e) => { window.state.ws = "closed " + e.code; };
ws.onmessage = (e) => {
  const item = JSON.parse(e.data);
  window.got.ws.push(item.gap ? ["", "(gap)"] : [item.id, item.data]);
};
window.wsSend = (text) => ws.send(text);
</script>
"""


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A mounted app gets no lifespan events of its own.
    await push.startup()
    yield
    await push.shutdown()
    await hub.close()


api = FastAPI(lifespan=lifespan)


@api.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


@api.post("/announce/{channel}")
async def announce(channel: str, request: Request) -> dict[str, str]:
    event = await hub.publish(channel, (await request.body()).decode())
    return {"id": event.id}


api.mount("/push", push)
