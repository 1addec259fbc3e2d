"""``--log-level`` for every command, and ``--access-log`` for the servers.

Log records go to stderr through the standard ``logging`` module, one line
each, in the prefix every other line of the command line has::

    rawpush: warning: rawpush.hub.redis: backplane reader lost Redis (...); retrying in 0.50s

A record that carries an exception adds its type and message on the same
line (``...: ConnectionError: Connection refused``); at ``debug`` also
where it was raised (``at rawpush/hub/redis.py:401 in _read``). A
traceback is never printed: on a console one line per event is what can
be read and grepped, and a crash is reported with ``--log-level debug``.

The default level is ``info``: a server says when its backplane is lost
and found again, which ``warning`` would keep for the failure alone; the
access log is a separate stream (``rawpush.server.access_log``), so
``info`` stays quiet under load.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

__all__ = ["LEVELS", "OneLineFormatter", "add_access_log_flag", "add_level_flag", "setup"]

LEVELS = ("debug", "info", "warning", "error")
DEFAULT = "info"
_HANDLER_NAME = "rawpush-cli"


class OneLineFormatter(logging.Formatter):
    """``rawpush: <level>: <logger>: <message>[: <exception>]``, one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"rawpush: {record.levelname.lower()}: {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}" if str(exc) else f": {type(exc).__name__}"
            frames = traceback.extract_tb(exc.__traceback__)
            if frames and logging.getLogger().isEnabledFor(logging.DEBUG):
                last = frames[-1]
                text += f" (at {last.filename}:{last.lineno} in {last.name})"
        elif record.stack_info:
            text += " (stack omitted)"
        # A message is one line whatever it holds: a newline is shown as \n.
        return text.replace("\r", "\\r").replace("\n", "\\n")


def add_level_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=None,
        help=f"least severe log records shown on stderr, one line each (default {DEFAULT})",
    )


def add_access_log_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--access-log",
        metavar="PATH",
        default=None,
        help="one line per HTTP request and per WebSocket, SSE or long-poll session, when it "
        "ends: time peer method target version status bytes seconds transport; - writes to "
        "stdout, a path is appended to (default: off)",
    )


def setup(level: str | None) -> None:
    """Send log records of ``level`` and above to stderr, one line each
    (again with another level: the handler is replaced, not added)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(OneLineFormatter())
    root.addHandler(handler)
    root.setLevel((level or DEFAULT).upper())
    # asyncio's own debug records ("poll took 0.1 ms") drown a server's.
    logging.getLogger("asyncio").setLevel(logging.INFO if level == "debug" else logging.WARNING)
