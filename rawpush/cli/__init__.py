"""Command line: ``rawpush serve | echo | publish | tail`` (also ``python -m rawpush``).

Each subcommand lives in its own module with an ``add_parser(sub)`` that
registers its flags and sets ``run`` to the function that carries it out.
A failure leaves through one path (``rawpush.cli.errors``): one line on
stderr, and an exit status that says what kind of failure it was. Every
command takes ``--log-level`` (``rawpush.cli.logs``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import metadata
from typing import cast

from rawpush.cli import config_file, echo, logs, serve, tools
from rawpush.cli.errors import CLIError, Exit, Parser, say


def _version() -> str:
    try:
        return metadata.version("rawpush")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rawpush",
        description="Server push over WebSocket, SSE and long polling.",
        epilog="exit status: 0 done, 1 internal error, 2 usage (a bad flag, value, URL or "
        "file), 3 network (cannot bind, resolve, connect or complete TLS), 4 refused (the "
        "server answered no), 130 Ctrl-C. Every command takes --log-level (default info); "
        "rawpush serve --config FILE reads its settings from a TOML file",
    )
    parser.add_argument("--version", action="version", version=f"rawpush {_version()}")
    # Parser is an ArgumentParser; the subcommands are built with it too.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True),
    )
    serve.add_parser(sub)
    echo.add_parser(sub)
    tools.add_parsers(sub)
    # After every subcommand's own flags: the fields no flag sets yet.
    config_file.add_generated_flags(sub.choices["serve"])
    for command in sub.choices.values():
        logs.add_level_flag(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level)
    try:
        result: int = args.run(args)
    except CLIError as exc:
        say(exc.line.removeprefix("rawpush: "))
        return exc.code
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception as exc:  # one line, never a traceback
        say(f"{args.command}: unexpected {type(exc).__name__}: {exc} (please report this)")
        return Exit.FAILED
    return result
