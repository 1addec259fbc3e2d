"""Every state transition of a WebSocket connection, in one table.

Rules of this file (as h11 does it):

- ``TRANSITIONS[state, input]`` is the state after ``input``. A pair that
  is missing is forbidden: for a send input the connection raises
  ``WebSocketLocalError`` and does not change state. Every receive input
  is present for every state, because the peer can always send anything.
- The core echoes a received Close itself, so there is no "close received,
  echo pending" state: receiving Close while OPEN goes straight to CLOSED.
- In CLOSED every receive input is accepted and *discarded* (section
  7.1.7: after failing, "the endpoint MUST NOT ... process data").

States::

    OPEN --send close--> CLOSING --recv close / eof / error--> CLOSED
    OPEN --recv close (echoed) / eof / error (close queued)--> CLOSED

What is allowed where, and why:

- OPEN: everything.
- CLOSING (we sent Close): no more data frames and no second Close
  (section 5.5.1); Ping and Pong may still go out, because section 5.5.2
  asks for a Pong "unless it already received a Close frame", which we
  have not. Received data is still delivered: the peer may have sent it
  before it saw our Close.
- CLOSED: nothing may be sent.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["RECEIVE_INPUTS", "SEND_INPUTS", "TRANSITIONS", "Input", "State"]


class State(IntEnum):
    """Connection states after the opening handshake (section 4)."""

    OPEN = 1  # section 4.1 "_The WebSocket Connection is Established_"
    CLOSING = 2  # we sent Close and wait for the peer's (section 7.1.2)
    CLOSED = 3  # both Close frames exchanged, or failed, or transport gone


class Input(IntEnum):
    """What can happen to a connection: our calls and the peer's frames."""

    SEND_DATA = 1
    SEND_PING = 2
    SEND_PONG = 3
    SEND_CLOSE = 4
    RECV_DATA = 5
    RECV_PING = 6
    RECV_PONG = 7
    RECV_CLOSE = 8
    RECV_EOF = 9
    RECV_ERROR = 10  # the peer broke the protocol: we fail the connection


SEND_INPUTS = frozenset({Input.SEND_DATA, Input.SEND_PING, Input.SEND_PONG, Input.SEND_CLOSE})
RECEIVE_INPUTS = frozenset(set(Input) - SEND_INPUTS)

_OPEN, _CLOSING, _CLOSED = State.OPEN, State.CLOSING, State.CLOSED

TRANSITIONS: dict[tuple[State, Input], State] = {
    (_OPEN, Input.SEND_DATA): _OPEN,
    (_OPEN, Input.SEND_PING): _OPEN,
    (_OPEN, Input.SEND_PONG): _OPEN,
    (_OPEN, Input.SEND_CLOSE): _CLOSING,
    (_OPEN, Input.RECV_DATA): _OPEN,
    (_OPEN, Input.RECV_PING): _OPEN,  # a Pong is queued
    (_OPEN, Input.RECV_PONG): _OPEN,
    (_OPEN, Input.RECV_CLOSE): _CLOSED,  # the echo is queued (5.5.1)
    (_OPEN, Input.RECV_EOF): _CLOSED,  # reported as 1006 (7.1.5)
    (_OPEN, Input.RECV_ERROR): _CLOSED,  # a Close with the error's code is queued
    (_CLOSING, Input.SEND_PING): _CLOSING,
    (_CLOSING, Input.SEND_PONG): _CLOSING,
    (_CLOSING, Input.RECV_DATA): _CLOSING,
    (_CLOSING, Input.RECV_PING): _CLOSING,  # a Pong is still queued (5.5.2)
    (_CLOSING, Input.RECV_PONG): _CLOSING,
    (_CLOSING, Input.RECV_CLOSE): _CLOSED,  # closing handshake complete
    (_CLOSING, Input.RECV_EOF): _CLOSED,
    (_CLOSING, Input.RECV_ERROR): _CLOSED,  # our Close is already out
    (_CLOSED, Input.RECV_DATA): _CLOSED,  # discarded
    (_CLOSED, Input.RECV_PING): _CLOSED,  # discarded
    (_CLOSED, Input.RECV_PONG): _CLOSED,  # discarded
    (_CLOSED, Input.RECV_CLOSE): _CLOSED,  # discarded
    (_CLOSED, Input.RECV_EOF): _CLOSED,
    (_CLOSED, Input.RECV_ERROR): _CLOSED,  # discarded
}
