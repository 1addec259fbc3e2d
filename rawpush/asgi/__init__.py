"""rawpush as an ASGI 3 application: ``rawpush.asgi.App(hub, config)``.

Runnable alone, with an in-memory hub::

    uvicorn rawpush.asgi:app

or mounted next to an application's own routes, sharing its hub::

    hub = rawpush.Hub()
    push = rawpush.asgi.App(hub)
    starlette_app.mount("/push", push)
    await hub.publish("news", "hello")      # from any route

Modules: ``application`` (the App, lifespan, drain; not ``app``, which is
the module-level application), ``http`` (the http scope and
its SSE host), ``ws`` (the websocket scope and the ``/ws/{channel}``
session), ``ws_multi`` (the multi-channel ``/ws`` session), ``ws_wire``
(what both send as ASGI messages instead of frames), ``sender``
(the bounded queue before ASGI ``send``), ``scope`` (scope to Request,
answers to messages), ``exchange`` (what every ASGI host counts).
"""

from __future__ import annotations

from rawpush.asgi.application import App

__all__ = ["App", "app"]

#: ``uvicorn rawpush.asgi:app``: an App on an in-memory hub of its own.
#: Made at import, not on first use: some servers look the name up in the
#: module's namespace (hypercorn does), where a module ``__getattr__``
#: is not consulted. It costs an empty hub and nothing runs until called.
app = App()
