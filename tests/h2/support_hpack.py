"""Header blocks made by hand (RFC 7541), for blocks no encoder would
write: literals that leave the dynamic table alone, bad indexes, bad
Huffman strings, misplaced table size updates."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["hpack_int", "hpack_str", "literal", "literal_block"]


def hpack_int(value: int, prefix: int, first: int = 0) -> bytes:
    """Section 5.1: ``value`` in an N-bit prefix; ``first`` holds the bits
    of the first octet above the prefix (the representation's pattern)."""
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(data: bytes) -> bytes:
    """Section 5.2: a string literal, not Huffman-coded."""
    return hpack_int(len(data), 7) + data


def literal(name: str | bytes, value: str | bytes) -> bytes:
    """Section 6.2.2: a literal field without indexing, new name (neither
    side's dynamic table changes, so this block may go anywhere)."""
    raw_name = name.encode("latin-1") if isinstance(name, str) else name
    raw_value = value.encode("latin-1") if isinstance(value, str) else value
    return b"\x00" + hpack_str(raw_name) + hpack_str(raw_value)


def literal_block(headers: Iterable[tuple[str | bytes, str | bytes]]) -> bytes:
    """A whole header block of ``literal`` fields, in order, as given:
    uppercase names and duplicate pseudo-headers survive."""
    return b"".join(literal(name, value) for name, value in headers)
