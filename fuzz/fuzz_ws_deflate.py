"""Fuzz the WebSocket core with permessage-deflate negotiated (RFC 7692).

Two kinds of input, chosen by the first byte:

- raw bytes for a ``ServerConnection`` and a ``ClientConnection`` carrying
  a ``PerMessageDeflate`` with fuzzer-chosen parameters, cut in two at a
  fuzzer-chosen offset, fed both with ``receive_data`` (push) and with
  ``feed``/``next_event`` (pull): the two must give the same events, the
  same failure and the same bytes out;
- fuzzer-chosen messages, sent by one end (compressed, fragmented at
  fuzzer-chosen sizes, sometimes prepared once with ``prepare_text``) and
  read by the other: they must arrive unchanged, with no failure.

The only exceptions allowed out are the documented ones: a
``WebSocketError`` subclass (``ProtocolViolation``, ``InvalidPayload``,
``MessageTooBig``) whose class code is the code of the Close it queued.
Anything else is a bug.

Run: ``python fuzz/fuzz_ws_deflate.py -max_total_time=60 fuzz/corpus/fuzz_ws_deflate``
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
    )
    from rawpush.proto.ws.connection import Connection
    from rawpush.ws import (
        Binary,
        ClientConnection,
        PerMessageDeflate,
        ServerConnection,
        State,
        Text,
        WSConfig,
        prepare_text,
    )

CONFIG = WSConfig(max_frame_size=4096, max_message_size=8192)
DOCUMENTED = (ProtocolViolation, InvalidPayload, MessageTooBig)
KEY = b"\x01\x02\x03\x04"


def extension(fdp: atheris.FuzzedDataProvider) -> PerMessageDeflate:
    return PerMessageDeflate(
        send_max_window_bits=fdp.ConsumeIntInRange(8, 15),
        send_no_context_takeover=fdp.ConsumeBool(),
        receive_max_window_bits=fdp.ConsumeIntInRange(8, 15),
        receive_no_context_takeover=fdp.ConsumeBool(),
        max_message_size=CONFIG.max_message_size,
    )


def checked(exc: WebSocketError, conn: Connection) -> int:
    if type(exc) not in DOCUMENTED:
        raise AssertionError(f"undocumented {type(exc).__name__}") from exc
    if conn.state is not State.CLOSED:
        raise AssertionError("failed connection is not CLOSED") from exc
    return exc.code


def push(conn: Connection, chunks: list[bytes]) -> list[object]:
    seen: list[object] = []
    for chunk in chunks:
        try:
            conn.receive_data(chunk)
        except WebSocketError as exc:
            seen += [*conn.events(), checked(exc, conn)]
        seen += [*conn.events(), conn.data_to_send()]
    return seen


def pull(conn: Connection, chunks: list[bytes]) -> list[object]:
    seen: list[object] = []
    for chunk in chunks:
        conn.feed(chunk)
        try:
            for _ in range(len(chunk) + 1):
                event = conn.next_event()
                if event is None:
                    break
                seen.append(event)
            else:
                raise AssertionError("next_event() never returned None")
        except WebSocketError as exc:
            seen.append(checked(exc, conn))
        seen.append(conn.data_to_send())
    if conn.next_event() is not None:
        raise AssertionError("an event after next_event() returned None")
    return seen


def raw(fdp: atheris.FuzzedDataProvider) -> None:
    params = fdp.ConsumeBytes(4)
    split = fdp.ConsumeIntInRange(0, 1 << 16)
    rest = fdp.ConsumeBytes(fdp.remaining_bytes())
    split = min(split, len(rest))
    chunks = [rest[:split], rest[split:]]
    for cls in (ServerConnection, ClientConnection):
        results = []
        for run in (push, pull):
            ext = extension(atheris.FuzzedDataProvider(params))
            conn = cls(CONFIG, extension=ext, mask_source=lambda n: KEY)
            results.append(run(conn, chunks))
            conn.receive_eof()
        if results[0] != results[1]:
            raise AssertionError(f"push and pull differ: {results[0]!r} != {results[1]!r}")


def round_trip(fdp: atheris.FuzzedDataProvider) -> None:
    # Parameters a negotiation could agree on: the sender's window fits in
    # the receiver's, and a receiver that resets has a sender that does.
    receive_bits = fdp.ConsumeIntInRange(8, 15)
    receive_reset = fdp.ConsumeBool()
    sender_ext = PerMessageDeflate(
        send_max_window_bits=fdp.ConsumeIntInRange(8, receive_bits),
        send_no_context_takeover=receive_reset or fdp.ConsumeBool(),
    )
    receiver_ext = PerMessageDeflate(
        receive_max_window_bits=receive_bits,
        receive_no_context_takeover=receive_reset,
        max_message_size=CONFIG.max_message_size,
    )
    if fdp.ConsumeBool():
        sender: Connection = ClientConnection(CONFIG, extension=sender_ext)
        receiver: Connection = ServerConnection(CONFIG, extension=receiver_ext)
    else:
        sender = ServerConnection(CONFIG, extension=sender_ext)
        receiver = ClientConnection(CONFIG, extension=receiver_ext)
    sent: list[object] = []
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        size = fdp.ConsumeIntInRange(0, 2048)
        if fdp.ConsumeBool():
            text = fdp.ConsumeUnicodeNoSurrogates(size)
            if len(text.encode()) > CONFIG.max_message_size:
                continue
            if fdp.ConsumeBool():
                sender.send_prepared(prepare_text(text))
            else:
                cut = fdp.ConsumeIntInRange(0, len(text))
                sender.send_text(text[:cut], fin=False)
                sender.send_text(text[cut:])
            sent.append(Text(text))
        else:
            data = fdp.ConsumeBytes(size)
            cut = fdp.ConsumeIntInRange(0, len(data))
            sender.send_binary(data[:cut], fin=False)
            sender.send_binary(data[cut:])
            sent.append(Binary(data))
    wire = sender.data_to_send()
    got: list[object] = []
    step = fdp.ConsumeIntInRange(1, 64)
    for pos in range(0, len(wire), step):
        receiver.receive_data(wire[pos : pos + step])
        got += receiver.events()
    if got != sent:
        raise AssertionError(f"sent {sent!r}, received {got!r}")


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        raw(fdp)
    else:
        round_trip(fdp)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
