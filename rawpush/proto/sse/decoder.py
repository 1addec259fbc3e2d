"""Bytes to events: an incremental ``text/event-stream`` parser.

It follows WHATWG HTML section 9.2.5 (the stream format) and 9.2.6
(interpreting it) exactly, for any way the bytes are split into chunks:

- UTF-8 decoding replaces invalid bytes with U+FFFD, incrementally, so a
  character split across chunks decodes as one character;
- one U+FEFF at the very start of the stream is dropped, nowhere else;
- CRLF, lone CR and lone LF end a line, and a CR that ends one chunk
  followed by an LF that starts the next is one line end;
- a blank line dispatches; an unfinished event at end of stream is
  discarded.

Speed comes from doing per-chunk work in C: the chunk is decoded once,
its line ends normalized with ``str.replace`` and split with
``str.split``; Python code runs once per line, never once per byte. Only
the unfinished last line is kept between chunks.

Memory stays bounded: a line longer than ``max_line_size`` characters, or
an event whose data grows past ``max_event_size`` characters, raises
``SSEDecodeError``, even while the line has no end yet. An event of exactly
``max_event_size`` characters (as dispatched) is delivered.
"""

from __future__ import annotations

import codecs

from rawpush.proto.errors import LocalProtocolError, SSEDecodeError
from rawpush.proto.sse.encoder import MAX_RETRY
from rawpush.proto.sse.event import Event

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "DEFAULT_MAX_LINE_SIZE", "Decoder"]

DEFAULT_MAX_LINE_SIZE = 1 << 20
DEFAULT_MAX_EVENT_SIZE = 1 << 20


class _Raw:
    """A mutable twin of ``Event`` (same slots) that the decoder fills in
    and then turns into an ``Event`` by assigning ``__class__``: CPython
    allows it between classes with identical slots, and it builds a frozen
    event in a third of the time of ``Event(...)``, which matters because
    the decoder builds one per message. ``test_decoded_events_are_plain_events``
    checks the result is indistinguishable from a normally built one."""

    __slots__ = Event.__slots__
    data: str
    event: str
    id: str
    retry: None


def _parse_retry(value: str) -> int | None:
    # Section 9.2.6: only a value made of ASCII digits sets the reconnection
    # time (str.isdigit alone would accept other scripts' digits). A value
    # past 2**64-1 is dropped, as browsers drop an overflowing one; checking
    # the length first keeps int() away from its huge-number limit.
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"
        if len(digits) <= 20:
            number = int(digits)
            if number <= MAX_RETRY:
                return number
    return None


