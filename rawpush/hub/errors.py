"""The hub's exceptions.

The hub sits below the wire layers, so it cannot share ``rawpush.proto``'s
hierarchy (import-linter forbids it); it has its own small one instead.
Each error that bad client input can cause also subclasses ``ValueError``
and carries ``status``, the HTTP status the server should answer with, so
the mapping lives here, next to the rule, and not in every endpoint.
"""

from __future__ import annotations

__all__ = [
    "HubClosed",
    "HubError",
    "InvalidChannel",
    "InvalidEventName",
    "InvalidId",
    "InvalidIdempotencyKey",
    "PublishOutcomeUnknown",
    "TooManyChannels",
]


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    #: HTTP status a server should answer with when this reaches a client.
    status: int = 500


class InvalidChannel(HubError, ValueError):
    """A channel name is not 1-128 characters of ``[A-Za-z0-9._:-]``."""

    status = 400


class InvalidEventName(HubError, ValueError):
    """An event type name is empty, too long, or holds a control character."""

    status = 400


class InvalidId(HubError, ValueError):
    """A cursor / last event id is not of the form ``<ms>-<seq>``."""

    status = 400


class InvalidIdempotencyKey(HubError, ValueError):
    """An idempotency key is not 1-256 printable ASCII characters."""

    status = 400


class PublishOutcomeUnknown(HubError):
    """The store may or may not have stored the event: the request was sent,
    the answer never came (a timeout, a connection lost mid-command).

    Unlike a 503 (not accepted: retrying cannot duplicate), retrying this
    one can publish the event twice unless the publish carries an
    idempotency key; with the same key, a retry returns the event's id.
    504: the store behind the server did not answer in time (RFC 9110
    section 15.6.5).
    """

    status = 504


class TooManyChannels(HubError):
    """Creating one more channel would exceed ``HubConfig.max_channels``."""

    status = 503


class HubClosed(HubError, RuntimeError):
    """The hub (or its backplane) was closed: no new publishes or subscribers."""

    status = 503
