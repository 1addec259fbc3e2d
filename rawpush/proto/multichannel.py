"""Many channels on one connection, and binary payloads, sans-IO.

The wire forms shared by ``GET /sse?channel=A&channel=B``, ``GET /poll?channel=...``
and ``GET /ws`` with JSON control messages:

- a *position* names one hub id per channel, in the order of the URL's
  ``channel`` parameters, comma-separated, ``_`` for "nothing seen yet":
  ``1733100000000-0,_,1733100000123-4``. It is bounded (at most
  ``max_channels`` ids of at most ``MAX_ID_LENGTH`` characters), so it fits
  an SSE ``id:`` line and a ``Last-Event-ID`` header. EventSource
  reconnects to the same URL (WHATWG HTML section 9.2.3), so the order of
  the channels, and with it the meaning of each slot, is stable.
- an event names its channel: ``{"channel","id","event","data"}``, plus
  ``"encoding":"base64"`` when the payload is bytes (SSE and JSON carry
  text only).
- a WebSocket client sends ``{"op":"subscribe"|"unsubscribe"|"publish",...}``
  and is answered with ``{"type":"ack"|"error"|"event"|"gap",...}``, and
  ``{"op":"ping"}`` with ``{"type":"pong"}`` (both with its ``ref``); a
  binary event is one binary message: the JSON header, ``\\n``, the bytes
  (JSON escapes every newline inside a string, so the first ``\\n`` ends
  the header).

Parsing a position raises ``HTTPError`` (400, it arrives in a request);
parsing a control message raises ``ControlError``, which carries the
error code of the reply. Building a message from bad arguments raises
``LocalProtocolError``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from rawpush.proto.envelope import DEFAULT_EVENT, event_json
from rawpush.proto.errors import HTTPError, LocalProtocolError, RemoteProtocolError
from rawpush.proto.sse import Event, encode

__all__ = [
    "BASE64",
    "ERROR_CODES",
    "MAX_ID_LENGTH",
    "NO_POSITION",
    "ControlError",
    "ControlMessage",
    "Ping",
    "Publish",
    "Subscribe",
    "Unsubscribe",
    "channel_event_json",
    "format_position",
    "multi_poll_answer",
    "parse_binary_message",
    "parse_control",
    "parse_position",
    "poll_binary_item",
    "query_values",
    "sse_binary_event",
    "sse_channel_event",
    "sse_channel_frame",
    "sse_channel_gap",
    "ws_ack",
    "ws_binary_event",
    "ws_error",
    "ws_event",
    "ws_gap",
    "ws_pong",
]

#: the longest hub id a position slot may hold
MAX_ID_LENGTH = 40
#: a slot for a channel with no event seen yet (resume from now)
NO_POSITION = "_"
#: the ``encoding`` marker of a payload that is bytes
BASE64 = "base64"
#: the ``code`` of every error reply a ``/ws`` client can get
ERROR_CODES = frozenset(
    {
        "bad_request",
        "forbidden",
        "unauthorized",
        "not_found",
        "too_many_channels",
        "rate_limited",
        "too_big",
        "unavailable",
    }
)

# The shape of a hub id ("<ms>-<seq>", a Redis stream id); the hub checks
# the numbers themselves.
_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,19}", re.ASCII)
_STRING = json.JSONEncoder(ensure_ascii=False).encode
_LINE_BREAK = re.compile(r"[\r\n]")


# -- positions --------------------------------------------------------------------


def parse_position(raw: str, count: int) -> tuple[str | None, ...]:
    """The id per channel (None for ``_``) of a position for ``count``
    channels; ``HTTPError`` 400 "bad position" when the number of slots
    differs or a slot is not an id."""
    if count < 1:
        raise LocalProtocolError("a position names at least one channel")
    if len(raw) > count * (MAX_ID_LENGTH + 1):
        raise HTTPError("bad position: too long", 400)
    slots = raw.split(",")
    if len(slots) != count:
        raise HTTPError(f"bad position: {len(slots)} ids for {count} channels", 400)
    ids: list[str | None] = []
    for slot in slots:
        if slot == NO_POSITION:
            ids.append(None)
        elif len(slot) <= MAX_ID_LENGTH and _ID.fullmatch(slot):
            ids.append(slot)
        else:
            raise HTTPError(f"bad position: {slot[:MAX_ID_LENGTH]!r} is not an id", 400)
    return tuple(ids)


def format_position(ids: Sequence[str | None]) -> str:
    """The position for one id per channel (None: nothing seen yet)."""
    if not ids:
        raise LocalProtocolError("a position names at least one channel")
    out = []
    for one in ids:
        if one is None:
            out.append(NO_POSITION)
        elif isinstance(one, str) and len(one) <= MAX_ID_LENGTH and _ID.fullmatch(one):
            out.append(one)
        else:
            raise LocalProtocolError(f"not a hub id: {one!r}")
    return ",".join(out)


def query_values(target: str, name: str, max_fields: int = 128) -> list[str]:
    """Every value of the query parameter ``name`` in ``target``, in order
    (``Request.query`` keeps only the first); ``HTTPError`` 400 when the
    query does not decode."""
    raw = target.partition("#")[0].partition("?")[2]
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict", max_num_fields=max_fields)
    except ValueError as exc:
        raise HTTPError(f"bad query: {exc}", 400) from None
    return [value for key, value in pairs if key == name]


# -- events ---------------------------------------------------------------------------


def _payload(data: str | bytes) -> tuple[str, str]:
    # The JSON form of a payload: the text itself, or the base64 of bytes
    # and the marker that says so.
    if isinstance(data, str):
        return _STRING(data), ""
    if isinstance(data, bytes):
        return '"' + base64.b64encode(data).decode("ascii") + '"', ',"encoding":"base64"'
    raise LocalProtocolError(f"a payload is str or bytes, not {type(data).__name__}")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"not encodable as UTF-8: {exc.reason}") from exc


def _head(kind: str, channel: str, id: str, event: str | None) -> str:
    if not (isinstance(channel, str) and isinstance(id, str)):
        raise LocalProtocolError("an event's channel and id must be str")
    if event is None or event == "":
        event = DEFAULT_EVENT
    elif not isinstance(event, str):
        raise LocalProtocolError("an event's name must be str")
    fields = '"channel":' + _STRING(channel) + ',"id":' + _STRING(id)
    return kind + fields + ',"event":' + _STRING(event)


def channel_event_json(channel: str, id: str, event: str | None, data: str | bytes) -> bytes:
    """``{"channel","id","event","data"[,"encoding":"base64"]}``: the data
    of a multi-channel SSE event and an item of a multi-channel poll."""
    text, marker = _payload(data)
    return _utf8(_head("{", channel, id, event) + ',"data":' + text + marker + "}")


def ws_event(channel: str, id: str, event: str | None, data: str | bytes) -> bytes:
    """The ``/ws`` text message of a text event (``"type":"event"``); bytes
    go in ``ws_binary_event`` instead, but are base64 here if given."""
    text, marker = _payload(data)
    return _utf8(_head('{"type":"event",', channel, id, event) + ',"data":' + text + marker + "}")


def ws_binary_event(channel: str, id: str, event: str | None, data: bytes) -> bytes:
    """The ``/ws`` binary message of a binary event: the JSON header, a
    newline, the payload as it was published."""
    if not isinstance(data, bytes):
        raise LocalProtocolError("a binary event's payload is bytes")
    head = _head('{"type":"event",', channel, id, event) + ',"binary":true}\n'
    return _utf8(head) + data


def parse_binary_message(message: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and payload of a binary message from ``ws_binary_event``;
    ``ControlError`` (bad_request) when there is no JSON object header."""
    head, newline, payload = bytes(message).partition(b"\n")
    if not newline:
        raise ControlError("bad_request", "a binary message needs a JSON header and a newline")
    found = _json_object(head)
    return found, payload


