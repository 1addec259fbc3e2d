"""Fuzz the HTTP/2 core: ``rawpush.proto.h2.H2Connection`` answering as a
server would (responses, RFC 8441 tunnels echoing their bytes, errors).

The input is what a client sends after its preface (the harness adds the
preface, so mutations reach the frames). The only exception allowed out of
``receive_data`` is ``H2Error``, after which a GOAWAY with its code must be
queued and the connection must refuse more input with
``LocalProtocolError``. Feeding the same bytes whole must end the same
way as feeding them in fuzzer-chosen pieces: the same error code (the
flood guard and h2 both decide on the frame, never on the cut), or, when
neither failed, the same requests.
"""

from __future__ import annotations

import itertools
import sys

import atheris

with atheris.instrument_imports():
    # h2, hpack and hyperframe are instrumented too: they do the parsing.
    import h2.connection

    from rawpush.proto.errors import H2Error, HTTPError, LocalProtocolError
    from rawpush.proto.h2 import (
        PREFACE,
        ConnectionEnded,
        DataReceived,
        H2Config,
        H2Connection,
        RequestReceived,
        RequestRefused,
    )
    from rawpush.proto.http import HTTPConfig

Outcome = tuple[list[tuple[int, str, str, bytes]], int | None]


def _goaway_code(data: bytes) -> int | None:
    at = 0
    found = None
    while at + 9 <= len(data):
        length = int.from_bytes(data[at : at + 3], "big")
        if data[at + 3] == 0x7 and length >= 8:
            found = int.from_bytes(data[at + 13 : at + 17], "big")
        at += 9 + length
    return found


def _answer(conn: H2Connection, event: object) -> None:
    try:
        if isinstance(event, RequestReceived):
            if event.tunnel:
                conn.accept_tunnel(event.stream_id, [("Sec-WebSocket-Protocol", "x")])
            else:
                conn.respond(event.stream_id, 200, [("X-Path", event.request.path)], b"ok" * 9)
        elif isinstance(event, RequestRefused):
            if not 400 <= event.error.status <= 599:
                raise AssertionError(f"refusal status {event.error.status}")
            conn.respond_error(event.stream_id, event.error)
        elif isinstance(event, DataReceived):
            conn.send_data(event.stream_id, event.data)
    except LocalProtocolError:
        # The peer closed or reset the stream in the same bytes: a send to
        # it is refused, which is the documented local error.
        pass


def _serve(chunks: list[bytes], config: H2Config) -> Outcome:
    conn = H2Connection(config)
    conn.data_to_send()
    requests: list[tuple[int, str, str, bytes]] = []
    for chunk in chunks:
        try:
            events = conn.receive_data(chunk)
        except H2Error as exc:
            if _goaway_code(conn.data_to_send()) != exc.code:
                raise AssertionError(f"no GOAWAY with code {exc.code}") from exc
            try:
                conn.receive_data(b"more")
            except LocalProtocolError:
                return requests, exc.code
            raise AssertionError("a failed connection took more input") from exc
        except HTTPError as exc:  # never: refusals are events
            raise AssertionError(f"HTTPError escaped: {exc!r}") from exc
        for event in events:
            if isinstance(event, RequestReceived):
                request = event.request
                requests.append((event.stream_id, request.method, request.target, request.body))
            if isinstance(event, ConnectionEnded):
                if not conn.should_close:
                    raise AssertionError("a peer GOAWAY must close")
                return requests, None
            _answer(conn, event)
        conn.data_to_send()
    return requests, None


def TestOneInput(data: bytes) -> None:
    # 0: bit 0 small flood limits, bit 1 small header and body limits,
    #    bits 2-4 number of cuts; then 2 bytes a cut; then the frames.
    if len(data) < 1:
        return
    small = bool(data[0] & 1)
    http = HTTPConfig(max_header_bytes=256, max_body_bytes=64) if data[0] & 2 else HTTPConfig()
    config = H2Config(
        http=http,
        max_concurrent_streams=4 if small else 100,
        flood_window=32 if small else 1000,
        max_resets=3 if small else 100,
        max_pings=3 if small else 100,
        max_settings=3 if small else 100,
        max_empty_frames=3 if small else 100,
    )
    end = 1 + 2 * (data[0] >> 2 & 7)
    cuts = [int.from_bytes(data[i : i + 2], "big") for i in range(1, end, 2)]
    stream = PREFACE + data[end:]
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    split = _serve(chunks, config)
    whole = _serve([stream], config)
    if split[1] != whole[1]:
        raise AssertionError(f"split ended with {split[1]}, whole with {whole[1]}")
    if split[1] is None and split[0] != whole[0]:
        raise AssertionError(f"split {split[0]!r} != whole {whole[0]!r}")


def _seeds() -> list[bytes]:
    """Inputs for fuzz/corpus/fuzz_h2: a GET, a POST with a body, a
    WebSocket tunnel (``python fuzz/fuzz_h2.py --seeds DIR`` writes them)."""
    out = []
    for kind in ("get", "post", "connect"):
        client = h2.connection.H2Connection()
        client.initiate_connection()
        base = [(":scheme", "https"), (":authority", "a.test")]
        if kind == "get":
            fields = [(":method", "GET"), (":path", "/x?a=1")]
            client.send_headers(1, [*fields, *base], end_stream=True)
        elif kind == "post":
            client.send_headers(1, [(":method", "POST"), (":path", "/p/c"), *base])
            client.send_data(1, b"hello", end_stream=True)
        else:
            fields = [(":method", "CONNECT"), (":protocol", "websocket"), (":path", "/ws/c")]
            client.send_headers(1, [*fields, *base, ("sec-websocket-version", "13")])
            client.send_data(1, b"\x81\x82abcd\x00\x00")
        out.append(b"\x00" + client.data_to_send()[len(PREFACE) :])
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--seeds"]:
        import pathlib

        target = pathlib.Path(sys.argv[2])
        target.mkdir(parents=True, exist_ok=True)
        for n, seed in enumerate(_seeds()):
            (target / f"seed-{n}").write_bytes(seed)
        sys.exit(0)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
