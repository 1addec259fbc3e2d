"""The plain data of the HTTP glue: configuration, parsed requests, and
the request-target and JSON rules they follow.

Kept apart from ``rawpush.proto.http`` (which re-exports these names) so
that the connection logic there stays short enough to read in one go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rawpush.proto.errors import HTTPError, LocalProtocolError

__all__ = ["HTTPConfig", "Request", "json_bytes", "split_target"]


# One encoder, built once: json.dumps with non-default options builds a
# new JSONEncoder on every call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every JSON body here uses.

    ``LocalProtocolError`` for what it cannot encode: a set, a circular
    reference, a lone surrogate (UTF-8 cannot carry one).
    """
    try:
        return _JSON(obj).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"not encodable as JSON: {exc}") from exc


@dataclass(frozen=True, slots=True)
class HTTPConfig:
    """Limits for one HTTP connection.

    ``max_header_bytes`` bounds the head: request line, header fields and
    the blank line, as sent (431 beyond it, RFC 6585 section 5);
    ``max_target_bytes`` the request-target (414, RFC 9112 section 3: 8 KiB
    is what that section recommends a server support at least);
    ``max_body_bytes`` the request body (413, RFC 9110 section 15.5.14);
    ``max_query_fields`` the number of ``name=value`` pairs parsed from the
    query (400 beyond it).

    A head that is both too long and has too long a target is a 414: the
    target is judged first, on the part of it within the first
    ``max_header_bytes + 1`` bytes of the head, so the answer depends on
    the bytes only, never on how they were cut. (A target limit at or
    above the head limit is therefore never reached: 431 comes first.)
    """

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    max_query_fields: int = 128
    max_target_bytes: int = 8 * 1024

    def __post_init__(self) -> None:
        limits = (
            (self.max_header_bytes, 1),
            (self.max_body_bytes, 0),
            (self.max_query_fields, 1),
            (self.max_target_bytes, 1),
        )
        for value, least in limits:
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise LocalProtocolError(f"HTTPConfig limits out of range: {self!r}")


@dataclass(frozen=True, slots=True)
class Request:
    """One complete request, body included.

    ``target`` is the request-target as sent; ``path`` its path as sent,
    without query or fragment and *not* percent-decoded: routes compare it
    as it is, so ``/publish%2Fa`` never reaches the publish route for ``a``
    (RFC 3986 section 2.2: an encoded ``/`` is data, not a separator), and
    channel names, made of ``[A-Za-z0-9._:-]``, never need decoding.
    ``query`` maps each name to its first value, percent-decoded as UTF-8.
    Header names are lower-cased, names and values decoded as latin-1 (RFC
    9110 section 5.5: field values are octets, not text).
    """

    method: str
    target: str
    path: str
    query: dict[str, str] = field(hash=False)
    headers: tuple[tuple[str, str], ...]
    http_version: str
    body: bytes
    keep_alive: bool

    def header(self, name: str) -> str | None:
        """The field's value, or None; repeated fields joined with ", "
        as RFC 9110 section 5.3 allows for list-valued fields."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None


def split_target(target: str, max_query_fields: int) -> tuple[str, dict[str, str]]:
    """The path (as sent) and the decoded query (first value wins) of a
    request-target; ``HTTPError`` (400) when it is malformed."""
    # A fragment is never part of a request (RFC 9112 section 3.2); if a
    # client sends one anyway, "#" ends the target there (RFC 3986 section
    # 3.5), so nothing after it reaches the path or the query.
    target = target.partition("#")[0]
    if target.startswith("/"):
        path, _, raw_query = target.partition("?")
    elif target == "*":  # asterisk-form, OPTIONS (RFC 9112 section 3.2.4)
        path, raw_query = target, ""
    elif "://" in target:  # absolute-form, which servers MUST accept (3.2.2)
        try:
            parts = urlsplit(target)
        except ValueError as exc:  # an unbalanced "[" in the authority
            raise HTTPError(f"bad request target: {exc}", 400) from None
        path, raw_query = parts.path or "/", parts.query
    else:
        raise HTTPError("bad request target: not origin-, absolute- or asterisk-form", 400)
    query: dict[str, str] = {}
    if raw_query:
        try:
            # errors="strict": a percent-encoded value that is not UTF-8 is
            # refused rather than silently turned into U+FFFD.
            parsed = parse_qs(
                raw_query,
                keep_blank_values=True,
                errors="strict",
                max_num_fields=max_query_fields,
            )
        except ValueError as exc:  # UnicodeDecodeError, or too many fields
            raise HTTPError(f"bad query: {exc}", 400) from None
        query = {name: values[0] for name, values in parsed.items()}
    return path, query
