"""The WebSocket connection after the opening handshake (RFC 6455 5-7).

``ServerConnection`` and ``ClientConnection`` are sans-IO: the caller feeds
received bytes (starting with the bytes h11 had read past the handshake),
takes events, calls ``send_*``, and writes out ``data_to_send()``.
Receiving can produce output of its own: a Pong for every Ping (5.5.2),
the echo of a Close (5.5.1), the Close that fails the connection (7.1.7).
So drain ``data_to_send()`` after every receive too. Two ways to receive:

- push: ``receive_data(data)`` parses all of it and queues every reply at
  once; ``events()`` then returns the events. The fastest.
- pull: ``feed(data)``, then ``next_event()`` until it returns None. Each
  call parses up to one event and queues its reply then, so a driver that
  answers each message first keeps its output in the order the frames
  came in (an echo server's echo goes out before the Close echo).

How errors surface (one rule, no exceptions):

- The peer broke the protocol: ``receive_data`` / ``next_event`` queues a
  Close frame with the matching code (unless ours was already sent),
  moves to CLOSED, and raises the ``WebSocketError`` subclass carrying
  that code. Events parsed before the bad frame stay available. Later
  input is silently discarded (section 7.1.7), and ``should_close`` turns
  True: flush ``data_to_send()`` and close the socket.
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

from rawpush.proto.errors import (
    InvalidPayload,
    MessageTooBig,
    ProtocolViolation,
    WebSocketError,
)
from rawpush.proto.ws.closecode import CloseCode
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.events import Binary, Close, Event, Ping, Pong, Text
from rawpush.proto.ws.extension import Extension
from rawpush.proto.ws.frames import parse_close, parse_frame, serialize_close
from rawpush.proto.ws.send import Sender
from rawpush.proto.ws.state import TRANSITIONS, Input, State
from rawpush.proto.ws.utf8 import PartialText

__all__ = ["ClientConnection", "Connection", "ServerConnection"]

_DEFAULT_CONFIG = WSConfig()
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")
_OPEN = State.OPEN
_CLOSED = State.CLOSED
_RECV_DATA = Input.RECV_DATA
_TEXT = 0x1


def _bad_utf8() -> InvalidPayload:
    # Section 8.1: text that is not UTF-8 fails the connection with 1007.
    return InvalidPayload("text message is not valid UTF-8")


def _too_big(size: int, limit: int) -> MessageTooBig:
    return MessageTooBig(f"message of {size} bytes over the {limit}-byte limit")


class Connection(Sender):
    """Behaviour shared by both ends; use ServerConnection or ClientConnection."""

    __slots__ = (
        "_buf",
        "_decoder",
        "_eof",
        "_events",
        "_failure",
        "_max_frame",
        "_max_message",
        "_msg_opcode",
        "_msg_parts",
        "_msg_size",
        "_partial",
        "_rsv_allowed",
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
        # The fail-fast UTF-8 check of the incomplete text frame at the
        # start of _buf, None until one is checked; reset when _buf is cut.
        self._partial: PartialText | None = None
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
            if pos:
                del buf[:pos]
                self._partial = None
        else:
            if pos < len(view):
                buf += view[pos:]
            view.release()
        if buf and plain:
            self._check_partial_text()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer bytes from the peer for ``next_event``; parses nothing yet.

        Ignored once CLOSED (section 7.1.7), like ``receive_data``.
        """
        if self._state is not _CLOSED:
            self._buf += data

    def next_event(self) -> Event | None:
        """Parse up to the next event and return it, None when more bytes are
        needed (or CLOSED). The frame's automatic reply is queued now.

        Raises ``WebSocketError`` at the bad frame, after the events before
        it were returned. Events left by ``receive_data`` come first. Drain
        it before ``receive_eof``: frames still buffered then are dropped.
        """
        events = self._events
        if events:
            return events.pop(0)
        buf = self._buf
        if self._state is _CLOSED or not buf:
            return None
        view = memoryview(buf)
        pos = 0
        event: Event | None = None
        try:
            while True:
                frame = parse_frame(view, pos, self.is_server, self._max_frame, self._rsv_allowed)
                if frame is None:
                    break
                pos, first, payload = frame
                if first == 0x81 and self._ext is None and not self._msg_opcode:
                    # The whole plain text message, kept short as in receive_data.
                    self._state = TRANSITIONS[self._state, _RECV_DATA]
                    if len(payload) > self._max_message:
                        raise _too_big(len(payload), self._max_message)
                    try:
                        event = Text(payload.decode())
                    except UnicodeDecodeError:
                        raise _bad_utf8() from None
                    break
                if not self._receive_frame(first, payload):
                    # A Close (always an event): what follows is ignored.
                    pos = len(view)
                if events:
                    event = events.pop()
                    break
        except WebSocketError as exc:
            view.release()
            self._fail(exc)
            raise
        view.release()
        if pos:
            del buf[:pos]
            self._partial = None
        if event is None and buf and self._ext is None:
            self._check_partial_text()
        return event

    def _check_partial_text(self) -> None:
        # Section 8.1, fail fast: see rawpush.proto.ws.utf8. Only without an
        # extension: a compressed payload says nothing until inflated.
        buf = self._buf
        opcode = buf[0] & 0x0F
        if opcode == _TEXT:
            if self._msg_opcode:
                return  # a protocol error once the frame is complete
        elif opcode or self._msg_opcode != _TEXT:
            return
        partial = self._partial
        if partial is None:
            partial = self._partial = PartialText(None if opcode else self._decoder)
        try:
            partial.check(buf)
        except WebSocketError as exc:
            self._fail(exc)
            raise

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
                raise ProtocolViolation("new data frame inside a fragmented message")
            msg_opcode = opcode
        else:
            msg_opcode = self._msg_opcode
            if not msg_opcode:
                raise ProtocolViolation("continuation frame without a message to continue")
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
        self._partial = None
        self._msg_parts.clear()
        self._text_parts.clear()
        if state is _OPEN:
            # A close reason has at most 123 bytes (section 5.5); cut at a
            # character boundary so the peer can decode it.
            reason = exc.reason.encode()[:123].decode(errors="ignore").encode()
            self._write(0x88, serialize_close(exc.code, reason))


class ServerConnection(Connection):
    """The server end: receives masked frames, sends unmasked ones."""

    __slots__ = ()
    is_server = True


class ClientConnection(Connection):
    """The client end: receives unmasked frames, sends masked ones."""

    __slots__ = ()
    is_server = False
