"""``EventSource``: a Server-Sent Events client that behaves like a browser's.

It follows WHATWG HTML section 9.2 (server-sent events):

- the request carries ``Accept: text/event-stream``, ``Cache-Control:
  no-cache`` and, once an id is known, ``Last-Event-ID`` (9.2.3, 9.2.4);
- a 200 answer whose MIME type is ``text/event-stream`` opens the stream;
  any other status (204 included) or type *fails the connection*: the
  source closes for good and iteration raises ``EventSourceClosed``
  carrying the status (9.2.3, "fail the connection");
- when the stream ends, or the network fails, the source *reestablishes
  the connection* after the reconnection time, which the server sets
  with ``retry:`` (9.2.3, 9.2.6); the parsing is the sans-IO
  ``rawpush.sse.Decoder``, fed each chunk as it arrives.

Choices the standard leaves to the user agent:

- Backoff: 9.2.3 lets a user agent "apply exponential backoff". The wait
  is the reconnection time doubled after each failure in a row (a refused
  connect, a broken or a timed-out read), capped at ``max_retry``, then
  stretched by a random 0-25 % so that clients dropped together do not
  return together. An opened connection resets the count.
- Redirects (301, 302, 303, 307, 308) are followed up to
  ``max_redirects``; a reconnection starts again from the original URL,
  as the older text of the standard said and browsers still do, because
  a temporary redirect says nothing about the next request.
- An event larger than the decoder's limits closes the source for good
  (``EventSourceClosed`` with status 200): reconnecting would fetch the
  same oversized event forever. Browsers have no limit; a library must.
  The default (``rawpush.client.limits.MAX_SSE_EVENT``: the largest
  publish rawpush's server accepts, 1 MiB, plus 64 KiB for the field
  names and line ends around it) takes every event the server's defaults
  let through.
- Events arrive as ``rawpush.sse.Event``, named ``"message"`` when the
  server gave no name (9.2.6), as the long-poll and WebSocket clients
  name them. An event named ``"gap"`` is rawpush's gap notice: events
  after ``last_event_id`` were lost to the server's history (it carries
  no id, so the resume point stays). rawpush refuses to publish under
  that name, so it is never an application's event.
- ``read_timeout`` (off by default) counts a silence that long as a
  network failure. Servers send comments every few seconds (rawpush
  every 15 s) to keep a healthy stream from looking dead.
- ``close()`` ends iteration quietly (``StopAsyncIteration``); only a
  failure raises.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from rawpush.client import h2
from rawpush.client.http import (
    URL,
    AnyResponse,
    HTTPStatusError,
    SSLArg,
    backoff,
    error_text,
    parse_url,
    pause,
    request,
    with_token,
)
from rawpush.client.limits import MAX_SSE_EVENT
from rawpush.sse import Decoder, Event, SSEDecodeError

__all__ = ["GAP_EVENT", "EventSource", "EventSourceClosed", "ReadyState", "open_stream"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
EVENT_STREAM = "text/event-stream"
#: The ``event:`` name of rawpush's gap notice (a name it never publishes under).
GAP_EVENT = "gap"


class ReadyState(enum.IntEnum):
    """``EventSource.readyState`` (WHATWG HTML 9.2.2), same numbers."""

    CONNECTING = 0
    OPEN = 1
    CLOSED = 2


class EventSourceClosed(HTTPStatusError):
    """The source failed for good: the server answered ``status`` (0 when
    the status was fine and something else was not, e.g. the content
    type), so reconnecting is pointless."""


async def open_stream(
    url: URL,
    *,
    last_event_id: str = "",
    headers: Iterable[tuple[str, str]] = (),
    max_redirects: int = 5,
    ssl: SSLArg = None,
    timeout: float | None = None,
    http2: bool = False,
) -> AnyResponse:
    """One connection attempt: request the stream, follow redirects, and
    check the answer. Returns an open event stream; raises
    ``EventSourceClosed`` when the server refused it, ``OSError`` when the
    network failed (worth retrying). ``http2``: over HTTP/2
    (``rawpush.client.h2``; ``h2.HTTP2Unavailable`` when the server has none)."""
    send = h2.request if http2 else request
    all_headers = [
        ("Accept", EVENT_STREAM),
        # 9.2.3: "the user agent should not use a cached copy of the stream".
        ("Cache-Control", "no-cache"),
        *headers,
    ]
    if last_event_id:
        # 9.2.4: the header value is the UTF-8 encoded last event ID (and
        # request() sends every header value UTF-8 encoded).
        all_headers.append(("Last-Event-ID", last_event_id))
    for _ in range(max_redirects + 1):
        response: AnyResponse = await send(
            "GET", url, headers=all_headers, ssl=ssl, timeout=timeout
        )
        location = response.header("location")
        if response.status in _REDIRECTS and location:
            await response.aclose()
            try:
                url = url.join(location)
            except ValueError as exc:
                raise EventSourceClosed(response.status, f"bad redirect: {exc}") from None
            continue
        if response.status != 200:
            # The server's own words (rawpush answers {"error": "..."}).
            why = await error_text(response)
            raise EventSourceClosed(response.status, why or "not OK")
        if response.content_type != EVENT_STREAM:
            await response.aclose()
            raise EventSourceClosed(0, f"wrong content type {response.content_type!r}")
        return response
    raise EventSourceClosed(response.status, f"more than {max_redirects} redirects")


class EventSource:
    """An async iterator of ``rawpush.sse.Event`` that reconnects by itself.

    ::

        async with EventSource("http://127.0.0.1:8000/sse/news") as source:
            async for event in source:
                print(event.id, event.event, event.data)

    ``retry`` is the reconnection time in seconds until the server sets
    one; ``max_retry`` caps the backoff. ``headers`` are sent with every
    request; ``token`` adds ``Authorization: Bearer``. ``ssl`` is an
    ``SSLContext``, or ``False`` to skip verification on https://.
    ``max_event_size`` bounds a line and an event's data, in characters
    (see the module docstring for the default). ``http2=True`` speaks
    HTTP/2 (ALPN ``h2`` on https://, prior knowledge on http://; see
    ``rawpush.client.h2``); a server without it fails the source for good
    (``EventSourceClosed`` with status 0).
    """

    def __init__(
        self,
        url: str,
        *,
        last_event_id: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        token: str | None = None,
        retry: float = 3.0,
        max_retry: float = 30.0,
        max_redirects: int = 5,
        ssl: SSLArg = None,
        read_timeout: float | None = None,
        max_event_size: int = MAX_SSE_EVENT,
        http2: bool = False,
    ) -> None:
        self.url = parse_url(url)
        if self.url.scheme not in ("http", "https"):
            raise ValueError(f"EventSource needs an http(s):// URL, not {url!r}")
        if retry < 0 or max_retry < retry:
            raise ValueError("need 0 <= retry <= max_retry")
        self._headers = with_token(headers, token)
        self._retry = retry  # the reconnection time, in seconds
        self._max_retry = max_retry
        self._max_redirects = max_redirects
        self._ssl = ssl
        self._read_timeout = read_timeout
        self._max_size = max_event_size
        self._http2 = http2
        self._decoder = self._new_decoder(last_event_id or "")
        self._pending: deque[Event] = deque()
        self._response: AnyResponse | None = None
        self._failures = 0  # failed attempts in a row, for backoff
        self._first_attempt = True
        self._closed = asyncio.Event()
        self._error: EventSourceClosed | None = None
        self._state = ReadyState.CONNECTING

    @property
    def ready_state(self) -> ReadyState:
        """``CONNECTING``, ``OPEN`` or ``CLOSED``, as an ``EventSource``'s
        ``readyState`` (WHATWG HTML section 9.2.2)."""
        return self._state

    @property
    def last_event_id(self) -> str:
        """What the next reconnection sends as ``Last-Event-ID``."""
        return self._decoder.last_event_id

    @property
    def retry(self) -> float:
        """The current reconnection time in seconds (the server may change it)."""
        return self._retry

    def __aiter__(self) -> EventSource:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._state is ReadyState.CLOSED:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            if self._response is None:
                await self._connect()
                continue
            try:
                chunk = await self._response.read_chunk(self._read_timeout)
            except OSError:
                self._lost(failed=True)
                continue
            if not chunk:
                self._lost(failed=False)
                continue
            try:
                self._pending.extend(self._decoder.feed(chunk))
            except SSEDecodeError as exc:
                self._fail(EventSourceClosed(200, f"bad event stream: {exc}"))
                continue
            if self._decoder.retry is not None:
                self._retry = self._decoder.retry / 1000

    async def _connect(self) -> None:
        """Wait as long as the backoff says, then make one attempt."""
        if not self._first_attempt:
            await pause(self._closed, backoff(self._retry, self._failures, self._max_retry))
            if self._state is ReadyState.CLOSED:
                return
        self._first_attempt = False
        try:
            response = await open_stream(
                self.url,
                last_event_id=self._decoder.last_event_id,
                headers=self._headers,
                max_redirects=self._max_redirects,
                ssl=self._ssl,
                timeout=self._read_timeout,
                http2=self._http2,
            )
        except EventSourceClosed as exc:
            self._fail(exc)
            return
        except h2.HTTP2Unavailable as exc:
            self._fail(EventSourceClosed(0, str(exc)))
            return
        except OSError:
            self._failures += 1
            return
        if self._state is ReadyState.CLOSED:  # close() ran while we connected
            response.close()
            return
        self._response = response
        self._failures = 0
        self._state = ReadyState.OPEN
        # 9.2.6: the last event ID survives a reconnection, the rest of the
        # parser state does not; a fresh decoder starts from that id.
        self._decoder = self._new_decoder(self._decoder.last_event_id)

    def _new_decoder(self, last_event_id: str) -> Decoder:
        return Decoder(self._max_size, self._max_size, last_event_id)

    def _lost(self, *, failed: bool) -> None:
        """The stream ended (or broke): events cut short are discarded (9.2.6)
        and the source goes back to CONNECTING."""
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._state is ReadyState.CLOSED:
            return
        if failed:
            self._failures += 1
        self._state = ReadyState.CONNECTING

    def _fail(self, error: EventSourceClosed) -> None:
        self._error = error
        self.close()

    def close(self) -> None:
        """Close for good: the pending read or wait ends and iteration stops."""
        self._state = ReadyState.CLOSED
        self._closed.set()
        if self._response is not None:
            self._response.close()
            self._response = None

    async def __aenter__(self) -> EventSource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
