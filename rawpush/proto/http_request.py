"""The plain data of the HTTP glue: configuration, parsed requests, and
the request-target and JSON rules they follow.

Kept apart from ``rawpush.proto.http`` (which re-exports these names) so
that the connection logic there stays short enough to read in one go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from rawpush.proto.errors import LocalProtocolError

__all__ = ["HTTPConfig", "Request", "json_bytes", "split_target"]


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, the one encoding every JSON body here uses."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class HTTPConfig:
    """Limits for one HTTP connection.

    ``max_header_bytes`` bounds the request line plus header fields (431
    beyond it, RFC 6585 section 5); ``max_body_bytes`` the request body
    (413, RFC 9110 section 15.5.14); ``max_query_fields`` the number of
    ``name=value`` pairs parsed from the query (400 beyond it).
    """

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    max_query_fields: int = 128

    def __post_init__(self) -> None:
        if self.max_header_bytes < 1 or self.max_body_bytes < 0 or self.max_query_fields < 1:
            raise LocalProtocolError(f"HTTPConfig limits out of range: {self!r}")


@dataclass(frozen=True, slots=True)
class Request:
    """One complete request, body included.

    ``target`` is the raw request-target; ``path`` its percent-decoded path
    without the query; ``query`` maps each name to its first value. Header
    names are lower-cased, names and values decoded as latin-1 (RFC 9110
    section 5.5: field values are octets, not text).
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
    """The percent-decoded path and the query (first value wins) of a
    request-target; ``ValueError`` when it is malformed."""
    if target.startswith("/"):
        raw_path, _, raw_query = target.partition("?")
        # A fragment never belongs in a request (RFC 9112 section 3.2).
        raw_query = raw_query.partition("#")[0]
        raw_path = raw_path.partition("#")[0]
    elif target == "*":  # asterisk-form, OPTIONS (RFC 9112 section 3.2.4)
        raw_path, raw_query = target, ""
    elif "://" in target:  # absolute-form, which servers MUST accept (3.2.2)
        parts = urlsplit(target)
        raw_path, raw_query = parts.path or "/", parts.query
    else:
        raise ValueError("not origin-, absolute- or asterisk-form")
    # errors="strict": a percent-encoded path or query that is not
    # UTF-8 is refused rather than silently turned into U+FFFD.
    path = unquote(raw_path, errors="strict")
    query: dict[str, str] = {}
    if raw_query:
        parsed = parse_qs(
            raw_query,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=max_query_fields,
        )
        query = {name: values[0] for name, values in parsed.items()}
    return path, query
