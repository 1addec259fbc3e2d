"""Per-connection configuration of the WebSocket core."""

from __future__ import annotations

from dataclasses import dataclass

from rawpush.proto.errors import WebSocketLocalError

__all__ = ["WSConfig"]


@dataclass(frozen=True, slots=True)
class WSConfig:
    """Limits of one WebSocket connection; both default to 1 MiB.

    ``max_frame_size`` bounds a single frame's payload and is checked as
    soon as the frame header arrives, before any payload is buffered.
    ``max_message_size`` bounds a whole (possibly fragmented) message.
    A peer over either limit gets close code 1009 (section 7.4.1).
    """

    max_frame_size: int = 1 << 20
    max_message_size: int = 1 << 20

    def __post_init__(self) -> None:
        if self.max_frame_size < 125 or self.max_message_size < 1:
            # Below 125 a legal control frame could be refused (section 5.5).
            raise WebSocketLocalError("max_frame_size must be >= 125 and max_message_size >= 1")
