"""Where a credential comes from: the ``Authorization`` field, a cookie, a ticket.

Three carriers, one credential per request:

- ``Authorization: Bearer <token>`` (RFC 6750 section 2.1), for clients
  that can set header fields (fetch, WebSocket clients outside a browser).
- A cookie, ``rawpush_token`` by default (RFC 6265), for a browser's
  EventSource and WebSocket, which cannot set header fields.
- A single-use ticket in the URL (``?ticket=...``), for a URL that must
  carry something; never the token itself (URLs end up in logs).

Precedence: a cookie is ambient (the browser sends it whether the page
meant to or not), so ``Authorization`` or a ticket wins over it silently.
``Authorization`` and a ticket in the same request are two deliberate
credentials, which RFC 6750 section 2 forbids ("MUST NOT use more than one
method"): ``InvalidRequest`` (400). So is a malformed ``Authorization``
field: another scheme, a value outside the b64token syntax, or the field
twice (RFC 6750 section 3.1, invalid_request).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidRequest, InvalidToken

__all__ = [
    "COOKIE_NAME",
    "MAX_CREDENTIAL_SIZE",
    "Carrier",
    "Credential",
    "cookie_value",
    "find_credential",
    "parse_authorization",
]

#: The cookie a browser client carries its token in.
COOKIE_NAME = "rawpush_token"
#: No credential is longer: a JWT with a few dozen patterns fits in a
#: fraction of it, and verifying a huge one is work for nothing.
MAX_CREDENTIAL_SIZE = 8192

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" /
# "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*", re.ASCII)
# RFC 6265 section 4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B
# / %x5D-7E (no space, DQUOTE, comma, semicolon, backslash, controls).
_COOKIE_VALUE = re.compile(r'"?([!#-+\--:<-\[\]-~]*)"?', re.ASCII)


class Carrier(enum.StrEnum):
    """How a credential reached the server."""

    BEARER = "bearer"
    COOKIE = "cookie"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class Credential:
    """One presented credential: its carrier and its value, not yet verified."""

    carrier: Carrier
    value: str

    def __repr__(self) -> str:
        # Never put a secret in a log line through repr().
        return f"Credential({self.carrier.value}, {len(self.value)} chars)"


def parse_authorization(value: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` field value.

    RFC 6750 section 2.1: ``"Bearer" 1*SP b64token``; the scheme is
    case-insensitive (RFC 9110 section 11.1). ``InvalidRequest`` for another
    scheme or a value outside that syntax.
    """
    scheme, _, rest = value.strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidRequest("Authorization must use the Bearer scheme")
    token = rest.lstrip(" ")
    if not _B64TOKEN.fullmatch(token):
        raise InvalidRequest("Authorization: Bearer needs one b64token (RFC 6750 section 2.1)")
    if len(token) > MAX_CREDENTIAL_SIZE:
        raise InvalidToken(f"bearer token over {MAX_CREDENTIAL_SIZE} characters")
    return token


def cookie_value(header: str, name: str = COOKIE_NAME) -> str | None:
    """The value of cookie ``name`` in one ``Cookie`` field value, or None.

    The field is ``cookie-pair *( ";" SP cookie-pair )`` (RFC 6265 section
    4.2.1), parsed as section 5.4 lets a server: pairs split at ";",
    optional whitespace around them ignored, a pair without "=" skipped.
    Other applications' cookies are not ours to judge, so a malformed one
    is skipped rather than refused; only ``name``'s value must be
    ``cookie-value`` (section 4.1.1, one optional pair of DQUOTEs), else
    ``InvalidToken``. When ``name`` is there twice the first one wins:
    user agents send the cookie with the longest path first (section
    5.4 step 2), the one meant for this resource.
    """
    for pair in header.split(";"):
        key, eq, raw = pair.strip(" \t").partition("=")
        if not eq or key.strip(" \t") != name:
            continue
        raw = raw.strip(" \t")
        match = _COOKIE_VALUE.fullmatch(raw)
        if match is None or (raw.startswith('"') != raw.endswith('"')) or raw == '"':
            raise InvalidToken(f"cookie {name} is not a valid cookie-value (RFC 6265 4.1.1)")
        value = match.group(1)
        if len(value) > MAX_CREDENTIAL_SIZE:
            raise InvalidToken(f"cookie {name} over {MAX_CREDENTIAL_SIZE} characters")
        return value or None
    return None


def find_credential(
    headers: Iterable[tuple[str, str]],
    ticket: str | None = None,
    cookie_name: str | None = COOKIE_NAME,
) -> Credential | None:
    """The one credential a request presents, or None for none at all.

    ``headers`` are (lower-case name, value) pairs as the HTTP layer
    decoded them; ``ticket`` the ``ticket`` query parameter, if any;
    ``cookie_name`` None to ignore cookies. Raises ``InvalidRequest`` or
    ``InvalidToken`` (see the module docstring for the precedence).
    """
    authorization: list[str] = []
    cookies: list[str] = []
    for key, value in headers:
        if key == "authorization":
            authorization.append(value)
        elif key == "cookie":
            cookies.append(value)
    if len(authorization) > 1:
        raise InvalidRequest("more than one Authorization field")
    if authorization and ticket is not None:
        raise InvalidRequest("a request carries one credential: Authorization or a ticket")
    if authorization:
        return Credential(Carrier.BEARER, parse_authorization(authorization[0]))
    if ticket is not None:
        return Credential(Carrier.TICKET, ticket)
    if cookie_name is not None:
        # HTTP/2 may split Cookie into several fields (RFC 9113 section
        # 8.2.3); each is a list of pairs on its own, in order.
        for header in cookies:
            found = cookie_value(header, cookie_name)
            if found is not None:
                return Credential(Carrier.COOKIE, found)
    return None
