"""From an ASGI scope to rawpush's ``Request``, and from an answer back to
ASGI messages.

Routing reads the raw path, never a percent-decoded one (RFC 3986 section
2.2: an encoded ``/`` is data, not a separator), so the path comes from
``scope["raw_path"]`` when the server gives it. When the app is mounted,
``root_path`` names the prefix; servers and frameworks disagree on whether
``path``/``raw_path`` still carry that prefix (Starlette's ``Mount`` keeps
the full path, ``uvicorn --root-path`` does not), so the prefix is cut off
only when the path starts with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, unquote

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers, Request, json_bytes
from rawpush.proto.http_request import HTTPConfig, split_target
from rawpush.server.answers import Refusal, Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_TYPE = ("Content-Type", "application/json")
# What a decoded path may keep as it is when no raw path was given: the
# characters RFC 3986 section 3.3 allows in a segment, and "/".
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _strip_root(raw: str, root: str) -> str:
    """``raw`` without the mount prefix ``root`` (decoded, as ASGI gives it),
    if ``raw`` carries it; compared segment by segment, since ``raw`` is
    percent-encoded and ``root`` is not."""
    root = root.rstrip("/")
    if not root:
        return raw
    decoded = unquote(raw)
    if decoded != root and not decoded.startswith(root + "/"):
        return raw  # the server already cut it (uvicorn --root-path)
    cut = 0
    for _ in range(root.count("/")):
        cut = raw.find("/", cut + 1)
        if cut < 0:
            return "/"
    return raw[cut:] or "/"


def raw_path(scope: Scope) -> str:
    """The request's path as sent, relative to where the app is mounted."""
    raw = scope.get("raw_path")
    if raw:
        # raw_path may carry the query on some servers; it never belongs here.
        path = bytes(raw).decode("latin-1").partition("?")[0]
    else:
        path = quote(str(scope.get("path", "/")), safe=_PATH_SAFE)
    return _strip_root(path, str(scope.get("root_path", "")))


def client_of(scope: Scope) -> tuple[str, int] | None:
    """The client's address, if the server knows it (ASGI: ``client``)."""
    client = scope.get("client")
    if not client:
        return None
    return str(client[0]), int(client[1])


def decode_headers(scope: Scope) -> tuple[tuple[str, str], ...]:
    """Header names lower-cased (ASGI already does) and both sides decoded
    as latin-1 (RFC 9110 section 5.5: field values are octets)."""
    return tuple(
        (bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    )


def build_request(
    scope: Scope,
    config: HTTPConfig,
    body: bytes = b"",
    *,
    method: str | None = None,
    headers: tuple[tuple[str, str], ...] | None = None,
    http_version: str | None = None,
) -> Request:
    """The ``Request`` the routes see; ``HTTPError`` (400) for a malformed
    query, as over HTTP/1.1."""
    path = raw_path(scope)
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    target = f"{path}?{query}" if query else path
    if len(target) > config.max_target_bytes:
        raise HTTPError("request-target too long", 414)  # RFC 9110 section 15.5.15
    path, parsed = split_target(target, config.max_query_fields)
    return Request(
        method=method if method is not None else str(scope["method"]),
        target=target,
        path=path,
        query=parsed,
        headers=headers if headers is not None else decode_headers(scope),
        http_version=http_version or str(scope.get("http_version", "1.1")),
        body=body,
        keep_alive=True,  # the ASGI server decides; routes never read it
    )


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """``(name, value)`` strings as ASGI header pairs: lower-case latin-1 bytes."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def error_reply(error: HTTPError) -> Reply:
    """The answer ``error`` implies, in the shape every rawpush host gives
    it: its status and headers and a JSON body ``{"error": message}``."""
    message = error.args[0] if error.args else error.__class__.__name__
    return Reply(error.status, [_JSON_TYPE, *error.headers], json_bytes({"error": str(message)}))


def response_messages(answer: Reply | Refusal, method: str) -> tuple[Message, Message]:
    """``http.response.start`` and ``http.response.body`` for a complete
    answer. ``Content-Length`` is set here, as h11 sets it on HTTP/1.1:
    left out for 204/304 and for the head of a stream (RFC 9110 section
    8.6); the body is left out for HEAD (section 9.3.2)."""
    reply = error_reply(answer.error) if isinstance(answer, Refusal) else answer
    headers: list[tuple[str, str]] = list(reply.headers)
    if reply.status not in (204, 304) and not reply.stream_head:
        headers.append(("Content-Length", str(len(reply.body))))
    body = b"" if method == "HEAD" else reply.body
    start: Message = {
        "type": "http.response.start",
        "status": reply.status,
        "headers": encode_headers(headers),
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


def start_message(status: int, headers: Headers) -> Message:
    """The ``http.response.start`` message for ``status`` and ``headers``."""
    return {"type": "http.response.start", "status": status, "headers": encode_headers(headers)}
