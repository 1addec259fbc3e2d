"""Counters and gauges, rendered in the Prometheus text exposition format.

Kept deliberately tiny: a dict keyed by (name, labels) and one render pass.
``inc`` is a dict update and nothing else. The per-message counters (bytes
and messages of every connection) do not even pay that: each connection
counts in plain int attributes, and a *folder* registered with
``add_folder`` adds them in before every ``render`` and ``get``, so readers
always see current totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

Labels = tuple[tuple[str, str], ...]

#: name -> (type, help); every metric the server exports is declared here
METRICS: dict[str, tuple[str, str]] = {
    "rawpush_connections": ("gauge", "Open connections by transport."),
    "rawpush_connections_total": ("counter", "Connections accepted by transport."),
    "rawpush_messages_in_total": ("counter", "Messages received from clients by transport."),
    "rawpush_messages_out_total": ("counter", "Messages sent to clients by transport."),
    "rawpush_bytes_in_total": ("counter", "Bytes received from clients by transport."),
    "rawpush_bytes_out_total": ("counter", "Bytes written to clients by transport."),
    "rawpush_published_total": ("counter", "Events accepted into the hub."),
    "rawpush_queue_bytes": ("gauge", "Bytes waiting in subscriber queues by transport."),
    "rawpush_queue_messages": ("gauge", "Messages waiting in subscriber queues by transport."),
    "rawpush_dropped_total": ("counter", "Events dropped by the drop-oldest policy."),
    "rawpush_disconnects_total": ("counter", "Connections ended by the server, by reason."),
    "rawpush_http_responses_total": ("counter", "HTTP responses by status."),
    "rawpush_channels": ("gauge", "Channels the hub knows."),
    "rawpush_worker_info": ("gauge", "This worker of serve --workers (labels pid, worker)."),
    "rawpush_rate_limited_total": ("counter", "Requests and messages refused by a rate limit."),
    "rawpush_auth_refused_total": ("counter", "Requests refused by authorization, by status."),
    "rawpush_backplane_lost_live_total": (
        "counter",
        "Times this node's backplane reader fell behind the store's trim (clients got a gap).",
    ),
    "rawpush_protocol_connections": ("gauge", "Open connections by HTTP version (h1, h2)."),
    "rawpush_protocol_connections_total": (
        "counter",
        "Connections accepted by HTTP version (h1, h2).",
    ),
    "rawpush_h2_streams": ("gauge", "Open HTTP/2 streams."),
    "rawpush_h2_streams_total": ("counter", "HTTP/2 streams opened by clients."),
    "rawpush_h2_goaways_sent_total": ("counter", "HTTP/2 GOAWAY frames sent, by error code."),
    "rawpush_h2_resets_received_total": ("counter", "HTTP/2 RST_STREAM frames received."),
    "rawpush_backplane_reconnects_total": (
        "counter",
        "Times this node's backplane reader lost its store connection and reconnected.",
    ),
}


#: one shared label tuple per transport name, rather than one per connection
_TRANSPORT_LABELS: dict[str, Labels] = {}


def labels(transport: str) -> Labels:
    """The ``transport`` label of a connection, shared by every user of it."""
    found = _TRANSPORT_LABELS.get(transport)
    if found is None:
        found = _TRANSPORT_LABELS[transport] = (("transport", transport),)
    return found


class Counted(Protocol):
    """What a connection counts in plain ints on the per-event path."""

    bytes_in: int
    bytes_out: int
    messages_in: int
    messages_out: int


def fold_counts(metrics: Metrics, labels: Labels, conn: Counted) -> None:
    """Move ``conn``'s counts into ``metrics`` under ``labels`` (and zero them)."""
    if conn.bytes_in:
        metrics.inc("rawpush_bytes_in_total", labels, conn.bytes_in)
        conn.bytes_in = 0
    if conn.bytes_out:
        metrics.inc("rawpush_bytes_out_total", labels, conn.bytes_out)
        conn.bytes_out = 0
    if conn.messages_in:
        metrics.inc("rawpush_messages_in_total", labels, conn.messages_in)
        conn.messages_in = 0
    if conn.messages_out:
        metrics.inc("rawpush_messages_out_total", labels, conn.messages_out)
        conn.messages_out = 0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


class Metrics:
    __slots__ = ("_collectors", "_folders", "_values")

    def __init__(self) -> None:
        self._values: dict[tuple[str, Labels], float] = {}
        self._collectors: list[Callable[[], Iterable[tuple[str, Labels, float]]]] = []
        self._folders: list[Callable[[], None]] = []

    def inc(self, name: str, labels: Labels = (), value: float = 1) -> None:
        key = (name, labels)
        self._values[key] = self._values.get(key, 0) + value

    def set(self, name: str, labels: Labels, value: float) -> None:
        self._values[(name, labels)] = value

    def get(self, name: str, labels: Labels = ()) -> float:
        self._fold()
        return self._values.get((name, labels), 0)

    def add_folder(self, fold: Callable[[], None]) -> None:
        """Register a callable that ``inc``s counts kept elsewhere (and
        forgets them); it runs before every ``render`` and ``get``."""
        self._folders.append(fold)

    def _fold(self) -> None:
        for fold in self._folders:
            fold()

    def add_collector(self, collect: Callable[[], Iterable[tuple[str, Labels, float]]]) -> None:
        """Register a callable sampled at render time (for gauges such as
        queue depths, which would be costly to keep current on every write)."""
        self._collectors.append(collect)

    def render(self) -> str:
        self._fold()
        samples: dict[str, list[tuple[Labels, float]]] = {}
        for (name, labels), value in self._values.items():
            samples.setdefault(name, []).append((labels, value))
        for collect in self._collectors:
            for name, labels, value in collect():
                samples.setdefault(name, []).append((labels, value))
        lines: list[str] = []
        for name in sorted(samples):
            kind, help_text = METRICS.get(name, ("untyped", name))
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in sorted(samples[name]):
                shown = int(value) if float(value).is_integer() else value
                lines.append(f"{name}{_labels(labels)} {shown}")
        return "\n".join(lines) + "\n"
