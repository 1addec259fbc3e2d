"""rawpush: server push done three ways (polling, SSE, WebSockets).

``rawpush.ws``, ``rawpush.sse`` and ``rawpush.longpoll`` are the sans-IO
core; ``rawpush.serve`` / ``rawpush.Server`` run or embed the asyncio
server. Those two are loaded on first use (PEP 562 ``__getattr__``), so
``import rawpush.ws`` stays free of asyncio and the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Server", "__version__", "serve"]

if TYPE_CHECKING:
    from rawpush.server.app import Server, serve


def __getattr__(name: str) -> Any:
    if name in ("Server", "serve"):
        from rawpush.server import app

        return getattr(app, name)
    raise AttributeError(f"module 'rawpush' has no attribute {name!r}")
