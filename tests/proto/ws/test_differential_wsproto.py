"""Differential tests against wsproto, an independent RFC 6455 implementation.

Both pairings run in memory, after the handshake: a rawpush server with a
wsproto client, and a wsproto server with a rawpush client. On generated
sequences of text, binary and fragmented messages and pings, each side
must receive exactly what the other sent, pongs must come back with the
ping's payload (section 5.5.3), and the closing handshake started by
either side must complete with the same code and reason (section 7.1.2).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import events as wse
from wsproto.connection import Connection as WsprotoConnection
from wsproto.connection import ConnectionState, ConnectionType

from rawpush.proto.ws.connection import Connection
from rawpush.ws import Binary, ClientConnection, Close, Ping, Pong, ServerConnection, State, Text

Op = tuple[str, Any]

texts = st.text(st.characters(codec="utf-8"), max_size=40)
ops: st.SearchStrategy[Op] = st.one_of(
    st.tuples(st.just("text"), st.lists(texts, min_size=1, max_size=4)),
    st.tuples(st.just("binary"), st.lists(st.binary(max_size=300), min_size=1, max_size=4)),
    st.tuples(st.just("ping"), st.binary(max_size=125)),
)
closes = st.tuples(
    st.sampled_from([1000, 1001, 1003, 1008, 1011, 3000, 4999]),
    st.text(st.characters(codec="utf-8"), max_size=20).filter(lambda r: len(r.encode()) <= 123),
)


def expected(op: Op) -> tuple[Any, ...]:
    kind, value = op
    if kind == "text":
        return ("text", "".join(value))
    if kind == "binary":
        return ("binary", b"".join(value))
    return ("ping", value)


def rawpush_send(conn: Connection, op: Op) -> None:
    kind, value = op
    if kind == "ping":
        conn.send_ping(value)
        return
    send = conn.send_text if kind == "text" else conn.send_binary
    for part in value[:-1]:
        send(part, fin=False)
    send(value[-1])


def wsproto_send(conn: WsprotoConnection, op: Op) -> bytes:
    kind, value = op
    if kind == "ping":
        return conn.send(wse.Ping(payload=value))
    message = wse.TextMessage if kind == "text" else wse.BytesMessage
    last = len(value) - 1
    return b"".join(
        conn.send(message(data=part, message_finished=i == last)) for i, part in enumerate(value)
    )


def rawpush_events(conn: Connection) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for event in conn.events():
        if isinstance(event, Text):
            out.append(("text", event.data))
        elif isinstance(event, Binary):
            out.append(("binary", event.data))
        elif isinstance(event, Ping):
            out.append(("ping", event.payload))
        elif isinstance(event, Pong):
            out.append(("pong", event.payload))
        else:
            assert isinstance(event, Close)
            out.append(("close", event.code, event.reason))
    return out


class WsprotoPeer:
    """A wsproto connection that answers pings and closes like an app must."""

    def __init__(self, kind: ConnectionType) -> None:
        self.conn = WsprotoConnection(kind)
        self.partial: list[Any] = []
        self.received: list[tuple[Any, ...]] = []

    def receive(self, data: bytes) -> bytes:
        """Feed bytes; return the bytes wsproto wants to send back."""
        self.conn.receive_data(data)
        reply = b""
        for event in self.conn.events():
            if isinstance(event, wse.Message):
                self.partial.append(event.data)
                if event.message_finished:
                    kind = "text" if isinstance(event, wse.TextMessage) else "binary"
                    joined = "".join(self.partial) if kind == "text" else b"".join(self.partial)
                    self.received.append((kind, joined))
                    self.partial = []
            elif isinstance(event, wse.Ping):
                self.received.append(("ping", bytes(event.payload)))
                reply += self.conn.send(event.response())
            elif isinstance(event, wse.Pong):
                self.received.append(("pong", bytes(event.payload)))
            elif isinstance(event, wse.CloseConnection):
                self.received.append(("close", event.code, event.reason or ""))
                if self.conn.state is ConnectionState.REMOTE_CLOSING:
                    reply += self.conn.send(event.response())
        return reply


def converse(
    rawpush: Connection,
    peer: WsprotoPeer,
    *,
    script: list[Op],
    back: list[Op],
    close: tuple[int, str],
    rawpush_closes: bool,
) -> None:
    # Peer -> rawpush: rawpush answers every ping by itself.
    for op in script:
        rawpush.receive_data(wsproto_send(peer.conn, op))
    assert rawpush_events(rawpush) == [expected(op) for op in script]
    assert peer.receive(rawpush.data_to_send()) == b""
    assert peer.received == [("pong", v) for k, v in script if k == "ping"]
    peer.received.clear()

    # rawpush -> peer: the peer's pongs come back as Pong events.
    for op in back:
        rawpush_send(rawpush, op)
    rawpush.receive_data(peer.receive(rawpush.data_to_send()))
    assert peer.received == [expected(op) for op in back]
    assert rawpush_events(rawpush) == [("pong", v) for k, v in back if k == "ping"]
    peer.received.clear()

    # The closing handshake (7.1.2), started by either side.
    code, reason = close
    if rawpush_closes:
        rawpush.send_close(code, reason)
        rawpush.receive_data(peer.receive(rawpush.data_to_send()))
        assert peer.received == [("close", code, reason)]
        assert rawpush_events(rawpush) == [("close", code, reason)]
    else:
        rawpush.receive_data(peer.conn.send(wse.CloseConnection(code=code, reason=reason)))
        assert rawpush_events(rawpush) == [("close", code, reason)]
        assert peer.receive(rawpush.data_to_send()) == b""
        assert peer.received == [("close", code, "")]
    assert rawpush.state is State.CLOSED
    assert peer.conn.state is ConnectionState.CLOSED


@given(st.lists(ops, max_size=8), st.lists(ops, max_size=8), closes, st.booleans())
@settings(max_examples=80)
def test_rawpush_server_with_wsproto_client(
    script: list[Op], back: list[Op], close: tuple[int, str], rawpush_closes: bool
) -> None:
    converse(
        ServerConnection(),
        WsprotoPeer(ConnectionType.CLIENT),
        script=script,
        back=back,
        close=close,
        rawpush_closes=rawpush_closes,
    )


@given(st.lists(ops, max_size=8), st.lists(ops, max_size=8), closes, st.booleans())
@settings(max_examples=80)
def test_wsproto_server_with_rawpush_client(
    script: list[Op], back: list[Op], close: tuple[int, str], rawpush_closes: bool
) -> None:
    converse(
        ClientConnection(),
        WsprotoPeer(ConnectionType.SERVER),
        script=script,
        back=back,
        close=close,
        rawpush_closes=rawpush_closes,
    )
