"""Encode once, write many: the wire bytes of a hub event, per transport.

rawpush promises that a published event is serialized once per transport,
not once per subscriber. Each function here computes the *final* bytes a
subscriber's socket receives and caches them in ``HubEvent.encoded``, so a
thousand subscribers share one ``bytes`` object (a reference each in their
``Outbox``), and nobody encodes twice.

Every byte is still built by the core: the WebSocket form is a prepared
frame (``rawpush.proto.ws.frames.prepare_text``) that each connection
sends through its own state table (``send_prepared``), and the chunked SSE
form is framed by ``rawpush.proto.chunked`` once, not by h11 per stream.
"""

from __future__ import annotations

from rawpush.hub import HubEvent
from rawpush.proto.chunked import chunk
from rawpush.proto.http import json_bytes
from rawpush.proto.sse import Event, encode
from rawpush.proto.ws.frames import PreparedFrame, prepare_text

__all__ = [
    "SSE_GAP",
    "SSE_KEY",
    "SSE_RAW_KEY",
    "WS_GAP",
    "WS_KEY",
    "poll_answer",
    "poll_item",
    "sse_event",
    "ws_frame",
]


#: Where each form is cached in ``HubEvent.encoded``. Sessions look there
#: first, per delivered event, before calling the functions below (a call
#: less on the hot path once the first subscriber has encoded the event).
WS_KEY = "ws"
SSE_KEY = "sse"
SSE_RAW_KEY = "sse.raw"


#: what a WebSocket subscriber gets when events were lost (never a silent gap)
WS_GAP = prepare_text(b'{"gap":true}')
#: the same for SSE: a named event, no id (an id would move the client's
#: Last-Event-ID past events it never saw). ``data:`` is present, because
#: an event with no data line is never dispatched (WHATWG HTML 9.2.6).
SSE_GAP_RAW = b"event: gap\ndata: \n\n"
SSE_GAP = chunk(SSE_GAP_RAW)


def ws_frame(event: HubEvent) -> PreparedFrame:
    """The text message ``{"id","event","data"}`` carrying ``event``,
    prepared once; an event without a type is a plain "message" here too."""
    frame: PreparedFrame | None = event.encoded.get(WS_KEY)
    if frame is None:
        payload = json_bytes(
            {"id": event.id, "event": event.event or "message", "data": event.data}
        )
        frame = event.encoded[WS_KEY] = prepare_text(payload)
    return frame


def sse_event(event: HubEvent, chunked: bool) -> bytes:
    """The event-stream bytes of ``event``; chunk-framed when ``chunked``
    (HTTP/1.1), raw for an HTTP/1.0 body delimited by the close."""
    raw: bytes | None = event.encoded.get(SSE_RAW_KEY)
    if raw is None:
        raw = event.encoded[SSE_RAW_KEY] = encode(Event(event.data, event=event.event, id=event.id))
    if not chunked:
        return raw
    framed: bytes | None = event.encoded.get(SSE_KEY)
    if framed is None:
        framed = event.encoded[SSE_KEY] = chunk(raw)
    return framed


def poll_item(event: HubEvent) -> bytes:
    """One element of a poll answer's ``events`` array, as JSON bytes."""
    item: bytes | None = event.encoded.get("poll")
    if item is None:
        # The same shape as rawpush.proto.longpoll.poll_body; an event
        # without a type is a plain "message", as EventSource would name it.
        item = event.encoded["poll"] = json_bytes(
            {"id": event.id, "event": event.event or "message", "data": event.data}
        )
    return item


def poll_answer(events: tuple[HubEvent, ...], cursor: str, gap: bool) -> bytes:
    """The JSON answer to a poll, built from the cached items (equal to
    ``poll_body`` of the same events; a test holds them equal)."""
    items = b",".join([poll_item(event) for event in events])
    tail = b',"gap":true}' if gap else b"}"
    return b'{"events":[' + items + b'],"cursor":' + json_bytes(cursor) + tail
