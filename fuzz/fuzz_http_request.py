"""Fuzz the server's HTTP request path: HTTPConnection, then the route
helpers that read a parsed request (parse_poll_request, resume_id).

The fuzzer picks the limits and how the bytes are cut into chunks. The
only exception allowed out is ``HTTPError``, and every refusal must still
produce a response that an independent h11 client parses. Feeding the
same bytes whole must give the same requests, up to the point where one
of the two runs refused; when the refusal is about a head (431 or 414,
which HeadReader decides on the bytes alone), both runs must refuse it
the same way. (A chunk-size line in a body is still bounded by h11's own
check on what is buffered, so there the cuts can matter.)
"""

from __future__ import annotations

import itertools
import sys

import atheris

with atheris.instrument_imports():
    # h11 is instrumented too: most of the parsing happens in it.
    import h11

    from rawpush.proto.errors import HTTPError
    from rawpush.proto.http import HTTPConfig, HTTPConnection, Request
    from rawpush.proto.http_sse import resume_id
    from rawpush.proto.longpoll import parse_poll_request

Outcome = tuple[list[Request], int | None]


def _check_response(conn: HTTPConnection, data: bytes) -> None:
    """An h11 client must read a complete response from ``data``."""
    client = h11.Connection(h11.CLIENT)
    # A response to HEAD has a Content-Length but no body; the client must
    # know it asked HEAD to read it (RFC 9110 section 9.3.2).
    method = "HEAD" if conn._method == b"HEAD" else "GET"
    client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    client.receive_data(b"")
    events: list[object] = []
    while not events or not isinstance(events[-1], h11.EndOfMessage | h11.ConnectionClosed):
        event = client.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            raise AssertionError(f"incomplete response {data!r}")
        events.append(event)
    if not isinstance(events[0], h11.Response):
        raise AssertionError(f"not a response: {events!r}")


def _route(conn: HTTPConnection, request: Request) -> bytes:
    try:
        poll = parse_poll_request(request, "c", max_timeout=5.0, default_timeout=1.0)
        last_id = resume_id(request)
    except HTTPError as exc:
        return conn.respond_error(exc)
    if not 0 <= poll.timeout <= 5.0:
        raise AssertionError(f"timeout escaped its clamp: {poll!r}")
    if last_id is not None and (not last_id or set(last_id) & set("\0\r\n")):
        raise AssertionError(f"bad resume id {last_id!r}")
    if request.header("upgrade"):
        return conn.switch_protocols([("Upgrade", "websocket"), ("Connection", "Upgrade")])
    return conn.respond_json(200, {"path": request.path, "n": len(request.body)})


def _serve(chunks: list[bytes], config: HTTPConfig, eof: bool) -> Outcome:
    conn = HTTPConnection(config)
    requests: list[Request] = []
    try:
        for chunk in [*chunks, b""]:
            if chunk:
                conn.receive_data(chunk)
            elif eof:
                conn.receive_eof()
            while (request := conn.next_request()) is not None:
                requests.append(request)
                out = _route(conn, request)
                if conn.switched:
                    return requests, None
                _check_response(conn, out)
                if conn.should_close:
                    return requests, None
    except HTTPError as exc:
        if not 400 <= exc.status <= 599:
            raise AssertionError(f"status {exc.status} for {chunks!r}") from exc
        _check_response(conn, conn.respond_error(exc))
        if not conn.should_close:
            raise AssertionError("a refused connection must close") from exc
        return requests, exc.status
    return requests, None


def TestOneInput(data: bytes) -> None:
    # A fixed little header, read by hand rather than with atheris's
    # FuzzedDataProvider (which takes integers from the end of the input):
    # the rest stays one contiguous stream, so seed requests (and their
    # mutations) remain recognisable HTTP.
    #   0-1 max_header_bytes, 2 max_body_bytes, 3 max_query_fields and
    #   max_target_bytes, 4 bit 0: end with EOF, bits 1-3: number of cuts;
    #   then 2 bytes a cut.
    if len(data) < 5:
        return
    config = HTTPConfig(
        max_header_bytes=16 + int.from_bytes(data[0:2], "big") % 1009,
        max_body_bytes=data[2],
        max_query_fields=1 + data[3] % 8,
        max_target_bytes=1 + (data[3] >> 3) * 16,
    )
    eof = bool(data[4] & 1)
    end = 5 + 2 * (data[4] >> 1 & 7)
    cuts = [int.from_bytes(data[i : i + 2], "big") for i in range(5, end, 2)]
    stream = data[end:]
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    split_requests, split_error = _serve(chunks, config, eof)
    whole_requests, whole_error = _serve([stream], config, eof)
    shorter = min(len(split_requests), len(whole_requests))
    if split_requests[:shorter] != whole_requests[:shorter]:
        raise AssertionError(f"split {split_requests!r} != whole {whole_requests!r}")
    if split_error is None and whole_error is None and split_requests != whole_requests:
        raise AssertionError(f"split {split_requests!r} != whole {whole_requests!r}")
    # Both runs stopped at the same request and one refused its head: so
    # must the other, with the same status.
    head_errors = {431, 414}
    if (
        len(split_requests) == len(whole_requests)
        and (split_error in head_errors or whole_error in head_errors)
        and split_error != whole_error
    ):
        raise AssertionError(f"head refused differently: split {split_error}, whole {whole_error}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
