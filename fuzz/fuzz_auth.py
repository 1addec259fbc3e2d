"""Fuzz what rawpush.auth reads from a request: patterns, credentials, tickets.

One input drives every reader of untrusted text in ``rawpush.auth``:

- ``PatternSet.parse`` on the input's lines (as a token's claim lists
  them): only ``PatternError``; a parsed set reads back from ``patterns``
  and matches each exact name it holds;
- ``parse_authorization`` and ``find_credential`` on the input as an
  ``Authorization`` / ``Cookie`` field value (latin-1, as the HTTP layer
  decodes it): only ``InvalidRequest`` / ``InvalidToken``; a token found
  is a b64token, a cookie value only cookie-octets;
- ``parse_ticket_request`` on the raw bytes: only ``InvalidRequest``
  (``PatternError`` included) and ``InsufficientScope``; what it returns
  is covered by the grant that asked;
- ``JWTVerifier.verify`` (HS256) on the input as a token: only
  ``InvalidToken`` (``TokenExpired`` included).
"""

from __future__ import annotations

import contextlib
import re
import sys

import atheris

with atheris.instrument_imports():
    from rawpush.auth.credentials import cookie_value, find_credential, parse_authorization
    from rawpush.auth.errors import InsufficientScope, InvalidRequest, InvalidToken, PatternError
    from rawpush.auth.model import Grant
    from rawpush.auth.patterns import PatternSet
    from rawpush.auth.tickets import parse_ticket_request
    from rawpush.auth.tokens import JWTConfig, JWTVerifier

_B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_COOKIE_OCTETS = re.compile(r'[!#-+\--:<-\[\]-~]*')
_GRANT = Grant("fuzz", PatternSet.parse(["news", "user.42.*", "a.b.*"]))
_VERIFIER = JWTVerifier(JWTConfig(secret=b"f" * 32, require_exp=False))


def _patterns(text: str) -> None:
    try:
        rights = PatternSet.parse(text.split("\n"))
    except PatternError:
        return
    if PatternSet.parse(rights.patterns) != rights:
        raise AssertionError(f"{rights!r} does not read back")
    for name in rights.exact:
        if not rights.matches(name):
            raise AssertionError(f"{rights!r} does not match its own {name!r}")


def _credentials(field: str) -> None:
    try:
        token = parse_authorization(field)
    except (InvalidRequest, InvalidToken):
        pass
    else:
        if not _B64TOKEN.fullmatch(token):
            raise AssertionError(f"not a b64token: {token!r}")
    try:
        value = cookie_value(field)
    except InvalidToken:
        pass
    else:
        if value is not None and not _COOKIE_OCTETS.fullmatch(value):
            raise AssertionError(f"not a cookie-value: {value!r}")
    try:
        find_credential([("authorization", field), ("cookie", field)])
        find_credential([("cookie", field)], ticket=field)
    except (InvalidRequest, InvalidToken):
        pass


def _ticket_request(data: bytes) -> None:
    try:
        wanted = parse_ticket_request(data, _GRANT)
    except (InvalidRequest, InsufficientScope):
        return
    if not wanted or not _GRANT.subscribe.covers(wanted):
        raise AssertionError(f"ticket request {data!r} gave {wanted!r}")


def _token(text: str) -> None:
    with contextlib.suppress(InvalidToken):
        _VERIFIER.verify(text)


def TestOneInput(data: bytes) -> None:
    _patterns(data.decode("utf-8", "replace"))
    _credentials(data.decode("latin-1"))
    _ticket_request(data)
    _token(data.decode("latin-1"))


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
