"""A small asyncio HTTP/1.1 client on h11, for the SSE and long-poll clients.

It does one thing: send one request on a fresh connection and hand back
the response head, then the body chunk by chunk as it arrives (an event
stream never ends, so nothing here waits for the whole body unless asked
to). All HTTP parsing is h11's; this module only moves bytes.

Every failure of the network or of the peer's HTTP surfaces as
``OSError`` (``ConnectionError`` for a broken or malformed exchange,
``TimeoutError`` for a read that waited too long), so callers that retry
catch one exception family.

No keep-alive: each ``Response`` owns its connection and closes it when
the body is done or the caller gives up. Push clients make few, long
requests, so a pool would buy little and cost a lot of code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl as _ssl
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

import h11

__all__ = [
    "URL",
    "AnyResponse",
    "BaseResponse",
    "HTTPStatusError",
    "Response",
    "SSLArg",
    "backoff",
    "closing_on_failure",
    "error_message",
    "error_text",
    "open_stream",
    "parse_url",
    "pause",
    "request",
    "tls_context",
    "with_token",
]

# Not ``rawpush.__version__``: importing the package root would pull in the
# server, which the client layer must never import (import-linter).
try:
    USER_AGENT = f"rawpush/{metadata.version('rawpush')}"
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    USER_AGENT = "rawpush"
_READ_SIZE = 64 * 1024
_T = TypeVar("_T")
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

#: ``None``/``True``: verify with the system's CAs (on https:// only);
#: ``False``: TLS without verification; or a ready ``SSLContext``.
SSLArg = _ssl.SSLContext | bool | None


@dataclass(frozen=True, slots=True)
class URL:
    """An absolute http(s):// or ws(s):// URL, split the way a request needs it."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, what goes on the request line

    @property
    def secure(self) -> bool:
        """True for ``https`` and ``wss``: the connection needs TLS."""
        return self.scheme in ("https", "wss")

    @property
    def authority(self) -> str:
        """The ``Host`` header: the port is left out when it is the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"

    def join(self, reference: str) -> URL:
        """Resolve a ``Location`` (RFC 9110 section 10.2.2: it may be relative)."""
        return parse_url(urljoin(str(self), reference))

    def with_scheme(self, scheme: str) -> URL:
        """The same resource under another scheme (``ws`` <-> ``http``)."""
        return replace(self, scheme=scheme)


def parse_url(url: str) -> URL:
    """Split ``url``; ``ValueError`` for a scheme or shape we cannot request."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    port = parts.port or _DEFAULT_PORTS[scheme]
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    # The fragment never goes on the wire (RFC 9110 section 4.2.4).
    return URL(scheme, parts.hostname, port, target)


