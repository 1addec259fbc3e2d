"""Masking and unmasking of frame payloads (RFC 6455 section 5.3).

Masking is a byte-wise XOR with a 4-byte key repeated over the payload.
Python has no vectorised XOR for bytes, so two C-speed tricks are used and
neither touches the payload one byte at a time in Python:

- small payloads: read the payload and the repeated key as two big
  integers, XOR them, and write the result back (``int.from_bytes``);
- larger payloads: every fourth byte sees the same key byte, so each of the
  four strided slices is XORed with one 256-byte ``bytes.translate`` table.

The crossover was measured with ``bench/ws_core.py``-style timings: the
integer trick wins below about 400 bytes (fewer calls), the tables
win above it (big-integer conversion costs about 2.5 ns a byte, the four
translates well under 1 ns).
"""

from __future__ import annotations

__all__ = ["REPEAT", "SMALL_MASK", "apply_mask"]

SMALL_MASK = 384

# REPEAT[w] has a 1 at the bottom of each of w 32-bit words: multiplying a
# 4-byte key read as an integer by it repeats the key w times, without
# building and converting a repeated bytes object (saves a third of the
# time at 256 bytes).
REPEAT: list[int] = [0]
for _ in range(SMALL_MASK // 4 + 1):
    REPEAT.append((REPEAT[-1] << 32) | 1)

# _TABLES[k] maps every byte b to b ^ k; built with the integer trick so the
# import costs no per-byte Python loop either.
_IDENTITY = int.from_bytes(bytes(range(256)), "little")
_TABLES: list[bytes] = [
    (_IDENTITY ^ int.from_bytes(bytes((k,)) * 256, "little")).to_bytes(256, "little")
    for k in range(256)
]


def apply_mask(data: bytes | bytearray | memoryview, key: bytes) -> bytes:
    """Return ``data`` XORed with the 4-byte ``key`` repeated (one pass).

    Masking and unmasking are the same operation (section 5.3).
    """
    n = len(data)
    if n < SMALL_MASK:
        # Little-endian keeps byte i of the payload aligned with byte i of
        # the repeated key; the key may overhang by up to 3 bytes, which
        # the final slice drops.
        words = (n + 3) >> 2
        repeated = int.from_bytes(key, "little") * REPEAT[words]
        return (int.from_bytes(data, "little") ^ repeated).to_bytes(words << 2, "little")[:n]
    out = bytearray(data)
    tables = _TABLES
    out[0::4] = out[0::4].translate(tables[key[0]])
    out[1::4] = out[1::4].translate(tables[key[1]])
    out[2::4] = out[2::4].translate(tables[key[2]])
    out[3::4] = out[3::4].translate(tables[key[3]])
    return bytes(out)
