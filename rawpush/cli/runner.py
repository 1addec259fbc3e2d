"""The event loop of the client commands (``tail``, ``publish``)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any

from rawpush.cli.errors import CLIError, Exit

__all__ = ["run_main"]


def _quiet_connect_race(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # CPython 3.11: a connect cancelled (Ctrl-C) in the loop step where it
    # completes makes asyncio's own callback raise InvalidStateError (fixed
    # in 3.12). The cancellation was ours and was honoured; nothing to say.
    if isinstance(context.get("exception"), asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)


def run_main(main: Coroutine[Any, Any, None]) -> int:
    """Run a client command's coroutine: Ctrl-C is 130, a closed stdout
    (``| head``) is not an error, a bad URL is a usage error; other
    failures reach ``rawpush.cli.main`` as a ``CLIError``."""
    try:
        with asyncio.Runner() as runner:
            runner.get_loop().set_exception_handler(_quiet_connect_race)
            runner.run(main)
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``rawpush tail ... | head``): not an error.
        # Point stdout at devnull so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.OK
    except ValueError as exc:  # parse_url, InvalidURI: the URL given is wrong
        raise CLIError("bad URL", str(exc), Exit.USAGE) from None
    return Exit.OK
