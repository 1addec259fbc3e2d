"""Regenerate rawpush/server/static/rawpush.min.js from rawpush.js.

The minified file is committed, so nobody needs a build step to use it;
this script is for whoever edits rawpush.js. It runs esbuild (an npm
package, not a dependency of rawpush: ``npm install esbuild`` anywhere and
pass its binary with ``--esbuild`` or ``$ESBUILD``). Properties whose
names start with ``_`` are internal to rawpush.js and are renamed; every
public name and wire field has none, and the messages between tabs are
arrays. The output must stay under 10,000 bytes
(tests/browser/test_rawpush_js.py checks it). The target is ES2020, the
syntax rawpush.js is written in (``?.``, ``??``, ``**``).

    python tools/minify_js.py --esbuild /path/to/node_modules/.bin/esbuild
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "rawpush" / "server" / "static"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--esbuild", default=os.environ.get("ESBUILD", "esbuild"))
    args = parser.parse_args()
    out = subprocess.run(
        [
            args.esbuild,
            str(STATIC / "rawpush.js"),
            "--minify",
            "--target=es2020",
            "--legal-comments=none",
            "--mangle-props=^_",
        ],
        check=True,
        capture_output=True,
    ).stdout
    banner = b"/* generated from rawpush.js by tools/minify_js.py */\n"
    (STATIC / "rawpush.min.js").write_bytes(banner + out)
    print(f"rawpush.min.js: {len(banner) + len(out)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
