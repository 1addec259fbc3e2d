"""What the client-handshake tests share: the RFC's sample key and accept
value, a server response built field by field, and the handshake under test."""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HandshakeError
from rawpush.proto.ws.handshake import HandshakeState
from rawpush.proto.ws.handshake_client import ClientHandshake

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
FRAME = b"\x81\x05Hello"  # unmasked "Hello" from the server, section 5.7


def response(status: str = "101 Switching Protocols", **changes: str | None) -> bytes:
    """A server response; ``name=None`` drops a header, ``name=value`` replaces it."""
    base = {"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-accept": ACCEPT}
    for field, value in changes.items():
        name = field.replace("_", "-")
        if value is None:
            base.pop(name)
        else:
            base[name] = value
    lines = "".join(f"{name}: {value}\r\n" for name, value in base.items())
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode("latin-1")


def client(**kwargs: object) -> ClientHandshake:
    return ClientHandshake("example.com", "/chat", key=KEY, **kwargs)  # type: ignore[arg-type]


def fail(data: bytes, hs: ClientHandshake | None = None) -> HandshakeError:
    hs = hs or client()
    with pytest.raises(HandshakeError) as info:
        hs.receive_data(data)
    assert hs.state is HandshakeState.FAILED
    return info.value
