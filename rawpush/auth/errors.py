"""Why a request or connection was refused, and the answer that says so.

Every refusal in ``rawpush.auth`` is an ``AuthError`` that carries its own
answer, so the server never has to guess: ``status`` for HTTP,
``www_authenticate`` for the challenge header (RFC 6750 section 3), and
``close_code`` for a WebSocket that is already open (RFC 6455 section 7.4).
The whole tree::

    AuthError (RawpushError)     .status .error .www_authenticate .close_code
    +-- Unauthenticated          401, no credential at all: a bare challenge
    +-- InvalidToken             401 invalid_token: bad signature, claims, syntax
    |   +-- TokenExpired         401 invalid_token; close 4001 on an open socket
    +-- InvalidRequest           400 invalid_request: a malformed request
    |   +-- PatternError         a channel pattern outside the grammar
    +-- InsufficientScope        403 insufficient_scope: valid, but not this right

Close codes: 1008 (policy violation, RFC 6455 section 7.4.1) for every
refusal, except 4001 (the private-use range, section 7.4.2) for a token
that expired while its connection was open, so a client knows that a new
token, not a plain reconnect, is what it needs.

``AuthConfigError`` (a ``LocalProtocolError``) is apart from the tree: the
caller built a configuration this package refuses.
"""

from __future__ import annotations

from rawpush.proto.errors import LocalProtocolError, RawpushError

__all__ = [
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_TOKEN_EXPIRED",
    "REALM",
    "AuthConfigError",
    "AuthError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "PatternError",
    "TokenExpired",
    "Unauthenticated",
]

#: RFC 6455 section 7.4.1: "a message that violates its policy".
CLOSE_POLICY_VIOLATION = 1008
#: Private use (RFC 6455 section 7.4.2): the token ended mid-connection.
CLOSE_TOKEN_EXPIRED = 4001
#: The protection space every challenge names (RFC 9110 section 11.5).
REALM = "rawpush"


def _quoted(text: str) -> str:
    # RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E,
    # so no quote, no backslash, nothing outside printable ASCII.
    return "".join(c if (" " <= c <= "~" and c not in '"\\') else "?" for c in text)


class AuthError(RawpushError):
    """A refusal; ``str(exc)`` is the human-readable reason."""

    status: int = 401
    #: The RFC 6750 section 3.1 error code, or None for a bare challenge.
    error: str | None = None
    close_code: int = CLOSE_POLICY_VIOLATION

    @property
    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` value to send with ``status``.

        RFC 6750 section 3 asks for it on a 401 and allows it with the 400
        and 403 of section 3.1, where the error code tells the client why.
        """
        value = f'Bearer realm="{REALM}"'
        if self.error is not None:
            value += f', error="{self.error}", error_description="{_quoted(str(self))}"'
        return value

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The response header fields this refusal implies."""
        return (("WWW-Authenticate", self.www_authenticate),)


class Unauthenticated(AuthError):
    """No credential was presented and the anonymous rights do not suffice.

    RFC 6750 section 3.1: "If the request lacks any authentication
    information ..., the resource server SHOULD NOT include an error code".
    """

    status = 401
    error = None


class InvalidToken(AuthError):
    """The credential is expired, revoked, malformed or invalid for us."""

    status = 401
    error = "invalid_token"


class TokenExpired(InvalidToken):
    """The token's ``exp`` passed (at verification, or mid-connection)."""

    close_code = CLOSE_TOKEN_EXPIRED


class InvalidRequest(AuthError):
    """A malformed request: a bad ``Authorization`` field, two credentials,
    a ticket request that is not the documented JSON."""

    status = 400
    error = "invalid_request"


class PatternError(InvalidRequest):
    """A channel pattern outside the grammar of ``rawpush.auth.patterns``."""


class InsufficientScope(AuthError):
    """The credential is valid but does not grant this action on this channel."""

    status = 403
    error = "insufficient_scope"


class AuthConfigError(LocalProtocolError):
    """A configuration ``rawpush.auth`` refuses (a short secret, a key of
    the wrong kind, a bad pattern in a static grant): local misuse, not a
    refusal of a request, so it is no ``AuthError``."""
