"""Sans-IO HTTP/2 for the server (RFC 9113, RFC 8441), on python-hyper's h2.

``H2Connection`` is the connection; ``events`` holds its configuration,
error codes and events; ``guard`` the flood defences that read frame
headers; ``request`` the mapping between header lists and ``Request``.
The one exception the receive path raises is ``rawpush.proto.errors.H2Error``.
"""

from rawpush.proto.h2.connection import H2Connection
from rawpush.proto.h2.events import (
    ConnectionEnded,
    DataReceived,
    ErrorCode,
    Event,
    H2Config,
    RequestReceived,
    RequestRefused,
    StreamEnded,
    StreamReset,
    WindowOpened,
)
from rawpush.proto.h2.guard import PREFACE_SIZE

#: RFC 9113 section 3.4: what a client sends first (prior knowledge included)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

__all__ = [
    "PREFACE",
    "PREFACE_SIZE",
    "ConnectionEnded",
    "DataReceived",
    "ErrorCode",
    "Event",
    "H2Config",
    "H2Connection",
    "RequestReceived",
    "RequestRefused",
    "StreamEnded",
    "StreamReset",
    "WindowOpened",
]
