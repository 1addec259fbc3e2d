"""Long polling: parse a poll request, build its JSON answer.

Public home of the sans-IO long-poll core in ``rawpush.proto.longpoll``.
"""

from rawpush.proto.longpoll import (
    MAX_CURSOR_LENGTH,
    POLL_CONTENT_TYPE,
    PollEvent,
    PollRequest,
    parse_poll_request,
    poll_answer,
    poll_body,
    poll_headers,
    poll_item,
)

__all__ = [
    "MAX_CURSOR_LENGTH",
    "POLL_CONTENT_TYPE",
    "PollEvent",
    "PollRequest",
    "parse_poll_request",
    "poll_answer",
    "poll_body",
    "poll_headers",
    "poll_item",
]
