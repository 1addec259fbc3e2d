"""Close codes (RFC 6455 section 7.4) and which of them may cross the wire.

Codes 1004, 1005, 1006 and 1015 are reserved: they name situations an
endpoint reports to its own application and must never appear in a Close
frame (section 7.4.1). 1012-1014 were registered with IANA after the RFC
(section 11.7 registry). 1016-2999 are unassigned and 0-999 unused
(section 7.4.2), so a peer that sends them is broken. 3000-4999 belong to
libraries, frameworks and applications and pass through untouched.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CloseCode", "is_sendable"]


class CloseCode(IntEnum):
    """Status codes of RFC 6455 section 7.4.1 and the IANA registry."""

    #: The purpose of the connection was fulfilled.
    NORMAL_CLOSURE = 1000
    #: The endpoint is going away: server shutdown, browser tab closed.
    GOING_AWAY = 1001
    #: The peer broke the protocol (bad frame, bad close code, ...).
    PROTOCOL_ERROR = 1002
    #: A data type the endpoint cannot accept (e.g. binary when only text).
    UNSUPPORTED_DATA = 1003
    #: Reserved; the RFC left its meaning for the future. Never on the wire.
    RESERVED = 1004
    #: Reported locally when a Close frame carried no status code.
    NO_STATUS_RCVD = 1005
    #: Reported locally when the TCP connection ended without a Close frame.
    ABNORMAL_CLOSURE = 1006
    #: A message's data did not match its type, e.g. a text message that is
    #: not UTF-8 (section 8.1).
    INVALID_FRAME_PAYLOAD_DATA = 1007
    #: A generic policy violation, when no more specific code fits.
    POLICY_VIOLATION = 1008
    #: A frame or message is larger than the endpoint accepts.
    MESSAGE_TOO_BIG = 1009
    #: Sent by a client whose required extension the server did not accept.
    MANDATORY_EXTENSION = 1010
    #: The server hit an unexpected condition while serving the request.
    INTERNAL_ERROR = 1011
    #: The server is restarting (IANA registry).
    SERVICE_RESTART = 1012
    #: Temporary server condition; try again later (IANA registry).
    TRY_AGAIN_LATER = 1013
    #: A gateway or proxy got an invalid response upstream (IANA registry).
    BAD_GATEWAY = 1014
    #: Reported locally when the TLS handshake failed. Never on the wire.
    TLS_HANDSHAKE = 1015


_NEVER_ON_WIRE = frozenset({1004, 1005, 1006, 1015})


def is_sendable(code: int) -> bool:
    """Whether ``code`` may appear in a Close frame, in either direction.

    The same rule judges what we receive (a violation is answered with
    1002) and what our caller asks to send (a local error).
    """
    if 3000 <= code <= 4999:
        return True
    return 1000 <= code <= 1014 and code not in _NEVER_ON_WIRE
