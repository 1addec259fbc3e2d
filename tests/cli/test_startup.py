"""Every start-up failure of ``rawpush serve`` / ``echo`` is one line naming
the port, host, file or URL, with the fix where there is one, and its
exit status (rawpush.cli.errors); none prints a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli.support import (
    NETWORK,
    REFUSED,
    USAGE,
    finish,
    free_port,
    interrupt,
    one_line,
    read_until,
    run,
    spawn,
)
from tests.tls_support import self_signed

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.mark.parametrize("command", ["serve", "echo"])
async def test_busy_port_names_the_port_and_the_fix(command: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, _, err = await run(command, "--host", "127.0.0.1", "--port", str(port))
    assert code == NETWORK
    assert one_line(err).startswith(
        f"rawpush: cannot listen on 127.0.0.1:{port}: the port is already in use ("
    ), err
    assert "--port" in err


@pytest.mark.parametrize("command", ["serve", "echo"])
async def test_unknown_host(command: str) -> None:
    code, _, err = await run(command, "--host", "no-such-host.invalid", "--port", "0")
    assert code == NETWORK
    assert one_line(err).startswith(
        "rawpush: cannot listen on no-such-host.invalid:0: unknown host 'no-such-host.invalid'"
    ), err


async def test_port_out_of_range_serve() -> None:
    code, _, err = await run("serve", "--port", "70000")
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: serve: bad configuration: --port (ServerConfig.port) must be an int in "
        "0-65535, not 70000"
    )


async def test_port_out_of_range_echo_and_any_usage_error_is_one_line() -> None:
    code, _, err = await run("echo", "--port", "70000")
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: echo: argument --port: '70000' is not a port number (0-65535) "
        "(see rawpush echo --help)"
    )
    code, _, err = await run("serve", "--no-such-flag")
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: usage: unrecognized arguments: --no-such-flag (see rawpush --help)"
    )


async def test_missing_tls_files_are_named(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    missing = str(tmp_path / "nope.pem")
    code, _, err = await run("serve", "--port", "0", "--certfile", missing)
    assert code == USAGE
    assert one_line(err) == f"rawpush: --certfile {missing}: no such file"
    code, _, err = await run("serve", "--port", "0", "--certfile", cert, "--keyfile", missing)
    assert code == USAGE
    assert one_line(err) == f"rawpush: --keyfile {missing}: no such file"


async def test_garbage_pem(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    code, _, err = await run("serve", "--port", "0", "--certfile", str(garbage))
    assert code == USAGE
    assert one_line(err).startswith(f"rawpush: --certfile {garbage}: no PEM certificate in it")
    # A certificate without its key, and a key file that holds no key.
    code, _, err = await run("serve", "--port", "0", "--certfile", cert)
    assert code == USAGE
    assert one_line(err) == (
        f"rawpush: --certfile {cert}: no PEM private key in it (give the key file with --keyfile)"
    )
    code, _, err = await run("serve", "--port", "0", "--certfile", cert, "--keyfile", cert)
    assert code == USAGE
    assert one_line(err).startswith(f"rawpush: --keyfile {cert}: no PEM private key in it")
    # A key of another certificate.
    (tmp_path / "other").mkdir()
    _, other_key = self_signed(tmp_path / "other")
    code, _, err = await run("serve", "--port", "0", "--certfile", cert, "--keyfile", other_key)
    assert code == USAGE
    assert one_line(err) == (
        f"rawpush: --certfile {cert} --keyfile {other_key}: "
        "the private key does not match the certificate"
    )


_NO_REDIS = """
import sys
sys.modules["redis"] = None  # as if redis-py were not installed
from rawpush.cli import main
sys.exit(main(sys.argv[1:]))
"""


async def test_redis_without_redis_py_gives_the_install_hint() -> None:
    url = "redis://127.0.0.1:6379"
    proc = await spawn("serve", "--port", "0", "--redis", url, python=_NO_REDIS)
    code, _, err = await finish(proc)
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: --redis redis://127.0.0.1:6379: redis-py is not installed "
        "(pip install 'rawpush[redis]')"
    )


async def test_bad_redis_url_never_shows_the_password() -> None:
    code, _, err = await run("serve", "--port", "0", "--redis", "http://:s3cret@host/0")
    assert code == USAGE
    line = one_line(err)
    assert line.startswith("rawpush: --redis http://:***@host/0: Redis URL must specify"), line
    assert "s3cret" not in line and "(expected redis://" in line


async def test_redis_pointing_at_nothing_fails_fast() -> None:
    port = free_port()
    code, _, err = await run("serve", "--port", "0", "--redis", f"redis://127.0.0.1:{port}")
    assert code == NETWORK
    assert one_line(err) == (
        f"rawpush: cannot reach Redis at redis://127.0.0.1:{port}: connection refused: "
        "nothing is listening there (start it, or pass --redis-wait to wait for it)"
    )


async def test_redis_wait_says_it_waits_and_ends_on_ctrl_c() -> None:
    port = free_port()
    proc = await spawn("serve", "--port", "0", "--redis", f"redis://127.0.0.1:{port}",
                       "--redis-wait")  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    line = await read_until(proc.stderr, "waiting", seen)
    assert line == (
        f"rawpush: waiting for Redis at redis://127.0.0.1:{port}: connection refused: "
        "nothing is listening there; trying again every 1 s"
    )
    assert await interrupt(proc) in (0, 130)


async def test_exit_statuses_are_documented() -> None:
    code, out, _ = await run("--help")
    assert code == 0
    for status in ("2 usage", "3 network", "4 refused", "130 Ctrl-C"):
        assert status in " ".join(out.split()), out
    code, out, _ = await run("--version")
    assert code == 0 and out.startswith("rawpush ")
    assert REFUSED == 4
