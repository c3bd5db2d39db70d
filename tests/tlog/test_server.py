"""The HTTP service against a real uvicorn server on 127.0.0.1: receipts, tiles, auth and bad input."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from notation_py.envelope import MEDIA_TYPE_JWS
from notation_py.envelope.payload import TargetArtifact, build_payload
from tests.envelope.helpers import sign
from tests.pki import chain_signer
from tlog import merkle
from tlog.checkpoint import Checkpoint, open_checkpoint
from tlog.entry import Entry, SignerIdentity, Subject, Submission, build_entry
from tlog.log import Log
from tlog.note import Signer, Verifier
from tlog.proof import TlogProof, verify_proof
from tlog.server import FULL_TILE_CACHE_CONTROL, PARTIAL_TILE_CACHE_CONTROL, check_prefix, create_app
from tlog.storage import sqlite as sqlite_storage
from tlog.tiles import (
    TileId,
    decode_entry_bundle,
    entries_path,
    entry_bundles_for_size,
    inclusion_proof_from_tiles,
    leaf_hashes_from_tiles,
    root_from_tiles,
    tiles_for_size,
)

ORIGIN = "log.example.com/server-test"
SIGNER = Signer.from_seed(ORIGIN, bytes(range(1, 33)))
VERIFIER: Verifier = SIGNER.verifier()
TOKEN = "test-token-0123456789abcdef"
REPOSITORY = "registry.example.com/team/app"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
PREFILL = 300  # synthetic entries logged before the server starts: one full level-0 tile and a partial
MAX_BODY = 72 * 1024


# --- a real server ----------------------------------------------------------------------------------


class LiveServer:
    """A log served by uvicorn on a free 127.0.0.1 port, in a background thread with its own event loop."""

    def __init__(
        self, directory: Path, *, tokens: frozenset[str] = frozenset(), anonymous: bool = True, prefill: int = 0
    ) -> None:
        self.directory = directory
        self.tokens = tokens
        self.anonymous = anonymous
        self.prefill = prefill
        self.url = ""
        self._ready = threading.Event()
        self._server: uvicorn.Server | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tlog-test-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the test server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        storage = await sqlite_storage.open(self.directory / "log.db")
        log = await Log.open(storage, SIGNER, ORIGIN, checkpoint_interval=0.02, create=True)
        try:
            await asyncio.gather(*(log.add(synthetic_entry(i)) for i in range(self.prefill)))
            app = create_app(
                log,
                tokens=self.tokens,
                allow_anonymous_writes=self.anonymous,
                max_body=MAX_BODY,
            )
            config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
            self._server = uvicorn.Server(config)
            task = asyncio.create_task(self._server.serve())
            while not self._server.started:
                if task.done():
                    await task
                await asyncio.sleep(0.01)
            port = self._server.servers[0].sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()
            await task
        finally:
            await log.close()
            await storage.close()


class HttpTileReader:
    """A :class:`tlog.tiles.TileReader` over HTTP."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.fetched: list[str] = []

    def read_tiles(self, tiles: Sequence[TileId]) -> Sequence[bytes]:
        out = []
        for tile in tiles:
            response = self.client.get("/" + tile.path)
            assert response.status_code == 200, (tile.path, response.text)
            self.fetched.append(tile.path)
            out.append(response.content)
        return out


def synthetic_entry(i: int) -> Entry:
    """An entry the log accepts without re-verification (the HTTP layer verifies, the log does not)."""
    return Entry(
        subject=Subject("registry.example.com/prefill", "sha256:" + hashlib.sha256(b"%d" % i).hexdigest(), "a/b", 1),
        envelope_media_type=MEDIA_TYPE_JWS,
        envelope=b"prefill envelope %d" % i,
        signer=SignerIdentity("CN=prefill", "CN=CA", ("00" * 32,)),
        signing_time=datetime(2026, 1, 1, tzinfo=UTC),
    )


# --- real submissions -------------------------------------------------------------------------------


