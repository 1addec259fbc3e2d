"""rawpush: server push done three ways (polling, SSE, WebSockets).

``rawpush.ws``, ``rawpush.sse`` and ``rawpush.longpoll`` are the sans-IO
core; ``rawpush.serve`` / ``rawpush.Server`` run or embed the asyncio
server, configured by ``rawpush.ServerConfig`` (which nests a ``WSConfig``,
an ``HTTPConfig`` and a ``HubConfig``); ``rawpush.Hub`` publishes from
Python. Everything here but the version is loaded on first use (PEP 562
``__getattr__``), so ``import rawpush.ws`` stays free of asyncio and the
server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "HTTPConfig",
    "Hub",
    "HubConfig",
    "OverflowPolicy",
    "Server",
    "ServerConfig",
    "WSConfig",
    "__version__",
    "serve",
]

if TYPE_CHECKING:
    from rawpush.hub import Hub, HubConfig
    from rawpush.proto.http import HTTPConfig
    from rawpush.proto.ws.config import WSConfig
    from rawpush.server.app import Server, serve
    from rawpush.server.config import ConfigError, OverflowPolicy, ServerConfig

#: where each lazily loaded name lives
_LAZY = {
    "Server": "rawpush.server.app",
    "serve": "rawpush.server.app",
    "ServerConfig": "rawpush.server.config",
    "ConfigError": "rawpush.server.config",
    "OverflowPolicy": "rawpush.server.config",
    "Hub": "rawpush.hub",
    "HubConfig": "rawpush.hub",
    "HTTPConfig": "rawpush.proto.http",
    "WSConfig": "rawpush.proto.ws.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rawpush' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # found once; later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
