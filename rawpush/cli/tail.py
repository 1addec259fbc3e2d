"""``rawpush tail URL``: print a channel's events as they arrive, and say
on stderr what it is doing.

The URL picks the transport: ``ws://``/``wss://`` a WebSocket,
``http(s)://.../poll/...`` long polling, any other ``http(s)://`` URL an
event stream. Events go to stdout, one line each, as ``--format`` says:
``data`` (the default: the data, a newline in it written ``\\n`` so that
one line stays one event), ``plain`` (``id<TAB>event<TAB>data``) or
``json`` (``{"id", "event", "data"}``; ``--json`` is the same). A gap
(events the server no longer had) is ``{"gap": true}`` in JSON and a
note on stderr otherwise.

stderr says, one ``rawpush:`` line each: connecting (and after which id
it resumes), connected via which transport, each retry with its reason
and delay, and why it gave up. Every transport reconnects and resumes
after the last id it printed: when the stream ends (a server drain: it
waits as long as the server's hint says, SSE ``retry:`` or the WebSocket
1001 ``retry=<ms>``) or breaks (network errors, 5xx, a timeout: capped
exponential backoff from ``--retry-delay``). After ``--retries`` failed
attempts in a row it gives up (exit 3) unless ``--retry-forever``.

Permanent errors end it at once, with the server's own words when it
gave some: a host name that does not resolve, a certificate that does
not verify (exit 3), a request the server refused with a 4xx, an answer
that is not an event stream, a WebSocket closed for a policy (exit 4).
Ctrl-C ends it quietly with status 130.

``--http2`` carries SSE and long polls over HTTP/2 (ALPN ``h2`` on
https://, prior knowledge on http://; ``rawpush.client.h2``). A server
that does not speak it is a permanent error (exit 4), not a retry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from rawpush.cli.errors import CLIError, Exit, describe, say
from rawpush.cli.runner import run_main
from rawpush.client.h2 import HTTP2Unavailable
from rawpush.client.http import (
    URL,
    HTTPStatusError,
    backoff,
    error_message,
    parse_url,
    with_token,
)
from rawpush.client.limits import MAX_SSE_EVENT
from rawpush.client.poll import LongPoller, with_query
from rawpush.client.sse import GAP_EVENT, open_stream
from rawpush.client.ws import ConnectionClosed, InvalidHandshake, connect
from rawpush.sse import Decoder, SSEDecodeError

__all__ = ["H2_FIX", "add_http2_flag", "add_tail_parser", "ssl_from_args"]

#: bound on TCP + TLS + the request's answer (or the WebSocket handshake)
OPEN_TIMEOUT = 10.0
#: the longest wait between two attempts
MAX_DELAY = 10.0
#: WebSocket close codes that say "do not come back as you are": a policy
#: (1008, RFC 6455 section 7.4.1), a message too big (1009), rawpush's
#: expired token (4001)
_FINAL_CLOSE = frozenset({1008, 1009, 4001})


def add_tail_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tail", help="print the events of a channel as they arrive")
    p.set_defaults(run=run_tail)
    p.add_argument("url", help="ws://host:port/ws/CHAN, http://host:port/sse/CHAN or /poll/CHAN")
    p.add_argument("--format", choices=["data", "plain", "json"], default="data",
                   help="data: the data only; plain: id, event and data separated by tabs; "
                        "json: one JSON object per line (default %(default)s)")
    p.add_argument("--json", action="store_const", const="json", dest="format",
                   help="the same as --format json")
    p.add_argument("--last-event-id", default=None, metavar="ID",
                   help="resume after this id (SSE Last-Event-ID, poll cursor, ws lastEventId)")
    p.add_argument("--token", default=None, help="send 'Authorization: Bearer TOKEN'")
    p.add_argument("--retries", type=int, default=5, metavar="N",
                   help="failed attempts in a row before giving up (default %(default)s)")
    p.add_argument("--retry-forever", action="store_true",
                   help="never give up on errors that may pass (network, 5xx)")
    p.add_argument("--retry-delay", type=float, default=1.0, metavar="SECONDS",
                   help="first wait after a failure, doubled after each, at most "
                        f"{MAX_DELAY:g} s (default %(default)s s)")
    add_http2_flag(p)
    add_tls_flags(p)


def add_http2_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--http2", action="store_true",
                   help="speak HTTP/2: ALPN h2 on https://, prior knowledge on http:// "
                        "(http(s):// URLs only)")


#: the fix a ``--http2`` line offers when the server has no HTTP/2
H2_FIX = "is it serving with --no-http2? leave out --http2 to use HTTP/1.1"


def add_tls_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cacert", metavar="FILE",
                   help="trust the certificates this PEM file holds (https://, wss://)")
    p.add_argument("--insecure", action="store_true",
                   help="do not verify the server's certificate (https://, wss://)")


def ssl_from_args(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The client TLS context ``--cacert`` / ``--insecure`` ask for (None:
    the system's CAs, which is what the clients use by default)."""
    if args.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if args.cacert is None:
        return None
    try:
        return ssl.create_default_context(cafile=args.cacert)
    except FileNotFoundError:
        raise CLIError(f"--cacert {args.cacert}", "no such file", Exit.USAGE) from None
    except (OSError, ssl.SSLError) as exc:
        why = "no PEM certificate in it" if isinstance(exc, ssl.SSLError) else describe(exc)[0]
        raise CLIError(f"--cacert {args.cacert}", why, Exit.USAGE) from None


