"""RFC 7541 (HPACK) errors as an HTTP/2 server must answer them: every
header block that cannot be decoded is a connection error of type
COMPRESSION_ERROR (RFC 9113 section 4.3), since the decoder's state is
then unknown. The h2spec HPACK case list, written anew, plus the valid
forms next to each invalid one.
"""

from __future__ import annotations

from tests.h2.support_hpack import hpack_int, hpack_str, literal_block
from tests.h2.support_raw import Code, RawH2, Setting

_REQUEST = literal_block(
    [(":method", "GET"), (":scheme", "http"), (":path", "/healthz"), (":authority", "127.0.0.1")]
)


async def _refused(conn: RawH2, block: bytes) -> None:
    conn.headers(1, block=block)
    await conn.expect_goaway(Code.COMPRESSION_ERROR)


async def _accepted(conn: RawH2, block: bytes) -> None:
    conn.headers(1, block=block)
    assert await conn.status(1) == 200


def _huffman_value(name: bytes, code: bytes) -> bytes:
    """A literal field without indexing whose value is Huffman-coded."""
    return b"\x00" + hpack_str(name) + hpack_int(len(code), 7, 0x80) + code


# -- 2.3.3 index address space ---------------------------------------------------------


async def test_7541_2_3_3_indexed_field_past_both_tables_is_a_compression_error(
    conn: RawH2,
) -> None:
    # 61 static entries and an empty dynamic table: 62 names nothing
    await _refused(conn, _REQUEST + hpack_int(62, 7, 0x80))


async def test_7541_2_3_3_literal_with_name_index_past_both_tables_is_a_compression_error(
    conn: RawH2,
) -> None:
    await _refused(conn, _REQUEST + hpack_int(70, 6, 0x40) + hpack_str(b"v"))


async def test_7541_2_3_3_dynamic_table_entry_can_be_indexed(conn: RawH2) -> None:
    # x-a: 1 added (section 6.2.1) becomes index 62, then used again
    added = hpack_int(0, 6, 0x40) + hpack_str(b"x-a") + hpack_str(b"1")
    await _accepted(conn, _REQUEST + added + hpack_int(62, 7, 0x80))


# -- 4.2 maximum table size ------------------------------------------------------------


async def test_7541_4_2_table_size_update_over_the_setting_is_a_compression_error(
    conn: RawH2,
) -> None:
    allowed = conn.server_settings.get(Setting.HEADER_TABLE_SIZE, 4096)
    await _refused(conn, hpack_int(allowed + 1, 5, 0x20) + _REQUEST)


async def test_7541_4_2_table_size_update_after_a_field_is_a_compression_error(
    conn: RawH2,
) -> None:
    await _refused(conn, _REQUEST + hpack_int(0, 5, 0x20))


async def test_7541_4_2_table_size_updates_at_the_start_are_accepted(conn: RawH2) -> None:
    await _accepted(conn, hpack_int(0, 5, 0x20) + hpack_int(256, 5, 0x20) + _REQUEST)


# -- 5.1 integer representation ---------------------------------------------------------


async def test_7541_5_1_integer_overflowing_is_a_compression_error(conn: RawH2) -> None:
    # an index of more than 2^70: no decoder may take it for a small one
    await _refused(conn, _REQUEST + b"\xff" + b"\xff" * 10 + b"\x01")


async def test_7541_5_1_integer_cut_off_by_the_block_end_is_a_compression_error(
    conn: RawH2,
) -> None:
    await _refused(conn, _REQUEST + b"\xff\x80")


# -- 5.2 string literal representation ----------------------------------------------------


async def test_7541_5_2_huffman_string_with_eos_is_a_compression_error(conn: RawH2) -> None:
    # 32 one-bits: the 30-bit EOS symbol, which "MUST be treated as a
    # decoding error"
    await _refused(conn, _REQUEST + _huffman_value(b"x-h", b"\xff\xff\xff\xff"))


async def test_7541_5_2_huffman_padding_over_7_bits_is_a_compression_error(
    conn: RawH2,
) -> None:
    # "a" is 00011, then eleven one-bits of padding
    await _refused(conn, _REQUEST + _huffman_value(b"x-h", b"\x1f\xff"))


async def test_7541_5_2_huffman_padding_of_zeros_is_a_compression_error(conn: RawH2) -> None:
    # "a" is 00011, then 000: padding must be the EOS code's leading ones
    await _refused(conn, _REQUEST + _huffman_value(b"x-h", b"\x18"))


async def test_7541_5_2_valid_huffman_string_is_accepted(conn: RawH2) -> None:
    # "a" is 00011, then 111: the EOS prefix as padding
    await _accepted(conn, _REQUEST + _huffman_value(b"x-h", b"\x1f"))


async def test_7541_5_2_string_longer_than_the_block_is_a_compression_error(
    conn: RawH2,
) -> None:
    await _refused(conn, _REQUEST + b"\x00" + hpack_int(10, 7) + b"x-h")


# -- 6 binary format -------------------------------------------------------------------


async def test_7541_6_1_index_0_is_a_compression_error(conn: RawH2) -> None:
    await _refused(conn, _REQUEST + b"\x80")


async def test_7541_6_2_3_never_indexed_literal_is_accepted(conn: RawH2) -> None:
    await _accepted(conn, _REQUEST + b"\x10" + hpack_str(b"x-secret") + hpack_str(b"s"))


async def test_7541_6_3_table_size_update_to_0_evicts_every_entry(conn: RawH2) -> None:
    added = hpack_int(0, 6, 0x40) + hpack_str(b"x-a") + hpack_str(b"1")
    conn.headers(1, block=_REQUEST + added)
    assert await conn.status(1) == 200
    # the entry is gone after the update: index 62 names nothing any more
    conn.headers(3, block=hpack_int(0, 5, 0x20) + _REQUEST + hpack_int(62, 7, 0x80))
    await conn.expect_goaway(Code.COMPRESSION_ERROR)
