"""``subscribe``: one stream of events from the best transport that works.

::

    async with contextlib.aclosing(subscribe("http://127.0.0.1:8000", "news")) as messages:
        async for message in messages:
            if message.gap:
                ...  # events were lost: resynchronise from elsewhere
            else:
                print(message.id, message.data, "via", message.transport)

It tries the transports in order (WebSocket, then SSE, then long polling)
and resumes from the last event it delivered whenever it connects, under
each transport's own resume rule: the ``since`` of its ``subscribe`` on
``GET /ws`` (``?lastEventId=`` on ``/ws/{channel}``, used when a server
answers ``/ws`` with 404), the ``Last-Event-ID`` header for SSE (WHATWG
HTML 9.2.4), the ``cursor`` of a long poll. The server's ids are ordered per channel, so resuming
after the last delivered id neither loses nor repeats an event; as a
second line of defence, an event whose id is not after the last one
delivered is dropped (rawpush ids ``<ms>-<seq>`` compare as numbers,
other ids only by equality). A gap the server reports (its history no
longer reached back) becomes a message with ``gap=True``, never a silent
loss, and lifts that check for the next event: a server that could not
place our id (a restart, a newer server) starts again from its own head.

The fallback rules, which no standard fixes:

- a transport that cannot connect (network error, timeout) hands over
  to the next one at once;
- a transport the server *refuses* with a 4xx (a WebSocket upgrade
  answered 403, an SSE answer that is not ``text/event-stream``, ...)
  is skipped for the rest of the subscription: asking again would get
  the same answer and cost a round trip at each reconnection. When every
  transport has been refused, ``SubscribeError`` says why;
- a stream that opened and then ended or broke is resumed from the
  *first* usable transport after ``retry`` seconds (jittered), so a
  client pushed down to long polling by a passing failure goes back up;
  when the server said how long to wait as it ended the stream (SSE's
  ``retry:`` field, stretched by 0-25 %; the WebSocket 1001 drain hint
  ``retry=<ms>``, already spread by the server, see
  ``rawpush.client.ws_errors``), that wait replaces ``retry``. A rawpush
  server draining with ``drain_retry_ms`` D so brings back its WebSocket
  and SSE subscribers alike within 2 D (plus the time to connect);
- when a whole round fails, the next round waits with capped
  exponential backoff (``retry`` doubled up to ``max_retry``).

Messages are ``Message(id, event, data, transport, gap)`` rather than
``rawpush.sse.Event``: a consumer of several transports wants to know
which one carried each message, and a gap is not an event. They look the
same whichever transport carried them: an event the server sent without
a name is a ``"message"``; a gap is ``Message(id, "gap", "", transport,
gap=True)`` with ``id`` the last id delivered before the hole ("" when
none), before the events that follow it.

Default limits take whatever the server's defaults let through
(``rawpush.client.limits``): SSE events up to a 1 MiB publish plus
framing, WebSocket frames up to that publish in the worst JSON escaping.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from rawpush.client.binary import BinaryMarks
from rawpush.client.http import (
    URL,
    HTTPStatusError,
    SSLArg,
    backoff,
    parse_url,
    with_token,
)
from rawpush.client.limits import MAX_JSON_EVENT, MAX_SSE_EVENT
from rawpush.client.poll import LongPoller, with_query
from rawpush.client.sse import GAP_EVENT, open_stream
from rawpush.client.ws import ConnectionClosed, InvalidHandshake, connect
from rawpush.client.ws_protocol import WebSocketClient
from rawpush.proto.multichannel import ControlError, parse_binary_message
from rawpush.sse import Decoder, SSEDecodeError

__all__ = ["TRANSPORTS", "Message", "SubscribeError", "subscribe"]

TRANSPORTS = ("ws", "sse", "poll")


@dataclass(frozen=True, slots=True)
class Message:
    """One event, and the transport that carried it. A gap notice has
    ``gap=True``, event ``"gap"``, empty ``data`` and, as ``id``, the last
    id delivered before the hole ("" when none)."""

    id: str
    event: str
    #: ``bytes`` for a binary event (a binary WebSocket message, base64
    #: with the server's marker on SSE and long poll), else ``str``
    data: str | bytes
    transport: str
    gap: bool = False


class SubscribeError(Exception):
    """Every transport was refused by the server; ``reasons`` maps each
    transport to what it answered."""

    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in reasons.items()))
        self.reasons = reasons


class _Refused(Exception):
    """A transport the server will keep refusing (a 4xx or wrong answer)."""

    def __init__(self, why: str, status: int = 0) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Retry:
    """The wait the server asked for as it ended a stream, in seconds;
    ``spread``: the server sent every client the same one (jitter it)."""

    seconds: float
    spread: bool


# A session yields ``None`` once it is open, then messages, and a bare
# ``str`` when the resume point moves without a message (an empty poll
# answer carries the cursor), a ``_Retry`` when the server said when to
# come back; it returns when the server ends the stream and raises when
# it breaks.
Item = Message | str | _Retry | None
Stream = AsyncGenerator[Item, None]
Session = Callable[[URL, str | None], Stream]


@dataclass(frozen=True, slots=True)
class _Options:
    headers: tuple[tuple[str, str], ...]
    ssl: SSLArg
    open_timeout: float
    poll_timeout: float
    idle_timeout: float | None
    http2: bool = False


def _refusal(status: int) -> bool:
    """4xx (and the 0 of "answered, but not with an event stream") repeat;
    5xx says the server is overloaded or restarting: try again later."""
    return status == 0 or 400 <= status < 500


async def _ws_connect(url: URL, opts: _Options) -> WebSocketClient:
    url = url.with_scheme("wss" if url.secure else "ws")
    ssl = opts.ssl if not isinstance(opts.ssl, bool) else None
    try:
        return await connect(
            str(url),
            extra_headers=opts.headers,
            open_timeout=opts.open_timeout,
            ssl=ssl,
            max_frame_size=MAX_JSON_EVENT,
            max_message_size=MAX_JSON_EVENT,
        )
    except InvalidHandshake as exc:
        if _refusal(exc.status):
            raise _Refused(f"upgrade refused with {exc.status}", exc.status) from exc
        raise ConnectionError(f"upgrade failed with {exc.status}") from exc


def _ws_transport(base: URL, channel: str, opts: _Options) -> Session:
    """The WebSocket session: ``GET /ws`` with one ``subscribe``, where a
    binary event's header carries its id, so resuming after one neither
    repeats nor loses it; ``/ws/{channel}`` on a server that answers 404
    to ``/ws`` (an older one), where a binary event carries no id."""
    legacy = False

    async def session(url: URL, resume: str | None) -> Stream:
        nonlocal legacy
        inner: Stream | None = None
        if not legacy:
            try:
                ws = await _ws_connect(_endpoint(base, "ws", None), opts)
            except _Refused as exc:
                if exc.status != 404:
                    raise
                legacy = True
            else:
                inner = _ws_channel(ws, channel, resume)
        if inner is None:
            inner = _ws_session(url, resume, opts)
        try:
            async for item in inner:
                yield item
        finally:
            await inner.aclose()

    return session


async def _ws_channel(ws: WebSocketClient, channel: str, resume: str | None) -> Stream:
    """One channel over ``/ws``: one ``subscribe`` (with ``since``), its
    ack, then the channel's events as the multi-channel protocol sends them."""
    ask: dict[str, str] = {"op": "subscribe", "channel": channel}
    if resume:
        ask["since"] = resume
    last = resume
    try:
        await ws.send(json.dumps(ask))
        async for frame in ws:
            message = _ws_channel_message(frame, channel, last)
            if message is False:
                continue
            if message is not None:
                last = last if message.gap else message.id
            yield message
        if ws.retry_after is not None:
            yield _Retry(ws.retry_after, spread=False)
    finally:
        await ws.close()


