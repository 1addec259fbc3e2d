"""RFC 6455 sections 5.4-5.5, 7 and 8: messages, control frames, closing.

Checked on the events a connection emits and on the frames it queues
(parsed back with the other end's connection, not compared as bytes).
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import (
    Binary,
    ClientConnection,
    Close,
    CloseCode,
    Ping,
    Pong,
    ServerConnection,
    State,
    Text,
    WSConfig,
)
from tests.proto.ws.test_frames_5 import client_fails, frame, sent_close, server_fails


def pair() -> tuple[ServerConnection, ClientConnection]:
    return ServerConnection(), ClientConnection()


def state_of(conn: Connection) -> State:
    # A call, so mypy does not keep an earlier narrowing of ``conn.state``.
    return conn.state


def pump(src: Connection, dst: Connection) -> list[object]:
    dst.receive_data(src.data_to_send())
    return list(dst.events())


# -- 5.4 fragmentation ------------------------------------------------------------


def test_5_4_fragmented_text_and_binary_are_joined() -> None:
    server, client = pair()
    client.send_text("hé", fin=False)
    client.send_text("llo", fin=False)
    client.send_text("!")
    client.send_binary(b"ab", fin=False)
    client.send_ping(b"in between")  # 5.4: control frames may interleave
    client.send_binary(b"cd")
    assert pump(client, server) == [Text("héllo!"), Ping(b"in between"), Binary(b"abcd")]


def test_5_4_fragments_are_continuation_frames() -> None:
    server = ServerConnection()
    server.send_text("a", fin=False)
    server.send_text("b")
    out = server.data_to_send()
    assert out == frame(Opcode.TEXT, b"a", fin=False, masked=False) + frame(
        Opcode.CONTINUATION, b"b", masked=False
    )


def test_5_4_sending_binary_inside_a_fragmented_text_is_a_local_error() -> None:
    server = ServerConnection()
    server.send_text("a", fin=False)
    with pytest.raises(WebSocketLocalError):
        server.send_binary(b"b")
    server.send_text("b")
    assert server.state is State.OPEN


def test_5_4_empty_fragments_and_messages() -> None:
    server, client = pair()
    client.send_text("", fin=False)
    client.send_text("")
    client.send_binary(b"")
    assert pump(client, server) == [Text(""), Binary(b"")]


# -- 8.1 UTF-8 ---------------------------------------------------------------------


def test_8_1_invalid_utf8_text_close_1007() -> None:
    assert server_fails(frame(Opcode.TEXT, b"\xff")) == 1007
    assert client_fails(frame(Opcode.TEXT, b"a\xed\xa0\x80", masked=False)) == 1007


def test_8_1_utf8_split_across_fragments_is_valid() -> None:
    server = ServerConnection()
    euro = "€".encode()
    server.receive_data(
        frame(Opcode.TEXT, euro[:1], fin=False)
        + frame(Opcode.CONTINUATION, euro[1:2], fin=False)
        + frame(Opcode.CONTINUATION, euro[2:])
    )
    assert server.events() == [Text("€")]


def test_8_1_invalid_utf8_fails_at_the_first_bad_fragment_not_at_the_end() -> None:
    server = ServerConnection()
    server.receive_data(frame(Opcode.TEXT, b"ok", fin=False))
    # The message is not finished, yet the bad byte is refused at once.
    with pytest.raises(WebSocketError) as info:
        server.receive_data(frame(Opcode.CONTINUATION, b"\xc0\xaf", fin=False))
    assert info.value.code == 1007
    assert sent_close(server.data_to_send())[0] == 1007


def test_8_1_truncated_utf8_at_the_end_of_the_message_close_1007() -> None:
    data = frame(Opcode.TEXT, b"\xe2\x82", fin=False) + frame(Opcode.CONTINUATION, b"")
    assert server_fails(data) == 1007


def test_5_5_1_close_reason_not_utf8_close_1007() -> None:
    assert server_fails(frame(Opcode.CLOSE, b"\x03\xe8\xff")) == 1007


# -- 5.5.1 / 7.4 close codes ---------------------------------------------------


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
def test_7_4_invalid_or_reserved_received_close_code_close_1002(code: int) -> None:
    assert server_fails(frame(Opcode.CLOSE, code.to_bytes(2, "big"))) == 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1012, 1014, 3000, 4999])
def test_7_4_valid_close_codes_are_echoed(code: int) -> None:
    server = ServerConnection()
    server.receive_data(frame(Opcode.CLOSE, code.to_bytes(2, "big") + b"why"))
    assert server.events() == [Close(code, "why")]
    # 5.5.1: the echo carries the same status code.
    assert sent_close(server.data_to_send()) == (code, b"")
    assert server.state is State.CLOSED and server.should_close


def test_5_5_1_one_byte_close_payload_close_1002() -> None:
    assert server_fails(frame(Opcode.CLOSE, b"\x03")) == 1002


def test_7_1_5_empty_close_is_reported_as_1005_and_echoed_empty() -> None:
    server = ServerConnection()
    server.receive_data(frame(Opcode.CLOSE))
    assert server.events() == [Close(CloseCode.NO_STATUS_RCVD, "")]
    assert server.data_to_send() == frame(Opcode.CLOSE, masked=False)


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_7_4_sending_a_reserved_close_code_is_a_local_error(code: int) -> None:
    server = ServerConnection()
    with pytest.raises(WebSocketLocalError):
        server.send_close(code)
    assert server.state is State.OPEN


def test_5_5_close_reason_over_123_bytes_is_a_local_error() -> None:
    with pytest.raises(WebSocketLocalError):
        ServerConnection().send_close(1000, "x" * 124)


# -- 5.5.2 / 5.5.3 ping and pong --------------------------------------------------


def test_5_5_2_ping_is_answered_automatically_and_still_reported() -> None:
    server, client = pair()
    client.send_ping(b"hb")
    assert pump(client, server) == [Ping(b"hb")]
    assert pump(server, client) == [Pong(b"hb")]


def test_5_5_2_ping_is_answered_while_closing() -> None:
    server, client = pair()
    server.send_close()
    client.send_ping(b"still there?")
    assert pump(client, server) == [Ping(b"still there?")]
    out = server.data_to_send()
    client.receive_data(out)
    assert client.events() == [Close(1000, "")]


def test_5_5_control_payload_over_125_bytes_is_a_local_error() -> None:
    server = ServerConnection()
    with pytest.raises(WebSocketLocalError):
        server.send_ping(b"x" * 126)
    with pytest.raises(WebSocketLocalError):
        server.send_pong(b"x" * 126)
    server.send_ping(b"x" * 125)
    server.send_pong(bytearray(b"x"))


# -- 7.1 closing handshake ----------------------------------------------------------


def test_7_1_2_server_initiated_closing_handshake() -> None:
    server, client = pair()
    server.send_close(CloseCode.GOING_AWAY, "bye")
    assert server.state is State.CLOSING and not server.should_close
    assert pump(server, client) == [Close(1001, "bye")]
    # The client echoed and is closed, but waits for the server's TCP FIN.
    assert client.state is State.CLOSED and not client.should_close
    assert pump(client, server) == [Close(1001, "")]
    assert state_of(server) is State.CLOSED and server.should_close
    assert server.data_to_send() == b""
    client.receive_eof()
    assert client.should_close and client.events() == []


def test_7_1_2_client_initiated_closing_handshake() -> None:
    server, client = pair()
    client.send_close(3000, "done")
    assert pump(client, server) == [Close(3000, "done")]
    assert server.should_close
    assert pump(server, client) == [Close(3000, "")]
    assert client.state is State.CLOSED and not client.should_close


def test_7_1_2_data_received_while_closing_is_still_delivered() -> None:
    server, client = pair()
    server.send_close()
    client.send_text("late")
    assert pump(client, server) == [Text("late")]
    assert server.state is State.CLOSING


def test_5_5_1_bytes_after_a_close_frame_are_ignored() -> None:
    server = ServerConnection()
    server.receive_data(frame(Opcode.CLOSE, b"\x03\xe8") + frame(Opcode.TEXT, b"x") + b"\xff")
    assert server.events() == [Close(1000, "")]
    server.receive_data(frame(Opcode.TEXT, b"ignored"))
    assert server.events() == []


@pytest.mark.parametrize("send", ["text", "binary", "close"])
def test_5_5_1_sending_data_or_close_after_close_is_a_local_error(send: str) -> None:
    server = ServerConnection()
    server.send_close()
    with pytest.raises(WebSocketLocalError):
        if send == "text":
            server.send_text("x")
        elif send == "binary":
            server.send_binary(b"x")
        else:
            server.send_close()
    assert server.state is State.CLOSING


def test_7_1_5_eof_without_close_is_abnormal_closure_1006() -> None:
    server = ServerConnection()
    server.receive_data(frame(Opcode.TEXT, b"partial", fin=False)[:3])
    server.receive_eof()
    assert server.events() == [Close(CloseCode.ABNORMAL_CLOSURE, "")]
    assert server.state is State.CLOSED and server.should_close
    with pytest.raises(WebSocketLocalError):
        server.send_ping()


def test_7_1_5_eof_while_closing_is_also_1006() -> None:
    client = ClientConnection()
    client.send_close()
    client.receive_eof()
    assert client.events() == [Close(1006, "")]
    assert client.should_close


# -- 7.1.7 failing the connection -----------------------------------------------------


def test_7_1_7_events_before_the_error_survive_and_later_input_is_discarded() -> None:
    server = ServerConnection()
    with pytest.raises(WebSocketError):
        server.receive_data(frame(Opcode.TEXT, b"ok") + frame(Opcode.TEXT, b"x", rsv=0x40))
    assert server.events() == [Text("ok")]
    code, reason = sent_close(server.data_to_send())
    assert code == 1002 and reason.startswith(b"reserved bits")
    server.receive_data(frame(Opcode.PING, b"discarded"))
    assert server.events() == [] and server.data_to_send() == b""
    server.receive_eof()
    assert server.events() == []
    with pytest.raises(WebSocketLocalError):
        server.send_text("no")


def test_7_1_7_error_while_closing_sends_no_second_close() -> None:
    server = ServerConnection()
    server.send_close()
    server.data_to_send()
    with pytest.raises(WebSocketError) as info:
        server.receive_data(frame(Opcode.TEXT, b"\xff"))
    assert info.value.code == 1007
    assert server.data_to_send() == b""
    assert server.state is State.CLOSED and server.should_close


def test_7_1_7_client_failure_close_frame_is_masked() -> None:
    client = ClientConnection(mask_source=lambda n: b"\x01\x02\x03\x04")
    assert client_fails(frame(Opcode.TEXT, b"\xff", masked=False)) == 1007
    with pytest.raises(WebSocketError):
        client.receive_data(frame(Opcode.BINARY, b"x", rsv=0x20, masked=False))
    assert client.data_to_send()[1] & 0x80
    assert client.should_close


def test_7_1_7_long_error_reason_is_cut_to_123_bytes_on_a_character_boundary() -> None:
    server = ServerConnection()
    server._fail(WebSocketError("é" * 100, 1008))
    code, reason = sent_close(server.data_to_send())
    assert code == 1008 and reason == "é".encode() * 61


# -- configuration -----------------------------------------------------------------


def test_config_is_frozen_and_validated() -> None:
    config = WSConfig()
    assert config.max_frame_size == config.max_message_size == 1 << 20
    with pytest.raises(AttributeError):
        config.max_frame_size = 1  # type: ignore[misc]
    with pytest.raises(WebSocketLocalError):
        WSConfig(max_frame_size=100)
    with pytest.raises(WebSocketLocalError):
        WSConfig(max_message_size=0)
    server = ServerConnection(WSConfig(max_message_size=5))
    server.receive_data(frame(Opcode.TEXT, b"12345"))
    assert server.events() == [Text("12345")]


def test_receive_empty_data_is_harmless() -> None:
    server = ServerConnection()
    server.receive_data(b"")
    assert server.events() == [] and server.state is State.OPEN
