"""Hostile input to the HTTP service, in process and against uvicorn: numbers out of storage range,
clients that hang up mid-body, storage failures and which checkpoint is served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.tlog.test_server import ORIGIN, SIGNER, assert_json_error, synthetic_entry
from tlog.errors import StorageError
from tlog.log import Log
from tlog.published import PublishedCheckpoint
from tlog.server import create_app
from tlog.storage import sqlite as sqlite_storage
from tlog.storage.base import StoredCheckpoint
from tlog.tiles import entries_path, tile_path

T = TypeVar("T")
PREFILL = 300  # one full level-0 tile and a partial one
MAX_INDEX = (1 << 63) - 1  # SQLite INTEGER is signed 64-bit


class Harness:
    """A started log over SQLite in ``directory`` and its app, on an event loop in a background thread.

    Requests go through httpx's ASGI transport (no socket) unless :meth:`serve` starts uvicorn.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefill: int = 0,
        prefix: str = "",
        published: PublishedCheckpoint | None = None,
        **app_options: Any,
    ) -> None:
        self.directory = directory
        self.prefill = prefill
        self.prefix = prefix
        self.published = published
        self.app_options = app_options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="tlog-test-loop", daemon=True)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._resources = contextlib.AsyncExitStack()

    def __enter__(self) -> Harness:
        self._thread.start()
        try:
            self.run(self._open())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the harness loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def _open(self) -> None:
        self.storage = await sqlite_storage.open(self.directory / "log.db")
        self._resources.push_async_callback(self.storage.close)
        self.log = await Log.open(
            self.storage, SIGNER, ORIGIN, checkpoint_interval=0.01, published=self.published, create=True
        )
        self._resources.push_async_callback(self.log.close)
        await asyncio.gather(*(self.log.add(synthetic_entry(i)) for i in range(self.prefill)))
        self.app: ASGIApp = create_app(
            self.log, tokens=frozenset(), allow_anonymous_writes=True, prefix=self.prefix, **self.app_options
        )

    async def _close(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        await self._resources.aclose()

    def call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the ASGI app directly with this ``scope``, ``receive`` and ``send``."""

        async def call() -> None:
            await self.app(scope, receive, send)

        self.run(call())

    def get(
        self, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """``GET path`` through the app."""
        return self.request("GET", path, params=params, headers=headers)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """``method path`` through the app; ``options`` as for ``httpx.AsyncClient.request``."""
        return self.run(self.arequest(method, path, **options))

    async def arequest(self, method: str, path: str, **options: Any) -> httpx.Response:
        """:meth:`request`, on the harness loop."""

        async def app(scope: Any, receive: Any, send: Any) -> None:  # httpx's and Starlette's ASGI types differ
            await self.app(scope, receive, send)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tlog.test") as client:
            return await client.request(method, path, **options)

    def serve(self) -> int:
        """Serve the app with uvicorn on a free 127.0.0.1 port (on the harness loop); the port."""
        return self.run(self._serve())

    async def _serve(self) -> int:
        # log_config=None: uvicorn's records reach the root logger (and caplog) instead of its own handlers.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
        self._server = server = uvicorn.Server(config)
        self._serving = asyncio.create_task(server.serve())
        while not server.started:
            if self._serving.done():
                await self._serving
            await asyncio.sleep(0.01)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A read-only harness over a log of PREFILL entries, shared by the module's read tests."""
    with Harness(tmp_path_factory.mktemp("input"), prefill=PREFILL) as h:
        yield h


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """A read-only harness serving a one-entry log under ``/log``."""
    with Harness(tmp_path_factory.mktemp("prefixed"), prefill=1, prefix="/log") as h:
        yield h


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Harness]:
    """A harness of its own (for tests that patch the storage or serve over a socket)."""
    with Harness(tmp_path, prefill=3) as h:
        yield h


