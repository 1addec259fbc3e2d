"""The command line's one error path: one line, one exit code.

Every failure of ``rawpush serve | echo | tail | publish`` ends as exactly
one line on stderr::

    rawpush: <what failed>: <why> (<the fix, when there is one>)

naming the port, host, file or URL concerned, and never a traceback. The
exit status says which kind of failure it was, so a script can tell
"fix the command" from "try again later" from "the server said no":

====  ============  ========================================================
code  name          meaning
====  ============  ========================================================
0     ``OK``        done (``tail`` only ends this way on ``| head``)
1     ``FAILED``    anything not below (a bug: please report it)
2     ``USAGE``     a bad flag, value, URL or file; redis-py missing
3     ``NETWORK``   cannot bind, resolve, connect or complete TLS; Redis
                    unreachable; ``tail`` gave up after its retries
4     ``REFUSED``   the server answered and refused (an HTTP 4xx/5xx, a
                    refused WebSocket upgrade or close, an answer that is
                    not rawpush's)
130   ``INTERRUPTED``  Ctrl-C (128 + SIGINT, the shell convention)
====  ============  ========================================================
"""

from __future__ import annotations

import argparse
import enum
import errno
import socket
import ssl
import sys
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CLIError", "Exit", "Parser", "describe", "port_number", "redact", "say"]


class Exit(enum.IntEnum):
    """The exit statuses of ``rawpush`` (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NETWORK = 3
    REFUSED = 4
    INTERRUPTED = 130


class CLIError(Exception):
    """A failure the command line reports as its one line and exits with ``code``."""

    def __init__(self, what: str, why: str, code: Exit, fix: str | None = None) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why
        self.code = code
        self.fix = fix

    @property
    def line(self) -> str:
        fix = f" ({self.fix})" if self.fix else ""
        return f"rawpush: {self.what}: {self.why}{fix}"


def say(message: str) -> None:
    """One progress or error line on stderr, prefixed like every other."""
    print(f"rawpush: {message}", file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as the one line (argparse prints the
    whole usage text first, which hides the line that matters)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("rawpush").strip() or "usage"
        say(f"{command}: {message} (see {self.prog} --help)")
        sys.exit(Exit.USAGE)


def port_number(text: str) -> int:
    """An argparse ``type``: a TCP port, 0-65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``: a line on a console
    or in a log must never carry a secret."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _strerror(exc: OSError) -> str:
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


#: ``(why, fix)`` of the cert failures a user can act on
_TRUST_FIX = "pass --cacert FILE to trust its issuer, or --insecure to skip the check"


def describe(exc: BaseException) -> tuple[str, str | None]:
    """``(why, fix)`` for a network failure, in the words of the line."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}", _TRUST_FIX
    if isinstance(exc, ssl.SSLError):
        hint = None
        if exc.reason == "WRONG_VERSION_NUMBER":
            hint = "the server does not speak TLS here: use http:// or ws://"
        return f"TLS failed: {exc.reason or exc}".lower(), hint
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({_strerror(exc)})", None
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing is listening there", None
    if isinstance(exc, TimeoutError):
        return str(exc) or "timed out", None
    if isinstance(exc, OSError):
        return _strerror(exc), None
    return str(exc) or type(exc).__name__, None


def bind_error(exc: OSError, host: str, port: int) -> CLIError:
    """The line for a listening socket that could not be made."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    what = f"cannot listen on {where}"
    if isinstance(exc, socket.gaierror):
        return CLIError(
            what, f"unknown host {host!r} ({_strerror(exc)})", Exit.NETWORK,
            "give an IP address of this machine, e.g. --host 127.0.0.1 or --host 0.0.0.0",
        )
    if exc.errno == errno.EADDRINUSE:
        return CLIError(
            what, "the port is already in use", Exit.NETWORK,
            "stop the process that holds it, or choose another with --port; 0 picks a free one",
        )
    if exc.errno == errno.EACCES:
        return CLIError(
            what, "permission denied", Exit.NETWORK,
            "ports below 1024 need privileges: choose --port 8000 or above",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return CLIError(
            what, "the address is not one of this machine's", Exit.NETWORK,
            "use 127.0.0.1, 0.0.0.0 or an address of this host",
        )
    return CLIError(what, describe(exc)[0], Exit.NETWORK)
