"""The ASGI application the uvicorn tests run (``tests.uvicorn.app:app``).

WebSocket paths:

- ``/echo``: accept (with the first offered subprotocol), echo every
  message as it came, until the disconnect.
- ``/scope``: accept and send the scope (JSON, bytes as latin-1 text).
- ``/headers``: accept with extra response headers.
- ``/deny``: ``websocket.close`` before accepting (403).
- ``/respond``: deny with ``websocket.http.response`` (401, two body parts).
- ``/close?code=C&reason=R``: accept, then close with that code and reason.
- ``/raise``: accept, then raise (1011); ``/raise-early``: raise at once (500).
- ``/watch?id=I``: accept and wait for the disconnect, which
  ``GET /last?id=I`` reports as JSON (it waits for it, up to 10 s).
- ``/burst?n=N&size=S``: accept, send N binary messages of S bytes, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

Message = dict[str, Any]
Receive = Any
Send = Any

# Disconnects seen by /watch, by the id in its query, and who waits for them.
_seen: dict[str, dict[str, Any]] = {}
_waiting: dict[str, asyncio.Event] = {}


def _event(key: str) -> asyncio.Event:
    return _waiting.setdefault(key, asyncio.Event())


def _query(scope: Message) -> dict[str, str]:
    raw = parse_qs(scope["query_string"].decode())
    return {key: values[0] for key, values in raw.items()}


async def _http(scope: Message, receive: Receive, send: Send) -> None:
    key = _query(scope).get("id", "")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_event(key).wait(), 10.0)
    body = json.dumps(_seen.get(key)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _until_disconnect(
    receive: Receive, send: Send | None = None, key: str | None = None
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            if key is not None:
                _seen[key] = {"code": message["code"], "reason": message.get("reason")}
                _event(key).set()
            return
        if send is not None:
            out = {"type": "websocket.send"}
            if message.get("bytes") is not None:
                out["bytes"] = message["bytes"]
            else:
                out["text"] = message["text"]
            await send(out)


def _scope_json(scope: Message) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("latin-1")
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return json.dumps({k: plain(v) for k, v in scope.items()})


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        # Copied into every connection's scope (ASGI lifespan state).
        scope["state"]["started"] = "yes"
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await _http(scope, receive, send)
        return
    assert (await receive())["type"] == "websocket.connect"
    # Routed without the root path, which uvicorn puts in front of path.
    path = scope["path"].removeprefix(scope["root_path"])
    query = _query(scope)
    if path == "/deny":
        await send({"type": "websocket.close"})
    elif path == "/respond":
        headers = [(b"content-type", b"text/plain"), (b"x-why", b"no token")]
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})
    elif path == "/raise-early":
        raise RuntimeError("refused by raising")
    else:
        protocols = list(scope["subprotocols"])
        accept: Message = {"type": "websocket.accept"}
        if protocols:
            accept["subprotocol"] = protocols[0]
        if path == "/headers":
            accept["headers"] = [(b"x-extra", b"yes"), (b"set-cookie", b"a=b")]
        await send(accept)
        if path == "/scope":
            await send({"type": "websocket.send", "text": _scope_json(scope)})
            await _until_disconnect(receive)
        elif path == "/close":
            code = int(query.get("code", "1000"))
            await send({"type": "websocket.close", "code": code, "reason": query.get("reason", "")})
            await _until_disconnect(receive)
        elif path == "/raise":
            raise RuntimeError("failed after accepting")
        elif path == "/watch":
            await _until_disconnect(receive, key=query.get("id", ""))
        elif path == "/burst":
            chunk = b"x" * int(query.get("size", "1024"))
            for _ in range(int(query.get("n", "10"))):
                await send({"type": "websocket.send", "bytes": chunk})
            await send({"type": "websocket.close", "code": 1000})
        else:
            await _until_disconnect(receive, send)
