"""The hook an extension (e.g. permessage-deflate, RFC 7692) plugs into.

RFC 6455 section 5.2 lets a negotiated extension give meaning to the RSV
bits of data frames; without one, any RSV bit is a protocol error. The core
calls the extension for data frames only: control frames must keep their
RSV bits clear (this is what RFC 7692 section 6 requires, and the only
extension anyone deploys).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Extension"]


class Extension(Protocol):
    """A negotiated per-message extension."""

    @property
    def rsv_bits(self) -> int:
        """The RSV bits this extension owns, as a mask of the first byte
        (0x40 is RSV1, 0x20 RSV2, 0x10 RSV3)."""
        ...

    def decode(self, opcode: int, fin: bool, rsv: int, payload: bytes) -> bytes:
        """Undo the extension on one received data frame.

        ``opcode`` is the message's opcode (1 or 2) even on continuation
        frames. May raise ``WebSocketError`` (e.g. 1009 for a bomb).
        """
        ...

    def encode(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes]:
        """Apply the extension to one outgoing data frame: (RSV bits, payload)."""
        ...