def _ws_channel_message(
    frame: str | bytes, channel: str, last: str | None
) -> Message | Literal[False] | None:
    """A ``/ws`` server message: a ``Message``; ``None`` for our subscribe's
    ack (the session is open); ``False`` for what is not ours (a pong).
    An error reply to the subscribe refuses the transport (``unavailable``,
    a store down for now, is a failure to retry instead)."""
    if isinstance(frame, bytes):
        try:
            head, data = parse_binary_message(frame)
        except ControlError as exc:
            raise ValueError(str(exc)) from exc
        ident, name = head.get("id"), head.get("event") or "message"
        if not (isinstance(ident, str) and isinstance(name, str)):
            raise ValueError("a binary event's header has string 'id' and 'event'")
        return Message(ident, name, data, "ws")
    item = json.loads(frame)
    if not isinstance(item, dict):
        raise ValueError("a /ws message is a JSON object")
    kind = item.get("type")
    if kind == "ack":
        return None if item.get("op") == "subscribe" else False
    if kind == "error":
        why = f"{item.get('code')}: {item.get('message')}"
        if item.get("code") == "unavailable":
            raise ConnectionError(why)
        raise _Refused(why)
    if kind == "gap" and item.get("channel") in (None, channel):
        return Message(last or "", GAP_EVENT, "", "ws", gap=True)
    if kind != "event" or item.get("channel") != channel:
        return False
    ident, name, text = item.get("id"), item.get("event") or "message", item.get("data")
    if not (isinstance(ident, str) and isinstance(name, str) and isinstance(text, str)):
        raise ValueError("a /ws event has string 'id', 'event' and 'data'")
    return Message(ident, name, text, "ws")


