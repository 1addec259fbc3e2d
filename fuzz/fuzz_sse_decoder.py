"""Fuzz the text/event-stream decoder (WHATWG HTML 9.2.5-9.2.6).

The fuzzer picks the limits and how the stream is cut into chunks. The
only exception allowed out of the decoder is ``SSEDecodeError``; and the
result (events, last event ID, retry, error or not) must be the same as
feeding the whole stream at once. Decoded events must look like what a
browser hands to ``onmessage``: a non-empty type, an id without NUL, data
without CR (CR and CRLF are line ends, so they never reach a value).
"""

from __future__ import annotations

import re
import sys

import atheris

with atheris.instrument_imports():
    from rawpush.proto.errors import SSEDecodeError
    from rawpush.proto.sse import MAX_RETRY, Decoder, Event

Outcome = tuple[list[Event], str, int | None, bool]


def _decode(chunks: list[bytes], max_line_size: int, max_event_size: int) -> Outcome:
    decoder = Decoder(max_line_size, max_event_size)
    events: list[Event] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        events += decoder.end()
    except SSEDecodeError:
        return events, decoder.last_event_id, decoder.retry, True
    return events, decoder.last_event_id, decoder.retry, False


def _reference(stream: bytes) -> Outcome:
    # WHATWG HTML 9.2.6 step by step on the whole stream, no limits: the
    # decoder's shortcuts must agree with it whenever no limit was hit.
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = re.split("\r\n|\r|\n", text)[:-1]
    data, event_type, id_buffer, last_id = "", "", "", ""
    retry: int | None = None
    events = []
    for line in lines:
        if not line:
            last_id = id_buffer
            if data:
                events.append(Event(data[:-1], event_type or "message", last_id))
            data = event_type = ""
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            digits = value.lstrip("0") or "0"
            if len(digits) <= 20 and int(digits) <= MAX_RETRY:
                retry = int(digits)
    return events, last_id, retry, False


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    max_line_size = fdp.ConsumeIntInRange(1, 64)
    max_event_size = fdp.ConsumeIntInRange(1, 128)
    chunks: list[bytes] = []
    while fdp.remaining_bytes():
        chunks.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24)))
    split = _decode(chunks, max_line_size, max_event_size)
    whole = _decode([b"".join(chunks)], max_line_size, max_event_size)
    if split != whole:
        raise AssertionError(f"split {split!r} != whole {whole!r} for {chunks!r}")
    if not split[3] and split != _reference(b"".join(chunks)):
        raise AssertionError(f"decoder {split!r} != spec {_reference(b''.join(chunks))!r}")
    for event in split[0]:
        if not event.event or event.id is None or "\0" in event.id or "\r" in event.data:
            raise AssertionError(f"impossible event {event!r}")
        if len(event.data) > max_event_size:
            raise AssertionError(f"event over the limit: {event!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
