"""The JSON shape of one event, the same on every JSON transport.

A WebSocket text message and each element of a long-poll answer carry
an event as ``{"id": ..., "event": ..., "data": ...}``; the SSE stream
carries the same three fields in its own format. ``event`` is always a
string: ``"message"`` when the publisher named none (or an empty name),
which is the type an ``EventSource`` gives such an event (WHATWG HTML
section 9.2.6), so a client sees one name whichever transport it uses. When events were lost
(the history no longer reaches back to the client's cursor) the
transports say so with ``GAP_JSON``, ``{"gap":true}``.

The server encodes an event once and shares the bytes with every
subscriber, so ``event_json`` is kept cheap: one prepared encoder, one
UTF-8 encode, no dict.
"""

from __future__ import annotations

import json

from rawpush.proto.errors import LocalProtocolError

__all__ = ["DEFAULT_EVENT", "GAP_JSON", "event_json"]

#: The type of an event published without one.
DEFAULT_EVENT = "message"

#: The notice, in place of an event, that events were lost.
GAP_JSON = b'{"gap":true}'

# Each string is encoded by itself, with the same rules as json_bytes:
# compact, UTF-8, non-ASCII characters as they are.
_STRING = json.JSONEncoder(ensure_ascii=False).encode


def event_json(id: str, event: str | None, data: str) -> bytes:
    """``{"id","event","data"}`` as compact UTF-8 JSON bytes.

    ``event`` None or ``""`` is ``"message"``. ``LocalProtocolError`` when
    a field is not ``str`` or holds a lone surrogate, which UTF-8 cannot
    carry.
    """
    if event is None or event == "":
        event = DEFAULT_EVENT
    if not (isinstance(id, str) and isinstance(event, str) and isinstance(data, str)):
        raise LocalProtocolError("an event's id, event and data must be str")
    text = '{"id":' + _STRING(id) + ',"event":' + _STRING(event) + ',"data":' + _STRING(data) + "}"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"event not encodable as UTF-8: {exc.reason}") from exc