class Decoder:
    """Feed it bytes, get complete events back.

    ``last_event_id`` is the event source's last event ID string: updated
    at every blank line (even one that dispatches nothing), it is what a
    client sends as ``Last-Event-ID`` on reconnect. Pass the previous
    stream's value as ``last_event_id`` to carry it across a reconnection.
    ``retry`` is the reconnection time in milliseconds the stream asked
    for, or ``None``.

    A limit violation raises ``SSEDecodeError``. Events that were complete
    before the offending line are never lost: if the same ``feed`` call
    dispatched some, it returns them and the error is raised by the next
    ``feed`` or ``end``. After the error every call raises
    ``LocalProtocolError``: the stream must end.
    """

    __slots__ = (
        "_closed",
        "_data",
        "_data_size",
        "_error",
        "_failed",
        "_id_buffer",
        "_last_event_id",
        "_max_event_size",
        "_max_line_size",
        "_retry",
        "_skip_lf",
        "_started",
        "_tail",
        "_tail_size",
        "_type",
        "_utf8",
    )

    def __init__(
        self,
        max_line_size: int = DEFAULT_MAX_LINE_SIZE,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
    ) -> None:
        for limit in (max_line_size, max_event_size):
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise LocalProtocolError(
                    f"max_line_size and max_event_size must be positive ints, not {limit!r}"
                )
        if not isinstance(last_event_id, str):
            raise LocalProtocolError(f"last_event_id must be str, not {last_event_id!r}")
        if "\0" in last_event_id or "\r" in last_event_id or "\n" in last_event_id:
            raise LocalProtocolError("last_event_id must not contain NUL, CR or LF")
        self._max_line_size = max_line_size
        self._max_event_size = max_event_size
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode
        self._started = False  # True once the first character went by (BOM check)
        self._skip_lf = False  # the last chunk ended with CR
        self._tail: list[str] = []  # pieces of the unfinished last line
        self._tail_size = 0
        # Section 9.2.6 buffers. The data buffer is kept as a list of field
        # values: "append value and LF, drop the last LF at dispatch" is
        # exactly "\n".join(values).
        self._data: list[str] = []
        self._data_size = 0  # characters in the spec's data buffer
        self._type = ""
        self._id_buffer = last_event_id
        self._last_event_id = last_event_id
        self._retry: int | None = None
        self._error: SSEDecodeError | None = None  # raised by the next call
        self._failed = False
        self._closed = False

    @property
    def last_event_id(self) -> str:
        """The id a client resends on reconnect; ``""`` when there is none."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds, or ``None`` if never set."""
        return self._retry

    def feed(self, data: bytes) -> list[Event]:
        """Parse a chunk of the stream; return the events it completed."""
        self._check_usable()
        if self._closed:
            raise LocalProtocolError("feed() after end()")
        text = self._utf8(data)
        if not text:
            return []
        if not self._started:
            self._started = True
            # Section 9.2.5: one leading BOM is not part of the stream.
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\r" in text:
            if text[-1] == "\r":
                # This CR ends a line now, whatever comes next; an LF that
                # starts the next chunk belongs to the same line end.
                self._skip_lf = True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        tail = lines.pop()  # what follows the last line end, maybe ""
        if not lines:
            # No line end: only the pending tail grows.
            self._tail.append(tail)
            self._tail_size += len(tail)
            if self._tail_size > self._max_line_size:
                self._line_too_long()
                self._raise()
            return []
        if self._tail:
            self._tail.append(lines[0])
            lines[0] = "".join(self._tail)
        limit = self._max_line_size
        too_long = False
        if self._tail_size + len(text) > limit and max(map(len, lines)) > limit:
            # Keep the lines before the first oversized one: they are valid.
            too_long = True
            lines = lines[: next(i for i, line in enumerate(lines) if len(line) > limit)]
        events = self._interpret(lines, self._tail_size + len(text))
        self._tail = [tail] if tail else []
        self._tail_size = len(tail)
        if self._error is None and (too_long or len(tail) > limit):
            self._line_too_long()
        if self._error is not None and not events:
            self._raise()
        return events

    def end(self) -> list[Event]:
        """Signal the end of the stream.

        Section 9.2.6: an event without its final blank line is discarded,
        so this never returns events; it raises a pending error, and marks
        the decoder finished (calling it again is harmless).
        """
        self._check_usable()
        if not self._closed:
            self._closed = True
            self._utf8(b"", True)  # only U+FFFD can come out: no line end
            self._tail = []
            self._tail_size = 0
            self._data = []
        return []

    def _check_usable(self) -> None:
        if self._error is not None:
            self._raise()
        if self._failed:
            raise LocalProtocolError("the event stream already failed; it must end")

    def _raise(self) -> None:
        error, self._error = self._error, None
        self._failed = True
        assert error is not None
        raise error

    def _line_too_long(self) -> None:
        self._error = SSEDecodeError(f"line longer than {self._max_line_size} characters")

    def _interpret(self, lines: list[str], text_size: int) -> list[Event]:
        # Section 9.2.6, one complete line at a time. State lives in locals
        # for the loop and is written back once.
        events: list[Event] = []
        append = events.append
        data = self._data
        size = self._data_size
        # size counts the spec's data buffer, which holds one LF per data
        # line; dispatch drops the last, so an event of max_event_size
        # characters fills the buffer to max_event_size + 1.
        max_size = self._max_event_size + 1
        # Data can only grow by what these lines hold: if that cannot break
        # the limit, skip the per-line count and total it once at the end.
        checked = size + text_size > max_size
        finished = False
        event_type = self._type
        id_buffer = self._id_buffer
        last_id = self._last_event_id
        for line in lines:
            # The lines encoders write (blank, "data: ", "id: ") come first
            # and cost one slice each; the general rule below gives the same
            # result for them, only slower.
            if not line:
                # Dispatch. The last event ID string is updated even when
                # the data buffer is empty and nothing is dispatched.
                last_id = id_buffer
                if data:
                    event = _Raw()
                    event.data = data[0] if len(data) == 1 else "\n".join(data)
                    event.event = event_type or "message"
                    event.id = last_id
                    event.retry = None
                    event.__class__ = Event  # type: ignore[assignment]
                    append(event)  # type: ignore[arg-type]
                    data = []
                    size = 0
                event_type = ""
                continue
            if line[:6] == "data: ":
                value = line[6:]
                if checked:
                    size += len(value) + 1
                    if size > max_size:
                        break
                data.append(value)
                continue
            if line[:4] == "id: ":
                value = line[4:]
                if "\0" not in value:
                    id_buffer = value
                continue
            if line[:7] == "event: ":
                event_type = line[7:]
                continue
            name, colon, value = line.partition(":")
            if colon:
                if not name:
                    continue  # a comment
                if value[:1] == " ":
                    value = value[1:]
            # No colon: the whole line is the name and the value is "".
            if name == "data":
                if checked:
                    size += len(value) + 1
                    if size > max_size:
                        break
                data.append(value)
            elif name == "id":
                if "\0" not in value:
                    id_buffer = value
            elif name == "event":
                event_type = value
            elif name == "retry":
                retry = _parse_retry(value)
                if retry is not None:
                    self._retry = retry
            # Any other name, including "Data" or "ID", is ignored.
        else:
            finished = True
        if not checked:
            size = sum(map(len, data)) + len(data)
        self._data = data
        self._data_size = size
        self._type = event_type
        self._id_buffer = id_buffer
        self._last_event_id = last_id
        if not finished:
            self._error = SSEDecodeError(
                f"event data longer than {self._max_event_size} characters"
            )
        return events