def sse_channel_event(
    channel: str, id: str, event: str | None, data: str | bytes, position: str
) -> bytes:
    """One event of a multi-channel stream: named as published (so
    ``addEventListener(name)`` works), ``id:`` the stream's new position,
    the ``channel_event_json`` as data."""
    return sse_channel_frame(event, position, channel_event_json(channel, id, event, data))


def sse_channel_frame(event: str | None, position: str, item: bytes) -> bytes:
    """``sse_channel_event`` from the event's ``channel_event_json``, which
    every stream shares while the position is each stream's own: the JSON
    is one line (it escapes CR and LF), so it is one ``data:`` line."""
    name = event or DEFAULT_EVENT
    if not (isinstance(name, str) and isinstance(position, str) and isinstance(item, bytes)):
        raise LocalProtocolError("an event name and a position are str, the item bytes")
    if _LINE_BREAK.search(name + position) or b"\n" in item or b"\r" in item:
        # Section 9.2.6: a line break would end the field early.
        raise LocalProtocolError("a line break in an SSE field")
    head = "event: " + name + "\nid: " + position + "\ndata: "
    return _utf8(head) + item + b"\n\n"


def sse_channel_gap(channel: str) -> bytes:
    """The gap notice of one channel: ``event: gap``, no ``id:`` (the
    position does not move past events the client never saw)."""
    return encode(Event('{"channel":' + _STRING(channel) + "}", event="gap"))