class HTTPStatusError(Exception):
    """A response the caller cannot use; ``status`` is its HTTP status
    (0 when the problem is not the status, e.g. a wrong content type)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}" if status else reason)
        self.status = status
        self.reason = reason


class BaseResponse:
    """What a response does the same whichever HTTP version carried it:
    look up its head, read the whole body, give up on it. ``Response``
    and ``rawpush.client.h2.H2Response`` build on it and each brings its
    own ``read_chunk``; it is not constructed on its own."""

    url: URL
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def __init__(self, url: URL, writer: asyncio.StreamWriter) -> None:
        self.url = url
        self._writer = writer
        self._done = False

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (both versions keep names
        lowercase), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def content_type(self) -> str:
        """The MIME type essence, lowercase, without parameters."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    async def read_chunk(self, timeout: float | None = None) -> bytes:
        """The next piece of the body; ``b""`` once it is complete."""
        raise NotImplementedError

    async def read(self, limit: int, timeout: float | None = None) -> bytes:
        """The whole body; ``ConnectionError`` when it exceeds ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        while chunk := await self.read_chunk(timeout):
            size += len(chunk)
            if size > limit:
                self.close()
                raise ConnectionError(f"response body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def _wait(self, step: Awaitable[_T], timeout: float | None) -> _T:
        """``step`` (one read off the socket) within ``timeout``: a
        silence or a broken socket closes the response, and so the
        caller sees one failure and nothing after it."""
        try:
            async with asyncio.timeout(timeout):
                result = await step
        except TimeoutError:
            self.close()
            raise TimeoutError(f"no data from {self.url.authority} for {timeout} s") from None
        except OSError:
            self.close()
            raise
        if self._done:  # closed by close() while we waited
            raise ConnectionError("response closed")
        return result

    def close(self) -> None:
        """Drop the connection now (safe to call any number of times)."""
        if not self._done:
            self._done = True
            self._writer.close()

    async def aclose(self) -> None:
        """``close()``, then wait until the socket is closed."""
        self.close()
        # OSError: the peer already reset it, which closes it just the same.
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class Response(BaseResponse):
    """A response head, and its body still on the wire."""

    def __init__(
        self,
        url: URL,
        head: h11.Response,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(url, writer)
        self.status = head.status_code
        self.reason = head.reason.decode("latin-1")
        self.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers]
        self._conn = conn
        self._reader = reader

    async def read_chunk(self, timeout: float | None = None) -> bytes:
        """The next piece of the body as it arrives; ``b""`` once it is complete.

        ``TimeoutError`` when nothing arrives for ``timeout`` seconds,
        ``ConnectionError`` when the connection breaks before the body's
        end (a close-delimited body ends cleanly at EOF: RFC 9112 section 6.3).
        """
        while not self._done:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise ConnectionError(f"bad HTTP from {self.url.authority}: {exc}") from exc
            if event is h11.NEED_DATA:
                self._conn.receive_data(await self._wait(self._reader.read(_READ_SIZE), timeout))
            elif isinstance(event, h11.Data):
                return bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.close()
            else:  # pragma: no cover - h11 yields nothing else inside a body
                raise ConnectionError(f"unexpected {type(event).__name__} in a response body")
        return b""


class AnyResponse(Protocol):
    """What a response offers whichever HTTP version carried it: ``Response``
    here, ``rawpush.client.h2.H2Response`` over HTTP/2."""

    url: URL
    status: int
    reason: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""

    @property
    def content_type(self) -> str:
        """The MIME type essence, lowercase, without parameters."""

    async def read_chunk(self, timeout: float | None = None) -> bytes:
        """The next piece of the body; ``b""`` once it is complete."""

    async def read(self, limit: int, timeout: float | None = None) -> bytes:
        """The whole body; ``ConnectionError`` when it exceeds ``limit`` bytes."""

    def close(self) -> None:
        """Drop the connection now."""

    async def aclose(self) -> None:
        """``close()``, then wait until the socket is closed."""


def tls_context(ssl: SSLArg) -> _ssl.SSLContext:
    """The TLS context ``ssl`` stands for (see ``SSLArg``): the one given,
    or a new default one, verifying the server unless ``ssl`` is False."""
    if isinstance(ssl, _ssl.SSLContext):
        return ssl
    context = _ssl.create_default_context()
    if ssl is False:
        context.check_hostname = False
        context.verify_mode = _ssl.CERT_NONE
    return context


async def open_stream(
    url: URL, context: _ssl.SSLContext | None, timeout: float | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``url``'s host and port, over TLS when ``context`` is
    given; ``TimeoutError`` when that takes more than ``timeout`` seconds."""
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
        # cancellation (Ctrl-C in ``rawpush tail``) that lands in the loop
        # step where the inner call completes, and the client runs on.
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(
                url.host, url.port, ssl=context, server_hostname=url.host if context else None
            )
    except TimeoutError:
        raise TimeoutError(f"connecting to {url.authority} timed out") from None


@contextlib.contextmanager
def closing_on_failure(
    url: URL, writer: asyncio.StreamWriter, timeout: float | None
) -> Iterator[None]:
    """Around sending a request and waiting for its head: whatever fails
    there (cancellation too) drops the connection, since no response
    exists yet that the caller could close; a ``TimeoutError`` names the
    silent server."""
    try:
        yield
    except TimeoutError:
        writer.close()
        raise TimeoutError(f"no response from {url.authority} in {timeout} s") from None
    except BaseException:
        writer.close()
        raise