async def _ws_session(base: URL, resume: str | None, opts: _Options) -> Stream:
    ws = await _ws_connect(with_query(base, lastEventId=resume), opts)
    last = resume
    try:
        yield None
        async for frame in ws:
            if isinstance(frame, bytes):
                # A binary event is its payload alone: no id to resume by.
                yield Message("", "message", frame, "ws")
                continue
            message = _ws_message(frame, last)
            last = last if message.gap else message.id
            yield message
        if ws.retry_after is not None:
            yield _Retry(ws.retry_after, spread=False)
    finally:
        await ws.close()


async def _sse_session(base: URL, resume: str | None, opts: _Options) -> Stream:
    try:
        response = await open_stream(
            base, last_event_id=resume or "", headers=opts.headers, ssl=opts.ssl,
            timeout=opts.open_timeout, http2=opts.http2,
        )
    except HTTPStatusError as exc:
        if _refusal(exc.status):
            raise _Refused(str(exc)) from exc
        raise ConnectionError(str(exc)) from exc
    decoder = Decoder(MAX_SSE_EVENT, MAX_SSE_EVENT, resume or "")
    marks = BinaryMarks()
    try:
        yield None
        while chunk := await response.read_chunk(opts.idle_timeout):
            marks.feed(chunk)
            for event in decoder.feed(chunk):
                name = event.event or "message"
                if marks.pop():
                    data = base64.b64decode(event.data)
                    yield Message(event.id or "", name, data, "sse")
                elif name == GAP_EVENT:
                    # No id on the notice: event.id is still the last one seen.
                    yield Message(event.id or "", GAP_EVENT, "", "sse", gap=True)
                else:
                    yield Message(event.id or "", name, event.data, "sse")
        if decoder.retry is not None:
            yield _Retry(decoder.retry / 1000, spread=True)
    finally:
        response.close()


async def _poll_session(base: URL, resume: str | None, opts: _Options) -> Stream:
    poller = LongPoller(
        str(base), cursor=resume, timeout=opts.poll_timeout, headers=opts.headers, ssl=opts.ssl,
        http2=opts.http2,
    )
    opened = False
    while True:
        asked = poller.cursor  # what the gap, if any, is after
        try:
            result = await poller.poll_once()
        except HTTPStatusError as exc:
            if not opened and _refusal(exc.status):
                raise _Refused(str(exc)) from exc
            raise ConnectionError(str(exc)) from exc
        if not opened:
            opened = True
            yield None
        if result.gap:
            yield Message(asked or "", GAP_EVENT, "", "poll", gap=True)
        for index, event in enumerate(result.events):
            data = base64.b64decode(event.data) if index in result.binary else event.data
            yield Message(event.id or "", event.event or "message", data, "poll")
        if poller.cursor is not None:
            # The cursor is the resume point even when no event came (the
            # first poll without a cursor learns "now" this way).
            yield poller.cursor


def _ws_message(frame: str, last: str | None) -> Message:
    """A server frame: ``{"id", "event", "data"}`` or ``{"gap": true}``
    (after ``last``, the id delivered before it)."""
    item = json.loads(frame)
    if not isinstance(item, dict):
        raise ValueError("a WebSocket event is a JSON object")
    if item.get("gap") is True:
        return Message(last or "", GAP_EVENT, "", "ws", gap=True)
    ident, name, data = item.get("id"), item.get("event") or "message", item.get("data")
    if not (isinstance(ident, str) and isinstance(name, str) and isinstance(data, str)):
        raise ValueError("a WebSocket event has string 'id', 'event' and 'data'")
    return Message(ident, name, data, "ws")


