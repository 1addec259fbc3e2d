"""What the HTTP/1.1 host counts: its ``transport`` label in ``/metrics``
and the access-log exchange it is serving.

A mixin of ``rawpush.server.protocol.HTTPProtocol``, kept apart so the
request loop reads in one go; it holds the label and the exchange, and
does no I/O.
"""

from __future__ import annotations

from rawpush.server import access_log
from rawpush.server.context import Context
from rawpush.server.metrics import Labels, fold_counts, labels

#: the ``protocol`` label of an HTTP/1.x connection
H1 = (("protocol", "h1"),)


class H1Counts:
    # What it sets; the rest it reads are the host's own slots.
    __slots__ = ("_exchange", "_labels", "kind")

    kind: str
    _labels: Labels
    _exchange: access_log.Exchange | None
    ctx: Context
    _counted: bool
    bytes_in: int
    bytes_out: int
    messages_in: int
    messages_out: int

    @property
    def peer(self) -> tuple[str, int] | None:
        raise NotImplementedError  # pragma: no cover - the host's

    def set_kind(self, kind: str, *, new: bool = True) -> None:
        """Count this connection under another transport in /metrics;
        ``new`` counts it as a connection of that transport too (not when
        it merely goes back to "http" between two requests)."""
        self.fold_counters()  # what was counted so far belongs to the old label
        metrics = self.ctx.metrics
        if self._counted:  # a connection already lost is in no gauge
            metrics.inc("rawpush_connections", self._labels, -1)
        self.kind = kind
        self._labels = labels(kind)
        if new and self._exchange is not None:
            self._exchange.transport = kind
        if self._counted:
            metrics.inc("rawpush_connections", self._labels)
            if new:
                metrics.inc("rawpush_connections_total", self._labels)

    def fold_counters(self) -> None:
        """Move this connection's counts into the metrics (see the host's
        __init__)."""
        if self._exchange is not None:
            self._exchange.sent += self.bytes_out  # bytes_out restarts at 0
        fold_counts(self.ctx.metrics, self._labels, self)

    def _count_total(self) -> None:
        # A prior-knowledge HTTP/2 connection is counted by its own host.
        self.ctx.metrics.inc("rawpush_connections_total", self._labels)
        self.ctx.metrics.inc("rawpush_protocol_connections_total", H1)

    def _count_status(self, status: int) -> None:
        if self._exchange is not None:
            self._exchange.status = status
        self.ctx.metrics.inc("rawpush_http_responses_total", (("status", str(status)),))

    # -- the access log (rawpush.server.access_log) ----------------------------

    def _begin_exchange(self, method: str, target: str, version: str) -> None:
        exchange = access_log.Exchange(method, target, version, self.kind)
        # bytes_out counts from the last fold: the exchange's bytes are what
        # it grows by from here, plus what folds move away (fold_counters).
        exchange.sent = -self.bytes_out
        self._exchange = exchange

    def _end_exchange(self) -> None:
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.sent += self.bytes_out
            access_log.end(exchange, self.peer)
