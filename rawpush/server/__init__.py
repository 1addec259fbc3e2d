"""The asyncio layer: the hosts that carry rawpush's transport sessions.

- ``host``: the ``Host`` interface every session is written against, and
  the ``Session`` interface a host drives;
- ``protocol``: the HTTP/1.1 host (one TCP connection, h11);
- ``routes`` and ``transports``: which request goes to which session, as
  data (``answers``), the same for every host;
- ``session``, ``sse_session``, ``ws_session``, ``ws_echo``, ``poll``,
  ``publish``: the transports;
- ``outbox``: the bounded per-subscriber queue; ``encoding``: each event's
  shared wire form, built once per transport;
- ``app``: ``Server``, ``serve``, ``serve_forever``; ``config``:
  ``ServerConfig``.
"""
