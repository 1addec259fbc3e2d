"""What every many-channels route shares: the ``channel`` list of a
request, its limit, and the authorization of each channel.

A connection is authorized once, with the first channel, by the same
rule as a single-channel route (``security.admit``: the credential, the
origin check of a cookie or ticket); every other channel is then decided
under the grant that produced (``Authenticator.decide``), because a
ticket is used up by the first check and must still cover the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from rawpush.auth import Action, AuthError, Grant
from rawpush.hub import HubError, validate_channel
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.proto.multichannel import query_values
from rawpush.server.context import Context
from rawpush.server.security import Caller, admit, refusal

#: the error code of a ``/ws`` reply for each HTTP status a check implies
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "too_big",
    429: "rate_limited",
}


def error_code(status: int) -> str:
    """The ``/ws`` error code for the HTTP status of a refusal."""
    return _CODES.get(status, "unavailable")


def requested(ctx: Context, request: Request) -> tuple[str, ...]:
    """The ``channel`` parameters of ``request``, in order; 400 when there
    are none, more than ``max_channels_per_connection``, a repeated or an
    invalid name."""
    names = query_values(request.target, "channel", ctx.config.http.max_query_fields)
    if not names:
        raise HTTPError("name at least one channel: ?channel=A&channel=B", 400)
    limit = ctx.config.max_channels_per_connection
    if len(names) > limit:
        raise HTTPError(f"too many channels: at most {limit} per connection", 400)
    if len(set(names)) != len(names):
        raise HTTPError("a channel is named twice", 400)
    for name in names:
        try:
            validate_channel(name)
        except HubError as exc:
            raise HTTPError(str(exc), 400) from None
    return tuple(names)


async def admit_all(
    ctx: Context, who: Caller, action: Action, channels: Sequence[str], grant: Grant | None = None
) -> Grant:
    """The grant ``who`` runs under for ``action`` on every channel, the
    earliest expiry of them; ``HTTPError`` (401/403/400/503) at the first
    refused. ``grant``: the one this connection was admitted with already."""
    rest = list(channels)
    if grant is None:
        grant = await admit(ctx.config, ctx.auth, who, action, rest.pop(0))
    for channel in rest:
        try:
            decided = await ctx.auth.decide(who.info, grant, action, channel)
        except AuthError as exc:
            raise refusal(exc) from None
        if decided.expires_at is not None and (
            grant.expires_at is None or decided.expires_at < grant.expires_at
        ):
            grant = decided
    return grant
