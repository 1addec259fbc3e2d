"""The transport registry: one entry per way a client reaches the hub.

Routing, the ``Allow`` header of a 405, the ``transport`` label in
``/metrics`` and the queue gauges all read this table, so a new transport
is one entry here and its session module, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rawpush.proto.http import Request
from rawpush.server import (
    poll,
    poll_multi,
    publish,
    sse_multi,
    sse_session,
    tickets,
    ws_echo,
    ws_multi,
    ws_session,
)
from rawpush.server.answers import Answer
from rawpush.server.context import Context
from rawpush.server.security import Caller

#: what a transport's module exposes: answer one request for one channel
#: (``""`` where the route has no channel) from the caller it describes
Start = Callable[[Context, Request, str, Caller], Answer]


@dataclass(frozen=True, slots=True)
class Transport:
    #: the ``transport`` label a connection carries while it serves this
    label: str
    #: where it is routed: a prefix ending in ``/`` is followed by a channel
    path: str
    #: the methods it answers (the ``Allow`` of a 405, RFC 9110 section 15.5.6)
    methods: tuple[str, ...]
    start: Start
    #: its sessions keep a subscriber queue (sampled as a gauge)
    queued: bool = False
    #: ``ServerConfig.transports`` may turn it off (by its label)
    switchable: bool = True

    @property
    def takes_channel(self) -> bool:
        return self.path.endswith("/")

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) if self.takes_channel else path == self.path


REGISTRY: tuple[Transport, ...] = (
    Transport("ws", "/ws/", ("GET",), ws_session.start, queued=True),
    Transport("ws", "/ws", ("GET",), ws_multi.start, queued=True),
    Transport("sse", "/sse/", ("GET", "HEAD", "OPTIONS"), sse_session.start, queued=True),
    Transport("sse", "/sse", ("GET", "HEAD", "OPTIONS"), sse_multi.start, queued=True),
    Transport("poll", "/poll/", ("GET", "OPTIONS"), poll.start),
    Transport("poll", "/poll", ("GET", "OPTIONS"), poll_multi.start),
    Transport("http", "/publish/", ("POST", "OPTIONS"), publish.start, switchable=False),
    Transport("http", "/tickets", ("POST", "OPTIONS"), tickets.start, switchable=False),
)

#: the channel-less WebSocket echo route (``rawpush serve --ws-echo``), and
#: what ``rawpush echo`` answers on every path
ECHO = Transport("ws", "/echo", ("GET",), ws_echo.start, queued=True, switchable=False)

#: every label a connection can carry; "http" is one between requests
LABELS: tuple[str, ...] = tuple(dict.fromkeys(["http", *(t.label for t in REGISTRY)]))
#: the labels whose sessions keep subscriber queues
QUEUED: tuple[str, ...] = tuple(dict.fromkeys(t.label for t in REGISTRY if t.queued))
