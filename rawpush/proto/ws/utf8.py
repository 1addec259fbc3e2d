"""Fail-fast UTF-8 checking of a text frame that is still arriving.

RFC 6455 section 8.1 asks an endpoint to fail the connection on text that
is not UTF-8, and lets it do so as soon as the bytes it has cannot begin
valid UTF-8: Autobahn (cases 6.4.3 and 6.4.4) checks that it does, before
the rest of a long frame arrives. The connection only asks for this when a
text frame is incomplete at the end of a read, so a whole frame never pays
for it; each check decodes only the bytes that came since the last one.
"""

from __future__ import annotations

import codecs

from rawpush.proto.errors import InvalidPayload
from rawpush.proto.ws.frames import payload_start
from rawpush.proto.ws.mask import apply_mask

__all__ = ["PartialText"]

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class PartialText:
    """The check of one incomplete text frame, kept while it grows.

    ``message`` is the decoder of the fragmented text message the frame
    continues (its state is copied, not touched), or None for a frame that
    starts a message.
    """

    __slots__ = ("_decoder", "_done")

    def __init__(self, message: codecs.IncrementalDecoder | None) -> None:
        self._decoder = _Utf8Decoder()
        if message is not None:
            self._decoder.setstate(message.getstate())
        self._done = 0  # payload bytes already decoded

    def check(self, frame: bytearray) -> None:
        """Decode what is new of the incomplete frame starting at
        ``frame[0]``; raise ``InvalidPayload`` when it cannot be UTF-8."""
        head = payload_start(frame)
        if head is None:
            return
        start, key = head
        done = self._done
        chunk = bytes(frame[start + done :])
        if key is not None:
            # Payload byte i is masked with key[i % 4] (section 5.3).
            shift = done & 3
            chunk = apply_mask(chunk, key[shift:] + key[:shift])
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            raise InvalidPayload("text message is not valid UTF-8") from None
        self._done = done + len(chunk)