# ---- one connection --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    id: str
    event: str
    data: str


@dataclass(frozen=True, slots=True)
class _Gap:
    pass


@dataclass(frozen=True, slots=True)
class _End:
    """The server ended the stream cleanly; ``why`` says how."""

    why: str


@dataclass(frozen=True, slots=True)
class _Retry:
    """The server's word on when to come back, in seconds."""

    seconds: float


class _Final(Exception):
    """An error that retrying would only repeat."""

    def __init__(self, why: str, code: Exit, fix: str | None = None) -> None:
        super().__init__(why)
        self.code = code
        self.fix = fix


#: a session yields None once connected, then events, gaps, hints, a bare
#: ``str`` when the resume point moves without an event (a poll's cursor),
#: and an ``_End`` when the server ended the stream
_Item = _Event | _Gap | _Retry | _End | str | None
_Stream = AsyncGenerator[_Item, None]


@dataclass(frozen=True, slots=True)
class _Opts:
    headers: tuple[tuple[str, str], ...]
    ssl: ssl.SSLContext | None
    http2: bool = False


async def _ws(url: URL, resume: str | None, opts: _Opts) -> _Stream:
    target = with_query(url, lastEventId=resume)
    try:
        ws = await connect(
            str(target), extra_headers=opts.headers, open_timeout=OPEN_TIMEOUT,
            ssl=opts.ssl if url.secure else None,
        )
    except InvalidHandshake as exc:
        said = error_message(exc.response.body) if exc.response is not None else ""
        why = f"upgrade refused: {exc.status} {said}".rstrip()
        if 400 <= exc.status < 500 or exc.status < 300:
            raise _Final(why, Exit.REFUSED) from None
        raise ConnectionError(why) from None
    try:
        yield None
        try:
            async for frame in ws:
                item = json.loads(frame)
                if not isinstance(item, dict):
                    raise _Final("a WebSocket frame that is not an event", Exit.REFUSED)
                if item.get("gap") is True:
                    yield _Gap()
                else:
                    yield _Event(str(item.get("id", "")), item.get("event") or "message",
                                 str(item.get("data", "")))
        except ConnectionClosed as exc:
            if exc.code in _FINAL_CLOSE:
                raise _Final(f"closed by the server: {exc.code} {exc.reason}".rstrip(),
                             Exit.REFUSED) from None
            raise ConnectionError(f"connection lost: {exc.code} {exc.reason}".rstrip()) from None
        except ValueError:
            raise _Final("a WebSocket frame that is not JSON", Exit.REFUSED) from None
        if ws.retry_after is not None:
            yield _Retry(ws.retry_after)
        yield _End(f"closed by the server: {ws.close_code} {ws.close_reason or ''}".rstrip())
    finally:
        await ws.close()


def _status_error(exc: HTTPStatusError) -> Exception:
    if exc.status == 0 or 400 <= exc.status < 500:
        return _Final(str(exc), Exit.REFUSED)
    return ConnectionError(str(exc))


