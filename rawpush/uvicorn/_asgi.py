"""The ASGI side of the bridge: the connection scope and header conversions.

Pure functions, kept apart from the protocol so they read (and test) on
their own. The scope follows the ASGI WebSocket spec, version 2.4: the
``reason`` of ``websocket.disconnect`` and the ``websocket.http.response``
extension both exist from that version on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import unquote

from uvicorn._types import ASGIReceiveEvent, WebSocketDisconnectEvent, WebSocketScope

from rawpush.proto.http import Request
from rawpush.proto.ws.handshake import HandshakeRequest

__all__ = ["SPEC_VERSION", "Inbox", "build_scope", "decode_pairs", "encode_pairs"]

SPEC_VERSION = "2.4"


def decode_pairs(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI's byte-string header pairs as the core's str pairs.

    Latin-1 maps each octet to one character and back (RFC 9110 section
    5.5: field values are octets), so nothing is lost either way.
    """
    pairs = []
    for name, value in headers:
        if not isinstance(name, bytes | bytearray) or not isinstance(value, bytes | bytearray):
            raise RuntimeError(f"ASGI headers are pairs of bytes, got {name!r}: {value!r}")
        pairs.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
    return pairs


def encode_pairs(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The core's str header pairs as ASGI byte strings."""
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def build_scope(
    request: Request,
    found: HandshakeRequest,
    *,
    scheme: str,
    client: tuple[str, int] | None,
    server: tuple[str, int | None] | None,
    root_path: str,
    asgi_version: str,
    state: dict[str, Any],
) -> WebSocketScope:
    """The ``websocket`` connection scope for a valid opening handshake.

    ``path`` is percent-decoded as UTF-8 (the ASGI spec asks for it), and
    ``raw_path`` keeps the bytes as sent; both carry ``root_path`` in front,
    as uvicorn's own protocols do. Header names are already lower case.
    """
    raw_path, _, query = request.target.partition("?")
    version: Literal["2.0", "3.0"] = "2.0" if asgi_version == "2.0" else "3.0"
    return {
        "type": "websocket",
        "asgi": {"version": version, "spec_version": SPEC_VERSION},
        "http_version": request.http_version,
        "scheme": scheme,
        "server": server,
        "client": client,
        "root_path": root_path,
        "path": root_path + unquote(raw_path),
        "raw_path": root_path.encode("latin-1") + raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "headers": encode_pairs(request.headers),
        "subprotocols": list(found.subprotocols),
        "state": state,
        "extensions": {"websocket.http.response": {}},
    }


class Inbox:
    """The events waiting for the application's ``receive()``, in order.

    The disconnect is queued once, whoever saw the end first; after it was
    taken, every later ``get()`` returns it again rather than hang.
    """

    __slots__ = ("_events", "_waiter", "final")

    def __init__(self) -> None:
        self._events: deque[ASGIReceiveEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.final: WebSocketDisconnectEvent | None = None

    def put(self, message: ASGIReceiveEvent) -> None:
        self._events.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def disconnect(self, code: int, reason: str = "") -> None:
        """Queue ``websocket.disconnect`` unless one is queued already."""
        if self.final is None:
            self.final = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self.put(self.final)

    async def get(self, loop: asyncio.AbstractEventLoop) -> ASGIReceiveEvent:
        events = self._events
        while not events:
            if self.final is not None:
                return self.final
            waiter = self._waiter = loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return events.popleft()
