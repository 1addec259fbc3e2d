"""The ASGI ``websocket`` scope's ``GET /ws``: many channels on one socket.

``MultiWSSession`` (``rawpush.server.ws_multi``) holds everything the
multi-channel route does: the JSON control messages handled one at a
time in arrival order, acks and errors carrying the client's ``ref``,
each ``subscribe`` authorized and replayed from its ``since`` (the ack,
then the replay, then live events), ``publish`` under the connection's
rate bucket and the publish right, ``ping`` answered at once, and the
drop-oldest notice naming no channel. ``ASGIMultiWSSession`` keeps all of
it and changes only the wire, through ``ASGIWire``: where the HTTP/1.1
host writes a prepared frame, this one hands ``websocket.send`` the same
payload, a ``str`` for a text message, ``bytes`` for a binary event (the
JSON header, ``\\n``, the bytes, as documented for ``/ws``).
"""

from __future__ import annotations

from typing import Any

from rawpush.asgi.ws_wire import ASGIWire, MessageHost
from rawpush.hub import HubEvent
from rawpush.proto.http import Headers
from rawpush.proto.multichannel import ws_binary_event, ws_event, ws_gap
from rawpush.server.security import Caller
from rawpush.server.ws_multi import MultiWSSession

#: where the message of an event for ``/ws`` over ASGI is cached in
#: ``HubEvent.encoded``: built once, shared by every such subscriber
WS_MULTI_TEXT_KEY = "ws.multi.text"
#: the drop-oldest notice: no channel named, so every channel has a gap
_EVERY_GAP = '{"type":"gap"}'


def multi_message_of(event: HubEvent) -> str | bytes:
    """What ``websocket.send`` carries for ``event`` on ``/ws``, cached: the
    text ``{"type":"event","channel",...}``, or for bytes the binary
    header-newline-payload message (the payload of the frame the HTTP/1.1
    host sends, so both hosts send the same message)."""
    message: str | bytes | None = event.encoded.get(WS_MULTI_TEXT_KEY)
    if message is None:
        data = event.data
        if isinstance(data, bytes):
            message = ws_binary_event(event.channel, event.id, event.event, data)
        else:
            message = ws_event(event.channel, event.id, event.event, data).decode("utf-8")
        event.encoded[WS_MULTI_TEXT_KEY] = message
    return message


class ASGIMultiWSSession(ASGIWire, MultiWSSession):
    """``MultiWSSession`` with ASGI messages for frames (see the module doc)."""

    __slots__ = ()

    def __init__(
        self, host: MessageHost, head: Headers = (), *, who: Caller | None = None, **_: Any
    ) -> None:
        # MultiWSSession's signature, so that the route may build this
        # class when its host names it (``ws_multi_session_class``); the
        # 101's head and the extension are the ASGI server's business.
        super().__init__(host, (), who=who)
        self.outbox.gap_notice = _EVERY_GAP

    def _encode(self, event: HubEvent) -> str | bytes:  # type: ignore[override]
        if event.gap:
            return ws_gap(event.channel).decode("utf-8")
        return multi_message_of(event)

    def _reply(self, payload: bytes) -> None:
        # Acks, errors, pongs and per-channel gaps: JSON, so UTF-8 text.
        self.outbox.put(payload.decode("utf-8"))
