"""Command line: ``rawpush serve | echo | publish | tail`` (also ``python -m rawpush``).

Each subcommand lives in its own module with an ``add_parser(sub)`` that
registers its flags and sets ``run`` to the function that carries it out.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rawpush.cli import echo, serve, tools


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rawpush", description="Server push over WebSocket, SSE and long polling."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(sub)
    echo.add_parser(sub)
    tools.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result
