"""The embedder's hook: a function that has the last word on each action.

``authorize(info, action, channel)`` returns a ``bool`` or a ``Decision``,
or an awaitable of either, so both plain functions and coroutines work;
``call_hook`` calls either kind the same way. The hook runs after the
credential was verified (an invalid one is refused before the hook is
asked), and sees the result in ``info.grant``: the credential's grant, or
the anonymous grant (``source == "anonymous"``) when there was none. To
keep the built-in rules and add one, return
``info.grant.allows(action, channel) and my_rule(...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from .errors import AuthConfigError
from .model import Action, Grant

__all__ = ["AuthorizeHook", "Decision", "HookResult", "RequestInfo", "call_hook"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the hook may look at: the request, not the connection.

    ``headers`` are (lower-case name, value) pairs as received; ``peer``
    the client's (address, port), None when unknown (a Unix socket).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    peer: tuple[str, int] | None = None
    query: Mapping[str, str] = field(default_factory=dict, hash=False)
    grant: Grant = field(default_factory=lambda: Grant(source="anonymous"))

    def header(self, name: str) -> str | None:
        """The field's value (repeated fields joined with ", "), or None."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None


@dataclass(frozen=True, slots=True)
class Decision:
    """A hook's answer with more than yes or no.

    ``reason`` goes into the refusal's error_description; ``expires_at``
    (seconds since the epoch) ends an allowed connection earlier than the
    credential would.
    """

    allowed: bool
    reason: str = ""
    expires_at: float | None = None


HookResult = bool | Decision
AuthorizeHook = Callable[
    [RequestInfo, Action, str], HookResult | Awaitable[HookResult]
]


async def call_hook(
    hook: AuthorizeHook, info: RequestInfo, action: Action, channel: str
) -> Decision:
    """Call a sync or async hook and return its answer as a ``Decision``.

    ``AuthConfigError`` if it returns anything but a bool or a Decision
    (a bug in the hook, not a refusal). Exceptions the hook raises pass
    through unchanged.
    """
    result = hook(info, action, channel)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, Decision):
        return result
    if isinstance(result, bool):
        return Decision(result)
    raise AuthConfigError(
        f"an authorize hook returns bool or Decision, not {type(result).__name__}"
    )
