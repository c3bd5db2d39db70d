"""The log client against a real ``tlog serve``, and against logs that are down, slow or answer garbage."""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from notation_py.errors import TransparencyError, UsageError
from notation_py.transparency import LogClient
from notation_py.transparency import client as client_module
from tests.transparency.conftest import LiveLog
from tests.transparency.helpers import REPOSITORY, logged_signature, second_envelope
from tlog import merkle
from tlog.checkpoint import open_checkpoint
from tlog.note import Ed25519Verifier
from tlog.proof import TlogProof, verify_proof


@pytest.mark.real_server
@pytest.mark.xdist_group("transparency-live-log")
def test_submit_then_read_everything_back(live_log: LiveLog) -> None:
    signature = logged_signature("client-submit")
    leaf = signature.leaf(REPOSITORY)
    with live_log.client() as client:
        result = client.submit(signature.submission(REPOSITORY))
        assert (result.entry, result.leaf_hash, result.duplicate) == (leaf, merkle.leaf_hash(leaf), False)
        key = Ed25519Verifier.from_vkey(live_log.vkey)
        proof = TlogProof.from_bytes(result.proof)
        assert proof.index == result.index and proof.checkpoint_note == result.checkpoint_note
        verify_proof(proof, merkle.leaf_hash(leaf), [key], key.name)

        again = client.submit(signature.submission(REPOSITORY))
        assert (again.index, again.entry, again.duplicate) == (result.index, leaf, True)

        latest = open_checkpoint(client.checkpoint(), [key], key.name)
        assert latest.size > result.index
        assert client.entry(result.index) == leaf
        path = client.inclusion_proof(result.index, latest.size)
        merkle.verify_inclusion(result.index, latest.size, merkle.leaf_hash(leaf), path, latest.root_hash)
        first = open_checkpoint(result.checkpoint_note, [key], key.name)
        consistency = client.consistency_proof(first.size, latest.size)
        merkle.verify_consistency(first.size, latest.size, first.root_hash, latest.root_hash, consistency)
        assert client.search_digest(signature.subject_digest) == [(result.index, leaf)]
        assert client.search_digest("sha256:" + "00" * 32) == []
        info = client.log_info()
        assert (info["origin"], info["verifierKey"]) == (key.name, live_log.vkey)


@pytest.mark.real_server
@pytest.mark.xdist_group("transparency-live-log")
def test_search_follows_pages(live_log: LiveLog, monkeypatch: pytest.MonkeyPatch) -> None:
    first = logged_signature("client-pages")
    signatures = [first, second_envelope(first), second_envelope(first)]
    with live_log.client() as client:
        indices = [client.submit(s.submission(REPOSITORY)).index for s in signatures]
        monkeypatch.setattr(client_module, "SEARCH_PAGE_SIZE", 1)
        found = client.search_digest(first.subject_digest)
        assert found == [(i, s.leaf(REPOSITORY)) for i, s in zip(indices, signatures, strict=True)]
        assert [i for i, _ in client.iter_search_digest(first.subject_digest)][:1] == indices[:1]
        with pytest.raises(TransparencyError, match="more than 2 entries match; stopped reading"):
            client.search_digest(first.subject_digest, max_results=2)


@pytest.mark.real_server
@pytest.mark.xdist_group("transparency-live-log")
def test_the_logs_refusals_carry_its_reason(live_log: LiveLog) -> None:
    signature = logged_signature("client-refused")
    with live_log.client(token=None) as anonymous:
        with pytest.raises(TransparencyError) as info:
            anonymous.submit(signature.submission(REPOSITORY))
        assert info.value.message == (
            f"transparency log {live_log.url}: submitting the signature of {signature.subject_digest} failed: "
            "the log answered 401 unauthorized: a bearer token is required (Authorization: Bearer <token>)"
        )
    with live_log.client() as client:
        wrong = replace(signature, subject_digest=logged_signature("client-other").subject_digest)
        with pytest.raises(TransparencyError, match="failed: the log answered 400 invalid_entry: the envelope signs"):
            client.submit(wrong.submission(REPOSITORY))
        with pytest.raises(TransparencyError, match=r"answered 400 invalid_entry: subject\.repository"):
            client.submit(signature.submission("registry.example.com/app:v1"))
        with pytest.raises(TransparencyError, match="fetching entry 1000000 failed: the log answered 404 not_found"):
            client.entry(10**6)
        with pytest.raises(TransparencyError, match="answered 404 not_found: the log has"):
            client.inclusion_proof(0, 10**6)


def test_log_down() -> None:
    with socket.socket() as sock:  # bound, never listening: refused, and no other process can take the port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with LogClient(f"http://127.0.0.1:{port}/") as client:
            assert client.url == f"http://127.0.0.1:{port}"
            with pytest.raises(TransparencyError) as info:
                client.checkpoint()
            assert info.value.message.startswith(
                f"transparency log http://127.0.0.1:{port}: fetching the latest checkpoint failed: cannot connect ("
            )


@pytest.mark.real_server
def test_log_that_never_answers() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # connections queue up; nothing ever reads them
        with (
            LogClient(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.2) as client,
            pytest.raises(
                TransparencyError, match=re.escape("fetching the log information failed: no answer within 0.2 s")
            ),
        ):
            client.log_info()


def test_bad_urls_and_arguments() -> None:
    for url in ("ftp://log.example.com", "log.example.com", "https://", "https://h:99999", "https://h/?q=1"):
        with pytest.raises(UsageError, match="invalid transparency log URL"):
            LogClient(url)
    with pytest.raises(UsageError, match="timeout must be positive"):
        LogClient("https://log.example.com", timeout=0)
    with LogClient("https://log.example.com") as client, pytest.raises(UsageError, match="invalid tree size"):
        client.inclusion_proof(-1, 3)


