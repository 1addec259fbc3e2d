"""``LongPoller``: the long-poll client (see ``rawpush.longpoll`` for the wire format).

Each request is ``GET {url}?cursor=ID&timeout=S``; each answer is one
``PollResult``. The cursor from one answer goes into the next request, so
a consumer that just iterates never misses or repeats an event, and a
``gap`` flag says when the server's history no longer reached back.

Choices:

- every answer is yielded, an empty one (the server's wait ran out) too,
  so a consumer sees the poller is alive and can stop between requests;
- a network failure or a 5xx (an overloaded or restarting server, RFC
  9110 section 15.6) is retried with capped, jittered exponential backoff;
  a 4xx says the request itself is wrong, so it raises ``LongPollClosed``;
- the read waits ``timeout`` plus ``grace`` seconds for an answer: the
  server answers within ``timeout``, so a longer silence means the
  connection is dead even if no error said so;
- an event without a name (``"event"`` absent, null or empty) is a
  ``"message"``, as EventSource names it (WHATWG HTML 9.2.6), so the
  three clients present one event the same way;
- a ``"gap": true`` answer carries the cursor to resume from (the
  server's head when nothing was left to replay): the next poll waits
  from there, it does not hear of the same gap again;
- an answer is read up to ``max_body`` bytes (default
  ``rawpush.client.limits.MAX_POLL_BODY``, 16 MiB, over the most the
  server's defaults put in one answer; the formula is there).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from rawpush.client import h2
from rawpush.client.http import (
    URL,
    HTTPStatusError,
    SSLArg,
    backoff,
    error_message,
    parse_url,
    pause,
    request,
    with_token,
)
from rawpush.client.limits import MAX_POLL_BODY
from rawpush.sse import Event

__all__ = ["LongPollClosed", "LongPoller", "PollResult", "parse_poll_body"]

MAX_BODY = MAX_POLL_BODY


class LongPollClosed(HTTPStatusError):
    """The server refused the poll with a 4xx (or sent what is not a poll
    answer, status 0 then): retrying the same request would not help."""


@dataclass(frozen=True, slots=True)
class PollResult:
    """One long-poll answer: ``events`` in order, the ``cursor`` to resume
    from, and ``gap`` when events before these were lost to the history."""

    events: tuple[Event, ...]
    cursor: str | None
    gap: bool = False
    #: indices of ``events`` whose data is base64 of a binary payload
    #: (the server's ``"encoding": "base64"``)
    binary: frozenset[int] = frozenset()


def parse_poll_body(body: bytes) -> PollResult:
    """Read a poll answer; ``ValueError`` when it is not one."""
    answer = json.loads(body)
    if not isinstance(answer, dict) or not isinstance(answer.get("events"), list):
        raise ValueError("a poll answer is an object with an 'events' list")
    events: list[Event] = []
    binary: set[int] = set()
    for item in answer["events"]:
        if not isinstance(item, dict):
            raise ValueError("a poll event is an object")
        data, name, ident = item.get("data"), item.get("event") or "message", item.get("id")
        if not (isinstance(data, str) and isinstance(name, str) and isinstance(ident, str)):
            raise ValueError("a poll event has string 'id', 'event' and 'data'")
        if item.get("encoding") == "base64":
            binary.add(len(events))
        events.append(Event(data, name, ident))
    cursor = answer.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError("a poll cursor is a string")
    return PollResult(tuple(events), cursor, answer.get("gap") is True, frozenset(binary))


def with_query(url: URL, **params: str | None) -> URL:
    """``url`` with these query parameters set (``None``: removed), others kept."""
    path, _, query = url.target.partition("?")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in params]
    pairs += [(k, v) for k, v in params.items() if v is not None]
    return URL(url.scheme, url.host, url.port, f"{path}?{urlencode(pairs)}" if pairs else path)


class LongPoller:
    """An async iterator of ``PollResult`` from ``url`` (``http://host/poll/chan``).

    ``cursor`` is where to start (None: only events published from now
    on); ``timeout`` how long each request asks the server to wait;
    ``max_body`` the largest answer read, in bytes. ``http2=True`` polls
    over HTTP/2 (``rawpush.client.h2``); a server without it closes the
    poller (``LongPollClosed`` with status 0).
    """

    def __init__(
        self,
        url: str,
        *,
        cursor: str | None = None,
        timeout: float = 25.0,
        headers: Iterable[tuple[str, str]] = (),
        token: str | None = None,
        retry: float = 1.0,
        max_retry: float = 30.0,
        grace: float = 10.0,
        ssl: SSLArg = None,
        max_body: int = MAX_BODY,
        http2: bool = False,
    ) -> None:
        self.url = parse_url(url)
        if self.url.scheme not in ("http", "https"):
            raise ValueError(f"LongPoller needs an http(s):// URL, not {url!r}")
        self._max_body = max_body
        if timeout < 0 or retry < 0 or max_retry < retry:
            raise ValueError("need timeout >= 0 and 0 <= retry <= max_retry")
        self.cursor = cursor
        self.timeout = timeout
        self._headers = (("Accept", "application/json"), *with_token(headers, token))
        self._retry = retry
        self._max_retry = max_retry
        self._grace = grace
        self._ssl = ssl
        self._send = h2.request if http2 else request
        self._failures = 0
        self._closed = asyncio.Event()

    def __aiter__(self) -> LongPoller:
        return self

    async def __anext__(self) -> PollResult:
        while not self._closed.is_set():
            if self._failures:
                await pause(self._closed, backoff(self._retry, self._failures, self._max_retry))
                if self._closed.is_set():
                    break
            try:
                result = await self.poll_once()
            except h2.HTTP2Unavailable as exc:
                raise LongPollClosed(0, str(exc)) from None
            except OSError:
                self._failures += 1
                continue
            self._failures = 0
            return result
        raise StopAsyncIteration

    async def poll_once(self) -> PollResult:
        """One request. ``OSError`` on network failure or 5xx (retry),
        ``LongPollClosed`` on 4xx or a malformed answer (do not);
        ``h2.HTTP2Unavailable`` (an ``OSError``) when ``http2`` finds none."""
        url = with_query(self.url, cursor=self.cursor, timeout=f"{self.timeout:g}")
        wait = self.timeout + self._grace
        response = await self._send("GET", url, headers=self._headers, ssl=self._ssl, timeout=wait)
        try:
            body = await response.read(self._max_body, timeout=wait)
        finally:
            await response.aclose()
        if response.status >= 500:
            why = error_message(body) or response.reason
            raise ConnectionError(f"server error {response.status} {why}".rstrip())
        if response.status != 200:
            why = error_message(body) or response.reason or "refused"
            raise LongPollClosed(response.status, why)
        try:
            result = parse_poll_body(body)
        except ValueError as exc:
            raise LongPollClosed(0, f"not a poll answer: {exc}") from None
        if result.cursor is not None:
            self.cursor = result.cursor
        elif result.events:
            self.cursor = result.events[-1].id
        return result

    def close(self) -> None:
        """Stop: iteration ends after the request in flight (if any)."""
        self._closed.set()
