"""The WebSocket connection after the opening handshake (RFC 6455 5-7).

``ServerConnection`` and ``ClientConnection`` are sans-IO: the caller feeds
received bytes to ``receive_data`` (starting with the bytes h11 had read
past the handshake), drains ``events()``, calls ``send_*``, and writes out
``data_to_send()``. Receiving can produce output of its own: a Pong for
every Ping (5.5.2), the echo of a Close (5.5.1), the Close that fails the
connection (7.1.7). So drain ``data_to_send()`` after every receive too.

How errors surface (one rule, no exceptions):

- The peer broke the protocol: ``receive_data`` queues a Close frame with
  the matching code (unless ours was already sent), moves to CLOSED,
  and raises ``WebSocketError`` carrying that code. Events parsed before
  the bad frame stay available from ``events()``. Every later
  ``receive_data`` is silently discarded (section 7.1.7), and
  ``should_close`` turns True: flush ``data_to_send()`` and close the
  socket.
- Our own caller misused the API (send after Close, control payload over
  125 bytes, a close code that may not be sent, ...): the ``send_*`` call
  raises ``WebSocketLocalError`` and nothing changes.

Who closes TCP (section 7.1.1): the server, as soon as the closing
handshake is done. The client waits for the server to do it, so on the
client ``should_close`` only turns True after ``receive_eof`` (or a
failure); the I/O layer should bound that wait with a timeout.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from typing import ClassVar

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.closecode import CloseCode, is_sendable
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.events import Binary, Close, Event, Ping, Pong, Text
from rawpush.proto.ws.extension import Extension
from rawpush.proto.ws.frames import frame_header, parse_close, parse_frame, serialize_close
from rawpush.proto.ws.mask import apply_mask
from rawpush.proto.ws.state import TRANSITIONS, Input, State

__all__ = ["ClientConnection", "Connection", "ServerConnection"]

_DEFAULT_CONFIG = WSConfig()
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
_OPEN = State.OPEN
_CLOSED = State.CLOSED
_RECV_DATA = Input.RECV_DATA
_TEXT = 0x1
_BINARY = 0x2


def _bad_utf8() -> WebSocketError:
    # Section 8.1: text that is not UTF-8 fails the connection with 1007.
    return WebSocketError("text message is not valid UTF-8", CloseCode.INVALID_FRAME_PAYLOAD_DATA)


def _too_big(size: int, limit: int) -> WebSocketError:
    return WebSocketError(
        f"message of {size} bytes over the {limit}-byte limit", CloseCode.MESSAGE_TOO_BIG
    )


class Connection:
    """Behaviour shared by both ends; use ServerConnection or ClientConnection."""

    __slots__ = (
        "_buf",
        "_decoder",
        "_eof",
        "_events",
        "_ext",
        "_failure",
        "_mask_source",
        "_max_frame",
        "_max_message",
        "_msg_opcode",
        "_msg_parts",
        "_msg_size",
        "_out",
        "_rsv_allowed",
        "_send_opcode",
        "_state",
        "_text_parts",
        "config",
    )

    #: True when we are the server: frames we receive must be masked and
    #: frames we send must not be (section 5.1).
    is_server: ClassVar[bool]

    def __init__(
        self,
        config: WSConfig = _DEFAULT_CONFIG,
        *,
        extension: Extension | None = None,
        mask_source: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.config = config
        self._max_frame = config.max_frame_size
        self._max_message = config.max_message_size
        self._ext = extension
        self._rsv_allowed = extension.rsv_bits if extension is not None else 0
        # Section 5.3 wants unpredictable masks; tests inject a fixed source.
        self._mask_source = mask_source
        self._state = State.OPEN
        self._buf = bytearray()
        self._events: list[Event] = []
        self._out: list[bytes] = []
        # The fragmented message being received: its opcode (0 when none),
        # the parts so far (bytes, or str already decoded), its size in
        # bytes, and the UTF-8 decoder that carries state across fragments.
        self._msg_opcode = 0
        self._msg_parts: list[bytes] = []
        self._text_parts: list[str] = []
        self._msg_size = 0
        self._decoder = _Utf8Decoder()
        # The opcode of the fragmented message being sent, 0 when none.
        self._send_opcode = 0
        self._eof = False
        self._failure: WebSocketError | None = None

    # -- what the I/O layer looks at ---------------------------------------

    @property
    def state(self) -> State:
        """The current state (see ``rawpush.proto.ws.state``)."""
        return self._state

    @property
    def failure(self) -> WebSocketError | None:
        """The protocol error that failed the connection, if any."""
        return self._failure

    @property
    def should_close(self) -> bool:
        """True when the I/O layer should flush ``data_to_send()`` and close
        the TCP connection now (sections 7.1.1 and 7.1.7)."""
        if self._state is not _CLOSED:
            return False
        return self.is_server or self._eof or self._failure is not None

    def events(self) -> list[Event]:
        """Return the events received since the last call, and forget them."""
        events = self._events
        self._events = []
        return events

    def data_to_send(self) -> bytes:
        """Return the bytes to write to the peer, and forget them."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    # -- receiving -----------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes received from the peer; may raise ``WebSocketError``."""
        if self._state is _CLOSED:
            # Section 7.1.7 and the end of section 7.1.1: nothing more is
            # processed once closed or failed.
            return
        buf = self._buf
        if buf:
            buf += data
            view = memoryview(buf)
        else:
            # Nothing left over: parse the caller's bytes in place, saving
            # a copy per read on the common one-message-per-read path.
            view = memoryview(data)
        events = self._events
        expect_mask = self.is_server
        max_frame = self._max_frame
        rsv_allowed = self._rsv_allowed
        max_message = self._max_message
        plain = self._ext is None
        pos = 0
        try:
            while True:
                frame = parse_frame(view, pos, expect_mask, max_frame, rsv_allowed)
                if frame is None:
                    break
                pos, first, payload = frame
                if first == 0x81 and plain and not self._msg_opcode:
                    # The common case, kept short: a whole, plain text message.
                    self._state = TRANSITIONS[self._state, _RECV_DATA]
                    if len(payload) > max_message:
                        raise _too_big(len(payload), max_message)
                    try:
                        events.append(Text(payload.decode()))
                    except UnicodeDecodeError:
                        raise _bad_utf8() from None
                elif not self._receive_frame(first, payload):
                    # A Close ends the stream: whatever follows is ignored
                    # (section 5.5.1, "MUST NOT send any more data frames").
                    pos = len(view)
                    break
        except WebSocketError as exc:
            view.release()
            self._fail(exc)
            raise
        if buf:
            view.release()
            del buf[:pos]
        else:
            if pos < len(view):
                buf += view[pos:]
            view.release()

    def _receive_frame(self, first: int, payload: bytes) -> bool:
        """Handle one frame other than a whole plain text message.

        Return False when the frame was a Close.
        """
        opcode = first & 0x0F
        if opcode < 3:
            self._receive_data_frame(opcode, first, payload)
            return True
        if opcode == 0x8:
            code, reason = parse_close(payload)
            state = self._state
            self._state = TRANSITIONS[state, Input.RECV_CLOSE]
            self._events.append(Close(code, reason))
            if state is _OPEN:
                # Section 5.5.1: answer with a Close, echoing the status
                # code (and sending none if none was received).
                self._write(0x88, payload[:2])
            return False
        if opcode == 0x9:
            self._state = TRANSITIONS[self._state, Input.RECV_PING]
            self._events.append(Ping(payload))
            # Section 5.5.3: the Pong carries the Ping's application data.
            self._write(0x8A, payload)
            return True
        self._state = TRANSITIONS[self._state, Input.RECV_PONG]
        self._events.append(Pong(payload))
        return True

    def _receive_data_frame(self, opcode: int, first: int, payload: bytes) -> None:
        self._state = TRANSITIONS[self._state, _RECV_DATA]
        fin = bool(first & 0x80)
        if opcode:
            if self._msg_opcode:
                # Section 5.4: fragments of one message are not interleaved
                # with another data message.
                raise WebSocketError(
                    "new data frame inside a fragmented message", CloseCode.PROTOCOL_ERROR
                )
            msg_opcode = opcode
        else:
            msg_opcode = self._msg_opcode
            if not msg_opcode:
                raise WebSocketError(
                    "continuation frame without a message to continue", CloseCode.PROTOCOL_ERROR
                )
        if self._ext is not None:
            payload = self._ext.decode(msg_opcode, fin, first & 0x70, payload)
        size = self._msg_size + len(payload)
        if size > self._max_message:
            raise _too_big(size, self._max_message)
        if msg_opcode == _TEXT:
            if opcode:
                self._decoder.reset()
            try:
                # Decoding each fragment as it arrives finds bad UTF-8 in the
                # first frame that holds it (section 8.1, "fail fast").
                text = self._decoder.decode(payload, fin)
            except UnicodeDecodeError:
                raise _bad_utf8() from None
            self._text_parts.append(text)
        else:
            self._msg_parts.append(payload)
        if not fin:
            self._msg_opcode = msg_opcode
            self._msg_size = size
            return
        self._msg_opcode = 0
        self._msg_size = 0
        if msg_opcode == _TEXT:
            self._events.append(Text("".join(self._text_parts)))
            self._text_parts.clear()
        else:
            self._events.append(Binary(b"".join(self._msg_parts)))
            self._msg_parts.clear()

    def receive_eof(self) -> None:
        """The peer closed its side of the TCP connection."""
        state = self._state
        self._state = TRANSITIONS[state, Input.RECV_EOF]
        self._eof = True
        if state is not _CLOSED:
            # Section 7.1.5: the connection closed without a Close frame.
            self._events.append(Close(CloseCode.ABNORMAL_CLOSURE, ""))

    def _fail(self, exc: WebSocketError) -> None:
        """Fail the WebSocket connection (section 7.1.7)."""
        state = self._state
        self._state = TRANSITIONS[state, Input.RECV_ERROR]
        self._failure = exc
        self._buf.clear()
        self._msg_parts.clear()
        self._text_parts.clear()
        if state is _OPEN:
            # A close reason has at most 123 bytes (section 5.5); cut at a
            # character boundary so the peer can decode it.
            reason = exc.reason.encode()[:123].decode(errors="ignore").encode()
            self._write(0x88, serialize_close(exc.code, reason))

    # -- sending ---------------------------------------------------------------

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
        """Send a text message, or one fragment of it when ``fin`` is False."""
        self._send_data(_TEXT, data.encode(), fin)

    def send_binary(self, data: bytes | bytearray | memoryview, fin: bool = True) -> None:
        """Send a binary message, or one fragment of it when ``fin`` is False."""
        self._send_data(_BINARY, bytes(data), fin)

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


class ServerConnection(Connection):
    """The server end: receives masked frames, sends unmasked ones."""

    __slots__ = ()
    is_server = True


class ClientConnection(Connection):
    """The client end: receives unmasked frames, sends masked ones."""

    __slots__ = ()
    is_server = False