async def _sse(url: URL, resume: str | None, opts: _Opts) -> _Stream:
    try:
        response = await open_stream(
            url, last_event_id=resume or "", headers=opts.headers, ssl=opts.ssl,
            timeout=OPEN_TIMEOUT, http2=opts.http2,
        )
    except HTTPStatusError as exc:
        raise _status_error(exc) from None
    except HTTP2Unavailable as exc:
        raise _Final(str(exc), Exit.REFUSED, H2_FIX) from None
    decoder = Decoder(MAX_SSE_EVENT, MAX_SSE_EVENT, resume or "")
    try:
        yield None
        # 45 s: rawpush sends a comment every 15 s; three missed is dead.
        while chunk := await response.read_chunk(45.0):
            try:
                events = decoder.feed(chunk)
            except SSEDecodeError as exc:
                raise _Final(f"bad event stream: {exc}", Exit.REFUSED) from None
            for event in events:
                if event.event == GAP_EVENT:
                    yield _Gap()
                else:
                    yield _Event(event.id or "", event.event or "message", event.data)
        if decoder.retry is not None:
            yield _Retry(decoder.retry / 1000)
        yield _End("the server ended the stream")
    finally:
        response.close()


async def _poll(url: URL, resume: str | None, opts: _Opts) -> _Stream:
    poller = LongPoller(
        str(url), cursor=resume, headers=opts.headers, ssl=opts.ssl, http2=opts.http2
    )
    opened = False
    while True:
        try:
            result = await poller.poll_once()
        except HTTPStatusError as exc:
            raise _status_error(exc) from None
        except HTTP2Unavailable as exc:
            raise _Final(str(exc), Exit.REFUSED, H2_FIX) from None
        if not opened:
            opened = True
            yield None
        if result.gap:
            yield _Gap()
        for event in result.events:
            yield _Event(event.id or "", event.event or "message", event.data)
        if poller.cursor is not None:
            yield poller.cursor  # the resume point moves without an event too


# ---- the loop --------------------------------------------------------------


def _line(event: _Event, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"id": event.id, "event": event.event, "data": event.data},
                          ensure_ascii=False)
    data = event.data.replace("\n", "\\n")
    if fmt == "plain":
        return f"{event.id}\t{event.event}\t{data}"
    return data


def _permanent(exc: OSError) -> tuple[str, str | None] | None:
    """``(why, fix)`` for a network error that retrying cannot fix."""
    if isinstance(exc, socket.gaierror) and exc.errno != socket.EAI_AGAIN:
        return describe(exc)
    if isinstance(exc, ssl.SSLError):  # certificate or protocol: the same next time
        return describe(exc)
    return None


async def _tail(args: argparse.Namespace) -> None:
    url = parse_url(args.url)
    if url.scheme in ("ws", "wss"):
        if args.http2:
            raise CLIError(f"tail {url}", "--http2 needs an http(s):// URL", Exit.USAGE)
        session, name = _ws, "WebSocket"
    elif "/poll/" in url.target:
        session, name = _poll, "long polling"
    else:
        session, name = _sse, "SSE"
    opts = _Opts(with_token((), args.token), ssl_from_args(args), args.http2)
    if args.http2:
        name += " over HTTP/2"
    resume: str | None = args.last_event_id
    failures = 0
    where = f"tail {url}"
    while True:
        after = f", resuming after {resume}" if resume else ""
        say(f"connecting to {url}{after}")
        hint: float | None = None
        ended = "the connection closed"
        stream = session(url, resume, opts)
        try:
            async for item in stream:
                if item is None:
                    failures = 0
                    say(f"connected to {url.authority} via {name}{after}")
                elif isinstance(item, _Event):
                    print(_line(item, args.format), flush=True)
                    resume = item.id or resume
                elif isinstance(item, _Gap):
                    if args.format == "json":
                        print('{"gap": true}', flush=True)
                    else:
                        say("gap: the server no longer had some events")
                elif isinstance(item, _Retry):
                    hint = item.seconds
                elif isinstance(item, _End):
                    ended = item.why
                else:
                    resume = item
        except _Final as exc:
            raise CLIError(where, str(exc), exc.code, exc.fix) from None
        except OSError as exc:
            permanent = _permanent(exc)
            if permanent is not None:
                raise CLIError(where, permanent[0], Exit.NETWORK, permanent[1]) from None
            failures += 1
            ended = describe(exc)[0]
        finally:
            await stream.aclose()
        if failures > args.retries and not args.retry_forever:
            raise CLIError(where, f"{ended}; gave up after {failures} attempts", Exit.NETWORK,
                           "is the server running? --retries N or --retry-forever to wait longer")
        if hint is not None:
            delay, why = min(hint, MAX_DELAY), " (the server's retry hint)"
        else:
            delay, why = backoff(args.retry_delay, failures, MAX_DELAY), ""
        count = f" (attempt {failures + 1})" if failures else ""
        say(f"{ended}; retrying in {delay:.1f} s{why}{count}")
        await asyncio.sleep(delay)


def run_tail(args: argparse.Namespace) -> int:
    return run_main(_tail(args))
