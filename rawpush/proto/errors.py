"""The one exception hierarchy of rawpush's sans-IO core.

Errors are split by direction, as h11 does it: the receive path raises a
*remote* error (the peer sent something we refuse), the send path and
every constructor raise a *local* error (our own caller misused the API).
A remote error carries the reply it implies, so the I/O layer never has to
guess. The whole tree::

    RawpushError                  every error rawpush raises on purpose
    +-- LocalProtocolError        our caller asked for something forbidden
    |   +-- WebSocketLocalError   send after Close, bad close code, ...
    |   +-- SSEEncodeError        an event that cannot be encoded losslessly
    +-- RemoteProtocolError       the peer broke the protocol
        +-- WebSocketError        .code: the close code to send (RFC 6455 7.4)
        |   +-- ProtocolViolation   1002: a frame or sequence RFC 6455 forbids
        |   +-- InvalidPayload      1007: bad UTF-8, a stream that won't inflate
        |   +-- MessageTooBig       1009: over a configured size limit
        +-- HTTPError             .status, .headers: the HTTP response to send
        |   +-- HandshakeError    the opening handshake failed (RFC 6455 4)
        +-- SSEDecodeError        an event stream went over a limit
        +-- H2Error               .code: the RFC 9113 section 7 error code of
                                  the GOAWAY already queued

Match on the class to tell failures apart; ``code`` (a class attribute of
each ``WebSocketError`` subclass) is what goes on the wire. The WebSocket
core raises only the three subclasses; ``WebSocketError(message, code)``
still builds a plain instance with any code, for callers that need one.
Constructors that reject their arguments (``WSConfig``, ``DeflateParams``,
``ClientHandshake``, ...) raise ``LocalProtocolError`` too, never
``ValueError``.

What each parser does after it raised its remote error:

- WebSocket ``Connection``: the Close frame with ``code`` is queued (unless
  ours was already sent), the state is CLOSED, and every later
  ``receive_data``/``feed`` is silently discarded (RFC 6455 section 7.1.7:
  "MUST NOT continue to attempt to process data"); ``next_event`` returns
  None. Sends raise ``WebSocketLocalError``. Flush ``data_to_send()`` and
  close the socket (``should_close`` is True).
- ``ServerHandshake`` / ``ClientHandshake``: the state is FAILED and every
  later ``receive_data``/``receive_eof`` raises ``LocalProtocolError``. A
  server still answers with ``reject()``; a client shows ``response``.
- ``HTTPConnection``: dead. Every later ``receive_data``, ``receive_eof``
  and ``next_request`` raises ``LocalProtocolError``; ``respond_error``
  gives the answer and ``should_close`` is True.
- ``H2Connection`` (``rawpush.proto.h2``): the GOAWAY carrying ``code`` is
  queued in ``data_to_send()``; every later ``receive_data`` raises
  ``LocalProtocolError``. Flush the GOAWAY and close the socket.
- SSE ``Decoder``: events completed before the bad line are returned
  first, and the ``SSEDecodeError`` is raised by that same call when it
  completed none, otherwise by the next ``feed``/``end``. After that every
  call raises ``LocalProtocolError``.
"""

from __future__ import annotations

__all__ = [
    "H2Error",
    "HTTPError",
    "HandshakeError",
    "InvalidPayload",
    "LocalProtocolError",
    "MessageTooBig",
    "ProtocolViolation",
    "RawpushError",
    "RemoteProtocolError",
    "SSEDecodeError",
    "SSEEncodeError",
    "WebSocketError",
    "WebSocketLocalError",
]


class RawpushError(Exception):
    """Base of every error rawpush raises on purpose."""


class LocalProtocolError(RawpushError):
    """The local caller asked for something the protocol forbids."""


class RemoteProtocolError(RawpushError):
    """The peer sent bytes that break the protocol; carries the reply."""


class WebSocketError(RemoteProtocolError):
    """A WebSocket peer broke RFC 6455; ``code`` is the close code to answer.

    ``reason`` is the message, for the Close frame's reason. Subclasses fix
    ``code``; a plain ``WebSocketError(message, code)`` carries any code.
    """

    #: RFC 6455 section 7.4.1: 1002, "terminating the connection due to a
    #: protocol error", when nothing more precise is said.
    code: int = 1002

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.reason = message


class ProtocolViolation(WebSocketError):
    """A frame or frame sequence RFC 6455 forbids (close code 1002)."""

    code = 1002


class InvalidPayload(WebSocketError):
    """Data that does not match its message type (close code 1007): text
    that is not UTF-8 (section 8.1), compressed data that does not inflate."""

    code = 1007


class MessageTooBig(WebSocketError):
    """A frame or message over the configured limit (close code 1009)."""

    code = 1009


class WebSocketLocalError(LocalProtocolError):
    """Local misuse of a WebSocket connection (send after close, ...)."""


class HTTPError(RemoteProtocolError):
    """An HTTP request or response we refuse; carries the status to answer.

    ``headers`` are extra response headers the reply needs (for example
    ``Sec-WebSocket-Version: 13`` with a 426, RFC 6455 section 4.4).
    """

    def __init__(
        self,
        message: str,
        status: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


class HandshakeError(HTTPError):
    """The WebSocket opening handshake (RFC 6455 section 4) failed."""


class SSEDecodeError(RemoteProtocolError):
    """An event stream exceeded a configured limit; the stream must end."""


class SSEEncodeError(LocalProtocolError):
    """An event cannot be encoded without the client silently losing part of it."""


class H2Error(RemoteProtocolError):
    """An HTTP/2 peer broke RFC 9113 (or a limit) badly enough to end the
    connection; ``code`` is the error code of the GOAWAY (section 7):
    1 PROTOCOL_ERROR, 3 FLOW_CONTROL_ERROR, 6 FRAME_SIZE_ERROR,
    9 COMPRESSION_ERROR, 11 ENHANCE_YOUR_CALM (a flood, a header block over
    the limit), ...; ``last_stream_id`` is the one the GOAWAY names.
    """

    code: int = 1

    def __init__(self, message: str, code: int = 1, last_stream_id: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.last_stream_id = last_stream_id
