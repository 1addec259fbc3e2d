"""Encode once, write many: the wire form of a hub event, per transport.

A published event is serialized once per transport, not once per
subscriber. Each function here computes the form a subscriber's socket
receives and caches it in ``HubEvent.encoded``, so a thousand subscribers
share one object (a reference each in their ``Outbox``), and nobody
encodes twice.

Every byte is still built by the core: the JSON envelope by
``rawpush.proto.envelope``, the WebSocket form as a prepared frame
(``rawpush.proto.ws.frames.prepare_text``) that each connection sends
through its own state table (``send_prepared``), the event stream by
``rawpush.proto.sse``, its HTTP/1.1 chunk by ``rawpush.proto.chunked`` (once,
rather than by h11 per stream), and the poll answer by
``rawpush.proto.longpoll``.
"""

from __future__ import annotations

from rawpush.hub import HubEvent
from rawpush.proto.chunked import chunk
from rawpush.proto.envelope import GAP_JSON, event_json
from rawpush.proto.longpoll import poll_answer as _poll_answer
from rawpush.proto.longpoll import poll_item as _poll_item
from rawpush.proto.multichannel import poll_binary_item, sse_binary_event
from rawpush.proto.sse import GAP_EVENT, Event, encode
from rawpush.proto.ws.frames import PreparedFrame, prepare_binary, prepare_text

__all__ = [
    "SSE_GAP",
    "SSE_GAP_RAW",
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
POLL_KEY = "poll"

#: what a WebSocket subscriber gets when events were lost (never a silent gap)
WS_GAP = prepare_text(GAP_JSON)
#: the same for SSE: a named event with no id (an id would move the
#: client's Last-Event-ID past events it never saw)
SSE_GAP_RAW = GAP_EVENT
SSE_GAP = chunk(SSE_GAP_RAW)


def ws_frame(event: HubEvent) -> PreparedFrame:
    """The text message ``{"id","event","data"}`` carrying ``event``,
    prepared once; an event without a type is a plain "message" here too.
    A binary event is a binary message of its payload alone."""
    frame: PreparedFrame | None = event.encoded.get(WS_KEY)
    if frame is None:
        data = event.data
        if isinstance(data, bytes):
            # A binary event is a binary message of its bytes, as published.
            frame = event.encoded[WS_KEY] = prepare_binary(data)
        else:
            frame = event.encoded[WS_KEY] = prepare_text(event_json(event.id, event.event, data))
    return frame


def sse_event(event: HubEvent, chunked: bool) -> bytes:
    """The event-stream bytes of ``event``; chunk-framed when ``chunked``
    (HTTP/1.1), raw for a body the host frames or the close delimits."""
    raw: bytes | None = event.encoded.get(SSE_RAW_KEY)
    if raw is None:
        data = event.data
        if isinstance(data, bytes):
            raw = sse_binary_event(event.id, event.event, data)
        else:
            raw = encode(Event(data, event=event.event, id=event.id))
        event.encoded[SSE_RAW_KEY] = raw
    if not chunked:
        return raw
    framed: bytes | None = event.encoded.get(SSE_KEY)
    if framed is None:
        framed = event.encoded[SSE_KEY] = chunk(raw)
    return framed


def poll_item(event: HubEvent) -> bytes:
    """One element of a poll answer's ``events`` array, as JSON bytes."""
    item: bytes | None = event.encoded.get(POLL_KEY)
    if item is None:
        data = event.data
        if isinstance(data, bytes):
            item = poll_binary_item(event.id, event.event, data)
        else:
            item = _poll_item(event.id, event.event, data)
        event.encoded[POLL_KEY] = item
    return item


def poll_answer(events: tuple[HubEvent, ...], cursor: str, gap: bool) -> bytes:
    """The JSON answer to a poll, built by the core from the cached items."""
    return _poll_answer([poll_item(event) for event in events], cursor, gap)
