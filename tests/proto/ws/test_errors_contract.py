"""The error contract of the WebSocket core (rawpush.proto.errors).

Each failure raises the subclass that names it, whose class attribute
``code`` is the close code RFC 6455 section 7.4.1 gives it; misuse raises
``LocalProtocolError`` (``WebSocketLocalError``), never ``ValueError``.
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import (
    HandshakeError,
    InvalidPayload,
    LocalProtocolError,
    MessageTooBig,
    ProtocolViolation,
    RawpushError,
    RemoteProtocolError,
    SSEDecodeError,
    SSEEncodeError,
    WebSocketError,
    WebSocketLocalError,
)
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import (
    DeflateParams,
    PerMessageDeflate,
    ServerConnection,
    WSConfig,
    parse_extensions,
)
from tests.proto.ws.test_frames_5 import frame, sent_close


def test_7_4_1_every_error_has_one_root_and_a_direction() -> None:
    assert issubclass(LocalProtocolError, RawpushError)
    assert issubclass(RemoteProtocolError, RawpushError)
    for local in (WebSocketLocalError, SSEEncodeError):
        assert issubclass(local, LocalProtocolError)
    for remote in (WebSocketError, HandshakeError, SSEDecodeError):
        assert issubclass(remote, RemoteProtocolError)


@pytest.mark.parametrize(
    ("cls", "code"), [(ProtocolViolation, 1002), (InvalidPayload, 1007), (MessageTooBig, 1009)]
)
def test_7_4_1_close_codes_are_class_attributes(cls: type[WebSocketError], code: int) -> None:
    assert issubclass(cls, WebSocketError)
    assert cls.code == code
    exc = cls("why")
    assert exc.code == code
    assert exc.reason == str(exc) == "why"


def test_7_4_1_a_plain_websocket_error_still_takes_its_code() -> None:
    exc = WebSocketError("gone", 1011)
    assert (exc.code, exc.reason) == (1011, "gone")
    assert WebSocketError("default").code == 1002


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        (frame(Opcode.TEXT, b"x", rsv=0x20), ProtocolViolation),  # 5.2 RSV
        (frame(Opcode.CONTINUATION, b"x"), ProtocolViolation),  # 5.4
        (frame(Opcode.CLOSE, b"\x03"), ProtocolViolation),  # 5.5.1
        (frame(Opcode.TEXT, b"\xff"), InvalidPayload),  # 8.1
        (frame(Opcode.CLOSE, b"\x03\xe8\xff"), InvalidPayload),  # 5.5.1 reason
        (frame(Opcode.BINARY, bytes(200)), MessageTooBig),  # frame over the limit
        (
            frame(Opcode.TEXT, b"a", fin=False) + frame(Opcode.CONTINUATION, b"a" * 150),
            MessageTooBig,
        ),
    ],
)
def test_7_4_1_the_core_raises_the_specific_subclass(data: bytes, cls: type) -> None:
    conn = ServerConnection(WSConfig(max_frame_size=160, max_message_size=150))
    with pytest.raises(WebSocketError) as info:
        conn.receive_data(data)
    assert type(info.value) is cls
    assert sent_close(conn.data_to_send())[0] == cls.code


def test_7_2_2_deflate_failures_are_specific_subclasses() -> None:
    conn = ServerConnection(extension=PerMessageDeflate())
    with pytest.raises(InvalidPayload):
        conn.receive_data(frame(Opcode.BINARY, b"\xff\xff\xff", rsv=0x40))
    conn = ServerConnection(extension=PerMessageDeflate())
    data = frame(Opcode.BINARY, b"", fin=False, rsv=0x40) + frame(Opcode.CONTINUATION, rsv=0x40)
    with pytest.raises(ProtocolViolation):
        conn.receive_data(data)


def test_9_1_bad_extension_syntax_is_a_remote_handshake_error_400() -> None:
    # The header comes from the peer: a remote error, not a ValueError.
    with pytest.raises(HandshakeError) as info:
        parse_extensions(["permessage-deflate;"])
    assert info.value.status == 400


@pytest.mark.parametrize(
    "build",
    [
        lambda: WSConfig(max_frame_size=10),
        lambda: DeflateParams(level=12),
        lambda: PerMessageDeflate(send_max_window_bits=20),
    ],
)
def test_misuse_in_constructors_is_a_local_protocol_error(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]
