"""The raw HTTP/2 fixtures (servers on 127.0.0.1, port 0, and raw
connections to them) for every test in tests/h2."""

from tests.h2.support_raw import cert, conn, make_server, server, tls_server

__all__ = ["cert", "conn", "make_server", "server", "tls_server"]
