"""The ASGI wire under a WebSocket session: messages in, messages out.

``WSSession`` (and every subclass of it: ``/ws/{channel}``, the
multi-channel ``/ws``) writes RFC 6455 frames through its sans-IO core and
reads bytes. An ASGI server keeps the frames to itself and hands over
whole messages, so ``ASGIWire`` replaces exactly that layer and nothing
above it: an outgoing item is a ``str`` (a text message) or ``bytes`` (a
binary one, RFC 6455 section 5.6) given to ``websocket.send``; a close is
``websocket.close``; an incoming ``websocket.receive`` is one whole
message, checked against ``ws.max_message_size`` (1009, section 7.4.1)
and handed to the session's own ``_on_text`` / ``_on_binary``.

It comes first among a session class's bases
(``class ASGIWSSession(ASGIWire)``, ``class ASGIMultiWSSession(ASGIWire,
MultiWSSession)``), so its methods win over the frame-level ones while
the session's subscriptions, replies and publishing stay as they are.
Ping/Pong, the close handshake and permessage-deflate are the ASGI
server's (``rawpush.asgi.ws`` says what that leaves out).
"""

from __future__ import annotations

from typing import Protocol

from rawpush.proto.errors import LocalProtocolError
from rawpush.server.host import Host
from rawpush.server.ws_session import WSSession
from rawpush.ws import CloseCode


class MessageHost(Host, Protocol):
    """What ``ASGIWire`` asks of its host beyond ``Host``: whole messages."""

    def send_text(self, text: str) -> None:
        """Queue a text message."""

    def send_bytes(self, data: bytes) -> None:
        """Queue a binary message."""

    def close_with(self, code: int, reason: str) -> None:
        """The close code and reason the next ``close()`` sends."""


class ASGIWire(WSSession):
    """``WSSession`` with ASGI messages for frames (see the module doc)."""

    __slots__ = ()
    host: MessageHost

    # -- what goes out ----------------------------------------------------------

    def _write(self, data: str | bytes) -> None:  # type: ignore[override]
        if isinstance(data, str):
            self.host.send_text(data)
        else:
            self.host.send_bytes(data)

    def _flush(self) -> None:
        pass  # no core, no control frames: the ASGI server has them

    def _started(self) -> None:
        pass  # the ASGI server pings (rawpush.asgi.ws)

    def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` (RFC 6455 section 7.4), sent by the
        ASGI server as ``websocket.close``; idempotent."""
        if self._ended:
            return
        self._live = False
        self.host.close_with(code, reason)
        self._end(abort=False)

    # -- what comes in ----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Always ``LocalProtocolError``: ASGI hands over whole messages."""
        raise LocalProtocolError("an ASGI WebSocket delivers messages, not bytes")

    def message_received(self, text: str | None, data: bytes | None) -> None:
        """Handle one ``websocket.receive`` message (``text`` or ``data``); a
        message over ``max_message_size`` closes with 1009 (RFC 6455 section 7.4.1)."""
        host = self.host
        host.messages_in += 1
        if self._ended or not self._live:
            return
        limit = host.ctx.config.ws.max_message_size
        if text is None:
            size = len(data or b"")
        else:
            # The limit is on UTF-8 bytes, as in the core; up to 4 per character.
            size = len(text) if len(text) * 4 <= limit else len(text.encode("utf-8", "replace"))
        if size > limit:
            self.close(CloseCode.MESSAGE_TOO_BIG, "message too big")
        elif text is not None:
            self._on_text(text)
        else:
            self._on_binary(data or b"")

    def eof_received(self) -> None:
        """The client left (``websocket.disconnect``): end the session."""
        if not self._ended:
            self.host.disconnect("peer_close")
        self._live = False
        self._end(abort=False)
