"""Encode once, write many: the wire bytes of a hub event, per transport.

DESIGN.md promises that a published event is serialized once per transport,
not once per subscriber. Each function here computes the *final* bytes a
subscriber's socket receives and caches them in ``HubEvent.encoded``, so a
thousand subscribers share one ``bytes`` object (a reference each in their
``Outbox``), and nobody encodes twice.

The WebSocket and chunked SSE forms bypass the sans-IO objects' send paths
on purpose: ``ServerConnection.send_text`` and ``HTTPConnection.stream_chunk``
would build the same frame or chunk again for every subscriber. What we
build is exactly what they would (an unmasked FIN text frame, RFC 6455
section 5.2; a chunk, RFC 9112 section 7.1), and neither object keeps state
about data frames or chunk sizes, so skipping them loses nothing.
"""

from __future__ import annotations

from rawpush.hub import HubEvent
from rawpush.proto.http import json_bytes
from rawpush.proto.sse import Event, encode
from rawpush.proto.ws.frames import frame_header

__all__ = [
    "SSE_GAP",
    "SSE_KEY",
    "SSE_RAW_KEY",
    "WS_GAP",
    "WS_KEY",
    "chunk",
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


def _text_frame(payload: bytes) -> bytes:
    # 0x81: FIN + text opcode; servers never mask (RFC 6455 section 5.1).
    return frame_header(0x81, len(payload), 0) + payload


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 section 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


#: what a WebSocket subscriber gets when events were lost (DESIGN.md "Resume")
WS_GAP = _text_frame(b'{"gap":true}')
#: the same for SSE: a named event, no id (an id would move the client's
#: Last-Event-ID past events it never saw). ``data:`` is present, because
#: an event with no data line is never dispatched (WHATWG HTML 9.2.6).
SSE_GAP_RAW = b"event: gap\ndata: \n\n"
SSE_GAP = chunk(SSE_GAP_RAW)


def ws_frame(event: HubEvent) -> bytes:
    """The complete text frame ``{"id","event","data"}`` carrying ``event``."""
    frame = event.encoded.get(WS_KEY)
    if frame is None:
        payload = json_bytes({"id": event.id, "event": event.event, "data": event.data})
        frame = event.encoded[WS_KEY] = _text_frame(payload)
    return frame


def sse_event(event: HubEvent, chunked: bool) -> bytes:
    """The event-stream bytes of ``event``; chunk-framed when ``chunked``
    (HTTP/1.1), raw for an HTTP/1.0 body delimited by the close."""
    raw = event.encoded.get(SSE_RAW_KEY)
    if raw is None:
        raw = event.encoded[SSE_RAW_KEY] = encode(Event(event.data, event=event.event, id=event.id))
    if not chunked:
        return raw
    framed = event.encoded.get(SSE_KEY)
    if framed is None:
        framed = event.encoded[SSE_KEY] = chunk(raw)
    return framed


def poll_item(event: HubEvent) -> bytes:
    """One element of a poll answer's ``events`` array, as JSON bytes."""
    item = event.encoded.get("poll")
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
