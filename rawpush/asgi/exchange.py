"""What every ASGI host shares: its place among the server's live
connections (``Carrier``), its counters, its timers.

ASGI shows requests, not connections, so one exchange (one ASGI call) is
counted where the HTTP/1.1 host counts a connection: in
``rawpush_connections{transport}`` while it lasts, against
``max_connections``, and in the drain on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rawpush.proto.errors import HTTPError
from rawpush.server.context import Context
from rawpush.server.host import Session
from rawpush.server.metrics import fold_counts, labels

_TOO_MANY = HTTPError("too many connections", 503, (("Retry-After", "1"),))
_TOO_MANY_HERE = HTTPError("too many connections from this address", 429, (("Retry-After", "1"),))


class Exchange:
    """What every ASGI host shares: its place among the live connections
    (``Carrier``), its counters and its timers; subclassed per scope type."""

    def __init__(self, ctx: Context, kind: str, peer: tuple[str, int] | None = None) -> None:
        self.ctx = ctx
        #: the client's address as the ASGI server saw it (``scope["client"]``)
        self.peer = peer
        self._held: str | None = None  # the address counted per address
        self.kind = kind
        self._labels = labels(kind)
        self.session: Session | None = None
        self._counted = False
        # Plain ints on the per-event path, folded into the metrics by
        # fold_counters() (as the HTTP/1.1 host does).
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.messages_out = 0

    # -- lifetime -------------------------------------------------------------

    def begin(self) -> HTTPError | None:
        """Join the live connections; the refusal to answer with when over
        ``max_connections`` (503) or the per-address limit (429)."""
        ctx = self.ctx
        if ctx.accepted >= ctx.config.max_connections:
            self.disconnect("max_connections")
            return _TOO_MANY
        limiter = ctx.per_address
        if limiter is not None and self.peer is not None:
            if not limiter.acquire(self.peer[0]):
                self.disconnect("max_connections_per_address")
                return _TOO_MANY_HERE
            self._held = self.peer[0]
        ctx.accepted += 1
        self._counted = True
        ctx.connections.add(self)
        ctx.metrics.inc("rawpush_connections", self._labels)
        ctx.metrics.inc("rawpush_connections_total", self._labels)
        return None

    def end(self) -> None:
        """Leave the live connections and release the per-address slot; idempotent."""
        if not self._counted:
            return
        self._counted = False
        self.fold_counters()
        ctx = self.ctx
        ctx.connections.discard(self)
        ctx.accepted -= 1
        if self._held is not None and ctx.per_address is not None:
            ctx.per_address.release(self._held)
            self._held = None
        ctx.metrics.inc("rawpush_connections", self._labels, -1)

    def set_kind(self, kind: str) -> None:
        """Count this exchange under another transport in /metrics."""
        if kind == self.kind:
            return
        self.fold_counters()
        metrics = self.ctx.metrics
        if self._counted:
            metrics.inc("rawpush_connections", self._labels, -1)
        self.kind = kind
        self._labels = labels(kind)
        if self._counted:
            metrics.inc("rawpush_connections", self._labels)
            metrics.inc("rawpush_connections_total", self._labels)

    # -- counters ---------------------------------------------------------------

    def fold_counters(self) -> None:
        """Add the bytes and messages counted since the last fold to the metrics."""
        sent = self._sent()
        if sent:
            self.bytes_out += sent
        fold_counts(self.ctx.metrics, self._labels, self)

    def _sent(self) -> int:
        """Bytes sent since the last fold, from the host's sender."""
        return 0

    def count_status(self, status: int) -> None:
        """Count one response with ``status`` (``rawpush_http_responses_total``)."""
        self.ctx.metrics.inc("rawpush_http_responses_total", (("status", str(status)),))

    # -- Carrier: each host says how it ends ------------------------------------------

    def drain(self) -> None:
        """Ask the exchange to end gracefully on shutdown; each host says how."""
        raise NotImplementedError

    def abort(self) -> None:
        """End the exchange now, dropping what is unsent; each host says how."""
        raise NotImplementedError

    # -- Host operations every ASGI host has the same way ------------------------

    def disconnect(self, reason: str) -> None:
        """Count why the server ends this exchange (``rawpush_disconnects_total``)."""
        self.ctx.metrics.inc("rawpush_disconnects_total", (("reason", reason),))

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Arm a timer on the running loop."""
        return asyncio.get_running_loop().call_later(delay, callback)
