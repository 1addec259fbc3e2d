"""RFC 6455 section 5.2, RSV1-3: "MUST be 0 unless an extension is
negotiated" (none is, here). Autobahn category 3: every combination on
every kind of frame, alone and after a valid message that must be echoed
first."""

from __future__ import annotations

import pytest

from tests.conformance.rawclient import BINARY, CLOSE, CONT, PING, PONG, TEXT, RawClient, frame

RSV = list(range(1, 8))  # RSV1 = 4, RSV2 = 2, RSV3 = 1, and their unions


def rsv_id(rsv: int) -> str:
    return "rsv" + "".join(str(i + 1) for i, bit in enumerate((4, 2, 1)) if rsv & bit)


@pytest.mark.parametrize("rsv", RSV, ids=rsv_id)
@pytest.mark.parametrize(
    "opcode", [TEXT, BINARY, PING, PONG, CLOSE], ids=["text", "binary", "ping", "pong", "close"]
)
def test_5_2_reserved_bits_are_1002(ws: RawClient, opcode: int, rsv: int) -> None:
    payload = b"\x03\xe8" if opcode == CLOSE else b"rsv"
    ws.send(frame(opcode, payload, rsv=rsv))
    ws.expect_close(1002)


@pytest.mark.parametrize("rsv", RSV, ids=rsv_id)
def test_5_2_reserved_bits_after_a_good_message(ws: RawClient, rsv: int) -> None:
    ws.send(frame(TEXT, b"good"))
    ws.expect_message(TEXT, b"good")
    ws.send(frame(TEXT, b"bad", rsv=rsv))
    ws.expect_close(1002)


@pytest.mark.parametrize("rsv", RSV, ids=rsv_id)
def test_5_2_reserved_bits_on_a_continuation(ws: RawClient, rsv: int) -> None:
    ws.send(frame(TEXT, b"first ", fin=False), frame(CONT, b"second", rsv=rsv))
    ws.expect_close(1002)
