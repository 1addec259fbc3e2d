"""Fuzz the WebSocket frame layer and connection state machine.

Arbitrary bytes go to a ServerConnection and a ClientConnection, cut in
two at a fuzzer-chosen offset, followed by EOF; some sends (plain and
prepared) are attempted in between. Each input runs twice, once through
``receive_data`` (push) and once through ``feed``/``next_event`` (pull):
both must give the same events, failures and bytes out. The only
exceptions allowed out are the documented ones: a ``WebSocketError``
subclass (the peer broke RFC 6455) and ``WebSocketLocalError`` (a send the
state forbids). Anything else is a bug.

Run: ``python fuzz/fuzz_ws_frames.py -max_total_time=60 fuzz/corpus/fuzz_ws_frames``
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from rawpush.proto.errors import (
        InvalidPayload,
        MessageTooBig,
        ProtocolViolation,
        WebSocketError,
        WebSocketLocalError,
    )
    from rawpush.proto.ws.connection import Connection
    from rawpush.ws import ClientConnection, ServerConnection, State, WSConfig, prepare_text

CONFIG = WSConfig(max_frame_size=4096, max_message_size=8192)
DOCUMENTED = (ProtocolViolation, InvalidPayload, MessageTooBig)
PREPARED = prepare_text("prepared")


def receive(conn: Connection, chunk: bytes, pull: bool, seen: list[object]) -> None:
    """Feed one chunk; the events go to ``seen`` as they come."""
    if not pull:
        try:
            conn.receive_data(chunk)
        finally:
            seen += conn.events()
        return
    conn.feed(chunk)
    for _ in range(len(chunk) + 1):
        event = conn.next_event()
        if event is None:
            return
        seen.append(event)
    raise AssertionError("next_event() never returned None")


def exercise(conn: Connection, chunks: list[bytes], send: int, pull: bool) -> list[object]:
    seen: list[object] = []
    for chunk in chunks:
        try:
            receive(conn, chunk, pull, seen)
        except WebSocketError as exc:
            if type(exc) not in DOCUMENTED or exc.code != type(exc).code:
                raise AssertionError(f"undocumented {exc!r}") from exc
            if conn.state is not State.CLOSED:
                raise AssertionError("failed connection is not CLOSED") from exc
            seen.append(exc.code)
        seen.append(conn.data_to_send())
        try:
            if send & 1:
                conn.send_text("x", fin=bool(send & 2))
            if send & 4:
                conn.send_ping(b"p")
            if send & 16:
                conn.send_prepared(PREPARED)
            if send & 8:
                conn.send_close(1000)
        except WebSocketLocalError:
            pass
        seen.append(conn.data_to_send())
    conn.receive_eof()
    seen += conn.events()
    return seen


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    split = fdp.ConsumeIntInRange(0, 1 << 16)
    send = fdp.ConsumeIntInRange(0, 31)
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    split = min(split, len(rest))
    chunks = [rest[:split], rest[split:]]
    for cls in (ServerConnection, ClientConnection):
        runs = [
            exercise(cls(CONFIG, mask_source=lambda n: b"\x01\x02\x03\x04"), chunks, send, pull)
            for pull in (False, True)
        ]
        if runs[0] != runs[1]:
            raise AssertionError(f"push and pull differ: {runs[0]!r} != {runs[1]!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