# --- every number in a path or query: an ASCII decimal below 2^63, else a JSON 400 naming it ----------


Target = tuple[str, dict[str, str] | None]


def _query(path: str, name: str, **fixed: str) -> Callable[[str], Target]:
    return lambda value: (path, {**fixed, name: value})


def _path(template: str) -> Callable[[str], Target]:
    return lambda value: (template.format(quote(value, safe="")), None)


#: Every numeric parameter: how to put a value in it, the error code and the text the detail names it by.
PARAMETERS: dict[str, tuple[Callable[[str], Target], str, str]] = {
    "search after": (_query("/v1/search", "after", digest="sha256:00"), "bad_request", "'after'"),
    "search limit": (_query("/v1/search", "limit", digest="sha256:00"), "bad_request", "'limit'"),
    "entry index": (_path("/v1/entries/{}"), "bad_request", "entry index"),
    "inclusion index": (_query("/v1/proof/inclusion", "index"), "bad_request", "'index'"),
    "inclusion size": (_query("/v1/proof/inclusion", "size", index="0"), "bad_request", "'size'"),
    "consistency old": (_query("/v1/proof/consistency", "old"), "bad_request", "'old'"),
    "consistency new": (_query("/v1/proof/consistency", "new", old="0"), "bad_request", "'new'"),
    "tile level": (_path("/tile/{}/000"), "bad_tile_path", "tile/"),
    "tile index": (_path("/tile/0/{}"), "bad_tile_path", "tile/"),
    "tile width": (_path("/tile/0/000.p/{}"), "bad_tile_path", "tile/"),
    "bundle index": (_path("/tile/entries/{}"), "bad_tile_path", "tile/"),
    "bundle width": (_path("/tile/entries/000.p/{}"), "bad_tile_path", "tile/"),
}

#: Values that are never a valid number here.
BAD_VALUES = [
    str(1 << 63),
    str((1 << 64) - 1),
    str(1 << 64),
    "1" + "0" * 30,
    "-1",
    "-9223372036854775809",
    "+5",
    " 5",
    "5 ",
    "\t5",
    "١٢",  # Arabic-Indic digits
    "５",  # fullwidth digit
    "²",
    "",
    "05",
    "1e3",
    "0x10",
    "5.0",
]

#: (parameter, value) → (status, code) where the answer is not a 400 naming the parameter: values in range.
EXPECTED: dict[tuple[str, str], tuple[int, str | None]] = {
    ("search after", "-1"): (200, None),  # the documented "from the start" cursor
    ("entry index", ""): (404, "not_found"),  # /v1/entries/ is no route (and not a redirect)
    ("search after", str(MAX_INDEX)): (200, None),
    ("entry index", str(MAX_INDEX)): (404, "not_found"),
    ("inclusion index", str(MAX_INDEX)): (400, "invalid_proof_request"),  # not below the size
    ("inclusion size", str(MAX_INDEX)): (404, "not_found"),
    ("consistency old", str(MAX_INDEX)): (400, "invalid_proof_request"),  # larger than new
    ("consistency new", str(MAX_INDEX)): (404, "not_found"),
}
_LARGEST = ["search after", "search limit", "entry index", "inclusion index", "inclusion size", "consistency old",
            "consistency new"]  # fmt: skip
CASES = [(param, value) for param in PARAMETERS for value in BAD_VALUES] + [(p, str(MAX_INDEX)) for p in _LARGEST]


@pytest.mark.parametrize(("param", "value"), CASES, ids=[f"{p}={v!r}" for p, v in CASES])
def test_numbers_out_of_range_or_malformed_are_json_4xx(harness: Harness, param: str, value: str) -> None:
    build, code, name = PARAMETERS[param]
    path, params = build(value)
    response = harness.get(path, params)
    status, expected_code = EXPECTED.get((param, value), (400, code))
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json() == {"entries": [], "next": None}
        return
    doc = assert_json_error(response, status, expected_code)
    if (param, value) not in EXPECTED:
        assert name in doc["detail"], doc


