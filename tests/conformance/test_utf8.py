"""RFC 6455 section 8.1 and RFC 3629: text messages must be valid UTF-8,
else 1007. Autobahn category 6.

The byte sequences are written out from RFC 3629 section 4's table, not
produced by a codec: the first byte says how many continuation bytes
(10xxxxxx) follow, the shortest form is the only legal one (no
overlongs), U+D800-U+DFFF (surrogates) are not characters, and nothing
above U+10FFFF exists (so F5-FF never appear).
"""

from __future__ import annotations

import pytest

from tests.conformance.rawclient import BINARY, CONT, TEXT, RawClient, close_payload, frame

VALID = {
    "empty": b"",
    "ascii": b"Hello, World",
    "nul": b"\x00",
    "del": b"\x7f",
    "all-ascii": bytes(range(128)),
    "kosme": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",  # Greek, 2-3 byte chars
    "latin-mix": b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
    "u+0080": b"\xc2\x80",  # first 2-byte
    "u+07ff": b"\xdf\xbf",  # last 2-byte
    "u+0800": b"\xe0\xa0\x80",  # first 3-byte
    "u+d7ff": b"\xed\x9f\xbf",  # last before the surrogates
    "u+e000": b"\xee\x80\x80",  # first after the surrogates
    "u+fffd": b"\xef\xbf\xbd",  # replacement character
    "u+feff": b"\xef\xbb\xbf",  # BOM: a character like any other inside a message
    "u+fffe": b"\xef\xbf\xbe",  # noncharacter, but valid UTF-8
    "u+ffff": b"\xef\xbf\xbf",  # last 3-byte
    "u+10000": b"\xf0\x90\x80\x80",  # first 4-byte
    "u+1d11e": b"\xf0\x9d\x84\x9e",  # musical symbol G clef
    "u+10fffd": b"\xf4\x8f\xbf\xbd",
    "u+10ffff": b"\xf4\x8f\xbf\xbf",  # the last code point
    "euro-x100": b"\xe2\x82\xac" * 100,
}

INVALID = {
    # continuation bytes with no start byte
    "cont-80": b"\x80",
    "cont-bf": b"\xbf",
    "cont-80-bf": b"\x80\xbf",
    "cont-80-bf-80-bf": b"\x80\xbf\x80\xbf",
    "all-64-cont": bytes(range(0x80, 0xC0)),
    # start bytes followed by a space instead of continuations
    "lone-c2": b"\xc2 ",
    "lone-e0": b"\xe0 ",
    "lone-f0": b"\xf0 ",
    "lone-f8": b"\xf8 ",
    "lone-fc": b"\xfc ",
    # sequences cut short at the end of the message
    "trunc-c2": b"\xc2",
    "trunc-df": b"\xdf",
    "trunc-e0-a0": b"\xe0\xa0",
    "trunc-ef-bf": b"\xef\xbf",
    "trunc-f0-90-80": b"\xf0\x90\x80",
    "trunc-f4-8f-bf": b"\xf4\x8f\xbf",
    "trunc-after-text": b"Hello\xe2\x82",
    # bytes that never appear
    "fe": b"\xfe",
    "ff": b"\xff",
    "fe-fe-ff-ff": b"\xfe\xfe\xff\xff",
    "c0-alone": b"\xc0",
    "f5": b"\xf5\x80\x80\x80",
    # overlong encodings of '/' (U+002F) and of the largest overlongs
    "overlong-2-slash": b"\xc0\xaf",
    "overlong-3-slash": b"\xe0\x80\xaf",
    "overlong-4-slash": b"\xf0\x80\x80\xaf",
    "overlong-5-slash": b"\xf8\x80\x80\x80\xaf",
    "overlong-6-slash": b"\xfc\x80\x80\x80\x80\xaf",
    "overlong-max-2": b"\xc1\xbf",
    "overlong-max-3": b"\xe0\x9f\xbf",
    "overlong-max-4": b"\xf0\x8f\xbf\xbf",
    "overlong-nul-2": b"\xc0\x80",
    "overlong-nul-3": b"\xe0\x80\x80",
    "overlong-nul-4": b"\xf0\x80\x80\x80",
    # UTF-16 surrogates encoded as if they were characters (CESU-8)
    "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-db7f": b"\xed\xad\xbf",
    "surrogate-db80": b"\xed\xae\x80",
    "surrogate-dbff": b"\xed\xaf\xbf",
    "surrogate-dc00": b"\xed\xb0\x80",
    "surrogate-de80": b"\xed\xbe\x80",
    "surrogate-dfff": b"\xed\xbf\xbf",
    "surrogate-pair": b"\xed\xa0\x80\xed\xb0\x80",
    # above U+10FFFF
    "u+110000": b"\xf4\x90\x80\x80",
    "u+1fffff": b"\xf7\xbf\xbf\xbf",
    "5-byte-form": b"\xf8\x88\x80\x80\x80",
    "6-byte-form": b"\xfc\x84\x80\x80\x80\x80",
    # a valid prefix, then a surrogate (Autobahn 6.3.1)
    "kosme-surrogate-edited": VALID["kosme"] + b"\xed\xa0\x80edited",
}


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
def test_8_1_valid_utf8_echoed(ws: RawClient, data: bytes) -> None:
    ws.send(frame(TEXT, data))
    ws.expect_message(TEXT, data)
    ws.close_cleanly()


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_8_1_invalid_utf8_is_1007(ws: RawClient, data: bytes) -> None:
    ws.send(frame(TEXT, data))
    ws.expect_close(1007)


