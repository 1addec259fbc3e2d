"""Events to bytes, for the ``text/event-stream`` format (WHATWG HTML 9.2.5).

The server encodes a published event once and writes the same bytes to
every subscriber, so ``encode`` is a hot path: the common event (one line
of data, perhaps an id) costs a couple of string checks, one concatenation
and one UTF-8 encode.

Encoding refuses what a browser would silently drop or misread (section
9.2.6): an ``id`` with NUL, CR or LF is ignored or split by the parser and
the resume cursor is lost; an ``id`` that starts or ends with a space or
tab comes back different, because HTTP strips that whitespace from the
``Last-Event-ID`` field value (RFC 9110 section 5.5), so the client would
resume from an id that was never sent; an ``event`` with CR or LF is split
into two fields; a ``retry`` that is not all ASCII digits is ignored.
Those raise ``SSEEncodeError``; so do lone surrogates, which have no UTF-8
encoding, and fields that are not ``str``.

``encode_retry`` and ``GAP_EVENT`` are the two other blocks a server
writes: a reconnection time on its own, and the notice that events were
lost.
"""

from __future__ import annotations

from rawpush.proto.errors import SSEEncodeError
from rawpush.proto.sse.event import Event

__all__ = ["GAP_EVENT", "MAX_RETRY", "encode", "encode_comment", "encode_retry"]

#: The largest ``retry`` we write. Parsers keep the reconnection time in a
#: 64-bit unsigned integer and drop a value that overflows it (Chromium's
#: strict uint64 parse does); our decoder does the same.
MAX_RETRY = 2**64 - 1


def _lines(text: str) -> list[str]:
    # Section 9.2.5: CRLF, lone CR and lone LF all end a line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _bad_id(value: str) -> SSEEncodeError:
    return SSEEncodeError(
        f"event id must not contain NUL, CR or LF, nor start or end with a space or tab: {value!r}"
    )


def _check_id(value: str) -> None:
    # Section 9.2.6: an id with NUL is ignored; CR or LF would end the field.
    # Outer SP/HTAB: stripped from Last-Event-ID on the way back (see above).
    if "\0" in value or "\n" in value or "\r" in value or value.strip(" \t") != value:
        raise _bad_id(value)


def _check_event(value: str) -> None:
    if "\n" in value or "\r" in value:
        raise SSEEncodeError(f"event type must not contain CR or LF: {value!r}")


def _check_retry(value: object) -> int:
    # bool is an int subclass, but ``retry=True`` is a caller bug, not 1 ms.
    if not isinstance(value, int) or isinstance(value, bool):
        raise SSEEncodeError(f"retry must be an int, not {type(value).__name__}")
    if not 0 <= value <= MAX_RETRY:
        raise SSEEncodeError(f"retry must be between 0 and 2**64-1 ms: {value}")
    return int(value)  # an IntEnum member is written as its number


def _not_text(exc: Exception) -> SSEEncodeError:
    return SSEEncodeError(f"event fields must be str: {exc}")


def encode(event: Event) -> bytes:
    """Serialize ``event`` as UTF-8 field lines ending with a blank line.

    Each line of ``data`` (split on CR, LF or CRLF) becomes one ``data:``
    line. Values are always written after ``": "`` because the parser
    removes exactly one leading space (section 9.2.6): a value that itself
    starts with a space survives. An empty ``data`` still writes one
    ``data:`` line, so the event is dispatched. Line ends are LF.
    """
    data = event.data
    if not isinstance(data, str):
        raise SSEEncodeError(f"event data must be str, not {type(data).__name__}")
    try:
        if "\n" in data or "\r" in data:
            data = data.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\ndata: ")
        event_id = event.id
        if event.event is None and event.retry is None:
            # The fast path: the hub's events carry an id and data only.
            if event_id is None:
                text = f"data: {data}\n\n"
            else:
                _check_id(event_id)
                text = f"id: {event_id}\ndata: {data}\n\n"
        else:
            text = _slow_text(event, data)
    except (TypeError, AttributeError) as exc:  # an id or type that is not str
        raise _not_text(exc) from None
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise SSEEncodeError(f"event is not encodable as UTF-8: {exc.reason}") from exc


def _slow_text(event: Event, data: str) -> str:
    # An event with a type or a retry: each field checked, in wire order.
    event_id = event.id
    head = ""
    if event.event is not None:
        _check_event(event.event)
        head = f"event: {event.event}\n"
    if event_id is not None:
        _check_id(event_id)
        head += f"id: {event_id}\n"
    if event.retry is not None:
        head += f"retry: {_check_retry(event.retry)}\n"
    return f"{head}data: {data}\n\n"


def encode_comment(text: str = "") -> bytes:
    """Serialize a comment (a heartbeat, usually): one ``:`` line per line.

    Parsers ignore comment lines (section 9.2.6), so any text is allowed;
    the trailing blank line only ends an event that has no data, which
    dispatches nothing. ``encode_comment()`` gives ``b":\\n\\n"``.
    """
    if not isinstance(text, str):
        raise SSEEncodeError(f"a comment is str, not {type(text).__name__}")
    if not text:
        return b":\n\n"
    text = "".join([": " + line + "\n" for line in _lines(text)]) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise SSEEncodeError(f"comment is not encodable as UTF-8: {exc.reason}") from exc


def encode_retry(ms: int) -> bytes:
    """A block that only sets the reconnection time: ``retry: <ms>`` and a
    blank line, which dispatches nothing (section 9.2.6). A server sends it
    before ending a stream on purpose, so clients come back after ``ms``
    milliseconds (0 to ``MAX_RETRY``)."""
    return b"retry: %d\n\n" % _check_retry(ms)


#: The notice that events were lost (the history no longer reached back to
#: the client's Last-Event-ID): an event named ``gap``, with no ``id`` line,
#: since an id would move the client's last event ID past events it never
#: saw, and with a ``data:`` line, since an event with no data line is
#: never dispatched (section 9.2.6).
GAP_EVENT = b"event: gap\ndata: \n\n"
