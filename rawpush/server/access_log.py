"""The access log: one line per finished exchange, off unless enabled.

An exchange is one HTTP request and its answer, or one whole WebSocket,
SSE or long-poll session (its line is written when it ends). Each line
has nine fields separated by one space, none of which can hold a space::

    2026-12-02T01:45:12.345Z 127.0.0.1:51234 GET /sse/news HTTP/1.1 200 1532 12.345 sse

====  ==========  ==========================================================
 #    field       value
====  ==========  ==========================================================
 1    time        when the exchange ended, UTC, ISO 8601 with milliseconds
 2    peer        the client's ``address:port`` (``[v6]:port``), else ``-``
 3    method      the request method, ``-`` when no request was read (a
                  connection refused at once, a request that did not parse)
 4    target      the request-target as sent, bytes outside ``!``..``~`` and
                  ``\\`` written ``\\xNN``; ``-`` when none was read
 5    version     ``HTTP/1.0``, ``HTTP/1.1``, ``HTTP/2``; ``-`` when unknown
 6    status      the status sent (``101`` for a WebSocket), ``-`` when the
                  client went away before any answer
 7    bytes       bytes written to the client for this exchange: head,
                  body and framing
 8    duration    seconds from the request's dispatch to the end, with
                  millisecond precision
 9    transport   ``http``, ``sse``, ``ws``, ``poll``, ``publish``, ... (the
                  ``transport`` label of ``/metrics``)
====  ==========  ==========================================================

Hosts do the bookkeeping only while the log is on (``enabled()``): they
``begin()`` an exchange when a request is dispatched, set its ``status``,
``sent`` and ``transport`` as those become known (once per answer, never
per event) and ``end()`` it once. Lines are queued and written by one
thread, so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from typing import IO

__all__ = [
    "Exchange",
    "begin",
    "disable",
    "enable",
    "enabled",
    "end",
    "format_line",
    "refused",
]

_logger = logging.getLogger("rawpush.server")
_on = False
_lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
_writer: threading.Thread | None = None
_target: str | IO[str] = "-"
#: bytes a target may show with no escape: printable ASCII but the backslash
_PLAIN = frozenset(range(0x21, 0x7F)) - {0x5C}


class Exchange:
    """One exchange being served (see the module docstring)."""

    __slots__ = ("method", "sent", "started", "status", "target", "transport", "version")

    def __init__(self, method: str, target: str, version: str, transport: str) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.transport = transport
        self.status = 0  # 0: no answer sent yet
        self.sent = 0
        self.started = time.monotonic()


def enabled() -> bool:
    """Whether hosts should keep exchanges for the log."""
    return _on


def begin(method: str, target: str, version: str, transport: str = "http") -> Exchange | None:
    """A new exchange, or None when the log is off."""
    return Exchange(method, target, version, transport) if _on else None


def end(exchange: Exchange, peer: tuple[str, int] | None) -> None:
    """Log ``exchange`` as finished now (call it once)."""
    if _on:
        _lines.put(format_line(exchange, peer, time.time(), time.monotonic()))


def refused(peer: tuple[str, int] | None, status: int, sent: int, reason: str) -> None:
    """A connection answered ``status`` before any request was read (too
    many connections, draining): a debug record, and its access-log line."""
    if _logger.isEnabledFor(logging.DEBUG):
        _logger.debug("refused %s: %d (%s)", _peer(peer), status, reason.replace("_", " "))
    if _on:
        exchange = Exchange("", "", "", "http")
        exchange.status, exchange.sent = status, sent
        end(exchange, peer)


def _peer(peer: tuple[str, int] | None) -> str:
    if peer is None:
        return "-"
    if ":" in peer[0]:
        return f"[{peer[0]}]:{peer[1]}"
    return f"{peer[0]}:{peer[1]}"


def _escaped(text: str) -> str:
    if not text:
        return "-"
    raw = text.encode("latin-1", "replace")
    if all(b in _PLAIN for b in raw):
        return text
    return "".join(chr(b) if b in _PLAIN else f"\\x{b:02X}" for b in raw)


def format_line(exchange: Exchange, peer: tuple[str, int] | None, now: float, mono: float) -> str:
    """The line of ``exchange`` ended at wall time ``now`` (monotonic ``mono``)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    millis = int(now * 1000) % 1000
    who = _peer(peer)
    status = str(exchange.status) if exchange.status else "-"
    duration = max(0.0, mono - exchange.started)
    return (
        f"{stamp}.{millis:03d}Z {who} {exchange.method or '-'} {_escaped(exchange.target)} "
        f"{exchange.version or '-'} {status} {exchange.sent} {duration:.3f} "
        f"{exchange.transport or '-'}"
    )


def _write(lines: queue.SimpleQueue[str | None], stream: IO[str], close: bool) -> None:
    try:
        while True:
            line = lines.get()
            if line is None:
                break
            chunk = [line]
            # Whatever else is queued goes out in the same write and flush.
            with contextlib.suppress(queue.Empty):
                while len(chunk) < 1024:
                    more = lines.get_nowait()
                    if more is None:
                        lines.put(None)
                        break
                    chunk.append(more)
            with contextlib.suppress(OSError, ValueError):
                stream.write("\n".join(chunk) + "\n")
                stream.flush()
    finally:
        if close:
            with contextlib.suppress(OSError):
                stream.close()


def enable(target: str | IO[str]) -> None:
    """Start logging to ``target``: ``"-"`` for stdout, a path (appended
    to, created if missing; ``OSError`` when it cannot be opened), or an
    open text stream. Replaces any earlier target."""
    global _target
    disable()
    _target = target
    _start()


def _start() -> None:
    global _on, _writer
    target = _target
    close = False
    if isinstance(target, str):
        if target == "-":
            stream: IO[str] = sys.stdout
        else:
            stream = open(target, "a", encoding="utf-8")  # noqa: SIM115 - the writer closes it
            close = True
    else:
        stream = target
    _writer = threading.Thread(
        target=_write, args=(_lines, stream, close), name="rawpush-access-log", daemon=True
    )
    _writer.start()
    _on = True


def disable() -> None:
    """Stop logging; every line logged so far is written first."""
    global _on, _writer
    _on = False
    if _writer is not None:
        _lines.put(None)
        _writer.join()
        _writer = None


def _after_fork() -> None:
    # A forked worker (serve --workers) has no writer thread: it gets its
    # own, with its own queue and its own handle on the file (O_APPEND, so
    # the workers' lines interleave whole). It calls disable() when done.
    global _lines, _writer, _on
    if _writer is not None:
        _lines = queue.SimpleQueue()
        _writer, _on = None, False
        _start()


os.register_at_fork(after_in_child=_after_fork)
