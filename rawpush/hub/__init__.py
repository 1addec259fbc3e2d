"""rawpush.hub: channels, bounded history with ids, resume, live delivery.

Knows no wire bytes: the server encodes events,
the hub stores and routes them. Start with ``Hub``; ``Backplane`` is the
seam where a shared store (Redis Streams) plugs in.
"""

from .backplane import Backplane, HistoryStats, MemoryBackplane, Sink
from .config import HubConfig
from .errors import (
    HubClosed,
    HubError,
    InvalidChannel,
    InvalidEventName,
    InvalidId,
    InvalidIdempotencyKey,
    PublishOutcomeUnknown,
    TooManyChannels,
)
from .events import (
    RESERVED_EVENT_NAMES,
    HubEvent,
    Listener,
    Replay,
    validate_channel,
    validate_event_name,
    validate_idempotency_key,
)
from .hub import ChannelStats, Hub, HubStats, Subscription
from .ids import IdGenerator, IdKey, compare_ids, format_id, is_after, parse_id

__all__ = [
    "RESERVED_EVENT_NAMES",
    "Backplane",
    "ChannelStats",
    "HistoryStats",
    "Hub",
    "HubClosed",
    "HubConfig",
    "HubError",
    "HubEvent",
    "HubStats",
    "IdGenerator",
    "IdKey",
    "InvalidChannel",
    "InvalidEventName",
    "InvalidId",
    "InvalidIdempotencyKey",
    "Listener",
    "MemoryBackplane",
    "PublishOutcomeUnknown",
    "Replay",
    "Sink",
    "Subscription",
    "TooManyChannels",
    "compare_ids",
    "format_id",
    "is_after",
    "parse_id",
    "validate_channel",
    "validate_event_name",
    "validate_idempotency_key",
]
