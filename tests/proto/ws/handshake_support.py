"""Shared headers, requests and helpers for the opening-handshake tests."""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HandshakeError
from rawpush.proto.ws.handshake import (
    HandshakeRequest,
    check_request,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # masked "Hello", section 5.7

Headers = list[tuple[str, str]]


def headers(**changes: str | None) -> Headers:
    """A valid request's headers; ``name=None`` drops one, ``name=value`` replaces it."""
    base = {
        "host": "example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
    }
    for field, value in changes.items():
        name = field.replace("_", "-")
        if value is None:
            base.pop(name)
        else:
            base[name] = value
    return list(base.items())


def check(hs: Headers, **kwargs: object) -> HandshakeRequest:
    return check_request("GET", "1.1", hs, **kwargs)  # type: ignore[arg-type]


def refused(hs: Headers, method: str = "GET", version: str = "1.1", **kw: object) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        check_request(method, version, hs, **kw)  # type: ignore[arg-type]
    return info.value


def wire(hs: Headers, target: str = "/chat", method: str = "GET", version: str = "1.1") -> bytes:
    head = f"{method} {target} HTTP/{version}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in hs)
    return (head + "\r\n").encode("latin-1")


REQUEST = wire(headers(sec_websocket_protocol="chat, superchat"))
