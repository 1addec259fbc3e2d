"""The long-poll exchange, sans-IO: parse a poll, build its answer.

A client asks ``GET /poll/{channel}?cursor=ID&timeout=S``. The server
answers as soon as events newer than ``cursor`` exist, or after ``timeout``
seconds with none (``timeout=0`` is a short poll: answer at once). The
answer is JSON::

    {"events": [{"id": "...", "event": "...", "data": "..."}, ...],
     "cursor": "...", "gap": true}

``cursor`` is what the client sends next time; ``gap`` (present only when
true) says the history no longer reached back to the client's cursor, so
events were missed: never a silent gap. Each element of ``events`` is the
envelope every JSON transport uses (``rawpush.proto.envelope``).

The server encodes each event once, as ``poll_item`` bytes, and builds
every answer from those cached items with ``poll_answer``; ``poll_body``
is the same answer from plain events, for everyone else.

Choices the protocol leaves open:

- a timeout above ``max_timeout`` is clamped, not refused: a client asking
  to wait longer than the server allows is served as well as it can be;
- the timeout is a plain decimal (``30``, ``2.5``); exponents, signs,
  ``nan`` and ``inf`` are refused with 400;
- a cursor is 1 to 128 printable ASCII characters (Redis stream ids and
  our own ids fit); an absent cursor means "from now on".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rawpush.proto.envelope import event_json
from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import Request, json_bytes

__all__ = [
    "MAX_CURSOR_LENGTH",
    "POLL_CONTENT_TYPE",
    "PollEvent",
    "PollRequest",
    "parse_poll_request",
    "poll_answer",
    "poll_body",
    "poll_headers",
    "poll_item",
]

POLL_CONTENT_TYPE = "application/json"
MAX_CURSOR_LENGTH = 128

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_CURSOR = re.compile(rf"[\x20-\x7e]{{1,{MAX_CURSOR_LENGTH}}}")


@dataclass(frozen=True, slots=True)
class PollRequest:
    """One parsed poll: wait up to ``timeout`` seconds for events after
    ``cursor`` (None: only events published from now on)."""

    channel: str
    cursor: str | None
    timeout: float


@dataclass(frozen=True, slots=True)
class PollEvent:
    """One event in a poll answer; independent of the hub's own type."""

    id: str
    event: str
    data: str


PollEventLike = PollEvent | tuple[str, str, str] | Mapping[str, str]


def _parse_timeout(raw: str) -> float:
    if _DECIMAL.fullmatch(raw):
        return float(raw)
    try:
        number = float(raw)
    except ValueError:
        raise HTTPError("timeout must be a number of seconds", 400) from None
    if not math.isfinite(number):
        raise HTTPError("timeout must be finite", 400)
    if number < 0:
        raise HTTPError("timeout must not be negative", 400)
    raise HTTPError("timeout must be a plain decimal number of seconds", 400)


def parse_poll_request(
    request: Request,
    channel: str,
    *,
    max_timeout: float = 60.0,
    default_timeout: float = 30.0,
) -> PollRequest:
    """Read ``cursor`` and ``timeout`` from the query; ``HTTPError`` 400
    when either is malformed. The timeout defaults to ``default_timeout``;
    either way it is clamped to ``max_timeout``."""
    if not (0 <= default_timeout < math.inf and 0 <= max_timeout < math.inf):
        raise LocalProtocolError("timeouts must be finite and non-negative")
    raw_timeout = request.query.get("timeout")
    timeout = default_timeout if raw_timeout is None else _parse_timeout(raw_timeout)
    cursor = request.query.get("cursor")
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise HTTPError(f"cursor must be 1 to {MAX_CURSOR_LENGTH} printable ASCII characters", 400)
    return PollRequest(channel=channel, cursor=cursor, timeout=min(timeout, max_timeout))


def poll_item(id: str, event: str | None, data: str) -> bytes:
    """One element of an answer's ``events`` array, as JSON bytes: the
    envelope, ``event`` ``"message"`` when None. Cache it per event."""
    return event_json(id, event, data)


def poll_answer(items: Sequence[bytes], cursor: str, gap: bool = False) -> bytes:
    """The JSON answer from ``poll_item`` bytes (none on a timeout).

    The items are joined as they are, so they must come from
    ``poll_item``; ``cursor`` must be str.
    """
    if not isinstance(cursor, str):
        raise LocalProtocolError("cursor must be str")
    tail = b',"gap":true}' if gap else b"}"
    return b'{"events":[' + b",".join(items) + b'],"cursor":' + json_bytes(cursor) + tail


def _item(event: PollEventLike) -> bytes:
    if isinstance(event, PollEvent):
        fields: tuple[object, ...] = (event.id, event.event, event.data)
    elif isinstance(event, tuple):
        if len(event) != 3:
            raise LocalProtocolError("a poll event tuple is (id, event, data)")
        fields = event
    else:
        try:
            fields = tuple(event[key] for key in ("id", "event", "data"))
        except KeyError as exc:
            raise LocalProtocolError(f"poll event mapping lacks {exc}") from None
    id, name, data = fields
    if not (isinstance(id, str) and isinstance(name, str) and isinstance(data, str)):
        raise LocalProtocolError("poll event id, event and data must be str")
    return poll_item(id, name, data)


def poll_body(events: Sequence[PollEventLike], cursor: str, *, gap: bool = False) -> bytes:
    """The JSON answer to a poll (an empty ``events`` list on timeout), from
    ``PollEvent`` objects, ``(id, event, data)`` tuples or mappings."""
    return poll_answer([_item(event) for event in events], cursor, gap)


def poll_headers() -> list[tuple[str, str]]:
    """Headers for a poll answer: JSON that no cache may replay."""
    return [("Content-Type", POLL_CONTENT_TYPE), ("Cache-Control", "no-store")]
