"""Default size limits of the clients, derived from the server's defaults.

A client's default limits must accept whatever the server's defaults let
through: a 1 MiB publish the server takes and then fans out must not kill
the client that receives it. The client layer may not import the server
(the import contract), so the server's number is restated here and a test
holds the two equal.

The formulas, from the largest publish ``P`` (``MAX_PUBLISH``):

- the data of a publish is UTF-8 text of at most ``P`` bytes (a POST body,
  ``ServerConfig.max_body_bytes``; or a WebSocket text message,
  ``max_message_size``), so at most ``P`` characters;
- SSE, counted in characters as the decoder counts: a line is at most
  ``"data: "`` plus all of the data (6 more), and the event's data buffer
  at most the data plus one line end (WHATWG HTML 9.2.6 appends an LF per
  ``data:`` line, and each line end of the data is one already). So
  ``P + MARGIN`` bounds both (``MAX_SSE_EVENT``);
- JSON (a WebSocket frame, a poll answer), in bytes: the encoder escapes a
  control character as ``\\u00XX``, 6 bytes for 1, and keeps every other
  character at its UTF-8 size (``ensure_ascii`` is off). One event is
  therefore at most ``6 P + MARGIN`` (``MAX_JSON_EVENT``);
- a poll answer holds a replay (at most ``history_bytes`` of data, in at
  most ``history_size`` events) or what arrived during the wait (one
  publish, and whatever follows it before the answer is written):
  ``6 (history_bytes + P) + history_size * MARGIN_PER_EVENT``, about
  14 MiB with the defaults; ``MAX_POLL_BODY`` is 16 MiB.

``MARGIN`` (64 KiB) is many times what an event adds around its data: the
id (at most 41 characters), the event name (at most 128), field names,
JSON keys and punctuation.
"""

from __future__ import annotations

__all__ = [
    "MARGIN",
    "MARGIN_PER_EVENT",
    "MAX_JSON_EVENT",
    "MAX_POLL_BODY",
    "MAX_PUBLISH",
    "MAX_SSE_EVENT",
]

#: ``ServerConfig.max_body_bytes`` and ``max_message_size``, the defaults.
MAX_PUBLISH = 1 << 20
#: Room for what framing adds around one event's data.
MARGIN = 64 * 1024
#: What one event adds to a poll answer besides its escaped data, at most:
#: ``{"id":…,"event":…,"data":""}`` with a 41-character id and a
#: 128-character name escaped 6 times is under 1.2 KiB.
MARGIN_PER_EVENT = 2 * 1024
#: ``EventSource`` line and event limits (characters).
MAX_SSE_EVENT = MAX_PUBLISH + MARGIN
#: The WebSocket client's frame and message limits under ``subscribe`` (bytes).
MAX_JSON_EVENT = 6 * MAX_PUBLISH + MARGIN
#: The long-poll client's body limit (bytes).
MAX_POLL_BODY = 16 * 1024 * 1024