def sse_binary_event(id: str, event: str | None, data: bytes) -> bytes:
    """A single-channel SSE event with a bytes payload: base64 data and an
    ``encoding: base64`` line, a field EventSource ignores (WHATWG HTML
    section 9.2.6, "Otherwise: the field is ignored") and rawpush clients read."""
    if not isinstance(data, bytes):
        raise LocalProtocolError("a binary event's payload is bytes")
    text = base64.b64encode(data).decode("ascii")
    return b"encoding: base64\n" + encode(Event(text, event=event, id=id))


def poll_binary_item(id: str, event: str | None, data: bytes) -> bytes:
    """A single-channel poll item with a bytes payload:
    ``{"id","event","data":"<base64>","encoding":"base64"}``."""
    if not isinstance(data, bytes):
        raise LocalProtocolError("a binary event's payload is bytes")
    text = base64.b64encode(data).decode("ascii")
    return event_json(id, event, text)[:-1] + b',"encoding":"base64"}'


def multi_poll_answer(items: Sequence[bytes], cursor: str, gaps: Sequence[str]) -> bytes:
    """``{"events":[...],"cursor":...,"gaps":[...]}`` from
    ``channel_event_json`` items."""
    if not isinstance(cursor, str) or not all(isinstance(g, str) for g in gaps):
        raise LocalProtocolError("the cursor and the gap channels are str")
    names = ",".join(_STRING(g) for g in gaps)
    tail = ',"cursor":' + _STRING(cursor) + ',"gaps":[' + names + "]}"
    return b'{"events":[' + b",".join(items) + b"]" + tail.encode("utf-8")


# -- control messages -------------------------------------------------------------------


