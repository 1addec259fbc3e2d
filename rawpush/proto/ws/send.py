"""The sending half of a WebSocket connection (RFC 6455 sections 5 and 7).

Every byte a connection writes goes through here: data messages (whole,
fragmented, or prepared once for many connections), control frames, and
the automatic replies the receiving half queues. Each send checks the
state table first (``rawpush.proto.ws.state``); a send it forbids raises
``WebSocketLocalError`` and changes nothing. Use it through
``ServerConnection`` / ``ClientConnection``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rawpush.proto.errors import WebSocketLocalError
from rawpush.proto.ws.closecode import CloseCode, is_sendable
from rawpush.proto.ws.extension import Extension
from rawpush.proto.ws.frames import PreparedFrame, frame_header, serialize_close, server_frame
from rawpush.proto.ws.mask import apply_mask
from rawpush.proto.ws.state import TRANSITIONS, Input, State

__all__ = ["Sender"]

_TEXT = 0x1
_BINARY = 0x2
_OPEN = State.OPEN
# prepared_bytes skips the table lookup on its fast path: only valid while
# the table says an OPEN connection stays OPEN when it sends data.
assert TRANSITIONS[State.OPEN, Input.SEND_DATA] is State.OPEN


class Sender:
    """The ``send_*`` methods and the output queue; ``Connection`` sets the
    attributes up and adds the receiving half."""

    __slots__ = ("_ext", "_mask_source", "_out", "_send_opcode", "_state")

    #: True when we are the server: frames we send are not masked (5.1).
    is_server: ClassVar[bool]
    _state: State
    _out: list[bytes]
    _ext: Extension | None
    _send_opcode: int
    _mask_source: Callable[[int], bytes]

    def data_to_send(self) -> bytes:
        """Return the bytes to write to the peer, and forget them."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def _transition(self, event: Input) -> None:
        try:
            self._state = TRANSITIONS[self._state, event]
        except KeyError:
            raise WebSocketLocalError(
                f"cannot {event.name.lower().replace('_', ' ')} in state {self._state.name}"
            ) from None

    def _write(self, first: int, payload: bytes) -> None:
        n = len(payload)
        if self.is_server:
            self._out.append(frame_header(first, n, 0))
            self._out.append(payload)
        else:
            key = self._mask_source(4)
            self._out.append(frame_header(first, n, 0x80) + key)
            self._out.append(apply_mask(payload, key))

    def _send_data(self, opcode: int, payload: bytes, fin: bool) -> None:
        sending = self._send_opcode
        if sending and sending != opcode:
            raise WebSocketLocalError("another fragmented message is being sent")
        self._transition(Input.SEND_DATA)
        rsv = 0
        if self._ext is not None:
            rsv, payload = self._ext.encode(opcode, fin, payload)
        self._send_opcode = 0 if fin else opcode
        # Section 5.4: later fragments are continuation frames (opcode 0).
        self._write((0x80 if fin else 0) | rsv | (0 if sending else opcode), payload)

    def send_text(self, data: str, fin: bool = True) -> None:
        """Send a text message, or one fragment of it when ``fin`` is False.

        A str that cannot be UTF-8 (a lone surrogate) is a local error.
        """
        try:
            if fin and self._fast_send():
                # One whole frame, encoded and framed in one copy (C).
                self._out.append(server_frame(0x81, data))
                return
            payload = data.encode()
        except UnicodeEncodeError:
            raise WebSocketLocalError("text is not encodable as UTF-8 (lone surrogate)") from None
        self._send_data(_TEXT, payload, fin)

    def send_binary(self, data: bytes | bytearray | memoryview, fin: bool = True) -> None:
        """Send a binary message, or one fragment of it when ``fin`` is False."""
        if fin and self._fast_send():
            self._out.append(server_frame(0x82, data))
            return
        self._send_data(_BINARY, bytes(data), fin)

    def _fast_send(self) -> bool:
        """Whether a whole data message may skip ``_send_data``: a server,
        OPEN (which stays OPEN on a send: the table, checked at import), no
        extension to transform it, no fragmented message being sent."""
        return (
            self._state is _OPEN
            and self._ext is None
            and not self._send_opcode
            and self.is_server
        )

    def send_prepared(self, frame: PreparedFrame) -> None:
        """Send a whole message built once by ``prepare_text``/``prepare_binary``.

        The state table is checked as for ``send_text``. A server without
        an extension queues ``frame.wire`` itself, with no copy (alone in
        the queue, it is the very object ``data_to_send()`` returns); with
        an extension the payload is compressed in this connection's own
        context; a client masks the payload with a fresh key (section 5.3).
        """
        if self._send_opcode:
            raise WebSocketLocalError("another fragmented message is being sent")
        self._transition(Input.SEND_DATA)
        opcode = frame.opcode
        if self._ext is not None:
            rsv, payload = self._ext.encode(opcode, True, frame.payload)
            self._write(0x80 | rsv | opcode, payload)
        elif self.is_server:
            self._out.append(frame.wire)
        else:
            self._write(0x80 | opcode, frame.payload)

    def prepared_bytes(self, frame: PreparedFrame) -> bytes:
        """``send_prepared(frame)`` then ``data_to_send()``, in one call: the
        bytes to write now. On the fan-out path (a server, no extension,
        nothing else queued) it checks the state table and hands back
        ``frame.wire`` itself, without touching the output queue."""
        if (
            self._state is _OPEN
            and not self._out
            and self._ext is None
            and not self._send_opcode
            and self.is_server
        ):
            return frame.wire  # OPEN stays OPEN on a send (the table, checked at import)
        self.send_prepared(frame)  # raises what a forbidden send raises
        return self.data_to_send()

    def _send_control(self, first: int, event: Input, payload: bytes) -> None:
        if len(payload) > 125:
            raise WebSocketLocalError("control frame payload over 125 bytes (section 5.5)")
        self._transition(event)
        self._write(first, payload)

    def send_ping(self, payload: bytes | bytearray | memoryview = b"") -> None:
        """Send a Ping (section 5.5.2); ``payload`` is at most 125 bytes."""
        self._send_control(0x89, Input.SEND_PING, bytes(payload))

    def send_pong(self, payload: bytes | bytearray | memoryview = b"") -> None:
        """Send an unsolicited Pong, e.g. as a heartbeat (section 5.5.3)."""
        self._send_control(0x8A, Input.SEND_PONG, bytes(payload))

    def send_close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (section 7.1.2).

        ``code`` must be one an endpoint may send (1000-1003, 1007-1014,
        3000-4999); ``reason`` at most 123 bytes of UTF-8.
        """
        if not is_sendable(code):
            raise WebSocketLocalError(f"close code {code} may not be sent (section 7.4)")
        encoded = reason.encode()
        if len(encoded) > 123:
            raise WebSocketLocalError("close reason over 123 bytes (section 5.5)")
        self._send_control(0x88, Input.SEND_CLOSE, serialize_close(code, encoded))
