"""The one event type of the ``text/event-stream`` codec.

The same class travels both ways. Going out, ``event``, ``id`` and
``retry`` are optional and ``None`` means "do not write the field".
Coming in, the decoder fills them the way a browser fills a
``MessageEvent`` (WHATWG HTML section 9.2.6, "dispatch the event"):
``event`` is the type (``"message"`` when the stream named none), ``id`` is
the last event ID in force (``""`` when there is none, as
``MessageEvent.lastEventId`` is) and ``retry`` is always ``None``, because
a reconnection time belongs to the stream, not to one event: read it from
``Decoder.retry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event.

    No validation happens here, so that decoding stays cheap; ``encode``
    checks what it writes and raises ``SSEEncodeError`` for an event a
    browser would silently mangle.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    # Written by hand, and kept by @dataclass, for speed: the generated
    # __init__ of a frozen class goes through object.__setattr__ per field,
    # about twice as slow, and the decoder and publishers build one Event
    # per message. The slot descriptors' __set__ skip the frozen check.
    def __init__(
        self,
        data: str,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> None:
        _set_data(self, data)
        _set_event(self, event)
        _set_id(self, id)
        _set_retry(self, retry)


_slots: Any = Event.__dict__
_set_data = _slots["data"].__set__
_set_event = _slots["event"].__set__
_set_id = _slots["id"].__set__
_set_retry = _slots["retry"].__set__
