"""Masking and unmasking of frame payloads (RFC 6455 section 5.3).

Masking is a byte-wise XOR with a 4-byte key repeated over the payload.
Two implementations agree byte for byte:

- the optional C accelerator ``rawpush.proto.ws._speedups`` (built at
  install time when a compiler is present; about 2.4 us for 64 KiB);
- pure Python, used when the accelerator is missing or when the
  environment variable ``RAWPUSH_NO_SPEEDUPS`` is set to anything but
  ``""`` or ``"0"`` (read once, at import). Python has no vectorised XOR
  for bytes, so it uses two C-speed tricks and never touches the payload
  one byte at a time in Python:

  - small payloads: read the payload and the repeated key as two big
    integers, XOR them, and write the result back (``int.from_bytes``);
  - larger payloads: every fourth byte sees the same key byte, so each of
    the four strided slices is XORed with one 256-byte ``bytes.translate``
    table.

  The integer trick wins below about 400 bytes (fewer calls), the tables
  above it (big-integer conversion costs about 2 ns a byte, the four
  translates and strided copies about 1 ns). ``bench/README.md`` has the
  figures and the alternatives that lost.

``apply_mask`` and ``unmask`` are bound to one implementation at import;
``py_apply_mask`` and ``py_unmask`` are always the pure-Python ones.
``accelerator`` is the C module itself, or None (``frames.server_frame``
uses it too).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from types import ModuleType

__all__ = [
    "REPEAT",
    "SMALL_MASK",
    "SPEEDUPS",
    "accelerator",
    "apply_mask",
    "load_speedups",
    "py_apply_mask",
    "py_unmask",
    "unmask",
]

Buffer = bytes | bytearray | memoryview

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

_KEY = struct.Struct("<I").unpack_from  # little-endian, as the integer trick reads it


def py_apply_mask(data: Buffer, key: bytes) -> bytes:
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


def py_unmask(buffer: Buffer, start: int, end: int) -> bytes:
    """The payload of a masked frame, unmasked: the key is
    ``buffer[start:start + 4]``, the payload ``buffer[start + 4:end]``
    (section 5.2 puts the key right before the payload)."""
    length = end - start - 4
    if length < SMALL_MASK:
        # The small path reads the key straight out of the buffer as an
        # integer: two copies fewer than slicing it out first.
        words = (length + 3) >> 2
        key: int = _KEY(buffer, start)[0] * REPEAT[words]
        data = int.from_bytes(buffer[start + 4 : end], "little")
        return (data ^ key).to_bytes(words << 2, "little")[:length]
    return py_apply_mask(buffer[start + 4 : end], bytes(buffer[start : start + 4]))


def load_speedups(environ: Mapping[str, str]) -> ModuleType | None:
    """The C accelerator, or None when it is not built or ``environ``
    turns it off with ``RAWPUSH_NO_SPEEDUPS``."""
    if environ.get("RAWPUSH_NO_SPEEDUPS", "") not in ("", "0"):
        return None
    try:
        from rawpush.proto.ws import _speedups
    except ImportError:
        return None
    return _speedups


accelerator = load_speedups(os.environ)

#: True when the C accelerator is in use.
SPEEDUPS = accelerator is not None

apply_mask: Callable[[Buffer, bytes], bytes] = (
    py_apply_mask if accelerator is None else accelerator.apply_mask
)
unmask: Callable[[Buffer, int, int], bytes] = (
    py_unmask if accelerator is None else accelerator.unmask
)
