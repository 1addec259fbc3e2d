"""Hypothesis properties of the codec: encode then decode is the identity
(modulo the spec's line-end normalization), and the decoder's result does
not depend on how the byte stream is split into chunks."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.sse import MAX_RETRY, Decoder, Event, SSEEncodeError, encode, encode_comment
from tests.proto.sse.test_decoder import Outcome, run

# Characters the parser treats specially, plus astral ones, on top of any
# Unicode (hypothesis' text() never yields lone surrogates).
_SPECIAL = st.sampled_from(["\r", "\n", "\r\n", " ", ":", "\0", "\ufeff", "😀", "\U0010ffff"])
_TEXT = st.lists(st.one_of(st.text(max_size=5), _SPECIAL), max_size=8).map("".join)
_NAME = _TEXT.map(lambda s: s.replace("\r", "").replace("\n", ""))
# Outer spaces and tabs are refused in ids (HTTP strips them from Last-Event-ID).
_ID = _NAME.map(lambda s: s.replace("\0", "").strip(" \t"))

events_strategy = st.builds(
    Event,
    data=_TEXT,
    event=st.none() | _NAME,
    id=st.none() | _ID,
    retry=st.none() | st.integers(0, MAX_RETRY),
)


def _expected(sent: list[Event]) -> tuple[list[Event], str, int | None]:
    # What a browser would see (WHATWG HTML 9.2.6): CR and CRLF inside data
    # come back as LF; the id in force persists until the next id field.
    last_id, retry, out = "", None, []
    for event in sent:
        if event.id is not None:
            last_id = event.id
        if event.retry is not None:
            retry = event.retry
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        out.append(Event(data, event.event or "message", last_id))
    return out, last_id, retry


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    offsets = sorted({min(cut, len(stream)) for cut in cuts})
    return [stream[a:b] for a, b in zip([0, *offsets], [*offsets, len(stream)], strict=True)]


@settings(max_examples=200)
@given(st.lists(events_strategy, max_size=6), st.lists(st.integers(0, 400), max_size=6))
def test_round_trip(sent: list[Event], cuts: list[int]) -> None:
    stream = b"".join(encode(event) + encode_comment("hb") for event in sent)
    expected, last_id, retry = _expected(sent)
    assert run([stream]) == Outcome(expected, last_id, retry, False)
    assert run(_split(stream, cuts)) == Outcome(expected, last_id, retry, False)


@settings(max_examples=100)
@given(_TEXT, _TEXT, st.sampled_from(["\0", "\r", "\n", "\r\n"]))
def test_forbidden_id_and_event_refused(before: str, after: str, bad: str) -> None:
    try:
        encode(Event("x", id=before + bad + after))
    except SSEEncodeError:
        pass
    else:
        raise AssertionError("id accepted")
    if bad != "\0":
        try:
            encode(Event("x", event=before + bad + after))
        except SSEEncodeError:
            pass
        else:
            raise AssertionError("event accepted")


# Byte streams built from fragments that hit the parser's corners.
_FRAGMENT = st.one_of(
    st.binary(max_size=6),
    st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"data",
            b"id:",
            b"id: ",
            b"event:",
            b"retry:",
            b"retry: 12",
            b":",
            b"\r",
            b"\n",
            b"\r\n",
            b"\0",
            b"\xef\xbb\xbf",
            b"\xe2\x82",
            b"\xac",
            b"\xff",
            b"\xf0\x9f\x98",
            b"\x80",
            b"7",
            b" ",
        ]
    ),
)


@settings(max_examples=300)
@given(
    st.lists(_FRAGMENT, max_size=30).map(b"".join),
    st.lists(st.integers(0, 200), max_size=8),
    st.sampled_from([{}, {"max_line_size": 12}, {"max_event_size": 10}]),
)
def test_split_invariance(stream: bytes, cuts: list[int], limits: dict[str, int]) -> None:
    assert run(_split(stream, cuts), **limits) == run([stream], **limits)


@settings(max_examples=100)
@given(st.binary(max_size=200), st.integers(1, 20))
def test_arbitrary_bytes_give_events_or_the_documented_error(stream: bytes, step: int) -> None:
    # run() lets only SSEDecodeError through; anything else fails the test.
    chunks = [stream[i : i + step] for i in range(0, len(stream), step)]
    outcome = run(chunks, max_line_size=16, max_event_size=16)
    for event in outcome.events:
        assert event.retry is None
        assert isinstance(event.event, str)
        assert event.event
        assert isinstance(event.id, str)
        assert "\0" not in event.id
        assert "\r" not in event.data
    assert outcome == run([stream], max_line_size=16, max_event_size=16)


def reference(stream: bytes) -> Outcome:
    """WHATWG HTML 9.2.5-9.2.6 transcribed step by step, for a whole stream.

    Slow and obvious on purpose: the decoder's shortcuts are checked
    against it.
    """
    text = stream.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    lines = re.split("\r\n|\r|\n", text)
    lines.pop()  # not ended by a line end: discarded at end of stream
    data, event_type, id_buffer, last_id = "", "", "", ""
    retry: int | None = None
    events = []
    for line in lines:
        if line == "":
            last_id = id_buffer
            if data:
                events.append(Event(data.removesuffix("\n"), event_type or "message", last_id))
            data = event_type = ""
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
        else:
            name, value = line, ""
        if name == "event":
            event_type = value
        elif name == "data":
            data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            digits = value.lstrip("0") or "0"
            if len(digits) <= 20 and int(digits) <= MAX_RETRY:
                retry = int(digits)
    return Outcome(events, last_id, retry, False)


@settings(max_examples=300)
@given(st.lists(_FRAGMENT, max_size=40).map(b"".join), st.lists(st.integers(0, 300), max_size=8))
def test_decoder_matches_the_spec_transcription(stream: bytes, cuts: list[int]) -> None:
    expected = reference(stream)
    assert run([stream]) == expected
    assert run(_split(stream, cuts)) == expected


def test_decoded_events_are_plain_events() -> None:
    # The decoder builds events through a mutable twin class for speed.
    (decoded,) = Decoder().feed(b"event: e\nid: 1\ndata: a\ndata: b\n\n")
    built = Event("a\nb", "e", "1")
    assert type(decoded) is Event
    assert decoded == built
    assert hash(decoded) == hash(built)
    assert repr(decoded) == repr(built)
    assert dataclasses.replace(decoded, data="c") == Event("c", "e", "1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.data = "x"  # type: ignore[misc]