#: Canonical tile paths whose first entry is at or beyond 2^63: no storage could hold them (400), and
#: in-range neighbours that are simply beyond this tree (404).
TILES: list[tuple[str, int]] = [
    (tile_path(0, 1 << 55), 400),  # first leaf 2^63
    (tile_path(0, (1 << 64) - 1), 400),
    (tile_path(0, (1 << 64) - 1, 1), 400),
    (tile_path(1, 1 << 47), 400),
    (entries_path(1 << 55), 400),
    (entries_path((1 << 64) - 1, 255), 400),
    (tile_path(0, (1 << 55) - 1), 404),  # last leaf 2^63 - 1
    (entries_path((1 << 55) - 1, 1), 404),
    (tile_path(63, 0), 404),
    (tile_path(7, 0, 1), 404),
    (tile_path(0, 2), 404),
]


@pytest.mark.parametrize(("path", "status"), TILES, ids=[t[0] for t in TILES])
def test_tiles_beyond_any_storable_tree_are_400(harness: Harness, path: str, status: int) -> None:
    doc = assert_json_error(harness.get("/" + path), status)
    if status == 400:
        assert doc["error"] == "bad_tile_path" and path in doc["detail"], doc


@pytest.mark.parametrize("path", ["/v1/entries/", "/tile", "/checkpoint/", "/v1/log-info/"])
def test_trailing_slashes_are_json_404_not_redirects(harness: Harness, path: str) -> None:
    assert_json_error(harness.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/log/v1/entries/", 404),
        ("/log", 404),
        ("/log/tile", 404),
        (f"/log/v1/search?digest=a&after={1 << 63}", 400),
        (f"/log/v1/entries/{1 << 63}", 400),
        ("/log/v1/entries/0", 200),
    ],
)
def test_numbers_and_slashes_under_a_prefix(prefixed: Harness, path: str, status: int) -> None:
    response = prefixed.get(path)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_json_error(response, status)