def _id_key(ident: str) -> tuple[int, int] | None:
    """rawpush's ``<ms>-<seq>`` as numbers; None for an id of another shape."""
    ms, dash, seq = ident.partition("-")
    if dash and ms.isascii() and ms.isdigit() and seq.isascii() and seq.isdigit():
        return int(ms), int(seq)
    return None


def _is_new(ident: str, floor: str | None) -> bool:
    """Whether an event with id ``ident`` comes after ``floor``, the last
    id delivered (None: anything is new, e.g. right after a gap)."""
    if floor is None or not ident:
        return True
    key, floor_key = _id_key(ident), _id_key(floor)
    if key is None or floor_key is None:
        return ident != floor
    return key > floor_key


def _endpoint(base: URL, name: str, channel: str | None) -> URL:
    path = f"{base.target.split('?', 1)[0].rstrip('/')}/{name}"
    if channel is not None:
        path += f"/{quote(channel, safe='')}"
    return URL(base.scheme, base.host, base.port, path)


async def subscribe(
    base_url: str,
    channel: str,
    *,
    transports: Sequence[str] = TRANSPORTS,
    last_id: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    token: str | None = None,
    retry: float = 1.0,
    max_retry: float = 30.0,
    open_timeout: float = 10.0,
    poll_timeout: float = 25.0,
    idle_timeout: float | None = 60.0,
    ssl: SSLArg = None,
    http2: bool = False,
) -> AsyncGenerator[Message, None]:
    """Messages of ``channel`` on the server at ``base_url`` (``http(s)://host:port``),
    over the first of ``transports`` that works; ``last_id`` resumes after that id.

    ``idle_timeout`` is how long an SSE stream may stay silent before it
    counts as broken (SSE has no pong; rawpush sends a comment every
    15 s). WebSocket liveness is the client's ping, long polls have
    their own deadline. ``token`` is sent as ``Authorization: Bearer`` on
    every transport. ``http2=True`` carries SSE and long polls over
    HTTP/2 (ALPN on https, prior knowledge on http; a server without it
    counts as a network failure, so the next transport is tried); the
    WebSocket stays on HTTP/1.1 (its HTTP/2 form, RFC 8441, is not served).
    Use ``contextlib.aclosing`` to close promptly.
    """
    unknown = set(transports) - set(TRANSPORTS)
    if unknown or not transports:
        raise ValueError(f"transports must be drawn from {TRANSPORTS}, not {tuple(transports)}")
    base = parse_url(base_url)
    if base.scheme in ("ws", "wss"):
        base = base.with_scheme("https" if base.secure else "http")
    opts = _Options(
        with_token(headers, token), ssl, open_timeout, poll_timeout, idle_timeout, http2
    )
    sessions: dict[str, Session] = {
        "ws": _ws_transport(base, channel, opts),
        "sse": lambda url, resume: _sse_session(url, resume, opts),
        "poll": lambda url, resume: _poll_session(url, resume, opts),
    }
    refused: dict[str, str] = {}
    resume = last_id
    floor = last_id  # what was delivered last: nothing at or before it again
    failures = 0
    while True:
        opened = False
        hint: _Retry | None = None
        for name in transports:
            if name in refused:
                continue
            stream = sessions[name](_endpoint(base, name, channel), resume)
            try:
                async for item in stream:
                    if item is None:
                        opened = True
                        failures = 0
                    elif isinstance(item, str):
                        resume = floor = item
                    elif isinstance(item, _Retry):
                        hint = item
                    elif item.gap:
                        # The server could not place our id (or lost events
                        # after it): what follows starts from its own head.
                        floor = None
                        yield item
                    elif _is_new(item.id, floor):  # never deliver one twice
                        resume = item.id or resume
                        floor = item.id or floor
                        yield item
            except _Refused as exc:
                refused[name] = str(exc)
            except (OSError, ConnectionClosed, SSEDecodeError, ValueError):
                pass  # a network failure, or a stream we could not read: move on
            finally:
                await stream.aclose()
            if opened:
                break  # it worked for a while: start again from the best transport
        if len(refused) == len(set(transports)):
            raise SubscribeError(refused)
        if not opened:
            failures += 1
        if hint is None:
            delay = backoff(retry, failures, max_retry)
        elif hint.spread:
            delay = backoff(min(hint.seconds, max_retry), 0, max_retry)
        else:
            delay = min(hint.seconds, max_retry)
        await asyncio.sleep(delay)
