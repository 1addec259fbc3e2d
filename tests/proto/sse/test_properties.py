"""Hypothesis properties of the codec: encode then decode is the identity
(modulo the spec's line-end normalization), and the decoder's result does
not depend on how the byte stream is split into chunks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.sse import MAX_RETRY, Event, SSEEncodeError, encode, encode_comment
from tests.proto.sse.test_decoder import Outcome, run

# Characters the parser treats specially, plus astral ones, on top of any
# Unicode (hypothesis' text() never yields lone surrogates).
_SPECIAL = st.sampled_from(["\r", "\n", "\r\n", " ", ":", "\0", "\ufeff", "😀", "\U0010ffff"])
_TEXT = st.lists(st.one_of(st.text(max_size=5), _SPECIAL), max_size=8).map("".join)
_NAME = _TEXT.map(lambda s: s.replace("\r", "").replace("\n", ""))
_ID = _NAME.map(lambda s: s.replace("\0", ""))

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
            b"data:", b"data: ", b"data", b"id:", b"id: ", b"event:", b"retry:", b"retry: 12",
            b":", b"\r", b"\n", b"\r\n", b"\0", b"\xef\xbb\xbf", b"\xe2\x82", b"\xac", b"\xff",
            b"\xf0\x9f\x98", b"\x80", b"7", b" ",
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