# --- a log answering garbage ----------------------------------------------------------------------------


@contextmanager
def fake_log(handler: Callable[[httpx.Request], httpx.Response]) -> Iterator[LogClient]:
    """A client whose every request is answered by ``handler`` (no network)."""
    with LogClient("https://log.example.com/notary", transport=httpx.MockTransport(handler)) as client:
        yield client


def answer(body: object, status: int = 200, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: httpx.Response(status, content=content, headers=headers)


def malformed(client_call: Callable[[LogClient], object], body: object, message: str, status: int = 200) -> None:
    with fake_log(answer(body, status)) as client, pytest.raises(TransparencyError) as info:
        client_call(client)
    assert info.value.message.startswith("transparency log https://log.example.com/notary: ")
    assert message in info.value.message, info.value.message


HASH = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
ENTRY = "ZW50cnk="  # b"entry"


def leaf_b64(data: bytes = b"entry") -> str:
    return base64.b64encode(merkle.leaf_hash(data)).decode()


def test_garbage_json() -> None:
    malformed(
        LogClient.log_info, b"<html>oops</html>", "fetching the log information failed: malformed response: not JSON"
    )
    malformed(LogClient.log_info, [1, 2], "malformed response: not a JSON object")
    malformed(
        LogClient.log_info,
        {"origin": "o", "verifierKey": 5, "checkpoint": "c", "size": 1},
        "verifierKey must be a string",
    )
    malformed(lambda c: c.entry(3), b'{"index": 3, "index": 3}', 'duplicate key "index"')
    malformed(lambda c: c.entry(3), {"index": 4, "entry": ENTRY, "leafHash": leaf_b64()}, "the log answered entry 4")
    malformed(lambda c: c.entry(3), {"index": 3, "entry": ENTRY, "leafHash": HASH}, "leafHash is not the leaf hash")
    malformed(
        lambda c: c.entry(3), {"index": 3, "entry": "ZW50cnk", "leafHash": leaf_b64()}, "entry is not valid base64"
    )
    malformed(lambda c: c.entry(3), {"index": True, "entry": ENTRY, "leafHash": leaf_b64()}, "index must be an integer")
    malformed(
        lambda c: c.inclusion_proof(1, 4),
        {"index": 1, "treeSize": 4, "hashes": ["AAAA"]},
        "hashes is 3 bytes, not 32",
    )
    malformed(
        lambda c: c.inclusion_proof(1, 4), {"index": 1, "treeSize": 5, "hashes": []}, "for entry 1 at tree size 5"
    )
    malformed(lambda c: c.consistency_proof(1, 4), {"old": 1, "new": 4, "hashes": [HASH] * 200}, "at most 128")
    malformed(lambda c: c.consistency_proof(1, 4), {"old": 2, "new": 4, "hashes": []}, "the proof is from 2 to 4")


def test_garbage_submission_answers() -> None:
    signature = logged_signature("client-garbage")

    def submit(client: LogClient) -> object:
        return client.submit(signature.submission(None))

    good = {"index": 1, "leafHash": leaf_b64(), "entry": ENTRY, "checkpoint": "c\n", "proof": "p"}
    malformed(submit, {**good, "leafHash": HASH}, "leafHash is not the leaf hash of entry")
    malformed(submit, {**good, "checkpoint": None}, "checkpoint must be a non-empty string")
    malformed(submit, {**good, "index": -1}, "index must be an integer between 0 and 2^64-1")
    malformed(submit, good, "unexpected status 202", status=202)


def test_garbage_search_pages_cannot_loop() -> None:
    item = {"index": 5, "entry": ENTRY, "leafHash": leaf_b64()}
    malformed(lambda c: c.search_digest("sha256:ab"), {"entries": [item], "next": 4}, "next must follow the entries")
    malformed(lambda c: c.search_digest("sha256:ab"), {"entries": [], "next": 9}, "next must follow the entries")
    malformed(lambda c: c.search_digest("sha256:ab"), {"entries": [item, item]}, "not in increasing index order")
    malformed(lambda c: c.search_digest("sha256:ab"), {"entries": "x"}, "entries must be a list")
    # The same page again and again (a log ignoring `after`): refused, not an endless loop.
    with (
        fake_log(answer({"entries": [item], "next": 5})) as client,
        pytest.raises(TransparencyError, match="increasing index order"),
    ):
        client.search_digest("sha256:ab")


def test_errors_without_json_and_oversized_answers() -> None:
    malformed(
        LogClient.checkpoint,
        b"<h1>Bad Gateway</h1>\n\x00",
        "the log answered 502 Bad Gateway: <h1>Bad Gateway</h1>",
        502,
    )
    malformed(LogClient.checkpoint, b"", "failed: the log answered 503 Service Unavailable", 503)
    malformed(LogClient.checkpoint, {"error": "x" * 10}, "the log answered 500 xxxxxxxxxx", 500)
    huge = b"x" * (client_module.MAX_RESPONSE_SIZE + 1)
    malformed(
        LogClient.log_info, huge, f"is {len(huge)} bytes, more than the {client_module.MAX_RESPONSE_SIZE} accepted"
    )

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"x" * 65536] * 40))  # no Content-Length: counted while read

    with fake_log(streamed) as client, pytest.raises(TransparencyError, match="larger than the 1048576 bytes accepted"):
        client.checkpoint()
    long_error = {"error": "bad_request", "detail": "d" * 10_000}
    with fake_log(answer(long_error, 400)) as client, pytest.raises(TransparencyError) as info:
        client.checkpoint()
    assert info.value.message.endswith("d…") and len(info.value.message) < 500