@pytest.mark.parametrize(
    "data", [INVALID["surrogate-d800"], INVALID["overlong-2-slash"], INVALID["ff"]],
    ids=["surrogate", "overlong", "ff"],
)
def test_8_1_invalid_utf8_in_binary_is_fine(ws: RawClient, data: bytes) -> None:
    # Only text is UTF-8 (section 5.6); binary bytes are anything.
    ws.send(frame(BINARY, data))
    ws.expect_message(BINARY, data)
    ws.close_cleanly()


SPLIT_VALID = VALID["kosme"] + b"\xe2\x82\xac" + b"\xf0\x9d\x84\x9e"  # 18 bytes


@pytest.mark.parametrize("cut", range(len(SPLIT_VALID) + 1))
def test_8_1_valid_utf8_split_at_every_byte(ws: RawClient, cut: int) -> None:
    # A character may straddle two fragments; the message is still valid
    # (Autobahn 6.4: "UTF-8 validated incrementally").
    ws.send(frame(TEXT, SPLIT_VALID[:cut], fin=False), frame(CONT, SPLIT_VALID[cut:]))
    ws.expect_message(TEXT, SPLIT_VALID)
    ws.close_cleanly()


def test_8_1_valid_utf8_one_byte_per_fragment(ws: RawClient) -> None:
    data = SPLIT_VALID
    frames = [frame(TEXT, data[:1], fin=False)]
    frames += [frame(CONT, data[i : i + 1], fin=i == len(data) - 1) for i in range(1, len(data))]
    ws.send(*frames)
    ws.expect_message(TEXT, data)
    ws.close_cleanly()


SPLIT_INVALID = b"ab" + INVALID["surrogate-d800"] + b"cd"  # 7 bytes


@pytest.mark.parametrize("cut", range(len(SPLIT_INVALID) + 1))
def test_8_1_invalid_utf8_split_at_every_byte_is_1007(ws: RawClient, cut: int) -> None:
    ws.send(frame(TEXT, SPLIT_INVALID[:cut], fin=False), frame(CONT, SPLIT_INVALID[cut:]))
    ws.expect_close(1007)


@pytest.mark.parametrize(
    "fragments",
    [
        # Autobahn 6.4.1-4 style: the invalid byte arrives in a non-final
        # fragment; the connection must fail before the message ends.
        [VALID["kosme"], b"\xf4\x90\x80\x80", b"edited"],
        [VALID["kosme"] + b"\xf4", b"\x90", b"\x80\x80edited"],
        [b"\xc0", b"never seen"],
        [b"ok so far", b"\xff", b"never seen"],
        [b"ok\xe0", b"\x80\xaf", b"never seen"],
    ],
    ids=["whole-seq", "split-f4-90", "c0-first", "ff-middle", "overlong-split"],
)
def test_8_1_invalid_utf8_fails_fast(ws: RawClient, fragments: list[bytes]) -> None:
    # Send all but the last fragment, none with FIN: the 1007 must come
    # without the final fragment (section 8.1 "when an endpoint is to
    # interpret a byte stream as UTF-8 ... fail").
    ws.send(frame(TEXT, fragments[0], fin=False))
    for part in fragments[1:-1]:
        ws.send(frame(CONT, part, fin=False))
    ws.expect_close(1007)


@pytest.mark.parametrize(
    "data", [b"\xff", b"\xed\xa0\x80", b"ab\xc0\xaf"], ids=["ff", "surrogate", "overlong"]
)
def test_5_5_1_close_reason_not_utf8_is_1007(ws: RawClient, data: bytes) -> None:
    ws.send(frame(0x8, close_payload(1000, data)))
    ws.expect_close(1007)
