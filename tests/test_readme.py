"""What a newcomer meets first: the README's set-up block, and whether a
type checker in the user's own project sees rawpush's types after the
README's install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rawpush

ROOT = Path(__file__).resolve().parent.parent

_USER_SCRIPT = """\
import rawpush
from rawpush.client import subscribe


async def main() -> int:
    server = rawpush.Server(rawpush.ServerConfig(port=0))
    await server.start()
    port: int = server.port
    await server.close()
    _ = subscribe
    return port
"""


def test_readme_opens_with_the_two_set_up_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("```")[1]
    lines = [line for line in first.splitlines()[1:] if line.strip()]
    assert len(lines) == 2, first
    assert "pip install -e ." in lines[0] and "rawpush serve" in lines[0]
    assert "pip install -e '.[test]'" in lines[1] and "pytest" in lines[1]


def test_the_package_ships_py_typed() -> None:
    assert (Path(rawpush.__file__).parent / "py.typed").is_file()


def test_mypy_strict_on_a_user_script_finds_rawpush(tmp_path: Path) -> None:
    script = tmp_path / "user.py"
    script.write_text(_USER_SCRIPT)
    # Run from the user's directory, not the checkout: a checkout on the
    # path would hide exactly the install problem this test looks for.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
