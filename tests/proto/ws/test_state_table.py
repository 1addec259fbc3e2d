"""The (state, input) table of ``rawpush.proto.ws.state``, tried exhaustively.

For every pair, and for random sequences of inputs, the connection either
makes exactly the transition the table lists or raises the documented
error (``WebSocketLocalError`` for a forbidden send, ``WebSocketError`` for
a peer's protocol error), and always lands in a valid state.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import Opcode
from rawpush.proto.ws.state import RECEIVE_INPUTS, SEND_INPUTS, TRANSITIONS, Input, State
from rawpush.ws import ClientConnection, ServerConnection
from tests.proto.ws.test_frames_5 import frame


def apply(conn: Connection, event: Input) -> None:
    """Drive ``conn`` with the concrete call or bytes behind ``event``."""
    masked = conn.is_server
    actions: dict[Input, Callable[[], None]] = {
        Input.SEND_DATA: lambda: conn.send_text("x"),
        Input.SEND_PING: lambda: conn.send_ping(b"p"),
        Input.SEND_PONG: lambda: conn.send_pong(b"p"),
        Input.SEND_CLOSE: lambda: conn.send_close(1000),
        Input.RECV_DATA: lambda: conn.receive_data(frame(Opcode.BINARY, b"d", masked=masked)),
        Input.RECV_PING: lambda: conn.receive_data(frame(Opcode.PING, b"p", masked=masked)),
        Input.RECV_PONG: lambda: conn.receive_data(frame(Opcode.PONG, b"p", masked=masked)),
        Input.RECV_CLOSE: lambda: conn.receive_data(
            frame(Opcode.CLOSE, b"\x03\xe8", masked=masked)
        ),
        Input.RECV_EOF: conn.receive_eof,
        Input.RECV_ERROR: lambda: conn.receive_data(b"\x8f\x80"),  # unknown opcode
    }
    actions[event]()


def step(conn: Connection, event: Input) -> None:
    """Apply one input and check the outcome against the table."""
    before = conn.state
    expected = TRANSITIONS.get((before, event))
    if expected is None:
        assert event in SEND_INPUTS  # every receive input is in the table
        with pytest.raises(WebSocketLocalError):
            apply(conn, event)
        assert conn.state is before
        return
    if event is Input.RECV_ERROR and before is not State.CLOSED:
        with pytest.raises(WebSocketError):
            apply(conn, event)
    else:
        apply(conn, event)  # in CLOSED even a broken frame is discarded
    assert conn.state is expected
    assert conn.state in State


def test_every_receive_input_is_defined_in_every_state() -> None:
    for state in State:
        for event in RECEIVE_INPUTS:
            assert (state, event) in TRANSITIONS
    assert set(RECEIVE_INPUTS) | set(SEND_INPUTS) == set(Input)


def reach(conn: Connection, state: State) -> None:
    if state is not State.OPEN:
        conn.send_close()
    if state is State.CLOSED:
        conn.receive_eof()
    assert conn.state is state


@given(
    st.sampled_from(State),
    st.sampled_from(Input),
    st.sampled_from([ServerConnection, ClientConnection]),
)
@settings(max_examples=200)
def test_every_state_input_pair_is_a_table_transition_or_a_documented_error(
    state: State, event: Input, cls: type[Connection]
) -> None:
    conn = cls()
    reach(conn, state)
    step(conn, event)


@given(
    st.lists(st.sampled_from(Input), max_size=12),
    st.sampled_from([ServerConnection, ClientConnection]),
)
@settings(max_examples=150)
def test_random_input_sequences_follow_the_table(
    events: list[Input], cls: type[Connection]
) -> None:
    conn = cls()
    for event in events:
        step(conn, event)
        conn.events()
        conn.data_to_send()
