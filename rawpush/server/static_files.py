"""The browser client's files: ``GET /rawpush.js`` and its companions.

One table maps each path to a file in ``rawpush/server/static`` and its
``Content-Type``. JavaScript is ``text/javascript`` (RFC 9239 section 6),
which browsers run both as a classic script and as a module; the
TypeScript declarations have no registered type, so they go as plain
text. The files change only with the installed package, so they are read
once per process and carry a strong ``ETag`` (a hash of the bytes): a
page revalidates after ``max-age`` and gets a bodiless 304 when nothing
changed (RFC 9110 sections 8.8.3 and 13.1.2, RFC 9111 section 5.2.2.1).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from rawpush.proto.http import Request
from rawpush.server.answers import Reply

__all__ = ["STATIC", "answer"]

_JS = "text/javascript; charset=utf-8"
#: path -> (file under static/, Content-Type)
STATIC: dict[str, tuple[str, str]] = {
    "/rawpush.js": ("rawpush.js", _JS),
    "/rawpush.min.js": ("rawpush.min.js", _JS),
    "/rawpush.mjs": ("rawpush.mjs", _JS),
    "/rawpush.d.ts": ("rawpush.d.ts", "text/plain; charset=utf-8"),
}
#: short enough that a deploy reaches pages within minutes; the ETag makes
#: revalidation a bodiless round trip
_CACHE = ("Cache-Control", "public, max-age=300")


@functools.cache
def _load(name: str) -> tuple[bytes, str]:
    body = resources.files("rawpush.server").joinpath("static", name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    # If-None-Match is a list of entity tags or "*", compared weakly
    # (RFC 9110 section 13.1.2).
    if header is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def answer(request: Request, path: str) -> Reply:
    """The file at ``path`` (one of ``STATIC``), or 304 when the client's
    copy is current."""
    name, content_type = STATIC[path]
    body, etag = _load(name)
    headers = [("Content-Type", content_type), _CACHE, ("ETag", etag)]
    if _matches(request.header("if-none-match"), etag):
        return Reply(304, [_CACHE, ("ETag", etag)])
    return Reply(200, headers, body)
