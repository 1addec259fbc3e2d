"""rawpush mounted at ``/push`` in a Starlette app, with authorization on:
anyone may subscribe to ``open.*``; the static token ``TOKEN`` may also
subscribe to ``team.*`` and may publish to both. For the tests of the
multi-channel ``/ws`` under real ASGI servers (each channel of one socket
is decided on its own). History and drain hint as in ``tests.asgi.site``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

import rawpush.asgi
from rawpush import Hub, HubConfig, ServerConfig
from rawpush.auth import AuthConfig, Grant, PatternSet, StaticToken

TOKEN = "t0k3n-team"
HISTORY = 8

_team = StaticToken(
    TOKEN,
    subscribe=PatternSet.parse(["open.*", "team.*"]),
    publish=PatternSet.parse(["open.*", "team.*"]),
)
config = ServerConfig(
    auth=AuthConfig(
        static_tokens=(_team,),
        anonymous=Grant(subscribe=PatternSet.parse(["open.*"]), source="anonymous"),
    ),
    drain_retry_ms=1234,
    drain_timeout=5.0,
    hub=HubConfig(history_size=HISTORY),
)
hub = Hub(config.hub)
push = rawpush.asgi.App(hub, config)
app = Starlette(routes=[Mount("/push", push)])
