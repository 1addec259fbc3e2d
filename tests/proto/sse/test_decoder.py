"""The decoder against WHATWG HTML sections 9.2.5 (format) and 9.2.6
(interpretation).

Every vector goes through ``decode``, which feeds the stream whole, byte by
byte, and split in two at every offset, and checks that all of them give
the same events, the same final ``last_event_id`` and ``retry``, and the
same error. The WPT ``eventsource/format-*`` cases are covered by the
tests whose names end in ``_wpt_<name>``; the vectors are written from the
spec's rules, not copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rawpush.proto.errors import LocalProtocolError, SSEDecodeError
from rawpush.sse import (
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MAX_LINE_SIZE,
    MAX_RETRY,
    Decoder,
    Event,
)


@dataclass(frozen=True)
class Outcome:
    events: list[Event]
    last_event_id: str
    retry: int | None
    error: bool


def run(
    chunks: list[bytes],
    max_line_size: int = DEFAULT_MAX_LINE_SIZE,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
) -> Outcome:
    """Feed ``chunks`` then end the stream; collect what came out."""
    decoder = Decoder(max_line_size, max_event_size)
    events: list[Event] = []
    try:
        for chunk in chunks:
            events += decoder.feed(chunk)
        events += decoder.end()
    except SSEDecodeError:
        return Outcome(events, decoder.last_event_id, decoder.retry, True)
    return Outcome(events, decoder.last_event_id, decoder.retry, False)


def decode(stream: bytes, **limits: int) -> Outcome:
    """Decode ``stream`` whole, byte by byte and at every split offset."""
    whole = run([stream], **limits)
    assert run([stream[i : i + 1] for i in range(len(stream))], **limits) == whole
    for offset in range(len(stream) + 1):
        assert run([stream[:offset], stream[offset:]], **limits) == whole, offset
    return whole


def datas(stream: bytes) -> list[str]:
    outcome = decode(stream)
    assert not outcome.error
    return [event.data for event in outcome.events]


def msg(data: str, event: str = "message", id: str = "") -> Event:
    return Event(data, event, id)


# -- 9.2.5: decoding, BOM, line ends ----------------------------------------


def test_9_2_5_utf8_decoded_wpt_utf_8() -> None:
    assert datas("data:ok→😀é\n\n".encode()) == ["ok→😀é"]


def test_9_2_5_invalid_utf8_replaced_by_u_fffd() -> None:
    # One U+FFFD per maximal invalid subpart (WHATWG Encoding "decode").
    assert datas(b"data:a\xffb\xe2\x82c\xf0\x80\x80\n\n") == ["a\ufffdb\ufffdc" + "\ufffd" * 3]


def test_9_2_5_truncated_utf8_at_end_of_stream_discarded_with_the_line() -> None:
    outcome = decode(b"data:a\n\ndata:\xe2\x82")
    assert outcome.events == [msg("a")]


def test_9_2_5_bom_stripped_wpt_bom() -> None:
    # Only the first BOM goes; a later one makes "\ufeffdata" an unknown field.
    stream = "\ufeffdata:1\n\n\ufeffdata:2\n\ndata:3\n\n".encode()
    assert datas(stream) == ["1", "3"]


def test_9_2_5_only_one_bom_stripped_wpt_bom_2() -> None:
    stream = "\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3\n\n".encode()
    assert datas(stream) == ["2", "3"]


def test_9_2_5_bom_alone_and_bom_not_first_character() -> None:
    assert decode("\ufeff".encode()).events == []
    assert datas("data:\ufeffx\n\n".encode()) == ["\ufeffx"]
    assert datas(b"\n" + "\ufeffdata:x\n\ndata:y\n\n".encode()) == ["y"]


def test_9_2_5_lf_cr_and_crlf_end_lines() -> None:
    assert datas(b"data:a\n\n") == ["a"]
    assert datas(b"data:a\r\r") == ["a"]
    assert datas(b"data:a\r\n\r\n") == ["a"]
    assert datas(b"data:a\r\ndata:b\rdata:c\n\r\n") == ["a\nb\nc"]


def test_9_2_5_crlf_is_one_line_end_but_lf_cr_is_two() -> None:
    # "\r\n" then "\n": two line ends, the second blank -> dispatch.
    assert datas(b"data:a\r\n\n") == ["a"]
    # "\n\r": two line ends already.
    assert datas(b"data:a\n\r") == ["a"]
    # "\r\n" alone is one line end: no dispatch.
    assert datas(b"data:a\r\n") == []


def test_9_2_5_cr_ending_a_chunk_and_lf_starting_the_next_is_one_line_end() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data:a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data:b\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n\r") == [msg("a\nb")]


def test_9_2_5_newlines_wpt_newlines() -> None:
    assert datas(b"data:test\r\ndata\ndata:test\r\n\r") == ["test\n\ntest"]


# -- 9.2.6: interpreting lines -----------------------------------------------


def test_9_2_6_comments_ignored_wpt_comments() -> None:
    long = "x" * 2049
    stream = f"data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n\n"
    assert datas(stream.encode()) == ["1\n2\n3\n4"]


def test_9_2_6_unterminated_event_discarded_wpt_data_before_final_empty_line() -> None:
    outcome = decode(b"retry:1000\ndata:test1\n\nid:test\ndata:test2")
    assert outcome.events == [msg("test1")]
    # The id line was read, but no blank line made it the last event ID.
    assert outcome.last_event_id == ""
    assert outcome.retry == 1000


def test_9_2_6_data_field_wpt_field_data() -> None:
    # "data:" appends "" + LF; two bare "data" lines give "\n" after the
    # final LF is removed.
    assert datas(b"data:\n\ndata\ndata\n\ndata:test\n\n") == ["", "\n", "test"]


def test_9_2_6_only_the_final_lf_removed_at_dispatch() -> None:
    assert datas(b"data:a\ndata:\n\n") == ["a\n"]


def test_9_2_6_empty_event_type_is_message_wpt_field_event_empty() -> None:
    assert decode(b"event: \ndata:data\n\n").events == [msg("data")]
    assert decode(b"event\ndata:data\n\n").events == [msg("data")]


def test_9_2_6_event_type_reset_after_dispatch_wpt_field_event() -> None:
    events = decode(b"event:test\ndata:x\n\ndata:x\n\n").events
    assert events == [msg("x", "test"), msg("x")]


def test_9_2_6_event_type_reset_even_when_nothing_dispatched() -> None:
    assert decode(b"event:foo\n\ndata:x\n\n").events == [msg("x")]


def test_9_2_6_id_persists_and_empty_id_resets_wpt_field_id() -> None:
    outcome = decode(b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\ndata: d\n\nid:\n\n")
    assert [e.id for e in outcome.events] == ["1", "1", "", "2"]
    assert outcome.last_event_id == ""


def test_9_2_6_id_without_data_still_updates_last_event_id_wpt_field_id_2() -> None:
    outcome = decode(b"id:1\n\ndata:x\n\n")
    assert outcome.events == [msg("x", id="1")]
    assert outcome.last_event_id == "1"


def test_9_2_6_last_event_id_updated_at_blank_line_not_at_id_line() -> None:
    decoder = Decoder()
    assert decoder.feed(b"id: 7\ndata: x\n") == []
    assert decoder.last_event_id == ""
    assert decoder.feed(b"\n") == [msg("x", id="7")]
    assert decoder.last_event_id == "7"


def test_9_2_6_id_with_nul_ignored() -> None:
    outcome = decode(b"id:1\n\nid:a\0b\ndata:x\n\n")
    assert outcome.events == [msg("x", id="1")]
    assert outcome.last_event_id == "1"


def test_9_2_6_id_with_nul_ignored_also_after_one_space() -> None:
    outcome = decode(b"id: 1\n\nid: a\0b\ndata: x\n\n")
    assert outcome.events == [msg("x", id="1")]


def test_9_2_6_id_value_keeps_later_colons_and_spaces() -> None:
    assert decode(b"id:  a:b \ndata\n\n").events == [msg("", id=" a:b ")]


def test_9_2_6_field_parsing_wpt_field_parsing() -> None:
    stream = (
        b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
        b"data:3\rdata:\r\n data:32\ndata:4\n\n"
    )
    assert datas(stream) == ["\0\n 2\n1\n3\n\n4"]


def test_9_2_6_unknown_and_miscased_fields_ignored_wpt_field_unknown() -> None:
    stream = (
        b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\n"
        b"DATA:no\nEvent:no\nID:no\nRetry:1\ndata:test\n\n"
    )
    outcome = decode(stream)
    assert outcome.events == [msg("test\n\ntest")]
    assert outcome.retry is None


def test_9_2_6_exactly_one_leading_space_removed_wpt_leading_space() -> None:
    assert datas(b"data:\ttest\rdata: \ndata:test\n\n") == ["\ttest\n\ntest"]
    assert datas(b"data:  two\n\n") == [" two"]


def test_9_2_6_nul_in_data_kept_wpt_null_character() -> None:
    assert datas(b"data:\0\n\n") == ["\0"]


def test_9_2_6_retry_digits_set_reconnection_time_wpt_field_retry() -> None:
    assert decode(b"retry:03000\ndata:x\n\n").retry == 3000
    assert decode(b"retry: 0\n").retry == 0
    assert decode(f"retry:{MAX_RETRY}\n".encode()).retry == MAX_RETRY


def test_9_2_6_retry_not_all_digits_ignored_wpt_field_retry_bogus() -> None:
    outcome = decode(b"retry:3000\nretry:1000x\nretry:-1\nretry:1 \nretry:  1\ndata:x\n\n")
    assert outcome.retry == 3000
    assert outcome.events == [msg("x")]
    # Non-ASCII digits are digits to str.isdigit but not to the spec.
    assert decode("retry:\u0661\u0662\n".encode()).retry is None
    assert decode("retry:\u00b2\n".encode()).retry is None


def test_9_2_6_retry_empty_ignored_wpt_field_retry_empty() -> None:
    outcome = decode(b"retry\ndata:test\n\nretry:\n")
    assert outcome.retry is None
    assert outcome.events == [msg("test")]


def test_9_2_6_retry_overflowing_uint64_ignored() -> None:
    assert decode(f"retry:5\nretry:{MAX_RETRY + 1}\n".encode()).retry == 5
    assert decode(b"retry:5\nretry:" + b"9" * 5000 + b"\n").retry == 5
    assert decode(b"retry:" + b"0" * 5000 + b"7\n").retry == 7


def test_9_2_6_retry_applies_without_dispatch() -> None:
    decoder = Decoder()
    decoder.feed(b"retry: 10\n")
    assert decoder.retry == 10


def test_9_2_6_decoded_event_fields_like_message_event() -> None:
    (event,) = decode(b"event: tick\nid: 3\nretry: 9\ndata: x\n\n").events
    assert event == Event("x", "tick", "3", None)


# -- end of stream ------------------------------------------------------------


def test_9_2_6_end_discards_pending_event_and_is_idempotent() -> None:
    decoder = Decoder()
    assert decoder.feed(b"data:a\n\ndata:b\n") == [msg("a")]
    assert decoder.end() == []
    assert decoder.end() == []
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n")


def test_9_2_6_cr_at_end_of_stream_completes_the_blank_line() -> None:
    assert datas(b"data:x\n\r") == ["x"]


# -- limits ---------------------------------------------------------------------


def test_limit_line_at_max_accepted_one_more_refused() -> None:
    assert decode(b"data:" + b"x" * 5 + b"\n\n", max_line_size=10).events == [msg("xxxxx")]
    assert decode(b"data:" + b"x" * 6 + b"\n\n", max_line_size=10).error
    # Comments and unknown fields count too: memory is the point.
    assert decode(b":" + b"x" * 10 + b"\n", max_line_size=10).error


def test_limit_line_without_end_refused_before_it_ends() -> None:
    decoder = Decoder(max_line_size=100)
    decoder.feed(b"data:" + b"x" * 90)
    with pytest.raises(SSEDecodeError):
        decoder.feed(b"x" * 10)
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"\n\n")
    with pytest.raises(LocalProtocolError):
        decoder.end()


def test_limit_line_counts_characters_not_bytes_and_not_the_bom() -> None:
    stream = "\ufeffdata:" + "é" * 5 + "\n\n"
    assert decode(stream.encode(), max_line_size=10).events == [msg("é" * 5)]


def test_limit_event_data_accumulated_across_lines() -> None:
    # The data buffer "aaaa\nbbbb\n" is 10 characters: allowed.
    ok = decode(b"data:aaaa\ndata:bbbb\n\ndata:cccc\ndata:dddd\n\n", max_event_size=10)
    assert not ok.error
    assert len(ok.events) == 2
    bad = decode(b"data:aaaa\ndata:bbbb\ndata:c\n\n", max_event_size=10)
    assert bad.error
    assert bad.events == []
    bad = decode(b"data: aaaa\ndata: bbbb\ndata: c\n\n", max_event_size=10)
    assert bad.error
    assert bad.events == []


def test_limit_events_before_the_violation_are_delivered_then_error() -> None:
    decoder = Decoder(max_line_size=8)
    stream = b"id:1\ndata:a\n\ndata:toolong!\n\n"
    assert decoder.feed(stream) == [msg("a", id="1")]
    assert decoder.last_event_id == "1"
    with pytest.raises(SSEDecodeError):
        decoder.end()
    with pytest.raises(LocalProtocolError):
        decoder.end()
    # The same with an oversized unfinished tail, and with event data.
    decoder = Decoder(max_line_size=8)
    assert decoder.feed(b"data:a\n\ndata:toolong!") == [msg("a")]
    with pytest.raises(SSEDecodeError):
        decoder.feed(b"")
    decoder = Decoder(max_event_size=4)
    assert decoder.feed(b"data:a\n\ndata:abcde\n\n") == [msg("a")]
    with pytest.raises(SSEDecodeError):
        decoder.feed(b"")


def test_limit_violations_identical_at_every_split() -> None:
    cases = [
        (b"data:a\n\ndata:0123456789\n\ndata:b\n\n", {"max_line_size": 9}, 1),
        (b"data:a\n\ndata:0123456789\n\ndata:b\n\n", {"max_event_size": 8}, 1),
        (b"data:a\r\n\r\nid:7\n\n:" + b"z" * 30, {"max_line_size": 9}, 1),
        (b"data:abc\ndata:def\n\nretry:5\ndata:ghijk\ndata:lmnop\n\n", {"max_line_size": 9}, 1),
        (b"data:abc\ndata:def\n\nretry:5\ndata:ghijk\ndata:lmnop\n\n", {"max_event_size": 8}, 1),
    ]
    for stream, limits, delivered in cases:
        outcome = decode(stream, **limits)
        assert outcome.error
        assert len(outcome.events) == delivered


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_line_size": 0},
        {"max_event_size": 0},
        {"max_event_size": True},
        {"max_line_size": "8"},
        {"last_event_id": "a\nb"},
        {"last_event_id": 5},
    ],
)
def test_design_decoder_arguments_are_local_protocol_errors(arguments: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        Decoder(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stream", "data", "over"),
    [
        (b"data: abcd\n\n", "abcd", b"data: abcde\n\n"),
        # "ab\nc": the LF between two data lines counts, the last one not.
        (b"data:ab\ndata:c\n\n", "ab\nc", b"data:ab\ndata:cd\n\n"),
        (b"data:\ndata:\ndata:\ndata:\ndata:\n\n", "\n\n\n\n", b"data:\n" * 6 + b"\n"),
    ],
)
def test_9_2_6_event_of_exactly_max_event_size_is_delivered(
    stream: bytes, data: str, over: bytes
) -> None:
    assert decode(stream, max_event_size=4).events == [msg(data)]
    outcome = decode(over, max_event_size=4)
    assert outcome.error and outcome.events == []


def test_last_event_id_seed_carries_across_reconnection() -> None:
    decoder = Decoder(last_event_id="41")
    assert decoder.last_event_id == "41"
    assert decoder.feed(b"data:x\n\n") == [msg("x", id="41")]
    assert decoder.feed(b"id:42\n\n") == []
    assert decoder.last_event_id == "42"