async def request(
    method: str,
    url: URL,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    ssl: SSLArg = None,
    timeout: float | None = None,
) -> Response:
    """Connect, send one request and return once the response head is in.

    ``timeout`` bounds the connect and the wait for the head; the body is
    read later with its own timeout. Informational (1xx) responses are
    skipped, as RFC 9110 section 15.2 lets a client that did not ask for them.
    """
    context = tls_context(ssl) if url.secure else None
    reader, writer = await open_stream(url, context, timeout)
    conn = h11.Connection(h11.CLIENT)
    all_headers = [("Host", url.authority), ("User-Agent", USER_AGENT), *headers]
    if body or method not in ("GET", "HEAD"):
        all_headers.append(("Content-Length", str(len(body))))
    # h11 would encode str values as ASCII; UTF-8 lets a header carry any
    # text, as Last-Event-ID must (WHATWG HTML 9.2.4).
    wire_headers = [(name.encode(), value.encode()) for name, value in all_headers]
    try:
        out = conn.send(h11.Request(method=method, target=url.target, headers=wire_headers))
        if body:
            out = (out or b"") + (conn.send(h11.Data(data=body)) or b"")
        out = (out or b"") + (conn.send(h11.EndOfMessage()) or b"")
    except h11.LocalProtocolError as exc:
        writer.close()
        raise ValueError(f"cannot send this request: {exc}") from exc
    with closing_on_failure(url, writer, timeout):
        writer.write(out)
        async with asyncio.timeout(timeout):
            head = await _read_head(conn, reader, url)
    return Response(url, head, conn, reader, writer)


async def _read_head(conn: h11.Connection, reader: asyncio.StreamReader, url: URL) -> h11.Response:
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ConnectionError(f"bad HTTP from {url.authority}: {exc}") from exc
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(_READ_SIZE))
        elif isinstance(event, h11.Response):
            return event
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError(f"{url.authority} closed the connection before answering")
        # h11.InformationalResponse: skip and wait for the final answer.


def error_message(body: bytes) -> str:
    """What an error answer's body says: the ``"error"`` of rawpush's JSON
    ``{"error": "..."}``, else the body's first line of text (at most 300
    characters); ``""`` for an empty body."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
            return str(parsed["error"])
    return text.splitlines()[0][:300] if text else ""


async def error_text(response: AnyResponse, limit: int = 64 * 1024, timeout: float = 5.0) -> str:
    """Read an error answer's body and return ``error_message`` of it, or
    the reason phrase when the body cannot be had; closes the response."""
    try:
        body = await response.read(limit, timeout)
    except OSError:
        body = b""
    finally:
        await response.aclose()
    return error_message(body) or response.reason


def with_token(
    headers: Iterable[tuple[str, str]], token: str | None
) -> tuple[tuple[str, str], ...]:
    """``headers`` plus ``Authorization: Bearer token`` when a token is given
    (RFC 6750 section 2.1: the one place a token belongs; never the URL)."""
    out = tuple(headers)
    if token is None:
        return out
    if any(name.lower() == "authorization" for name, _ in out):
        raise ValueError("give token= or an Authorization header, not both")
    return (*out, ("Authorization", f"Bearer {token}"))


def backoff(base: float, failures: int, cap: float) -> float:
    """How long to wait before the next attempt: ``base`` doubled for each
    failure in a row after the first, capped at ``cap``, then stretched by
    a random 0-25 % so that clients dropped together do not return
    together (the jitter only ever lengthens: ``base`` is a minimum the
    server may have asked for)."""
    delay: float = min(base * 2.0 ** max(failures - 1, 0), cap)
    return delay * (1 + random.random() / 4)


async def pause(closed: asyncio.Event, delay: float) -> None:
    """Sleep ``delay`` seconds, or less if ``closed`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await closed.wait()
