"""The base framing protocol (RFC 6455 section 5): parse and serialize.

A frame is parsed straight out of the receive buffer with
``struct.unpack_from`` and memoryview slices, and unmasked in one pass.
Every header check raises ``ProtocolViolation`` (close code 1002, or
``MessageTooBig``, 1009, for size) as soon as the offending header bytes are in, without waiting
for the payload: a peer that announces a 2 GiB frame is refused at once.

Message-level rules (continuations, UTF-8, message size) belong to the
connection, which knows what came before.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from rawpush.proto.errors import (
    InvalidPayload,
    MessageTooBig,
    ProtocolViolation,
    WebSocketLocalError,
)
from rawpush.proto.ws.closecode import CloseCode, is_sendable
from rawpush.proto.ws.mask import accelerator, apply_mask, unmask

__all__ = [
    "Opcode",
    "PreparedFrame",
    "frame_header",
    "parse_close",
    "parse_frame",
    "payload_start",
    "prepare_binary",
    "prepare_text",
    "py_server_frame",
    "serialize_close",
    "serialize_frame",
    "server_frame",
]


class Opcode(IntEnum):
    """Frame opcodes (section 5.2); 3-7 and 0xB-0xF are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


_U16 = struct.Struct("!H").unpack_from
_U64 = struct.Struct("!Q").unpack_from
_HEAD2 = struct.Struct("!BB").pack
_HEAD4 = struct.Struct("!BBH").pack
_HEAD10 = struct.Struct("!BBQ").pack
_CODE = struct.Struct("!H")


def frame_header(first: int, length: int, mask_bit: int) -> bytes:
    """The header of a frame, using the shortest length encoding (5.2)."""
    if length < 126:
        return _HEAD2(first, length | mask_bit)
    if length < 65536:
        return _HEAD4(first, 126 | mask_bit, length)
    return _HEAD10(first, 127 | mask_bit, length)


