"""How one event is laid out in the fields of a Redis stream entry.

``data`` holds the payload, ``event`` the type name when there is one.
Redis strings are bytes, but the backplane's connections decode replies
as UTF-8 text, so a binary payload is stored base64-encoded with
``encoding base64`` beside it, and read back as ``bytes``: a reader on
any node hands its subscribers what the publisher sent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from .events import HubEvent

__all__ = ["entry_event", "entry_fields"]

_BASE64 = "base64"


def entry_fields(data: str | bytes, event: str | None) -> list[str | int]:
    """The field-value pairs of an ``XADD`` for this payload and type."""
    if isinstance(data, bytes):
        fields: list[str | int] = ["data", base64.b64encode(data).decode("ascii")]
        fields += ["encoding", _BASE64]
    else:
        fields = ["data", data]
    if event is not None:
        fields += ["event", event]
    return fields


def entry_event(channel: str, entry_id: str, fields: Mapping[str, str]) -> HubEvent:
    """The event a stream entry holds (bytes for a binary payload)."""
    data: str | bytes = fields.get("data", "")
    if fields.get("encoding") == _BASE64:
        data = base64.b64decode(data)
    return HubEvent(entry_id, channel, fields.get("event"), data)
