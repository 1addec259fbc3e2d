"""Flood and size defences that read only frame headers (RFC 9113 section
4.1), ahead of h2.

The guard walks the 9-byte frame headers of what the peer sends, across
any cuts, without buffering payloads, and counts per window of received
frames what costs us work and the peer nothing (RFC 9113 section 10.5):
RST_STREAMs (rapid reset, CVE-2023-44487), PINGs and SETTINGS (each
owes an answer), empty DATA and CONTINUATION frames that end nothing. It
also bounds a header block across HEADERS and CONTINUATION frames as it
grows (CVE-2024-27316: h2 would buffer up to 64 frames of it first).
Frames longer than the largest frame size we accept are left for h2 to
refuse with FRAME_SIZE_ERROR (section 4.2).

Three checks h2 answers with a vaguer code are made here as well: the
preface must be followed by a SETTINGS frame (section 3.4: PROTOCOL_ERROR),
a SETTINGS ACK carries no payload and a SETTINGS payload is a multiple of
6 bytes (section 6.5: FRAME_SIZE_ERROR).
"""

from __future__ import annotations

from rawpush.proto.h2.events import ErrorCode, H2Config

__all__ = ["FloodGuard"]

#: RFC 9113 section 3.4: the client connection preface
PREFACE_SIZE = 24
_FRAME_HEADER = 9
#: SETTINGS_MAX_FRAME_SIZE we keep: the initial value (section 6.5.2)
MAX_FRAME_SIZE = 16_384

_DATA = 0x0
_HEADERS = 0x1
_RST_STREAM = 0x3
_SETTINGS = 0x4
_PING = 0x6
_GOAWAY = 0x7
_STREAM_MASK = 0x7FFF_FFFF
_CONTINUATION = 0x9
_END_STREAM = 0x1
_ACK = 0x1
_END_HEADERS = 0x4


class FloodGuard:
    """Fed every received byte in order; ``feed`` returns what h2 is to
    read. When a frame breaks a limit, ``reason`` says which and ``code``
    is the GOAWAY's error code; once tripped it stays tripped."""

    __slots__ = (
        "_block",
        "_config",
        "_counts",
        "_first",
        "_frames",
        "_goaway",
        "_head",
        "_skip",
        "code",
        "goaways",
        "reason",
    )

    def __init__(self, config: H2Config) -> None:
        self._config = config
        self._skip = PREFACE_SIZE  # h2 checks the preface itself
        self._head = bytearray()
        self._frames = 0
        # resets, pings, settings, empty frames in the current window
        self._counts = [0, 0, 0, 0]
        #: bytes of the header block in progress, None between blocks
        self._block: int | None = None
        self._first = True  # the frame after the preface is next
        #: the payload of the peer's GOAWAY being read, if one is
        self._goaway: bytearray | None = None
        #: (last stream id, error code) of each GOAWAY the peer sent
        self.goaways: list[tuple[int, int]] = []
        self.reason: str | None = None
        self.code = ErrorCode.ENHANCE_YOUR_CALM

    def feed(self, data: bytes) -> bytes:
        """The bytes of ``data`` h2 is to read: up to the last complete
        frame header, without the peer's GOAWAY frames (read here, into
        ``goaways``), and without the frame that broke a limit and all
        after it (``reason`` is then set)."""
        if self.reason is not None:
            return b""
        out = bytearray()
        view = memoryview(data)
        size = len(data)
        at = 0
        while at < size:
            if self._skip:
                step = min(self._skip, size - at)
                goaway = self._goaway
                if goaway is None:
                    out += view[at : at + step]
                else:
                    goaway += view[at : at + step]
                self._skip -= step
                at += step
                if goaway is not None and not self._skip:
                    self._goaway = None
                    last = int.from_bytes(goaway[0:4], "big") & _STREAM_MASK
                    self.goaways.append((last, int.from_bytes(goaway[4:8], "big")))
                continue
            need = _FRAME_HEADER - len(self._head)
            self._head += view[at : at + need]
            at += min(need, size - at)
            if len(self._head) < _FRAME_HEADER:
                break
            head = bytes(self._head)
            self._head.clear()
            length = int.from_bytes(head[0:3], "big")
            kind = head[3]
            reason = self._count(length, kind, head[4], head[5:9])
            if reason is not None:
                self.reason = reason
                return bytes(out)
            self._skip = length
            if kind == _GOAWAY and length <= MAX_FRAME_SIZE:
                # Read here: h2 would stop all sending at a GOAWAY, where
                # RFC 9113 section 6.8 lets the open streams finish.
                self._goaway = bytearray()
            else:
                out += head
        return bytes(out)

    def _count(self, length: int, kind: int, flags: int, sid: bytes) -> str | None:
        if self._first:
            self._first = False
            if kind != _SETTINGS or flags & _ACK:
                self.code = ErrorCode.PROTOCOL_ERROR
                return "the preface is not followed by SETTINGS"
        if length > MAX_FRAME_SIZE:
            return None  # h2's FRAME_SIZE_ERROR (section 4.2)
        if kind == _SETTINGS and (length % 6 or (flags & _ACK and length)):
            self.code = ErrorCode.FRAME_SIZE_ERROR
            return "a SETTINGS frame of a wrong length"
        if kind == _GOAWAY:
            if length < 8:
                self.code = ErrorCode.FRAME_SIZE_ERROR
                return "a GOAWAY frame shorter than 8 bytes"
            if int.from_bytes(sid, "big") & _STREAM_MASK:
                self.code = ErrorCode.PROTOCOL_ERROR
                return "a GOAWAY frame on a stream"
        config = self._config
        self._frames += 1
        if self._frames > config.flood_window:
            self._frames = 1
            self._counts = [0, 0, 0, 0]
        counts = self._counts
        before = self._block
        if kind == _HEADERS or (kind == _CONTINUATION and before is not None):
            # A CONTINUATION outside a block is h2's PROTOCOL_ERROR (6.10).
            block = length if before is None or kind == _HEADERS else before + length
            if block > config.http.max_header_bytes:
                return "header block over the limit"
            self._block = None if flags & _END_HEADERS else block
            if kind == _CONTINUATION and not length and not flags & _END_HEADERS:
                counts[3] += 1
        elif kind == _DATA:
            if not length and not flags & _END_STREAM:
                counts[3] += 1
        elif kind == _RST_STREAM:
            counts[0] += 1
        elif kind == _PING:
            counts[1] += not flags & _ACK
        elif kind == _SETTINGS:
            counts[2] += not flags & _ACK
        resets, pings, settings, empty = counts
        if resets > config.max_resets:
            return "too many RST_STREAM frames (rapid reset)"
        if pings > config.max_pings:
            return "too many PING frames"
        if settings > config.max_settings:
            return "too many SETTINGS frames"
        if empty > config.max_empty_frames:
            return "too many empty frames"
        return None
