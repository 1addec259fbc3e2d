"""The access log's own rules, in process (the CLI tests run it in
subprocesses): the line format, a file target, refused connections, and
the debug record of a refusal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rawpush.server import access_log


def test_a_line_names_every_field_and_escapes_the_target() -> None:
    exchange = access_log.Exchange("GET", "/sse/a b\x01é", "HTTP/1.1", "sse")
    exchange.status, exchange.sent = 200, 1532
    line = access_log.format_line(exchange, ("::1", 8080), 1_764_640_000.25, exchange.started + 1.5)
    assert line == (
        "2025-12-02T01:46:40.250Z [::1]:8080 GET /sse/a\\x20b\\x01\\xE9 HTTP/1.1 200 1532 1.500 sse"
    )
    blank = access_log.Exchange("", "", "", "")
    assert access_log.format_line(blank, None, 0.0, blank.started).split(" ")[1:] == [
        "-", "-", "-", "-", "-", "0", "0.000", "-",
    ]  # fmt: skip


def test_a_file_target_gets_every_line_and_refusals_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "access.log"
    access_log.enable(str(path))
    try:
        assert access_log.enabled()
        exchange = access_log.begin("POST", "/publish/c", "HTTP/2", "http")
        assert exchange is not None
        exchange.status = 200
        access_log.end(exchange, ("127.0.0.1", 5000))
        with caplog.at_level(logging.DEBUG, logger="rawpush.server"):
            access_log.refused(("127.0.0.1", 5001), 503, 120, "max_connections")
    finally:
        access_log.disable()
    assert not access_log.enabled() and access_log.begin("GET", "/", "HTTP/1.1") is None
    lines = path.read_text().splitlines()
    assert [f.split(" ")[1:6] for f in lines] == [
        ["127.0.0.1:5000", "POST", "/publish/c", "HTTP/2", "200"],
        ["127.0.0.1:5001", "-", "-", "-", "503"],
    ]
    assert "refused 127.0.0.1:5001: 503 (max connections)" in caplog.text
    access_log.refused(None, 503, 0, "draining")  # off: nothing written, no error
    assert len(path.read_text().splitlines()) == 2
