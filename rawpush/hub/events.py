"""What flows through the hub: events, replays, listeners, and name rules."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidChannel, InvalidEventName, InvalidIdempotencyKey

__all__ = [
    "RESERVED_EVENT_NAMES",
    "HubEvent",
    "Listener",
    "Replay",
    "validate_channel",
    "validate_event_name",
    "validate_idempotency_key",
]

_CHANNEL_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
# Event names end up in SSE ``event:`` lines and JSON; a line break would
# split the field, so refuse them here rather than in every transport.
_BAD_EVENT_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_EVENT_NAME = 128


def validate_channel(channel: str) -> str:
    """Return ``channel`` if it is 1-128 chars of ``[A-Za-z0-9._:-]``, not only dots.

    A name made only of dots (``.``, ``..``, ...) is refused: in a URL path
    ``.`` and ``..`` are dot segments that clients and proxies remove before
    the request is sent (RFC 3986 section 5.2.4; WHATWG URL "single-dot" and
    "double-dot" path segments, which include ``%2e`` spellings), so such a
    channel could be published to but never subscribed to from a browser.
    Longer runs of dots are refused with them, so the rule stays one line.
    The server routes on the raw path, and ``%`` is not a channel character,
    so a percent-encoded dot never reaches this check as a dot.
    """
    if not isinstance(channel, str) or _CHANNEL_RE.fullmatch(channel) is None:
        shown = channel[:64] if isinstance(channel, str) else channel
        raise InvalidChannel(
            f"invalid channel name {shown!r}: expected 1-128 characters of [A-Za-z0-9._:-]"
        )
    if not channel.strip("."):
        raise InvalidChannel(
            f"invalid channel name {channel[:64]!r}: a name made only of dots is a URL "
            "dot segment, removed by clients before the request is sent"
        )
    return channel


# Printable ASCII: a key arrives in an HTTP header field (RFC 9110 section
# 5.5) or a JSON string, and becomes part of a Redis key.
_IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)


def validate_idempotency_key(key: str | None) -> str | None:
    """Return ``key`` if it is None or 1-256 printable ASCII characters (no space)."""
    if key is None:
        return None
    if not isinstance(key, str) or _IDEMPOTENCY_KEY_RE.fullmatch(key) is None:
        shown = key[:64] if isinstance(key, str) else key
        raise InvalidIdempotencyKey(
            f"invalid idempotency key {shown!r}: expected 1-256 printable ASCII characters"
        )
    return key


#: The name of the transports' gap notice (SSE ``event: gap``): an event
#: published under it could not be told apart from the notice, and every
#: client would drop its data, so publishing refuses it.
RESERVED_EVENT_NAMES = frozenset({"gap"})


def validate_event_name(event: str | None) -> str | None:
    """Return ``event`` if it is None or 1-128 chars with no control character.

    A reserved name (``"gap"``, see ``RESERVED_EVENT_NAMES``) is refused
    too: ``InvalidEventName``, status 400, like any other bad name.
    """
    if event is None:
        return None
    if event in RESERVED_EVENT_NAMES:
        raise InvalidEventName(
            f"event name {event!r} is reserved: it is the gap notice every transport sends"
        )
    if (
        not isinstance(event, str)
        or not 0 < len(event) <= _MAX_EVENT_NAME
        or _BAD_EVENT_CHARS.search(event)
    ):
        shown = event[:64] if isinstance(event, str) else event
        raise InvalidEventName(
            f"invalid event name {shown!r}: expected 1-128 characters, no control characters"
        )
    return event


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One published event.

    ``id`` is ``"<ms>-<seq>"`` (see ``rawpush.hub.ids``), strictly increasing
    within ``channel``. ``event`` is the type name (SSE ``event:``), or None
    for a plain message. ``data`` is the payload, as published: ``str`` for
    text, ``bytes`` for a binary payload (a WebSocket binary message, an
    ``application/octet-stream`` POST), which the transports that carry
    text only send base64-encoded with a marker.

    ``encoded`` is a per-event cache for the server: the wire form of this
    event keyed by transport name (e.g. ``"sse"``, ``"ws"``, ``"poll"``), so
    an event fanned out to a thousand SSE subscribers is encoded once, not a
    thousand times. The hub never reads or writes it; it is excluded from
    ``==``, ``hash`` and ``repr``. The dataclass is frozen, the dict is not:
    fill it with ``event.encoded.setdefault(...)`` or check-then-set (both
    are safe on one event loop). Events are shared between subscribers, so
    only ever store an encoding that is the same for every subscriber.

    ``gap`` marks not an event but a hole: a backplane that learns it lost
    events (a reader that fell behind the store's trim) sends one, with the
    id of the last lost event, in the place where they would have been. The
    hub passes it on to each subscriber still behind that id, and the server
    tells the client (never a silent gap).
    """

    id: str
    channel: str
    event: str | None
    data: str | bytes
    gap: bool = False
    encoded: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Replay:
    """What a client missed: the events after its cursor, and whether some are lost.

    ``gap`` is True when events after the cursor were evicted from the
    history before they could be replayed: ``events`` is then only the part
    still held, and the client must be told (SSE ``event: gap``, long poll
    ``"gap": true``, WebSocket ``{"gap": true}``). A gap is never silent.
    A cursor the hub could not have issued (after every id of the channel:
    made up, or from another, newer server) is a gap too, with no events:
    nothing is known about what the client saw.
    """

    events: tuple[HubEvent, ...] = ()
    gap: bool = False
    #: Set on a gap answer: the newest id the channel has issued, or an id
    #: that stands for "now" when it has issued none. Resuming from it
    #: waits for the next event instead of hearing about the same gap
    #: again (a long poller handed back its own cursor would spin).
    head: str | None = None

    @property
    def last_id(self) -> str | None:
        """The cursor to resume from after this replay.

        The id of the last event; with no events, ``head`` (a gap answer:
        the client moves past the hole); None when there is neither, and
        the cursor the client sent stays right.
        """
        return self.events[-1].id if self.events else self.head


#: Receives each live event of a subscription, in id order. Return None once
#: the event is taken (typically: put on the subscriber's queue), or an
#: awaitable to make the publisher wait until it resolves (the ``block``
#: backpressure policy). The hub never calls a listener again while an
#: awaitable it returned is pending: later events wait their turn. A
#: listener that raises (or whose awaitable raises) is logged and dropped.
Listener = Callable[[HubEvent], Awaitable[object] | None]
