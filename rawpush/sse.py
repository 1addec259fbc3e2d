"""Server-Sent Events: the public face of ``rawpush.proto.sse``.

>>> from rawpush.sse import Decoder, Event, encode
>>> encode(Event("hello", id="1"))
b'id: 1\\ndata: hello\\n\\n'
>>> Decoder().feed(b'id: 1\\ndata: hello\\n\\n')
[Event(data='hello', event='message', id='1', retry=None)]
"""

from rawpush.proto.errors import SSEDecodeError, SSEEncodeError
from rawpush.proto.sse import (
    DEFAULT_MAX_EVENT_SIZE,
    DEFAULT_MAX_LINE_SIZE,
    GAP_EVENT,
    MAX_RETRY,
    Decoder,
    Event,
    encode,
    encode_comment,
    encode_retry,
)

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_LINE_SIZE",
    "GAP_EVENT",
    "MAX_RETRY",
    "Decoder",
    "Event",
    "SSEDecodeError",
    "SSEEncodeError",
    "encode",
    "encode_comment",
    "encode_retry",
]