def py_server_frame(first: int, payload: str | bytes | bytearray | memoryview) -> bytes:
    """A whole unmasked frame (a server's): header, then ``payload``, a str
    encoded as UTF-8 (``UnicodeEncodeError`` for a lone surrogate)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return frame_header(first, len(data), 0) + data


# The C version makes one payload-sized copy where this one makes two
# (encode, then concatenate): at 64 KiB that is most of the send cost.
server_frame: Callable[[int, str | bytes | bytearray | memoryview], bytes] = (
    py_server_frame if accelerator is None else accelerator.server_frame
)


def serialize_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:
    """One whole frame; ``mask`` is the 4-byte key, or None for no mask.

    Used for control frames and by tests; the data hot path of the
    connection builds the same bytes without the extra call.
    """
    first = (0x80 if fin else 0) | rsv | opcode
    if mask is None:
        return frame_header(first, len(payload), 0) + payload
    return frame_header(first, len(payload), 0x80) + mask + apply_mask(payload, mask)


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """A whole data message encoded once, to be sent on many connections.

    ``wire`` is the complete unmasked frame a server sends (header and
    ``payload``); ``Connection.send_prepared`` queues that very object when
    it can, and falls back to ``opcode`` and ``payload`` where a connection
    must transform them (a client masks, an extension compresses). Build it
    with ``prepare_text`` or ``prepare_binary``.
    """

    opcode: Opcode
    payload: bytes
    wire: bytes

    def __len__(self) -> int:
        """The bytes it puts on the wire unextended (what queues measure)."""
        return len(self.wire)


def prepare_text(payload: bytes | str) -> PreparedFrame:
    """A text message prepared once; ``payload`` is UTF-8 bytes or a str.

    Bytes are checked once here: sending text that is not UTF-8 would make
    every peer fail the connection (section 8.1), so it is refused with
    ``WebSocketLocalError``, as is a str holding a lone surrogate.
    """
    try:
        if isinstance(payload, str):
            payload = payload.encode()
        else:
            payload = bytes(payload)
            payload.decode()
    except UnicodeError:
        raise WebSocketLocalError("text payload is not valid UTF-8") from None
    return PreparedFrame(Opcode.TEXT, payload, frame_header(0x81, len(payload), 0) + payload)


def prepare_binary(payload: bytes | bytearray | memoryview) -> PreparedFrame:
    """A binary message prepared once."""
    data = bytes(payload)
    return PreparedFrame(Opcode.BINARY, data, frame_header(0x82, len(data), 0) + data)


def parse_frame(
    view: memoryview, pos: int, expect_mask: bool, max_size: int, rsv_allowed: int
) -> tuple[int, int, bytes] | None:
    """Parse the frame starting at ``view[pos]``.

    Return ``(end, first_byte, payload)`` where ``end`` is the offset after
    the frame and ``payload`` is already unmasked; or None when the frame
    is not complete yet. ``expect_mask`` is True on the server side.
    """
    avail = len(view) - pos
    if avail < 2:
        return None
    first = view[pos]
    second = view[pos + 1]
    if first & 0x70 & ~rsv_allowed:
        # Section 5.2: RSV bits MUST be 0 unless an extension defines them.
        raise ProtocolViolation("reserved bits set without a negotiated extension")
    opcode = first & 0x0F
    if opcode > 2:
        if opcode > 0xA or opcode < 0x8:
            raise ProtocolViolation(f"unknown opcode {opcode:#x}")
        # Section 5.5: control frames are never fragmented, carry at most
        # 125 bytes, and (per RFC 7692) keep their RSV bits clear.
        if not first & 0x80:
            raise ProtocolViolation("fragmented control frame")
        if first & 0x70:
            raise ProtocolViolation("reserved bits set on a control frame")
        if second & 0x7F > 125:
            raise ProtocolViolation("control frame payload over 125 bytes")
    masked = second & 0x80
    if expect_mask:
        if not masked:
            # Section 5.1: a server MUST close on an unmasked client frame.
            raise ProtocolViolation("client frame is not masked")
    elif masked:
        # Section 5.1: a client MUST close on a masked server frame.
        raise ProtocolViolation("server frame is masked")
    length = second & 0x7F
    start = pos + 2
    if length == 126:
        if avail < 4:
            return None
        length = _U16(view, start)[0]
        if length < 126:
            # Section 5.2: "the minimal number of bytes MUST be used".
            raise ProtocolViolation("payload length not minimally encoded")
        start += 2
    elif length == 127:
        if avail < 10:
            return None
        length = _U64(view, start)[0]
        if length >> 63:
            raise ProtocolViolation("64-bit payload length with the top bit set")
        if length < 65536:
            raise ProtocolViolation("payload length not minimally encoded")
        start += 8
    if length > max_size:
        raise MessageTooBig(f"frame of {length} bytes over the {max_size}-byte limit")
    if masked:
        end = start + 4 + length
        if end > pos + avail:
            return None
        # unmask reads the key and the payload straight out of the receive
        # buffer (C when built, else mask.py's pure-Python tricks).
        return end, first, unmask(view, start, end)
    end = start + length
    if end > pos + avail:
        return None
    return end, first, bytes(view[start:end])


def payload_start(view: memoryview | bytearray) -> tuple[int, bytes | None] | None:
    """Where the payload of the frame at ``view[0]`` starts, and its mask
    key (None when unmasked); None while the header is not all in.

    For a frame ``parse_frame`` already found valid but incomplete: the
    header was checked, so only its length decides where the payload is.
    """
    avail = len(view)
    if avail < 2:
        return None
    length = view[1] & 0x7F
    start = 2 if length < 126 else 4 if length == 126 else 10
    if not view[1] & 0x80:
        return (start, None) if avail >= start else None
    if avail < start + 4:
        return None
    return start + 4, bytes(view[start : start + 4])


def parse_close(payload: bytes) -> tuple[int, str]:
    """Decode a Close frame's body (section 5.5.1) into (code, reason).

    An empty body means "no status code": reported as 1005 (7.1.5).
    """
    if not payload:
        return CloseCode.NO_STATUS_RCVD, ""
    if len(payload) == 1:
        raise ProtocolViolation("close frame with a 1-byte payload")
    code = _CODE.unpack_from(payload)[0]
    if not is_sendable(code):
        raise ProtocolViolation(f"invalid close code {code}")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        # Section 5.5.1: the reason is UTF-8; section 8.1 maps bad UTF-8 to 1007.
        raise InvalidPayload("close reason is not valid UTF-8") from None
    return code, reason


def serialize_close(code: int, reason: bytes = b"") -> bytes:
    """The body of a Close frame: status code, then the UTF-8 reason."""
    return _CODE.pack(code) + reason
