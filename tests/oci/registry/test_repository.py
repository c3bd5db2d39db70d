"""Repository as an ArtifactStore over a mock registry: exact bytes, uploads, referrers, tag schema."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from notation_py.errors import ArtifactError, DigestError, NotFoundError, RegistryError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import compute
from notation_py.oci.manifest import (
    ARTIFACT_TYPE_NOTARY,
    EMPTY_JSON,
    MAX_ENVELOPE_SIZE,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    go_json,
)
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import Repository, referrers_tag
from notation_py.oci.signatures import fetch_signature, list_signature_manifests, push_signature
from notation_py.oci.store import ArtifactStore
from tests.oci.registry.mock_registry import HOST, INDEX, MockRegistry, error, sha256

REPO = "demo"
CREATED = datetime(2025, 1, 21, 9, 17, 46, tzinfo=UTC)
THUMBPRINTS = [hashlib.sha256(b"leaf").hexdigest()]
JWS = b'{"payload":"e30","protected":"e30","signature":"AAAA"}'


def image(mock: MockRegistry, tag: str | None = "v1", layer: bytes = b"hello\n") -> Descriptor:
    """Store a tiny image in ``mock`` and describe its manifest."""
    config = b'{"architecture":"amd64","os":"linux"}'
    mock.blobs[sha256(config)] = config
    mock.blobs[sha256(layer)] = layer
    manifest = go_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": len(layer)}
            ],
        }
    )
    mock.put_manifest(REPO, manifest, MEDIA_TYPE_OCI_MANIFEST, tag)
    return Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, manifest)


def repository(mock: MockRegistry, **options: Any) -> Repository:
    client, _ = mock.client(**options)
    return client.repository(RegistryReference(HOST, REPO))


def referrer_manifest(subject: Descriptor, artifact_type: str, note: str) -> bytes:
    return go_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": MEDIA_TYPE_EMPTY_JSON, "digest": str(compute(EMPTY_JSON)), "size": 2},
            "layers": [{"mediaType": MEDIA_TYPE_EMPTY_JSON, "digest": str(compute(EMPTY_JSON)), "size": 2}],
            "subject": subject.plain().to_dict(),
            "annotations": {"note": note},
        }
    )


def push_referrer(repo: Repository, subject: Descriptor, artifact_type: str, note: str) -> Descriptor:
    repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    return repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, artifact_type, note))


def tag_index(mock: MockRegistry, subject: Descriptor) -> list[dict[str, Any]]:
    digest = mock.tags[(REPO, referrers_tag(subject.digest))]
    media_type, data = mock.manifests[(REPO, digest)]
    assert media_type == MEDIA_TYPE_OCI_INDEX
    manifests: list[dict[str, Any]] = json.loads(data)["manifests"]
    return manifests


# --- protocol and basics ---------------------------------------------------------------------


def test_repository_is_an_artifact_store() -> None:
    assert isinstance(repository(MockRegistry()), ArtifactStore)


def test_resolve_tag_and_digest_with_head() -> None:
    mock = MockRegistry()
    desc = image(mock)
    repo = repository(mock)
    assert repo.resolve("v1") == desc
    assert repo.resolve(str(desc.digest)) == desc
    heads = mock.seen("HEAD", f"/v2/{REPO}/manifests/")
    assert len(heads) == 2
    assert MEDIA_TYPE_OCI_INDEX in heads[0].headers["accept"]
    assert MEDIA_TYPE_OCI_MANIFEST in heads[0].headers["accept"]
    assert not mock.seen("GET", f"/v2/{REPO}/manifests/")


def test_resolve_falls_back_to_get_when_head_lacks_headers() -> None:
    mock = MockRegistry(head_headers=False)
    desc = image(mock)
    assert repository(mock).resolve("v1") == desc
    assert len(mock.seen("GET", f"/v2/{REPO}/manifests/v1")) == 1


def test_resolve_refuses_other_digest_for_a_digest_reference() -> None:
    mock = MockRegistry()
    desc = image(mock)
    other = image(mock, tag=None, layer=b"other")

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "HEAD" and request.url.path.endswith(str(desc.digest)):
            return httpx.Response(
                200,
                headers={
                    "Content-Type": MEDIA_TYPE_OCI_MANIFEST,
                    "Docker-Content-Digest": str(other.digest),
                    "Content-Length": str(other.size),
                },
            )
        return None

    mock.intercept = lie
    with pytest.raises(DigestError, match=str(other.digest)):
        repository(mock).resolve(str(desc.digest))


def test_resolve_errors() -> None:
    mock = MockRegistry()
    repo = repository(mock)
    with pytest.raises(NotFoundError, match=r"registry.test/demo:nope: not found"):
        repo.resolve("nope")
    with pytest.raises(UsageError):
        repo.resolve("../etc")
    with pytest.raises(UsageError):
        repo.resolve("")


def test_fetch_manifest_and_blob_exact_bytes() -> None:
    mock = MockRegistry()
    desc = image(mock)
    repo = repository(mock)
    data = repo.fetch_manifest(desc)
    assert compute(data) == desc.digest
    layer = json.loads(data)["layers"][0]
    blob = repo.fetch_blob(Descriptor.from_dict(layer), 1024)
    assert blob == b"hello\n"
    manifest_get = mock.seen("GET", f"/v2/{REPO}/manifests/")[0]
    assert manifest_get.headers["accept"] == MEDIA_TYPE_OCI_MANIFEST
    with pytest.raises(ArtifactError, match="blob too large"):
        repo.fetch_blob(Descriptor.from_dict(layer), 3)
    with pytest.raises(NotFoundError):
        repo.fetch_blob(Descriptor.of("application/octet-stream", b"missing"), 1024)


# --- lying registry --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["manifest", "blob"])
def test_digest_mismatch_is_refused(kind: str) -> None:
    mock = MockRegistry()
    desc = image(mock)
    layer = Descriptor.of("application/vnd.oci.image.layer.v1.tar", b"hello\n")
    target = desc if kind == "manifest" else layer
    original = mock.manifests[(REPO, str(desc.digest))][1] if kind == "manifest" else b"hello\n"
    forged = bytes([original[0] ^ 1]) + original[1:]  # same size, different digest

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(str(target.digest)):
            return httpx.Response(200, content=forged, headers={"Content-Type": target.media_type})
        return None

    mock.intercept = lie
    repo = repository(mock)
    with pytest.raises(DigestError) as info:
        if kind == "manifest":
            repo.fetch_manifest(desc)
        else:
            repo.fetch_blob(layer, 1024)
    assert f"expected {target.digest}" in info.value.message
    assert f"got {compute(forged)}" in info.value.message


def test_oversized_blob_stream_stops_early() -> None:
    mock = MockRegistry()
    layer = Descriptor.of("application/octet-stream", b"x" * 10)
    chunks_sent = []

    def endless() -> Any:
        for _ in range(1000):
            chunks_sent.append(1)
            yield b"x" * 65536

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and "/blobs/" in request.url.path:
            return httpx.Response(200, content=endless())
        return None

    mock.intercept = lie
    with pytest.raises(DigestError, match="expected 10 bytes, got more"):
        repository(mock).fetch_blob(layer, MAX_ENVELOPE_SIZE)
    assert len(chunks_sent) < 5


def test_announced_length_mismatch_is_refused() -> None:
    mock = MockRegistry()
    desc = image(mock)

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET":
            return httpx.Response(200, content=b"{}", headers={"Content-Length": "2"})
        return None

    mock.intercept = lie
    with pytest.raises(DigestError, match=f"expected {desc.size} bytes, registry announced 2"):
        repository(mock).fetch_manifest(desc)


def test_manifest_read_by_tag_checked_against_docker_content_digest() -> None:
    mock = MockRegistry(head_headers=False)
    desc = image(mock)

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith("/v1"):
            data = mock.manifests[(REPO, str(desc.digest))][1] + b" "
            return httpx.Response(
                200,
                content=data,
                headers={"Content-Type": MEDIA_TYPE_OCI_MANIFEST, "Docker-Content-Digest": str(desc.digest)},
            )
        return None

    mock.intercept = lie
    with pytest.raises(DigestError, match=f"expected {desc.digest}"):
        repository(mock).resolve("v1")


# --- pushing ---------------------------------------------------------------------------------


def test_blob_upload_post_then_put_with_digest_appended_to_location_query() -> None:
    mock = MockRegistry()
    repo = repository(mock)
    desc = repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert desc == Descriptor.of(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert mock.blobs[str(desc.digest)] == EMPTY_JSON
    assert [r.method for r in mock.requests] == ["HEAD", "POST", "PUT"]
    put = mock.requests[2]
    assert put.url.params.get("_state")  # the location's own query survived
    assert put.url.params.get("digest") == str(desc.digest)
    assert "digest=sha256%3A" in str(put.url)
    assert put.headers["content-type"] == "application/octet-stream"
    assert put.content == EMPTY_JSON
    assert "digest" not in mock.requests[1].url.params  # no single-POST upload


def test_existing_blob_is_not_uploaded_again() -> None:
    mock = MockRegistry()
    mock.blobs[sha256(EMPTY_JSON)] = EMPTY_JSON
    repository(mock).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert [r.method for r in mock.requests] == ["HEAD"]


def test_blob_upload_failure_surfaces_registry_error() -> None:
    mock = MockRegistry()

    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and "/uploads/" in request.url.path:
            return error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        return None

    mock.intercept = refuse
    with pytest.raises(RegistryError, match="answered 400 DIGEST_INVALID: provided digest did not match") as info:
        repository(mock).push_blob("application/octet-stream", b"data")
    assert info.value.status == 400
    assert info.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX])
def test_manifest_put_by_digest_with_its_content_type(media_type: str) -> None:
    mock = MockRegistry()
    base = image(mock)
    if media_type == MEDIA_TYPE_OCI_INDEX:
        data = go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [base.to_dict()]})
    else:
        data = mock.manifests[(REPO, str(base.digest))][1].replace(b'"schemaVersion":2', b'"schemaVersion":2 ')
    repo = repository(mock)
    desc = repo.push_manifest(media_type, data)
    put = mock.seen("PUT", f"/v2/{REPO}/manifests/")[-1]
    assert put.url.path == f"/v2/{REPO}/manifests/{compute(data)}"
    assert put.headers["content-type"] == media_type
    assert put.content == data  # exact bytes, not re-serialised
    assert desc.digest == compute(data)
    assert mock.manifests[(REPO, str(desc.digest))] == (media_type, data)


def test_manifest_push_with_tag_and_refused_manifest() -> None:
    mock = MockRegistry()
    base = image(mock, tag=None)
    data = mock.manifests[(REPO, str(base.digest))][1]
    repo = repository(mock)
    repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data, tag="v2")
    assert mock.tags[(REPO, "v2")] == str(base.digest)
    with pytest.raises(UsageError):
        repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data, tag="bad/tag")
    missing = go_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": "application/json", "digest": sha256(b"nope"), "size": 4},
            "layers": [],
        }
    )
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, missing)


def test_registry_recording_another_digest_is_an_error() -> None:
    mock = MockRegistry()
    base = image(mock, tag=None)
    data = mock.manifests[(REPO, str(base.digest))][1]

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT":
            return httpx.Response(201, headers={"Docker-Content-Digest": sha256(b"other")})
        return None

    mock.intercept = lie
    with pytest.raises(DigestError, match="registry recorded digest"):
        repository(mock).push_manifest(MEDIA_TYPE_OCI_MANIFEST, data)


# --- referrers: API ---------------------------------------------------------------------------


def test_signatures_round_trip_with_referrers_api() -> None:
    mock = MockRegistry(referrers_api=True, oci_subject=True)
    subject = image(mock)
    repo = repository(mock)
    pushed = push_signature(repo, repo.resolve("v1"), "application/jose+json", JWS, THUMBPRINTS, CREATED)
    assert pushed.artifact_type == ARTIFACT_TYPE_NOTARY
    assert mock.blobs[sha256(EMPTY_JSON)] == EMPTY_JSON  # empty config uploaded
    assert (REPO, referrers_tag(subject.digest)) not in mock.tags  # OCI-Subject: no tag schema write
    listed = list(list_signature_manifests(repo, subject, 10))
    assert [d.digest for d in listed] == [pushed.digest]
    fetched = fetch_signature(repo, listed[0], subject)
    assert fetched.envelope == JWS
    assert repo.referrers_mode == "api"
    assert not mock.seen("GET", f"/v2/{REPO}/manifests/{referrers_tag(subject.digest)}")  # API only
    referrer_gets = mock.seen("GET", f"/v2/{REPO}/referrers/")
    assert referrer_gets[0].url.params["artifactType"] == ARTIFACT_TYPE_NOTARY


@pytest.mark.parametrize("filters_applied", [True, False])
def test_referrers_api_pagination_and_filtering(filters_applied: bool) -> None:
    mock = MockRegistry(referrers_api=True, oci_subject=True, page_size=2, filters_applied=filters_applied)
    subject = image(mock)
    repo = repository(mock)
    sboms = {push_referrer(repo, subject, "application/vnd.example.sbom", f"s{i}").digest for i in range(3)}
    sigs = {push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, f"n{i}").digest for i in range(2)}
    everything = list(repo.referrers(subject))
    assert {d.digest for d in everything} == sboms | sigs
    assert len(everything) == 5
    only_sigs = list(repo.referrers(subject, ARTIFACT_TYPE_NOTARY))
    assert {d.digest for d in only_sigs} == sigs
    assert all(d.annotations and d.annotations["note"].startswith("n") for d in only_sigs)
    pages = mock.seen("GET", f"/v2/{REPO}/referrers/")
    assert len(pages) == 3 + (1 if filters_applied else 3)  # 5 referrers in pages of 2; filtered: 2 in 1 page


def test_referrers_api_link_to_another_host_is_refused() -> None:
    mock = MockRegistry(referrers_api=True)
    subject = image(mock)

    def hop(request: httpx.Request) -> httpx.Response | None:
        if "/referrers/" in request.url.path:
            body = go_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": []})
            link = '<https://elsewhere.test/v2/demo/referrers/x>; rel="next"'
            return httpx.Response(200, content=body, headers={"Content-Type": INDEX, "Link": link})
        return None

    mock.intercept = hop
    with pytest.raises(ArtifactError, match="another server"):
        list(repository(mock).referrers(subject))


# --- referrers: tag schema -------------------------------------------------------------------


def test_signatures_round_trip_with_tag_schema_fallback() -> None:
    mock = MockRegistry()  # distribution 2.8: router 404, no OCI-Subject
    subject = image(mock)
    repo = repository(mock)
    pushed = push_signature(repo, subject, "application/jose+json", JWS, THUMBPRINTS, CREATED)
    entries = tag_index(mock, subject)
    assert entries == [pushed.to_dict()]
    assert entries[0]["artifactType"] == ARTIFACT_TYPE_NOTARY
    index_put = next(r for r in mock.seen("PUT") if r.url.path.endswith(referrers_tag(subject.digest)))
    assert index_put.headers["content-type"] == MEDIA_TYPE_OCI_INDEX
    listed = list(list_signature_manifests(repo, subject, 10))
    assert [d.digest for d in listed] == [pushed.digest]
    assert fetch_signature(repo, listed[0], subject).envelope == JWS
    assert repo.referrers_mode == "tag"


def test_no_referrers_anywhere_is_empty_and_mode_is_cached_per_client() -> None:
    mock = MockRegistry()
    subject = image(mock)
    client, _ = mock.client()
    first = client.repository(RegistryReference(HOST, REPO))
    assert list(first.referrers(subject)) == []
    second = client.repository(RegistryReference(HOST, REPO))
    assert list(second.referrers(subject)) == []
    assert len(mock.seen("GET", f"/v2/{REPO}/referrers/")) == 1
    assert len(mock.seen("GET", f"/v2/{REPO}/manifests/{referrers_tag(subject.digest)}")) == 2


def test_tag_schema_listing_filters_client_side_and_tolerates_garbage() -> None:
    mock = MockRegistry()
    subject = image(mock)
    repo = repository(mock)
    sbom = push_referrer(repo, subject, "application/vnd.example.sbom", "s")
    sig = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "n")
    assert [d.digest for d in repo.referrers(subject, ARTIFACT_TYPE_NOTARY)] == [sig.digest]
    assert {d.digest for d in repo.referrers(subject)} == {sbom.digest, sig.digest}
    # A tag schema "index" that is not one counts as no referrers (distribution-spec).
    mock.put_manifest(REPO, b'{"not":"an index"}', MEDIA_TYPE_OCI_INDEX, referrers_tag(subject.digest))
    assert list(repo.referrers(subject)) == []


def test_oci_subject_honoured_and_force_referrers_tag() -> None:
    mock = MockRegistry(referrers_api=True, oci_subject=True)
    subject = image(mock)
    push_referrer(repository(mock), subject, ARTIFACT_TYPE_NOTARY, "a")
    assert (REPO, referrers_tag(subject.digest)) not in mock.tags
    forced = push_referrer(repository(mock, force_referrers_tag=True), subject, ARTIFACT_TYPE_NOTARY, "b")
    assert [e["digest"] for e in tag_index(mock, subject)] == [str(forced.digest)]


def test_fallback_update_keeps_existing_entries_and_deletes_superseded_index() -> None:
    mock = MockRegistry()
    subject = image(mock)
    repo = repository(mock, referrers_gc=True)
    first = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    old_index_digest = mock.tags[(REPO, referrers_tag(subject.digest))]
    second = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "b")
    assert [e["digest"] for e in tag_index(mock, subject)] == [str(first.digest), str(second.digest)]
    assert (REPO, old_index_digest) not in mock.manifests
    assert [r.url.path for r in mock.seen("DELETE")] == [f"/v2/{REPO}/manifests/{old_index_digest}"]
    # Pushing the same referrer again does not duplicate it.
    repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "b"))
    assert len(tag_index(mock, subject)) == 2


def test_superseded_index_delete_is_best_effort_and_off_by_default() -> None:
    mock = MockRegistry(delete_enabled=False)
    subject = image(mock)
    repo = repository(mock, referrers_gc=True)
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "b")
    assert len(tag_index(mock, subject)) == 2
    assert len(mock.seen("DELETE")) == 1
    gc_off = MockRegistry()
    subject2 = image(gc_off)
    repo2 = repository(gc_off)
    push_referrer(repo2, subject2, ARTIFACT_TYPE_NOTARY, "a")
    push_referrer(repo2, subject2, ARTIFACT_TYPE_NOTARY, "b")
    assert not gc_off.seen("DELETE")


def test_fallback_read_modify_write_survives_a_concurrent_writer() -> None:
    mock = MockRegistry()
    subject = image(mock)
    repo = repository(mock)
    tag = referrers_tag(subject.digest)
    # Another signer's referrer, pushed by "them" (manifest exists, not yet in the index).
    theirs_data = referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "theirs")
    mock.blobs[sha256(EMPTY_JSON)] = EMPTY_JSON
    theirs_digest = mock.put_manifest(REPO, theirs_data, MEDIA_TYPE_OCI_MANIFEST)
    theirs_entry = {
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "digest": theirs_digest,
        "size": len(theirs_data),
        "annotations": {"note": "theirs"},
        "artifactType": ARTIFACT_TYPE_NOTARY,
    }
    raced: list[bool] = []

    def concurrent_writer(request: httpx.Request) -> httpx.Response | None:
        # Right after our first index PUT lands, the other signer overwrites the tag with the
        # index it computed from the (empty) state it had read: our entry is lost.
        if request.method == "GET" and request.url.path.endswith(tag) and not raced:
            puts = [r for r in mock.seen("PUT") if r.url.path.endswith(tag)]
            if puts:
                raced.append(True)
                index = go_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [theirs_entry]})
                mock.put_manifest(REPO, index, INDEX, tag)
        return None

    mock.intercept = concurrent_writer
    ours = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "ours")
    assert raced
    digests = [e["digest"] for e in tag_index(mock, subject)]
    assert sorted(digests) == sorted([theirs_digest, str(ours.digest)])
    assert len([r for r in mock.seen("PUT") if r.url.path.endswith(tag)]) == 2
    assert {d.digest for d in repo.referrers(subject)} == {ours.digest, compute(theirs_data)}


def test_fallback_gives_up_after_bounded_attempts() -> None:
    mock = MockRegistry()
    subject = image(mock)
    tag = referrers_tag(subject.digest)

    def always_overwritten(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(tag):
            mock.tags.pop((REPO, tag), None)  # every read sees our write undone
        return None

    mock.intercept = always_overwritten
    client, sleeps = mock.client(referrers_tag_attempts=3)
    repo = client.repository(RegistryReference(HOST, REPO))
    with pytest.raises(RegistryError, match="overwritten by concurrent updates 3 times"):
        push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "x")
    assert len([r for r in mock.seen("PUT") if r.url.path.endswith(tag)]) == 3
    assert len(sleeps) == 3


def test_referrers_tag_name() -> None:
    digest = compute(b"x", "sha512")
    assert referrers_tag(digest) == "sha512-" + digest.hex[:64]
    assert referrers_tag(compute(b"x")) == "sha256-" + compute(b"x").hex


def test_fallback_settle_check_catches_a_late_overwrite() -> None:
    mock = MockRegistry()
    subject = image(mock)
    tag = referrers_tag(subject.digest)
    reads_after_put: list[int] = []

    def late_writer(request: httpx.Request) -> httpx.Response | None:
        # The immediate read-back sees our entry; the other signer's stale write lands before the
        # settle read (it puts back the empty index it had read first).
        written = [r for r in mock.seen("PUT") if r.url.path.endswith(tag)]
        if request.method == "GET" and request.url.path.endswith(tag) and written:
            reads_after_put.append(1)
            if len(reads_after_put) == 2:
                mock.put_manifest(REPO, go_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}), INDEX, tag)
        return None

    mock.intercept = late_writer
    client, sleeps = mock.client(referrers_settle=0.2)
    repo = client.repository(RegistryReference(HOST, REPO))
    ours = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "ours")
    assert [e["digest"] for e in tag_index(mock, subject)] == [str(ours.digest)]
    assert len([r for r in mock.seen("PUT") if r.url.path.endswith(tag)]) == 2
    assert sleeps.count(0.2) == 2  # settle waits (jitter fixed at 0.5): the failed one and the final one


def test_concurrent_identical_blob_upload_500_is_fine_when_the_blob_landed() -> None:
    mock = MockRegistry()

    def racing_upload(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and "/uploads/" in request.url.path:
            mock.blobs[sha256(EMPTY_JSON)] = EMPTY_JSON  # the other client's upload won
            return error(500, "UNKNOWN", "unknown error")
        return None

    mock.intercept = racing_upload
    repository(mock).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert [r.method for r in mock.requests] == ["HEAD", "POST", "PUT", "HEAD"]
    mock.blobs.clear()
    mock.intercept = lambda request: error(500, "UNKNOWN", "unknown error") if request.method == "PUT" else None
    with pytest.raises(RegistryError, match="answered 500 UNKNOWN"):
        repository(mock).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert len([r for r in mock.requests[4:] if r.method == "PUT"]) == 5  # bounded re-uploads


def test_referrers_index_read_retries_a_transient_500() -> None:
    mock = MockRegistry()
    subject = image(mock)
    repo = repository(mock)
    sig = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    failures = [error(500, "UNKNOWN", "unknown error")]
    tag = referrers_tag(subject.digest)
    mock.intercept = lambda request: failures.pop() if failures and request.url.path.endswith(tag) else None
    assert [d.digest for d in repo.referrers(subject)] == [sig.digest]
    assert not failures


def test_manifest_push_reuploads_a_blob_the_registry_lost() -> None:
    mock = MockRegistry()
    subject = image(mock)
    repo = repository(mock)
    repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    del mock.blobs[sha256(EMPTY_JSON)]  # a concurrent upload of the same blob went wrong
    sig = repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "x"))
    assert mock.blobs[sha256(EMPTY_JSON)] == EMPTY_JSON
    assert (REPO, str(sig.digest)) in mock.manifests
    # Without a remembered copy the registry's refusal stands.
    fresh = repository(mock)
    del mock.blobs[sha256(EMPTY_JSON)]
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        fresh.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "y"))
