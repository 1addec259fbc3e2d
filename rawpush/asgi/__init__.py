"""rawpush as an ASGI 3 application: ``rawpush.asgi.App(hub, config)``.

Runnable alone, with an in-memory hub::

    uvicorn rawpush.asgi:app

or mounted next to an application's own routes, sharing its hub::

    hub = rawpush.Hub()
    push = rawpush.asgi.App(hub)
    starlette_app.mount("/push", push)
    await hub.publish("news", "hello")      # from any route

Modules: ``app`` (the App, lifespan, drain), ``http`` (the http scope and
its SSE host), ``ws`` (the websocket scope and its session), ``sender``
(the bounded queue before ASGI ``send``), ``scope`` (scope to Request,
answers to messages), ``exchange`` (what every ASGI host counts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rawpush.asgi.app import App

if TYPE_CHECKING:
    app: App

__all__ = ["App", "app"]


def __getattr__(name: str) -> Any:
    # ``app`` is made on first use (``uvicorn rawpush.asgi:app``), so that
    # importing App builds no hub nobody asked for.
    if name == "app":
        made = globals()["app"] = App()
        return made
    raise AttributeError(f"module 'rawpush.asgi' has no attribute {name!r}")