class ControlError(RemoteProtocolError):
    """A ``/ws`` control message the server refuses; ``code`` (one of
    ``ERROR_CODES``) and the ``op``, ``channel`` and ``ref`` it named, when
    it could be read that far, go into the error reply."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        op: str | None = None,
        channel: str | None = None,
        ref: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise LocalProtocolError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.op = op
        self.channel = channel
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: str
    #: resume after this hub id; None: from now
    since: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    channel: str
    #: bytes when the message said ``"encoding":"base64"``
    data: str | bytes
    event: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    """``{"op":"ping"}``: the client asks whether the connection is alive
    (a browser can neither send nor see WebSocket Pings, RFC 6455 section
    5.5.2, so liveness needs a message of its own)."""

    ref: str | None = None


ControlMessage = Subscribe | Unsubscribe | Publish | Ping

_OPS = ("subscribe", "unsubscribe", "publish")
#: the fields each op may carry; anything else is refused, so a typo
#: ("sinec") is an error rather than a silent subscription from now
_FIELDS = {
    "subscribe": {"op", "channel", "since", "ref"},
    "unsubscribe": {"op", "channel", "ref"},
    "publish": {"op", "channel", "data", "event", "encoding", "ref"},
    "ping": {"op", "ref"},
}


def _json_object(raw: str | bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 alike
        raise ControlError("bad_request", "not JSON") from None
    if not isinstance(found, dict):
        raise ControlError("bad_request", "a control message is a JSON object")
    return found


def _text(found: dict[str, Any], name: str, fail: _Fail) -> str | None:
    value = found.get(name)
    if value is not None and not isinstance(value, str):
        fail(f"{name!r} must be a string")
    return value


class _Fail:
    """Raises the error reply for one message, naming what it could read."""

    __slots__ = ("channel", "op", "ref")

    def __init__(self, op: str, channel: str, ref: str | None) -> None:
        self.op, self.channel, self.ref = op, channel, ref

    def __call__(self, message: str) -> NoReturn:
        raise ControlError("bad_request", message, op=self.op, channel=self.channel, ref=self.ref)


def parse_control(raw: str | bytes) -> ControlMessage:
    """The control message in one text message; ``ControlError``
    (bad_request) for anything else, naming what it could read."""
    found = _json_object(raw)
    ref = found.get("ref")
    ref = ref if isinstance(ref, str) else None
    op = found.get("op")
    if op == "ping":
        return _ping(found, ref)
    if op not in _OPS:
        raise ControlError("bad_request", f"unknown op {str(op)[:32]!r}", ref=ref)
    channel = found.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ControlError("bad_request", "'channel' must be a non-empty string", op=op, ref=ref)
    fail = _Fail(op, channel, ref)
    _text(found, "ref", fail)
    extra = sorted(set(found) - _FIELDS[op])
    if extra:
        fail(f"unknown field {extra[0][:32]!r} for {op}")
    if op == "unsubscribe":
        return Unsubscribe(channel, ref)
    if op == "subscribe":
        since = _text(found, "since", fail)
        if since is not None and not (len(since) <= MAX_ID_LENGTH and _ID.fullmatch(since)):
            fail("'since' is not an id")
        return Subscribe(channel, since, ref)
    data = _text(found, "data", fail)
    event = _text(found, "event", fail)
    encoding = _text(found, "encoding", fail)
    if data is None:
        fail("a publish needs 'data'")
    if encoding is None:
        return Publish(channel, data, event, ref)
    if encoding != BASE64:
        fail(f"unknown encoding {encoding[:32]!r}")
    try:
        payload = base64.b64decode(data, validate=True)
    except binascii.Error:
        fail("'data' is not base64")
    return Publish(channel, payload, event, ref)


def _ping(found: dict[str, Any], ref: str | None) -> Ping:
    if "ref" in found and ref is None:
        raise ControlError("bad_request", "'ref' must be a string", op="ping")
    extra = sorted(set(found) - _FIELDS["ping"])
    if extra:
        raise ControlError(
            "bad_request", f"unknown field {extra[0][:32]!r} for ping", op="ping", ref=ref
        )
    return Ping(ref)


# -- replies ---------------------------------------------------------------------------------


def _opt(name: str, value: str | None) -> str:
    return "" if value is None else "," + _STRING(name) + ":" + _STRING(value)


def ws_ack(op: str, channel: str, id: str | None, ref: str | None = None) -> bytes:
    """``{"type":"ack","ref","op","channel","id"}``: ``id`` the channel's
    latest id (subscribe, null when none) or the new event's (publish);
    ``ref`` only when the client sent one."""
    if op not in _OPS or not isinstance(channel, str):
        raise LocalProtocolError(f"no ack for op {op!r}")
    id_json = "null" if id is None else _STRING(id)
    text = '{"type":"ack"' + _opt("ref", ref) + ',"op":' + _STRING(op)
    return _utf8(text + ',"channel":' + _STRING(channel) + ',"id":' + id_json + "}")


def ws_error(
    code: str,
    message: str,
    *,
    op: str | None = None,
    channel: str | None = None,
    ref: str | None = None,
) -> bytes:
    """``{"type":"error","ref","op","channel","code","message"}``; the
    fields the server could not read from the message are left out."""
    if code not in ERROR_CODES:
        raise LocalProtocolError(f"unknown error code {code!r}")
    text = '{"type":"error"' + _opt("ref", ref) + _opt("op", op) + _opt("channel", channel)
    return _utf8(text + ',"code":' + _STRING(code) + ',"message":' + _STRING(message) + "}")


def ws_pong(ref: str | None = None) -> bytes:
    """``{"type":"pong","ref"}``, the answer to a ping; ``ref`` only when
    the ping had one."""
    if ref is not None and not isinstance(ref, str):
        raise LocalProtocolError("a ref is str or None")
    return _utf8('{"type":"pong"' + _opt("ref", ref) + "}")


def ws_gap(channel: str) -> bytes:
    """``{"type":"gap","channel"}``: events of ``channel`` were lost."""
    if not isinstance(channel, str):
        raise LocalProtocolError("a channel is str")
    return _utf8('{"type":"gap","channel":' + _STRING(channel) + "}")
