"""The encoder: what it writes (WHATWG HTML 9.2.5) and what it refuses
because a browser would silently drop or split it (9.2.6)."""

from __future__ import annotations

import enum

import pytest

from rawpush.sse import (
    GAP_EVENT,
    MAX_RETRY,
    Decoder,
    Event,
    SSEEncodeError,
    encode,
    encode_comment,
    encode_retry,
)


def test_9_2_5_data_only_event() -> None:
    assert encode(Event("hello")) == b"data: hello\n\n"


def test_9_2_5_id_and_data_fast_path() -> None:
    assert encode(Event("hello", id="42")) == b"id: 42\ndata: hello\n\n"


def test_9_2_5_all_fields() -> None:
    event = Event("x", event="tick", id="7", retry=1500)
    assert encode(event) == b"event: tick\nid: 7\nretry: 1500\ndata: x\n\n"
    assert encode(Event("x", event="tick")) == b"event: tick\ndata: x\n\n"
    assert encode(Event("x", retry=0)) == b"retry: 0\ndata: x\n\n"


def test_9_2_5_multiline_data_split_on_cr_lf_crlf() -> None:
    assert encode(Event("a\nb\r\nc\rd")) == b"data: a\ndata: b\ndata: c\ndata: d\n\n"
    assert encode(Event("\n")) == b"data: \ndata: \n\n"
    assert encode(Event("a\r", id="1")) == b"id: 1\ndata: a\ndata: \n\n"


def test_9_2_5_empty_data_still_dispatches() -> None:
    assert encode(Event("")) == b"data: \n\n"
    assert Decoder().feed(encode(Event(""))) == [Event("", "message", "")]


def test_9_2_6_one_space_written_so_leading_spaces_survive() -> None:
    stream = encode(Event("  two", event=" e", id="i"))
    assert Decoder().feed(stream) == [Event("  two", " e", "i")]


def test_9_2_5_output_is_utf8() -> None:
    assert encode(Event("é😀")) == "data: é😀\n\n".encode()


def test_9_2_6_empty_id_written_to_reset_last_event_id() -> None:
    assert encode(Event("x", id="")) == b"id: \ndata: x\n\n"


@pytest.mark.parametrize("bad", ["a\0b", "a\nb", "a\rb", "\r\n", "\0"])
def test_9_2_6_id_with_nul_cr_lf_refused(bad: str) -> None:
    with pytest.raises(SSEEncodeError):
        encode(Event("x", id=bad))
    with pytest.raises(SSEEncodeError):
        encode(Event("x", id=bad, event="e"))


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "\r\n"])
def test_9_2_6_event_with_cr_lf_refused(bad: str) -> None:
    with pytest.raises(SSEEncodeError):
        encode(Event("x", event=bad))


def test_9_2_6_event_with_nul_allowed() -> None:
    assert Decoder().feed(encode(Event("x", event="a\0b"))) == [Event("x", "a\0b", "")]


class Millis(enum.IntEnum):
    SECOND = 1000


@pytest.mark.parametrize("bad", [-1, True, False, 1.5, "10", MAX_RETRY + 1])
def test_9_2_6_retry_must_be_non_negative_int(bad: object) -> None:
    with pytest.raises(SSEEncodeError):
        encode(Event("x", retry=bad))  # type: ignore[arg-type]


def test_9_2_6_retry_bounds_accepted() -> None:
    assert encode(Event("x", retry=MAX_RETRY)).startswith(f"retry: {MAX_RETRY}\n".encode())
    assert encode(Event("x", retry=Millis.SECOND)).startswith(b"retry: 1000\n")


def test_lone_surrogate_refused() -> None:
    with pytest.raises(SSEEncodeError):
        encode(Event("\ud800"))
    with pytest.raises(SSEEncodeError):
        encode(Event("x", event="\udfff"))
    with pytest.raises(SSEEncodeError):
        encode_comment("\ud800")


def test_9_2_6_comment_lines() -> None:
    assert encode_comment() == b":\n\n"
    assert encode_comment("") == b":\n\n"
    assert encode_comment("ping") == b": ping\n\n"
    assert encode_comment("a\nb\r\nc\rd") == b": a\n: b\n: c\n: d\n\n"


def test_9_2_6_comments_dispatch_nothing() -> None:
    decoder = Decoder()
    stream = encode(Event("a", id="1")) + encode_comment("x\ndata: y") + encode(Event("b"))
    assert decoder.feed(stream) == [Event("a", "message", "1"), Event("b", "message", "1")]
    assert decoder.last_event_id == "1"


def test_event_is_frozen_and_slotted() -> None:
    event = Event("x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


@pytest.mark.parametrize("bad", [" 1", "1 ", "\t1", "1\t", " ", "\t"])
def test_rfc9110_5_5_id_with_outer_whitespace_refused(bad: str) -> None:
    # The client echoes the id in Last-Event-ID, whose value HTTP strips of
    # outer spaces and tabs: it would resume from an id we never sent.
    with pytest.raises(SSEEncodeError):
        encode(Event("x", id=bad))
    with pytest.raises(SSEEncodeError):
        encode(Event("x", id=bad, event="e"))
    assert encode(Event("x", id="a b")) == b"id: a b\ndata: x\n\n"  # inside is fine


@pytest.mark.parametrize(
    "event",
    [Event(b"x"), Event(1), Event("x", id=1), Event("x", id=[" "]), Event("x", event=1)],  # type: ignore[arg-type]
)
def test_design_fields_that_are_not_str_refused(event: Event) -> None:
    with pytest.raises(SSEEncodeError):
        encode(event)


def test_9_2_6_retry_block() -> None:
    assert encode_retry(1000) == b"retry: 1000\n\n"
    assert encode_retry(0) == b"retry: 0\n\n"
    decoder = Decoder()
    assert decoder.feed(encode_retry(2500)) == []
    assert decoder.retry == 2500
    for bad in (-1, True, 1.5, "5", MAX_RETRY + 1):
        with pytest.raises(SSEEncodeError):
            encode_retry(bad)  # type: ignore[arg-type]


def test_9_2_6_gap_event_has_no_id_and_dispatches() -> None:
    assert GAP_EVENT == b"event: gap\ndata: \n\n"
    decoder = Decoder(last_event_id="41")
    assert decoder.feed(GAP_EVENT) == [Event("", "gap", "41")]
    assert decoder.last_event_id == "41"  # the resume point did not move
    with pytest.raises(SSEEncodeError):
        encode_comment(5)  # type: ignore[arg-type]
