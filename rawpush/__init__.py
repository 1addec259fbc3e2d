"""rawpush: server push done three ways (polling, SSE, WebSockets)."""

__version__ = "0.1.0"
