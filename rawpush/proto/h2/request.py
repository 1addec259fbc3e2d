"""Between HTTP/2 header lists and rawpush's ``Request``.

A request arrives as one header list with pseudo-header fields (RFC 9113
section 8.3.1); the routes read the same ``Request`` HTTP/1.1 gives them,
with ``:authority`` as its ``host`` (section 8.3.1: it stands for Host)
and ``http_version`` "2.0". An RFC 8441 extended CONNECT is presented as
the HTTP/1.1 upgrade request it stands for (section 5): a GET with
``Upgrade: websocket``, so the one WebSocket handshake check serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_request import HTTPConfig, Request, split_target

__all__ = ["response_fields", "to_request"]

#: RFC 9113 section 8.2.2: connection-specific fields are malformed in
#: HTTP/2; a host's HTTP/1.1-minded headers lose them on the way out
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
#: what the 200 of an extended CONNECT leaves out of a 101's headers too:
#: RFC 8441 section 5 has no key and so no accept
_NOT_IN_TUNNEL_REPLY = _CONNECTION_SPECIFIC | {"sec-websocket-accept"}
#: RFC 8441 section 5 drops Sec-WebSocket-Key; the HTTP/1.1 form needs one
#: to pass the RFC 6455 check (base64 of 16 zero bytes: its value is unused)
_PLACEHOLDER_KEY = "AAAAAAAAAAAAAAAAAAAAAA=="


def to_request(
    fields: Iterable[tuple[bytes, bytes]], config: HTTPConfig, body: bytes = b""
) -> tuple[Request, bool]:
    """The ``Request`` a header list (validated by h2) stands for, and
    whether it opens a WebSocket tunnel; ``HTTPError`` for one we refuse."""
    pseudo: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for raw_name, raw_value in fields:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name.startswith(":"):
            pseudo[name] = value
        else:
            headers.append((name, value))
    method = pseudo.get(":method", "")
    authority = pseudo.get(":authority")
    if authority is not None and not any(name == "host" for name, _ in headers):
        headers.insert(0, ("host", authority))
    tunnel = False
    if method == "CONNECT":
        protocol = pseudo.get(":protocol")
        if protocol is None:
            # A plain tunnel is nothing a push server offers (section 8.5).
            raise HTTPError("CONNECT is not supported", 501)
        if protocol.lower() != "websocket":
            raise HTTPError(f"no {protocol!r} over CONNECT here (RFC 8441)", 501)
        tunnel = True
        method = "GET"
        headers += [("upgrade", "websocket"), ("connection", "upgrade")]
        if not any(name == "sec-websocket-key" for name, _ in headers):
            headers.append(("sec-websocket-key", _PLACEHOLDER_KEY))
    target = pseudo.get(":path", "")
    if len(target) > config.max_target_bytes:
        raise HTTPError("request-target too long", 414)
    path, query = split_target(target, config.max_query_fields)
    request = Request(
        method=method,
        target=target,
        path=path,
        query=query,
        headers=tuple(headers),
        # The tunnel's handshake check reads it as the upgrade it stands for.
        http_version="1.1" if tunnel else "2.0",
        body=body,
        keep_alive=True,
    )
    return request, tunnel


def response_fields(
    status: int, headers: Sequence[tuple[str, str]], *, tunnel: bool = False
) -> list[tuple[bytes, bytes]]:
    """``:status`` and ``headers`` as HTTP/2 fields: names lower-cased
    (section 8.2.2), connection-specific ones left out."""
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 999:
        raise LocalProtocolError(f"{status!r} is not a final status")
    drop = _NOT_IN_TUNNEL_REPLY if tunnel else _CONNECTION_SPECIFIC
    fields = [(b":status", str(status).encode("ascii"))]
    try:
        for name, value in headers:
            lower = name.lower()
            if lower not in drop:
                fields.append((lower.encode("latin-1"), value.encode("latin-1")))
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"header not encodable as latin-1: {exc}") from exc
    except (AttributeError, TypeError, ValueError) as exc:
        raise LocalProtocolError(f"headers must be (str, str) pairs: {exc}") from exc
    return fields
