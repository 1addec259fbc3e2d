"""Fuzz the WebSocket opening handshake, both sides.

Each input becomes bytes for a ``ServerHandshake`` (as the request) and a
``ClientHandshake`` (as the response), cut in two at a fuzzer-chosen offset,
sometimes followed by EOF. The bytes are either raw, or fuzzer-chosen header
lines and trailing bytes around a valid head, so validation is reached too.

Allowed out: ``HandshakeError`` (the peer's bytes were refused). After one,
``ServerHandshake.reject()`` must produce a response. Beyond "no other
exception", the harness checks that the outcome does not depend on where the
bytes were cut, and that ``trailing_data`` is exactly what followed the head.

Run: ``python fuzz/fuzz_ws_handshake.py -max_total_time=60 fuzz/corpus/fuzz_ws_handshake``
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from rawpush.proto.errors import HandshakeError
    from rawpush.proto.ws.handshake import HandshakeRequest, ServerHandshake
    from rawpush.proto.ws.handshake_client import ClientHandshake, HandshakeResponse

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
REQUEST_HEAD = (
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)
RESPONSE_HEAD = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + ACCEPT.encode() + b"\r\n"
)
MAX_HEADER_BYTES = 512

Outcome = HandshakeRequest | HandshakeResponse | int | None


def run_server(chunks: list[bytes], eof: bool, origins: bool) -> tuple[Outcome, bytes]:
    server = ServerHandshake(
        subprotocols=["chat", "superchat"],
        allowed_origins=["https://example.com"] if origins else None,
        max_header_bytes=MAX_HEADER_BYTES,
    )
    result: Outcome = None
    try:
        for chunk in chunks:
            result = server.receive_data(chunk)
        if eof:
            result = server.receive_eof()
    except HandshakeError as exc:
        if not 400 <= exc.status <= 599:
            raise AssertionError(f"refusal with status {exc.status}") from exc
        answer = server.reject()
        if answer and not answer.startswith(b"HTTP/1.1 %d " % exc.status):
            raise AssertionError("reject() does not answer with the error's status") from exc
        return exc.status, b""
    if result is None:
        return None, b""
    trailing = server.trailing_data
    if not server.accept().startswith(b"HTTP/1.1 101 "):
        raise AssertionError("accept() did not write a 101")
    if server.trailing_data != trailing:
        raise AssertionError("accept() changed trailing_data")
    return result, trailing


def run_client(chunks: list[bytes], eof: bool) -> tuple[Outcome, bytes]:
    client = ClientHandshake(
        "example.com", "/chat", subprotocols=["chat"], key=KEY, max_header_bytes=MAX_HEADER_BYTES
    )
    client.data_to_send()
    result: HandshakeResponse | None = None
    try:
        for chunk in chunks:
            result = client.receive_data(chunk)
        if eof:
            result = client.receive_eof()
    except HandshakeError as exc:
        return exc.status, b""
    if result is not None and result.status != 101:
        raise AssertionError(f"accepted a {result.status}")
    return result, client.trailing_data


def check_split(run_whole: tuple[Outcome, bytes], run_split: tuple[Outcome, bytes]) -> None:
    if run_whole != run_split:
        raise AssertionError(f"outcome depends on the split: {run_whole!r} != {run_split!r}")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 2)
    eof = fdp.ConsumeBool()
    origins = fdp.ConsumeBool()
    cut = fdp.ConsumeIntInRange(0, 1 << 16)
    lines = rest = b""
    if mode == 0:
        request = response = fdp.ConsumeBytes(fdp.remaining_bytes())
    else:
        lines = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
        rest = fdp.ConsumeBytes(fdp.remaining_bytes())
        if mode == 1:  # header lines of the fuzzer's own, then trailing bytes
            request = REQUEST_HEAD + lines + b"\r\n" + rest
            response = RESPONSE_HEAD + lines + b"\r\n" + rest
        else:  # a valid head and whatever follows it
            request = REQUEST_HEAD + b"\r\n" + lines + rest
            response = RESPONSE_HEAD + b"\r\n" + lines + rest

    def server(chunks: list[bytes]) -> tuple[Outcome, bytes]:
        return run_server(chunks, eof, origins)

    def client(chunks: list[bytes]) -> tuple[Outcome, bytes]:
        return run_client(chunks, eof)

    for payload, run in ((request, server), (response, client)):
        at = cut % (len(payload) + 1)
        outcome = run([payload[:at], payload[at:]])
        check_split(run([payload]), outcome)
        result, trailing = outcome
        if not isinstance(result, HandshakeRequest | HandshakeResponse):
            continue
        expected = lines + rest if mode == 2 else payload[len(payload) - len(trailing) :]
        if trailing != expected or not payload.endswith(trailing):
            raise AssertionError("trailing_data is not what followed the head")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
