"""Fuzz the WebSocket frame layer and connection state machine.

Arbitrary bytes go to a ServerConnection and a ClientConnection, cut in
two at a fuzzer-chosen offset, followed by EOF; some sends are attempted
in between. The only exceptions allowed out are the documented ones:
``WebSocketError`` (the peer broke RFC 6455) and ``WebSocketLocalError``
(a send the state forbids). Anything else is a bug.

Run: ``python fuzz/fuzz_ws_frames.py -max_total_time=60 fuzz/corpus/fuzz_ws_frames``
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from rawpush.proto.errors import WebSocketError, WebSocketLocalError
    from rawpush.proto.ws.connection import Connection
    from rawpush.ws import ClientConnection, ServerConnection, State, WSConfig

CONFIG = WSConfig(max_frame_size=4096, max_message_size=8192)


def exercise(conn: Connection, first: bytes, second: bytes, send: int) -> None:
    for chunk in (first, second):
        try:
            conn.receive_data(chunk)
        except WebSocketError as exc:
            if not 1000 <= exc.code <= 4999:
                raise AssertionError(f"bad close code {exc.code}") from exc
            if conn.state is not State.CLOSED:
                raise AssertionError("failed connection is not CLOSED") from exc
        conn.events()
        conn.data_to_send()
        try:
            if send & 1:
                conn.send_text("x", fin=bool(send & 2))
            if send & 4:
                conn.send_ping(b"p")
            if send & 8:
                conn.send_close(1000)
        except WebSocketLocalError:
            pass
        conn.data_to_send()
    conn.receive_eof()
    conn.events()


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    split = fdp.ConsumeIntInRange(0, 1 << 16)
    send = fdp.ConsumeIntInRange(0, 15)
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    split = min(split, len(rest))
    for cls in (ServerConnection, ClientConnection):
        exercise(cls(CONFIG, mask_source=lambda n: b"\x01\x02\x03\x04"), rest[:split],
                 rest[split:], send)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
