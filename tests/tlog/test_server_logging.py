"""Request ids and log formats: ``X-Request-Id`` echoed, log lines emitted while handling a request carry
its id, JSON lines parse (in process, and from a real ``tlog serve --log-format json``)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tlog.live import serve, tlog
from tests.tlog.test_server import assert_json_error
from tests.tlog.test_server_input import Harness
from tlog.cli import main
from tlog.errors import StorageError
from tlog.server import JsonFormatter, TextFormatter

GENERATED = re.compile(r"[0-9a-f]{16}")
DIGEST = "sha256:" + "00" * 32


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A log of 3 entries served in process."""
    with Harness(tmp_path, prefill=3) as h:
        yield h


@contextlib.contextmanager
def captured(formatter: logging.Formatter, name: str = "tlog.server") -> Iterator[io.StringIO]:
    """What logger ``name`` logs (debug and up) while the block runs, formatted by ``formatter``."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What ``tlog.server`` logs (debug and up), formatted as JSON lines."""
    with captured(JsonFormatter()) as out:
        yield out


def records(out: io.StringIO) -> list[dict[str, Any]]:
    """Every line written so far, parsed."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --- X-Request-Id ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["abc", "0f8e7a6b-1234-4a4b-9c9d-0123456789ab", "a" * 64, "trace:1/2+3=4@x~y_z."])
def test_a_sane_request_id_is_echoed(harness: Harness, sent: str) -> None:
    assert harness.get("/checkpoint", headers={"X-Request-Id": sent}).headers["x-request-id"] == sent
    posted = harness.request("POST", "/v1/entries", content=b"{}", headers={"X-Request-Id": sent})
    assert posted.headers["x-request-id"] == sent  # the submission hot path too
    assert harness.get("/no/such/route", headers={"X-Request-Id": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize("sent", ["a" * 65, "has space", "semi;colon", 'quote"d', "", "tab\there"])
def test_an_insane_request_id_is_replaced(harness: Harness, sent: str) -> None:
    response = harness.get("/checkpoint", headers={"X-Request-Id": sent})
    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["x-request-id"]), response.headers["x-request-id"]


def test_every_request_gets_a_fresh_id(harness: Harness) -> None:
    ids = [harness.get("/healthz").headers["x-request-id"] for _ in range(5)]
    ids.append(harness.request("POST", "/v1/entries", content=b"{}").headers["x-request-id"])
    assert all(GENERATED.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


# --- log lines carry the request id ---------------------------------------------------------------------


def test_json_lines_carry_the_request_id(harness: Harness, lines: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise StorageError("database or disk is full")

    monkeypatch.setattr(harness.storage, "find_by_digest", broken)
    response = harness.get("/v1/search", {"digest": DIGEST}, headers={"X-Request-Id": "corr-1"})
    assert_json_error(response, 503, "storage_unavailable")
    assert response.headers["x-request-id"] == "corr-1"
    logging.getLogger("tlog.server").info("outside any request")

    inside, outside = records(lines)
    assert inside["request_id"] == "corr-1"
    assert (inside["level"], inside["logger"]) == ("DEBUG", "tlog.server")
    assert inside["message"] == "storage failure: database or disk is full"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", inside["time"]), inside["time"]
    assert outside == {k: outside[k] for k in ("time", "level", "logger", "message")}  # no request_id
    assert outside["message"] == "outside any request"


def test_an_internal_error_is_logged_with_its_traceback_and_request_id(
    harness: Harness, lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def bug(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("a bug in the backend")

    monkeypatch.setattr(harness.storage, "find_by_digest", bug)
    response = harness.get("/v1/search", {"digest": DIGEST}, headers={"X-Request-Id": "corr-2"})
    assert_json_error(response, 500, "internal_error")
    (line,) = records(lines)
    assert (line["level"], line["request_id"], line["exc_type"]) == ("ERROR", "corr-2", "RuntimeError")
    assert "Traceback" in line["traceback"] and "a bug in the backend" in line["traceback"]


def test_expected_errors_are_logged_with_their_type_but_no_traceback() -> None:
    with captured(JsonFormatter(), "tests.tlog.server_logging") as out:
        try:
            raise StorageError("database or disk is full")
        except StorageError:
            logging.getLogger("tests.tlog.server_logging").exception("commit failed")
    line = json.loads(out.getvalue())
    assert line["exc_type"] == "StorageError" and "traceback" not in line
    assert line["message"] == "commit failed" and "\n" not in out.getvalue().rstrip("\n")


def test_text_lines_carry_the_request_id(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise StorageError("database or disk is full")

    monkeypatch.setattr(harness.storage, "find_by_digest", broken)
    with captured(TextFormatter()) as out:
        harness.request("POST", "/v1/entries", content=b"{", headers={"X-Request-Id": "corr-3"})  # no log line
        harness.get("/v1/search", {"digest": DIGEST}, headers={"X-Request-Id": "corr-3"})
        logging.getLogger("tlog.server").warning("outside any request")
    assert out.getvalue().splitlines() == [
        "DEBUG: tlog.server: storage failure: database or disk is full [request_id=corr-3]",
        "WARNING: tlog.server: outside any request",
    ]


def test_serve_refuses_an_unknown_log_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--dir", str(tmp_path), "--log-format", "xml"]) == 2
    assert "argument --log-format: invalid choice: 'xml'" in capsys.readouterr().err


# --- a real server ------------------------------------------------------------------------------------------


@pytest.mark.real_server
def test_serve_log_format_json(tmp_path: Path) -> None:
    """Every stderr line is JSON except the command's own ``tlog:`` lines; access and tlog lines carry ids."""
    directory = tmp_path / "log"
    assert tlog("init", "--dir", directory, "--origin", "log.example.com/json-logs").returncode == 0
    with serve(directory, "--log-format", "json", "--log-level", "debug", "--verify-workers", "0") as served:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            health = client.get("/healthz", headers={"X-Request-Id": "live-health"})
            assert health.headers["x-request-id"] == "live-health"
            refused = client.post("/v1/entries", content=b"{}", headers={"X-Request-Id": "live-bad"})
            assert_json_error(refused, 400, "invalid_entry")
        # A client that hangs up mid-body: tlog.server logs it at debug, inside the request.
        host, port = served.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/entries HTTP/1.1\r\nHost: x\r\nX-Request-Id: live-abort\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"
            )
        time.sleep(0.5)
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(30) == 0
        deadline = time.monotonic() + 10
        text = ""
        while "tlog: stopped" not in text and time.monotonic() < deadline:
            text += served.stderr()
            time.sleep(0.05)

    assert "tlog: stopped" in text, text
    parsed = []
    for line in text.splitlines():
        if line.startswith("tlog: "):  # the command's own messages: the bound address, warnings, stopped
            continue
        doc = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(doc), doc
        parsed.append(doc)
    access = [d for d in parsed if d["logger"] == "uvicorn.access"]
    health_line = next(d for d in access if d.get("request_id") == "live-health")
    assert (health_line["method"], health_line["path"], health_line["status"]) == ("GET", "/healthz", 200)
    bad_line = next(d for d in access if d.get("request_id") == "live-bad")
    assert (bad_line["method"], bad_line["status"]) == ("POST", 400)
    aborted = [d for d in parsed if d["logger"] == "tlog.server" and "aborted" in d["message"]]
    assert [d["request_id"] for d in aborted] == ["live-abort"], parsed
    assert any(d["logger"] == "uvicorn.error" and "Started server process" in d["message"] for d in parsed)
    assert not any(d["logger"] == "aiosqlite" for d in parsed)  # per-statement debug lines stay out