def digest_for(name: str) -> str:
    """A distinct artifact digest per test name."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


@cache
def envelope_for(digest: str) -> bytes:
    """A JWS envelope (leaf under an intermediate and a root) signing a manifest with ``digest``."""
    payload = build_payload(TargetArtifact(media_type=MANIFEST_MEDIA_TYPE, digest=digest, size=1234))
    return sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), payload=payload)


def submission(name: str, repository: str = REPOSITORY, **overrides: Any) -> dict[str, Any]:
    """A valid submission body for a fresh artifact ``name``; ``overrides`` replace top-level fields."""
    digest = digest_for(name)
    doc: dict[str, Any] = {
        "subject": {"repository": repository, "digest": digest, "mediaType": MANIFEST_MEDIA_TYPE, "size": 1234},
        "envelopeMediaType": MEDIA_TYPE_JWS,
        "envelope": base64.b64encode(envelope_for(digest)).decode(),
    }
    doc.update(overrides)
    return doc


def check_receipt(doc: dict[str, Any], body: dict[str, Any]) -> None:
    """Verify a submission response like an offline client: entry bytes, leaf hash, signed checkpoint, proof."""
    entry = base64.b64decode(doc["entry"])
    assert entry == build_entry(Submission.from_json(json.dumps(body).encode())).data
    leaf = merkle.leaf_hash(entry)
    assert base64.b64decode(doc["leafHash"]) == leaf
    proof = TlogProof.from_bytes(doc["proof"].encode())
    assert proof.index == doc["index"]
    assert proof.checkpoint_note == doc["checkpoint"].encode()
    checkpoint = verify_proof(proof, leaf, [VERIFIER], ORIGIN)
    assert checkpoint.size == doc["treeSize"] > doc["index"]
    assert open_checkpoint(doc["checkpoint"].encode(), [VERIFIER], ORIGIN) == checkpoint


def assert_json_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a JSON error with ``status`` (and ``code``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    assert set(doc) == {"error", "detail"}
    assert isinstance(doc["detail"], str) and doc["detail"]
    if code is not None:
        assert doc["error"] == code, doc
    return doc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """An open (loopback, no tokens) server with PREFILL synthetic entries."""
    with LiveServer(tmp_path_factory.mktemp("open"), prefill=PREFILL) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client for :func:`server`."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


# --- submissions ------------------------------------------------------------------------------------


def test_submission_returns_a_verifiable_receipt_only_once_checkpointed(client: httpx.Client) -> None:
    body = submission("receipt")
    response = client.post("/v1/entries", json=body)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert set(doc) == {"index", "leafHash", "entry", "treeSize", "checkpoint", "proof"}
    assert doc["index"] >= PREFILL
    assert response.headers["location"] == f"/v1/entries/{doc['index']}"
    check_receipt(doc, body)
    # The checkpoint it leads to is (at least) what the log now publishes.
    published = open_checkpoint(client.get("/checkpoint").content, [VERIFIER], ORIGIN)
    assert published.size >= doc["treeSize"]


def test_resubmitting_an_envelope_returns_the_existing_entry_with_200(client: httpx.Client) -> None:
    body = submission("dedup")
    first = client.post("/v1/entries", json=body)
    assert first.status_code == 201
    again = client.post("/v1/entries", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["index"] == first.json()["index"]
    assert again.json()["entry"] == first.json()["entry"]
    check_receipt(again.json(), body)


def test_concurrent_submissions_get_distinct_indices(client: httpx.Client, server: LiveServer) -> None:
    bodies = [submission(f"concurrent-{i}") for i in range(12)]

    def post(body: dict[str, Any]) -> dict[str, Any]:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            response = c.post("/v1/entries", json=body)
            assert response.status_code == 201, response.text
            doc: dict[str, Any] = response.json()
            return doc

    with ThreadPoolExecutor(6) as pool:
        docs = list(pool.map(post, bodies))
    assert len({d["index"] for d in docs}) == len(docs)
    for doc, body in zip(docs, bodies, strict=True):
        check_receipt(doc, body)


def test_get_entry_and_proof_endpoints_agree_with_the_checkpoint(client: httpx.Client) -> None:
    body = submission("get-entry")
    posted = client.post("/v1/entries", json=body).json()
    got = client.get(f"/v1/entries/{posted['index']}")
    assert got.status_code == 200
    doc = got.json()
    assert doc["entry"] == posted["entry"]
    check_receipt(doc, body)

    size = doc["treeSize"]
    inclusion = client.get("/v1/proof/inclusion", params={"index": posted["index"], "size": size}).json()
    checkpoint = open_checkpoint(inclusion["checkpoint"].encode(), [VERIFIER], ORIGIN)
    hashes = [base64.b64decode(h) for h in inclusion["hashes"]]
    merkle.verify_inclusion(posted["index"], size, merkle.leaf_hash(base64.b64decode(doc["entry"])), hashes,
                            checkpoint.root_hash)  # fmt: skip

    old = open_checkpoint(posted["checkpoint"].encode(), [VERIFIER], ORIGIN)
    client.post("/v1/entries", json=submission("get-entry-2"))
    new = open_checkpoint(client.get("/checkpoint").content, [VERIFIER], ORIGIN)
    consistency = client.get("/v1/proof/consistency", params={"old": old.size, "new": new.size}).json()
    assert (consistency["old"], consistency["new"]) == (old.size, new.size)
    merkle.verify_consistency(
        old.size, new.size, old.root_hash, new.root_hash, [base64.b64decode(h) for h in consistency["hashes"]]
    )
    # new defaults to the latest size
    assert client.get("/v1/proof/consistency", params={"old": old.size}).json()["new"] >= new.size


def test_log_info(client: httpx.Client) -> None:
    info = client.get("/v1/log-info").json()
    assert info["origin"] == ORIGIN
    assert Verifier.from_vkey(info["verifierKey"]) == VERIFIER
    checkpoint = open_checkpoint(info["checkpoint"].encode(), [Verifier.from_vkey(info["verifierKey"])], ORIGIN)
    assert checkpoint.size == info["size"] >= PREFILL


def test_search_by_digest_repository_and_identity_with_pagination(client: httpx.Client) -> None:
    repository = "registry.example.com/search/app"
    bodies = [submission(f"search-{i}", repository) for i in range(3)]
    indices = [client.post("/v1/entries", json=b).json()["index"] for b in bodies]

    by_digest = client.get("/v1/search", params={"digest": digest_for("search-1")}).json()
    assert [e["index"] for e in by_digest["entries"]] == [indices[1]]
    assert by_digest["next"] is None

    page1 = client.get("/v1/search", params={"repository": repository, "limit": 2}).json()
    assert [e["index"] for e in page1["entries"]] == sorted(indices)[:2]
    page2 = client.get("/v1/search", params={"repository": repository, "limit": 2, "after": page1["next"]}).json()
    assert [e["index"] for e in page2["entries"]] == sorted(indices)[2:]
    assert page2["next"] is None
    entry = json.loads(base64.b64decode(page2["entries"][0]["entry"]))
    assert entry["subject"]["repository"] == repository

    identity = entry["signer"]["subject"]
    found = client.get("/v1/search", params={"identity": identity, "limit": 1000}).json()
    assert set(indices) <= {e["index"] for e in found["entries"]}
    assert client.get("/v1/search", params={"digest": digest_for("never-logged")}).json() == {
        "entries": [],
        "next": None,
    }


# --- the C2SP read API --------------------------------------------------------------------------------


def test_checkpoint_headers_and_signature(client: httpx.Client) -> None:
    response = client.get("/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in response.headers["cache-control"]
    checkpoint = open_checkpoint(response.content, [VERIFIER], ORIGIN)
    assert isinstance(checkpoint, Checkpoint)


def test_tiles_and_bundles_rebuild_the_checkpoint(client: httpx.Client) -> None:
    client.post("/v1/entries", json=submission("tiles"))
    checkpoint = open_checkpoint(client.get("/checkpoint").content, [VERIFIER], ORIGIN)
    size = checkpoint.size
    assert size > 256
    reader = HttpTileReader(client)
    assert root_from_tiles(reader, size) == checkpoint.root_hash
    assert reader.fetched  # really read over HTTP

    leaves = leaf_hashes_from_tiles(reader, 0, size, size)
    bundled: list[bytes] = []
    for bundle in entry_bundles_for_size(size):
        response = client.get("/" + bundle.path)
        assert response.status_code == 200, bundle.path
        assert response.headers["content-type"] == "application/octet-stream"
        bundled.extend(decode_entry_bundle(response.content, bundle.width))
    assert [merkle.leaf_hash(e) for e in bundled] == leaves
    assert merkle.root_from_leaf_hashes(leaves) == checkpoint.root_hash

    index = size - 1
    proof = inclusion_proof_from_tiles(reader, index, size)
    merkle.verify_inclusion(index, size, leaves[index], proof, checkpoint.root_hash)
    api = client.get("/v1/proof/inclusion", params={"index": index, "size": size}).json()
    assert [base64.b64decode(h) for h in api["hashes"]] == proof

    for tile in tiles_for_size(size):
        response = client.get("/" + tile.path)
        assert response.status_code == 200
        expected = PARTIAL_TILE_CACHE_CONTROL if tile.is_partial else FULL_TILE_CACHE_CONTROL
        assert response.headers["cache-control"] == expected, tile.path
        assert len(response.content) == 32 * tile.width


def test_tiles_beyond_the_tree_are_404(client: httpx.Client) -> None:
    size = open_checkpoint(client.get("/checkpoint").content, [VERIFIER], ORIGIN).size
    assert_json_error(client.get("/tile/0/002"), 404, "not_found")  # the log stays below 512 entries here
    assert_json_error(client.get("/tile/1/000"), 404, "not_found")  # full level-1 tile needs 65,536 entries
    assert_json_error(client.get("/tile/entries/001.p/255"), 404, "not_found")
    assert_json_error(client.get(f"/tile/0/001.p/{size - 256 + 1}"), 404, "not_found")
    assert client.get(f"/tile/0/001.p/{size - 256}").status_code == 200


# --- authentication -----------------------------------------------------------------------------------


def test_tokens_are_required_when_configured(tmp_path: Path) -> None:
    with (
        LiveServer(tmp_path, tokens=frozenset({TOKEN}), anonymous=False) as live,
        httpx.Client(base_url=live.url, timeout=30) as c,
    ):
        body = submission("auth")
        missing = c.post("/v1/entries", json=body)
        assert_json_error(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_json_error(c.post("/v1/entries", json=body, headers={"Authorization": "Bearer wrong"}), 401)
        assert_json_error(c.post("/v1/entries", json=body, headers={"Authorization": f"Basic {TOKEN}"}), 401)
        # Authentication comes before parsing: an anonymous caller learns nothing about its body.
        assert_json_error(c.post("/v1/entries", content=b"not json"), 401)
        ok = c.post("/v1/entries", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 201, ok.text
        check_receipt(ok.json(), body)
        assert c.get("/checkpoint").status_code == 200  # reads stay public


def test_without_tokens_or_loopback_permission_writes_are_refused(tmp_path: Path) -> None:
    with LiveServer(tmp_path, anonymous=False) as live, httpx.Client(base_url=live.url, timeout=30) as c:
        assert_json_error(c.post("/v1/entries", json=submission("read-only")), 403, "writes_disabled")
        assert c.get("/v1/log-info").json()["size"] == 0


# --- bad input: always a JSON 4xx -------------------------------------------------------------------------


def _body(**overrides: Any) -> Callable[[], bytes]:
    """A submission body made lazily (signing at collection time would slow every test run)."""
    return lambda: json.dumps(submission("bad-input", **overrides)).encode()


BAD_POSTS: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("malformed JSON", lambda: b'{"subject": ', 400, "invalid_entry"),
    ("not an object", lambda: b"[]", 400, "invalid_entry"),
    ("empty body", lambda: b"", 400, "invalid_entry"),
    ("not UTF-8", lambda: b"\xff\xfe{}", 400, "invalid_entry"),
    ("wrong subject digest", _body(subject={"repository": REPOSITORY, "digest": digest_for("other")}), 400, "invalid_entry"),
    ("wrong subject size", _body(subject={"repository": REPOSITORY, "digest": digest_for("bad-input"), "size": 1}), 400, "invalid_entry"),
    ("bad repository", _body(subject={"repository": "UPPER/x:tag", "digest": digest_for("bad-input")}), 400, "invalid_entry"),
    ("unknown field", _body(extra=1), 400, "invalid_entry"),
    ("null field", _body(signatureManifestDigest=None), 400, "invalid_entry"),
    ("unsupported media type", _body(envelopeMediaType="application/json"), 400, "invalid_entry"),
    ("envelope not base64", _body(envelope="!!!"), 400, "invalid_entry"),
    ("envelope garbage", _body(envelope=base64.b64encode(b"{}").decode()), 400, "invalid_entry"),
    ("huge body", lambda: b"{" + b" " * MAX_BODY + b"}", 413, "body_too_large"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "status", "code"), BAD_POSTS, ids=[c[0] for c in BAD_POSTS])
def test_bad_submissions_are_json_4xx(
    client: httpx.Client, case: str, body: Callable[[], bytes], status: int, code: str
) -> None:
    assert_json_error(client.post("/v1/entries", content=body()), status, code)


def test_huge_chunked_body_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 4096

    response = client.post("/v1/entries", content=chunks())
    assert_json_error(response, 413, "body_too_large")


BAD_GETS: list[tuple[str, int]] = [
    ("/tile/0/0000", 400),
    ("/tile/00/000", 400),
    ("/tile/64/000", 400),
    ("/tile/0/x000/001", 400),
    ("/tile/0/000.p/0", 400),
    ("/tile/0/000.p/256", 400),
    ("/tile/0/000.p/01", 400),
    ("/tile/entries/000.p/", 400),
    ("/tile/-1/000", 400),
    ("/tile/0/abc", 400),
    ("/tile/0/x999/x999/x999/x999/x999/x999/999", 400),
    ("/tile/", 400),
    ("/tile/0/999", 404),
    ("/tile/entries/x001/000", 404),
    ("/v1/entries/abc", 400),
    ("/v1/entries/01", 400),
    ("/v1/entries/-1", 400),
    ("/v1/entries/99999999999999999999999", 400),
    ("/v1/entries/18446744073709551615", 400),  # beyond 2^63 - 1, the largest index storage holds
    ("/v1/entries/9223372036854775807", 404),
    ("/v1/entries/100000", 404),
    ("/v1/proof/inclusion", 400),
    ("/v1/proof/inclusion?index=abc", 400),
    ("/v1/proof/inclusion?index=1&index=2", 400),
    ("/v1/proof/inclusion?index=0&size=0", 400),
    ("/v1/proof/inclusion?index=5&size=5", 400),
    ("/v1/proof/inclusion?index=0&size=100000", 404),
    ("/v1/proof/inclusion?index=0&size=18446744073709551615", 400),
    ("/v1/proof/inclusion?index=0&size=9223372036854775807", 404),
    ("/v1/proof/inclusion?index=0&size=-1", 400),
    ("/v1/proof/consistency", 400),
    ("/v1/proof/consistency?old=5&new=4", 400),
    ("/v1/proof/consistency?old=1&new=100000", 404),
    ("/v1/proof/consistency?old=x", 400),
    ("/v1/search", 400),
    ("/v1/search?digest=a&repository=b", 400),
    ("/v1/search?digest=", 400),
    ("/v1/search?digest=a&limit=0", 400),
    ("/v1/search?digest=a&limit=5000", 400),
    ("/v1/search?digest=a&after=-2", 400),
    ("/v1/search?digest=a&after=x", 400),
    ("/no/such/route", 404),
]


@pytest.mark.parametrize(("path", "status"), BAD_GETS, ids=[g[0] for g in BAD_GETS])
def test_bad_reads_are_json_4xx(client: httpx.Client, path: str, status: int) -> None:
    assert_json_error(client.get(path), status)


def test_wrong_method_is_json_405(client: httpx.Client) -> None:
    assert_json_error(client.delete("/checkpoint"), 405, "method_not_allowed")
    assert_json_error(client.get("/v1/entries"), 405, "method_not_allowed")


def _raw_get(client: httpx.Client, path: str, accept_encoding: str) -> tuple[httpx.Headers, bytes]:
    with client.stream("GET", path, headers={"Accept-Encoding": accept_encoding}) as response:
        assert response.status_code == 200, path
        return response.headers, b"".join(response.iter_raw())


@pytest.mark.parametrize("partial", [False, True])
def test_entry_bundles_are_gzip_compressed_when_accepted(client: httpx.Client, partial: bool) -> None:
    size = open_checkpoint(client.get("/checkpoint").content, [VERIFIER], ORIGIN).size
    if partial and size % 256 == 0:
        client.post("/v1/entries", json=submission("gzip-partial"))
        size += 1
    index, width = (size // 256, size % 256) if partial else (0, 256)
    path = "/" + entries_path(index, width if partial else None)
    identity_headers, plain = _raw_get(client, path, "identity")
    assert "content-encoding" not in identity_headers
    assert identity_headers["vary"] == "Accept-Encoding"
    assert len(decode_entry_bundle(plain, width)) == width
    for _ in range(2):  # the second full-bundle read comes from the server's tile cache
        headers, compressed = _raw_get(client, path, "gzip;q=1.0, identity;q=0.5")
        assert headers["content-encoding"] == "gzip"
        assert headers["vary"] == "Accept-Encoding"
        assert len(compressed) < len(plain)
        assert gzip.decompress(compressed) == plain
    headers, _ = _raw_get(client, path, "gzip;q=0, identity")
    assert "content-encoding" not in headers


def test_hash_tiles_are_never_content_encoded(client: httpx.Client) -> None:
    headers, data = _raw_get(client, "/tile/0/000", "gzip")
    assert "content-encoding" not in headers
    assert len(data) == 32 * 256


@pytest.mark.parametrize(
    ("prefix", "expected"), [("", ""), ("/", ""), ("/log", "/log"), ("/a/b-c.d_e~", "/a/b-c.d_e~")]
)
def test_check_prefix_accepts_paths(prefix: str, expected: str) -> None:
    assert check_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["log", "/log/", "//log", "/a/../b", "/a/./b", "/a b", "/ä"])
def test_check_prefix_refuses_anything_else(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid URL prefix"):
        check_prefix(prefix)


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("br, gzip ; q=1", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=x", False),
        ("identity", False),
        ("", False),
    ],
)
def test_bundles_follow_the_gzip_quality(client: httpx.Client, accept: str, gzipped: bool) -> None:
    headers, _ = _raw_get(client, "/tile/entries/000", accept)
    assert (headers.get("content-encoding") == "gzip") is gzipped