def _post_scope(*headers: tuple[bytes, bytes]) -> Scope:
    """The ASGI scope of ``POST /v1/entries`` with these raw headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/entries",
        "raw_path": b"/v1/entries",
        "query_string": b"",
        "headers": [(b"host", b"tlog.test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


@pytest.mark.parametrize(
    ("length", "status", "code"),
    [
        ("²", 400, "bad_request"),  # str.isdigit() is true for it, int() refuses it
        ("-1", 400, "bad_request"),
        ("+5", 400, "bad_request"),
        (" 5", 400, "bad_request"),
        ("0x10", 400, "bad_request"),
        ("9" * 5000, 413, "body_too_large"),  # more digits than int() converts
        ("0" * 5000 + "2", 400, "invalid_entry"),  # leading zeros are allowed (RFC 9110): a 2-byte body
    ],
    ids=["superscript", "negative", "plus", "space", "hex", "5000 digits", "leading zeros"],
)
def test_content_length_is_an_ascii_decimal(harness: Harness, length: str, status: int, code: str) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    harness.call(_post_scope((b"content-length", length.encode("latin-1"))), receive, send)
    doc = json.loads(sent[1]["body"])
    assert (sent[0]["status"], doc["error"]) == (status, code), doc
    if code == "bad_request":
        assert doc["detail"] == "malformed Content-Length"


# --- a client that hangs up mid-body is a debug line, not an internal error ------------------------------


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [(r.name, r.levelname, r.getMessage()) for r in loud]
    assert "Traceback" not in caplog.text


def _abort_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "tlog.server" and r.levelno == logging.DEBUG and "abort" in r.getMessage()
    ]


def test_client_disconnect_mid_body_in_process(fresh: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tlog.server")
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"subject": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    fresh.call(_post_scope((b"content-length", b"1000")), receive, send)
    _no_errors_logged(caplog)
    assert len(_abort_records(caplog)) == 1, caplog.text
    assert not sent or sent[0]["status"] == 400  # nobody reads it, but it is not a 5xx


def test_client_disconnect_mid_body_over_a_socket(
    fresh: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="tlog.server")
    # uvicorn's default logging config (from another test in this process) stops its records at "uvicorn".
    monkeypatch.setattr(logging.getLogger("uvicorn"), "propagate", True)
    port = fresh.serve()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = b"POST /v1/entries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            sock.sendall(head + b"Content-Length: 10000\r\n\r\n" + b'{"subject": ' + b" " * 2000)
    deadline = time.monotonic() + 20
    while len([r for r in caplog.records if r.name == "tlog.server"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    _no_errors_logged(caplog)
    assert len(_abort_records(caplog)) == 3, caplog.text
    # The server is still fine.
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert client.get("/checkpoint").status_code == 200


# --- storage failures: a 503 per request, logged at debug (the sequencer logs state changes) -------------


def test_storage_failure_is_503_and_logged_at_debug(
    fresh: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise StorageError("database or disk is full")

    monkeypatch.setattr(fresh.storage, "find_by_digest", broken)
    caplog.set_level(logging.DEBUG, logger="tlog.server")
    for _ in range(5):
        response = fresh.get("/v1/search", {"digest": "sha256:00"})
        assert_json_error(response, 503, "storage_unavailable")
        assert response.json()["detail"] == "the log storage is unavailable; retry later"
        assert response.headers["retry-after"] == "5"
        assert response.headers["cache-control"] == "no-store"
    _no_errors_logged(caplog)
    debug = [r for r in caplog.records if r.name == "tlog.server" and r.levelno == logging.DEBUG]
    assert len(debug) == 5 and all("storage failure: database or disk is full" in r.getMessage() for r in debug)


# --- the checkpoint served is the sequencer's published one -------------------------------------------------


def test_served_checkpoint_is_the_logs_published_one(fresh: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    published = fresh.log.checkpoint
    # The database already holds a newer checkpoint that the log has not recorded as published.
    unpublished = StoredCheckpoint(published.size + 1, b"\x01" * 32, b"committed, not yet published\n")

    async def latest_checkpoint() -> StoredCheckpoint:
        return unpublished

    monkeypatch.setattr(fresh.storage, "latest_checkpoint", latest_checkpoint)
    response = fresh.get("/checkpoint")
    assert response.status_code == 200
    assert response.content == fresh.log.checkpoint.note == published.note
    info = fresh.get("/v1/log-info").json()
    assert (info["size"], info["checkpoint"]) == (published.size, published.note.decode())
    assert_json_error(fresh.get(f"/v1/entries/{published.size}"), 404, "not_found")
    entry = fresh.get(f"/v1/entries/{published.size - 1}").json()
    assert (entry["treeSize"], entry["checkpoint"]) == (published.size, published.note.decode())
    assert_json_error(fresh.get("/v1/proof/inclusion", {"index": "0", "size": str(published.size + 1)}), 404)
    assert_json_error(fresh.get("/v1/proof/consistency", {"old": "0", "new": str(published.size + 1)}), 404)
    assert_json_error(fresh.get("/tile/entries/000.p/" + str(published.size + 1)), 404)


def test_a_log_that_is_not_started_serves_no_checkpoint(fresh: Harness) -> None:
    async def unstarted_app() -> Any:
        # The database holds checkpoints, but this log has published none.
        return create_app(Log(fresh.storage, SIGNER, ORIGIN), tokens=frozenset(), allow_anonymous_writes=True)

    fresh.app = fresh.run(unstarted_app())
    for path in ("/checkpoint", "/v1/log-info", "/v1/entries/0", "/v1/proof/inclusion?index=0", "/tile/0/000.p/3"):
        assert_json_error(fresh.get(path), 503, "not_ready")
