"""What a route answers, as data: the host decides how it goes on the wire.

A route never writes bytes and never touches the connection: it returns
one of these and the host (HTTP/1.1 today) carries it out. That keeps
routing host-independent and the answers easy to test.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers

if TYPE_CHECKING:
    from rawpush.server.host import Host, Session


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete response."""

    status: int
    headers: Headers = ()
    body: bytes = b""
    #: the head of a stream with no body (``HEAD`` of an event stream): no
    #: ``Content-Length: 0``, which would describe a body GET does not have
    #: (RFC 9110 sections 8.6 and 9.3.2)
    stream_head: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """An error response; ``close`` forces (or forbids) closing after it."""

    error: HTTPError
    close: bool | None = None


@dataclass(frozen=True, slots=True)
class Deferred:
    """An answer that needs the hub first (publish, long poll)."""

    answer: Coroutine[Any, Any, Reply | Refusal]
    #: cancel the coroutine when the client hangs up (a long poll waits on
    #: nothing but the client; a publish must finish once accepted)
    cancel_on_eof: bool
    #: the transport label the connection is counted under meanwhile
    kind: str = "http"


@dataclass(frozen=True, slots=True)
class Takeover:
    """A session owns the exchange from now on (WebSocket, SSE).

    ``open`` builds it on the host that carries it; the host installs it
    and relabels itself as ``kind`` in the metrics.
    """

    kind: str
    open: Callable[[Host], Session]


Answer = Reply | Refusal | Deferred | Takeover
