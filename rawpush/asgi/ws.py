"""The ASGI ``websocket`` scope: ``/ws/{channel}`` and ``/ws`` as ASGI messages.

rawpush's own WebSocket session (``WSSession``) speaks RFC 6455 bytes
through its sans-IO core; an ASGI server keeps the frames to itself and
hands over whole messages. So this scope runs ``ASGIWSSession``, a
subclass of ``WSSession`` (through ``ASGIWire``, the message wire) that
keeps everything above the frames: the hub
subscription made before the connection is accepted, the outbox and its
overflow policy, the gap notice, the replay from ``lastEventId``, text
messages published to the channel in order (reading pauses while the hub
holds them), binary messages published as bytes, the drain's 1001. Only
the wire differs: an event is ``websocket.send`` with the very payload
the frame would carry (``text``: the JSON of a text event; ``bytes``: a
binary event's bytes alone, RFC 6455 section 5.6), a close is
``websocket.close``. The multi-channel ``GET /ws`` (JSON control
messages) runs ``ASGIMultiWSSession`` on the same wire
(``rawpush.asgi.ws_multi``).

What ASGI cannot express, and who does it instead:

- Ping/Pong and the ping timeout (RFC 6455 section 5.5.2-3): the ASGI
  server's own keepalive (``uvicorn --ws-ping-interval``, hypercorn's
  ``websocket_ping_interval``); ``ws_ping_interval`` does not apply here.
- permessage-deflate (RFC 7692) and the frame limits: negotiated and
  enforced by the server; rawpush checks ``ws.max_message_size`` on each
  whole message (1009, section 7.4.1) and never sees a fragment.
- The close handshake and its timeout (section 7.1): the server's; an
  abort has no ASGI form, so a session that must end at once drops what
  is queued and returns, and the server ends the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rawpush.asgi.exchange import Exchange
from rawpush.asgi.scope import (
    Message,
    Receive,
    Scope,
    Send,
    build_request,
    client_of,
    decode_headers,
    response_messages,
)
from rawpush.asgi.sender import Sender
from rawpush.asgi.ws_multi import ASGIMultiWSSession
from rawpush.asgi.ws_wire import ASGIWire, MessageHost
from rawpush.hub import HubEvent
from rawpush.proto.envelope import GAP_JSON
from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import Headers
from rawpush.server import routes
from rawpush.server.answers import Refusal, Takeover
from rawpush.server.context import Context
from rawpush.server.encoding import ws_frame
from rawpush.server.host import Framing
from rawpush.server.transports import REGISTRY
from rawpush.ws import CloseCode

#: where the text of an event's message is cached in ``HubEvent.encoded``:
#: decoded once, shared by every ASGI WebSocket subscriber
WS_TEXT_KEY = "ws.text"
_GAP_TEXT = GAP_JSON.decode("utf-8")
#: the subscriber routes, ``/ws/{channel}`` and the multi-channel ``/ws``
_WS_ROUTES = tuple(t for t in REGISTRY if t.label == "ws")
# The fields of the opening handshake the ASGI server has already checked
# and answered (RFC 6455 section 4.2.1); rawpush's route check sees them
# in their one valid form, and still checks the rest (Origin, the route,
# the channel, lastEventId). An extension the server negotiated is its own.
_HANDSHAKE = frozenset(
    {"upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
     "sec-websocket-extensions", "content-length", "transfer-encoding"}
)
_CHECKED = (
    ("upgrade", "websocket"),
    ("connection", "Upgrade"),
    ("sec-websocket-version", "13"),
    ("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="),
)
_DRAINING = HTTPError("the server is shutting down", 503, (("Retry-After", "1"),))


def message_of(event: HubEvent) -> str | bytes:
    """What ``websocket.send`` carries for ``event``, cached: the text
    ``{"id","event","data"}``, or a binary event's bytes (the frame's
    payload either way, so both hosts send the same message)."""
    message: str | bytes | None = event.encoded.get(WS_TEXT_KEY)
    if message is None:
        payload = ws_frame(event).payload
        # Only a text frame's payload is UTF-8 (section 5.6); a binary
        # event's bytes go out as they were published.
        message = payload if isinstance(event.data, bytes) else payload.decode("utf-8")
        event.encoded[WS_TEXT_KEY] = message
    return message


class ASGIWSSession(ASGIWire):
    """``WSSession`` with ASGI messages for frames (see the module doc)."""

    __slots__ = ()

    def __init__(
        self, host: MessageHost, channel: str, last_id: str | None, head: Headers = (), *_: Any,
        **options: Any,
    ) -> None:
        # WSSession's signature, so that a route may build this class when
        # its host names it (``WSExchange.ws_session_class``); the 101's
        # head and the extension are the ASGI server's business.
        options.pop("extension", None)
        super().__init__(host, channel, last_id, (), **options)
        self.outbox.gap_notice = _GAP_TEXT
        self._encoded_key = WS_TEXT_KEY

    def _encode(self, event: HubEvent) -> str | bytes:  # type: ignore[override]
        return message_of(event)


class WSExchange(Exchange):
    """One ASGI websocket call; the ``Host`` of its ``ASGIWSSession`` or
    ``ASGIMultiWSSession``."""

    #: the WebSocket sessions this host carries, by route (``/ws/{channel}``,
    #: ``/ws``): each route builds the class its host names
    ws_session_class = ASGIWSSession
    ws_multi_session_class = ASGIMultiWSSession

    def __init__(self, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(ctx, "ws", client_of(scope))
        self.scope = scope
        self._receive = receive
        self._send = send
        cfg = ctx.config
        self.sender = Sender(send, cfg.write_high_water, cfg.write_low_water)
        self._counted_sent = 0
        self._accepted = False
        self._peer_gone = False
        self._close: Message = {"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE}
        self._closer: asyncio.TimerHandle | None = None
        self._reading = asyncio.Event()
        self._reading.set()

    async def run(self) -> None:
        """Serve the call: wait for ``websocket.connect``, refuse it over a
        connection limit, else accept and pump messages until either side closes."""
        if (await self._receive())["type"] != "websocket.connect":
            return  # gone before it asked
        refused = self.begin()
        if refused is not None:
            await self._refuse_now(refused)
            return
        try:
            await self._serve()
        finally:
            self.end()

    async def _serve(self) -> None:
        ctx = self.ctx
        headers = tuple(
            (name, value) for name, value in decode_headers(self.scope) if name not in _HANDSHAKE
        )
        if not any(name == "host" for name, _ in headers):
            headers += (("host", "asgi"),)  # HTTP/2 has :authority instead
        try:
            request = build_request(
                self.scope,
                ctx.config.http,
                method="GET",
                headers=headers + _CHECKED,
                http_version="1.1",  # whatever carried it, the server accepted it
            )
        except HTTPError as exc:
            await self._refuse_now(exc)
            return
        answer = routes.dispatch(ctx, request, self.peer)
        if isinstance(answer, Refusal):
            await self._refuse_now(answer.error)
            return
        path = request.path
        if not isinstance(answer, Takeover) or not any(t.matches(path) for t in _WS_ROUTES):
            # A page, or the echo: neither is a subscriber over ASGI.
            await self._refuse_now(HTTPError(f"no WebSocket route for {request.path!r}", 404))
            return
        if ctx.draining:
            await self._refuse_now(_DRAINING)
            return
        # The route builds the session this host names (ws_session_class or
        # ws_multi_session_class), with everything it decided about the
        # channel and the caller.
        session = answer.open(self)
        assert isinstance(session, ASGIWire)
        self.session = session
        self.sender.on_pause = session.pause_writing
        self.sender.on_resume = session.resume_writing
        sending = self.sender.start()
        reading = asyncio.ensure_future(self._read(session))
        session.start()
        try:
            with contextlib.suppress(OSError):  # a client gone mid-send
                await sending
        finally:
            if self._closer is not None:
                self._closer.cancel()
            reading.cancel()
            self.sender.drop()
            session.connection_lost()

    async def _read(self, session: ASGIWire) -> None:
        while True:
            await self._reading.wait()
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text, data = message.get("text"), message.get("bytes")
                self.bytes_in += len(text) if text is not None else len(data or b"")
                session.message_received(text, data)
            elif kind == "websocket.disconnect":
                self._peer_gone = True
                session.eof_received()
                return

    def _refusal(self, error: HTTPError) -> list[Message]:
        """The messages refusing the handshake with ``error``."""
        self.count_status(error.status)
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            # The ASGI "WebSocket Denial Response" extension: a real HTTP
            # answer, in the JSON shape every rawpush host gives.
            start, body = response_messages(Refusal(error), "GET")
            start["type"] = "websocket.http.response.start"
            body["type"] = "websocket.http.response.body"
            return [start, body]
        # Without it, a close before accept is the server's 403.
        return [{"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION}]

    async def _refuse_now(self, error: HTTPError) -> None:
        for message in self._refusal(error):
            await self._send(message)

    # -- counters ----------------------------------------------------------------

    def _sent(self) -> int:
        sent, self._counted_sent = self.sender.sent - self._counted_sent, self.sender.sent
        return sent

    # -- what ASGIWire asks beyond Host (MessageHost) -------------------------------

    def send_text(self, text: str) -> None:
        """Queue a ``websocket.send`` text message."""
        # Sized in characters: the same as bytes for ASCII JSON, and the
        # watermarks are approximate anyway.
        self.sender.put({"type": "websocket.send", "text": text}, len(text))

    def send_bytes(self, data: bytes) -> None:
        """Queue a ``websocket.send`` binary message."""
        self.sender.put({"type": "websocket.send", "bytes": data}, len(data))

    def close_with(self, code: int, reason: str) -> None:
        """The close code and reason ``close()`` will send."""
        self._close = {"type": "websocket.close", "code": int(code), "reason": reason}

    # -- the Host operations (rawpush.server.host) ---------------------------------

    def switch_protocols(self, headers: Headers) -> bytes:
        """Accept the WebSocket (``websocket.accept``); the ASGI server read the
        handshake, so no bytes follow it here."""
        self.count_status(101)
        self._accepted = True
        self.sender.put({"type": "websocket.accept"})
        return b""  # the server read the handshake; no bytes follow it here

    def refuse(self, error: HTTPError) -> None:
        """Refuse before accept with the HTTP answer ``error`` implies."""
        # The hub refused the subscription, before accept (the session's order).
        *first, last = self._refusal(error)
        for message in first:
            self.sender.put(message)
        self.sender.finish(last)

    def close(self) -> None:
        """Send ``websocket.close`` after what is queued, and give the client
        ``close_timeout`` seconds to read it; drop it all if the client is gone."""
        if self._peer_gone:
            self.sender.drop()  # nobody to say goodbye to
        elif not self.sender.closing:
            self.sender.finish(self._close)
            # What is queued goes out before the close, to a reader that may
            # read nothing: it has close_timeout, as over HTTP/1.1.
            timeout = self.ctx.config.close_timeout
            self._closer = self.call_later(timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._closer = None
        self.disconnect("close_timeout")
        self.sender.drop()

    def abort(self) -> None:
        """Drop whatever is still queued."""
        self.sender.drop()

    def pause_reading(self) -> None:
        """Stop taking ``websocket.receive`` messages (backpressure)."""
        self._reading.clear()

    def resume_reading(self) -> None:
        """Take ``websocket.receive`` messages again."""
        self._reading.set()

    def write(self, data: bytes) -> None:
        """Only ``b""`` is accepted: an ASGI WebSocket sends messages, not frames."""
        if data:
            raise LocalProtocolError("an ASGI WebSocket sends messages, not frames")

    def open_stream(self, status: int, headers: Headers) -> Framing:
        """Always ``LocalProtocolError``: a WebSocket has no event-stream body."""
        raise LocalProtocolError("a WebSocket has no event-stream body")

    def end_stream(self) -> None:
        """Always ``LocalProtocolError``: a WebSocket has no event-stream body."""
        raise LocalProtocolError("a WebSocket has no event-stream body")

    # -- Carrier ---------------------------------------------------------------------

    def drain(self) -> None:
        """On shutdown, let the session close with 1001 (RFC 6455 section 7.4.1)."""
        if self.session is not None:
            self.session.drain()

