"""RFC 6455 section 5.2, opcodes: 0x3-0x7 (data) and 0xB-0xF (control)
are reserved; "If an unknown opcode is received, the receiving endpoint
MUST _Fail the WebSocket Connection_". Autobahn category 4."""

from __future__ import annotations

import pytest

from tests.conformance.rawclient import PING, PONG, TEXT, RawClient, frame

RESERVED = [*range(0x3, 0x8), *range(0xB, 0x10)]


@pytest.mark.parametrize("opcode", RESERVED, ids=lambda o: f"op{o:#x}")
def test_5_2_reserved_opcode_is_1002(ws: RawClient, opcode: int) -> None:
    ws.send(frame(opcode))
    ws.expect_close(1002)


@pytest.mark.parametrize("opcode", RESERVED, ids=lambda o: f"op{o:#x}")
def test_5_2_reserved_opcode_with_payload_after_echo_and_pong(ws: RawClient, opcode: int) -> None:
    ws.send(frame(TEXT, b"hello"))
    ws.expect_message(TEXT, b"hello")
    ws.send(frame(opcode, b"reserved payload"), frame(PING, b"never answered"))
    ws.expect_close(1002)


@pytest.mark.parametrize("opcode", RESERVED, ids=lambda o: f"op{o:#x}")
def test_5_2_reserved_opcode_not_final(ws: RawClient, opcode: int) -> None:
    ws.send(frame(opcode, b"x", fin=False))
    ws.expect_close(1002)


def test_5_2_ping_before_reserved_opcode_is_answered(ws: RawClient) -> None:
    ws.send(frame(PING, b"first"))
    ws.expect_message(PONG, b"first")
    ws.send(frame(0x5))
    ws.expect_close(1002)
