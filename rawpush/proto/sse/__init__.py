"""The ``text/event-stream`` codec (WHATWG HTML section 9.2), sans I/O.

``encode``/``encode_comment`` turn events into bytes for a server;
``Decoder`` turns a client's received bytes back into events, exactly as a
browser's ``EventSource`` parses them. The public import path is
``rawpush.sse``.
"""

from rawpush.proto.sse.decoder import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_LINE_SIZE, Decoder
from rawpush.proto.sse.encoder import GAP_EVENT, MAX_RETRY, encode, encode_comment, encode_retry
from rawpush.proto.sse.event import Event

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_LINE_SIZE",
    "GAP_EVENT",
    "MAX_RETRY",
    "Decoder",
    "Event",
    "encode",
    "encode_comment",
    "encode_retry",
]
