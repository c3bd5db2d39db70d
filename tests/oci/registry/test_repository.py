"""Repository as an ArtifactStore over the in-process registry (tests/registry/oci_registry.py): exact bytes, uploads, referrers, tag schema."""

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
from tests.registry.oci_registry import HOST, OCIRegistry, compute_digest, error_response

REPO = "demo"
CREATED = datetime(2025, 1, 21, 9, 17, 46, tzinfo=UTC)
THUMBPRINTS = [hashlib.sha256(b"leaf").hexdigest()]
JWS = b'{"payload":"e30","protected":"e30","signature":"AAAA"}'


def image(registry: OCIRegistry, tag: str | None = "v1", layer: bytes = b"hello\n") -> Descriptor:
    """Store a tiny image in ``registry`` and describe its manifest."""
    config = b'{"architecture":"amd64","os":"linux"}'
    registry.add_blob(REPO, config)
    registry.add_blob(REPO, layer)
    manifest = go_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": compute_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": compute_digest(layer),
                    "size": len(layer),
                }
            ],
        }
    )
    registry.add_manifest(REPO, manifest, MEDIA_TYPE_OCI_MANIFEST, tag)
    return Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, manifest)


def manifest_bytes(registry: OCIRegistry, digest: str) -> bytes:
    """The exact bytes ``registry`` holds for the manifest ``digest`` of :data:`REPO`."""
    stored = registry.manifest(REPO, digest)
    assert stored is not None
    return stored.content


def repository(registry: OCIRegistry, **options: Any) -> Repository:
    client, _ = registry.registry_client(**options)
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


def tag_index(registry: OCIRegistry, subject: Descriptor) -> list[dict[str, Any]]:
    stored = registry.manifest(REPO, referrers_tag(subject.digest))
    assert stored is not None and stored.media_type == MEDIA_TYPE_OCI_INDEX
    manifests: list[dict[str, Any]] = json.loads(stored.content)["manifests"]
    return manifests


# --- protocol and basics ---------------------------------------------------------------------


def test_repository_is_an_artifact_store() -> None:
    assert isinstance(repository(OCIRegistry(referrers_api=False)), ArtifactStore)


def test_resolve_tag_and_digest_with_head() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    repo = repository(registry)
    assert repo.resolve("v1") == desc
    assert repo.resolve(str(desc.digest)) == desc
    heads = registry.seen("HEAD", f"/v2/{REPO}/manifests/")
    assert len(heads) == 2
    assert MEDIA_TYPE_OCI_INDEX in heads[0].headers["accept"]
    assert MEDIA_TYPE_OCI_MANIFEST in heads[0].headers["accept"]
    assert not registry.seen("GET", f"/v2/{REPO}/manifests/")


def test_resolve_falls_back_to_get_when_head_lacks_headers() -> None:
    registry = OCIRegistry(referrers_api=False, head_headers=False)
    desc = image(registry)
    assert repository(registry).resolve("v1") == desc
    assert len(registry.seen("GET", f"/v2/{REPO}/manifests/v1")) == 1


def test_resolve_refuses_other_digest_for_a_digest_reference() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    other = image(registry, tag=None, layer=b"other")

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

    registry.options.intercept = lie
    with pytest.raises(DigestError, match=str(other.digest)):
        repository(registry).resolve(str(desc.digest))


def test_resolve_errors() -> None:
    registry = OCIRegistry(referrers_api=False)
    repo = repository(registry)
    with pytest.raises(NotFoundError, match=r"registry.test/demo:nope: not found"):
        repo.resolve("nope")
    with pytest.raises(UsageError):
        repo.resolve("../etc")
    with pytest.raises(UsageError):
        repo.resolve("")


def test_fetch_manifest_and_blob_exact_bytes() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    repo = repository(registry)
    data = repo.fetch_manifest(desc)
    assert compute(data) == desc.digest
    layer = json.loads(data)["layers"][0]
    blob = repo.fetch_blob(Descriptor.from_dict(layer), 1024)
    assert blob == b"hello\n"
    manifest_get = registry.seen("GET", f"/v2/{REPO}/manifests/")[0]
    assert manifest_get.headers["accept"] == MEDIA_TYPE_OCI_MANIFEST
    with pytest.raises(ArtifactError, match="blob too large"):
        repo.fetch_blob(Descriptor.from_dict(layer), 3)
    with pytest.raises(NotFoundError):
        repo.fetch_blob(Descriptor.of("application/octet-stream", b"missing"), 1024)


# --- lying registry --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["manifest", "blob"])
def test_digest_mismatch_is_refused(kind: str) -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    layer = Descriptor.of("application/vnd.oci.image.layer.v1.tar", b"hello\n")
    target = desc if kind == "manifest" else layer
    original = manifest_bytes(registry, str(desc.digest)) if kind == "manifest" else b"hello\n"
    forged = bytes([original[0] ^ 1]) + original[1:]  # same size, different digest

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(str(target.digest)):
            return httpx.Response(200, content=forged, headers={"Content-Type": target.media_type})
        return None

    registry.options.intercept = lie
    repo = repository(registry)
    with pytest.raises(DigestError) as info:
        if kind == "manifest":
            repo.fetch_manifest(desc)
        else:
            repo.fetch_blob(layer, 1024)
    assert f"expected {target.digest}" in info.value.message
    assert f"got {compute(forged)}" in info.value.message


def test_oversized_blob_stream_stops_early() -> None:
    registry = OCIRegistry(referrers_api=False)
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

    registry.options.intercept = lie
    with pytest.raises(DigestError, match="expected 10 bytes, got more"):
        repository(registry).fetch_blob(layer, MAX_ENVELOPE_SIZE)
    assert len(chunks_sent) < 5


def test_announced_length_mismatch_is_refused() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET":
            return httpx.Response(200, content=b"{}", headers={"Content-Length": "2"})
        return None

    registry.options.intercept = lie
    with pytest.raises(DigestError, match=f"expected {desc.size} bytes, registry announced 2"):
        repository(registry).fetch_manifest(desc)


def test_manifest_read_by_tag_checked_against_docker_content_digest() -> None:
    registry = OCIRegistry(referrers_api=False, head_headers=False)
    desc = image(registry)

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith("/v1"):
            data = manifest_bytes(registry, str(desc.digest)) + b" "
            return httpx.Response(
                200,
                content=data,
                headers={"Content-Type": MEDIA_TYPE_OCI_MANIFEST, "Docker-Content-Digest": str(desc.digest)},
            )
        return None

    registry.options.intercept = lie
    with pytest.raises(DigestError, match=f"expected {desc.digest}"):
        repository(registry).resolve("v1")


# --- pushing ---------------------------------------------------------------------------------


def test_blob_upload_post_then_put_with_digest_appended_to_location_query() -> None:
    registry = OCIRegistry(referrers_api=False)
    repo = repository(registry)
    desc = repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert desc == Descriptor.of(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert registry.repository(REPO).blobs[str(desc.digest)] == EMPTY_JSON
    assert [r.method for r in registry.requests] == ["HEAD", "POST", "PUT"]
    put = registry.requests[2]
    assert put.url.params.get("_state")  # the location's own query survived
    assert put.url.params.get("digest") == str(desc.digest)
    assert "digest=sha256%3A" in str(put.url)
    assert put.headers["content-type"] == "application/octet-stream"
    assert put.content == EMPTY_JSON
    assert "digest" not in registry.requests[1].url.params  # no single-POST upload


def test_existing_blob_is_not_uploaded_again() -> None:
    registry = OCIRegistry(referrers_api=False)
    registry.add_blob(REPO, EMPTY_JSON)
    repository(registry).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert [r.method for r in registry.requests] == ["HEAD"]


def test_blob_upload_failure_surfaces_registry_error() -> None:
    registry = OCIRegistry(referrers_api=False)

    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and "/uploads/" in request.url.path:
            return error_response(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        return None

    registry.options.intercept = refuse
    with pytest.raises(RegistryError, match="answered 400 DIGEST_INVALID: provided digest did not match") as info:
        repository(registry).push_blob("application/octet-stream", b"data")
    assert info.value.status == 400
    assert info.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_OCI_INDEX])
def test_manifest_put_by_digest_with_its_content_type(media_type: str) -> None:
    registry = OCIRegistry(referrers_api=False)
    base = image(registry)
    if media_type == MEDIA_TYPE_OCI_INDEX:
        data = go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [base.to_dict()]})
    else:
        data = manifest_bytes(registry, str(base.digest)).replace(b'"schemaVersion":2', b'"schemaVersion":2 ')
    repo = repository(registry)
    desc = repo.push_manifest(media_type, data)
    put = registry.seen("PUT", f"/v2/{REPO}/manifests/")[-1]
    assert put.url.path == f"/v2/{REPO}/manifests/{compute(data)}"
    assert put.headers["content-type"] == media_type
    assert put.content == data  # exact bytes, not re-serialised
    assert desc.digest == compute(data)
    stored = registry.manifest(REPO, str(desc.digest))
    assert stored is not None and (stored.media_type, stored.content) == (media_type, data)


def test_manifest_push_with_tag_and_refused_manifest() -> None:
    registry = OCIRegistry(referrers_api=False)
    base = image(registry, tag=None)
    data = manifest_bytes(registry, str(base.digest))
    repo = repository(registry)
    repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data, tag="v2")
    assert registry.repository(REPO).tags["v2"] == str(base.digest)
    with pytest.raises(UsageError):
        repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data, tag="bad/tag")
    missing = go_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {"mediaType": "application/json", "digest": compute_digest(b"nope"), "size": 4},
            "layers": [],
        }
    )
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, missing)


def test_registry_recording_another_digest_is_an_error() -> None:
    registry = OCIRegistry(referrers_api=False)
    base = image(registry, tag=None)
    data = manifest_bytes(registry, str(base.digest))

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT":
            return httpx.Response(201, headers={"Docker-Content-Digest": compute_digest(b"other")})
        return None

    registry.options.intercept = lie
    with pytest.raises(DigestError, match="registry recorded digest"):
        repository(registry).push_manifest(MEDIA_TYPE_OCI_MANIFEST, data)


# --- referrers: API ---------------------------------------------------------------------------


def test_signatures_round_trip_with_referrers_api() -> None:
    registry = OCIRegistry()
    subject = image(registry)
    repo = repository(registry)
    pushed = push_signature(repo, repo.resolve("v1"), "application/jose+json", JWS, THUMBPRINTS, CREATED)
    assert pushed.artifact_type == ARTIFACT_TYPE_NOTARY
    assert registry.repository(REPO).blobs[compute_digest(EMPTY_JSON)] == EMPTY_JSON  # empty config uploaded
    assert referrers_tag(subject.digest) not in registry.repository(REPO).tags  # OCI-Subject: no tag schema write
    listed = list(list_signature_manifests(repo, subject, 10))
    assert [d.digest for d in listed] == [pushed.digest]
    fetched = fetch_signature(repo, listed[0], subject)
    assert fetched.envelope == JWS
    assert repo.referrers_mode == "api"
    assert not registry.seen("GET", f"/v2/{REPO}/manifests/{referrers_tag(subject.digest)}")  # API only
    referrer_gets = registry.seen("GET", f"/v2/{REPO}/referrers/")
    assert referrer_gets[0].url.params["artifactType"] == ARTIFACT_TYPE_NOTARY


@pytest.mark.parametrize("filters_applied", [True, False])
def test_referrers_api_pagination_and_filtering(filters_applied: bool) -> None:
    registry = OCIRegistry(page_size=2, referrers_filtering=filters_applied)
    subject = image(registry)
    repo = repository(registry)
    sboms = {push_referrer(repo, subject, "application/vnd.example.sbom", f"s{i}").digest for i in range(3)}
    sigs = {push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, f"n{i}").digest for i in range(2)}
    everything = list(repo.referrers(subject))
    assert {d.digest for d in everything} == sboms | sigs
    assert len(everything) == 5
    only_sigs = list(repo.referrers(subject, ARTIFACT_TYPE_NOTARY))
    assert {d.digest for d in only_sigs} == sigs
    assert all(d.annotations and d.annotations["note"].startswith("n") for d in only_sigs)
    pages = registry.seen("GET", f"/v2/{REPO}/referrers/")
    assert len(pages) == 3 + (1 if filters_applied else 3)  # 5 referrers in pages of 2; filtered: 2 in 1 page


def test_referrers_api_link_to_another_host_is_refused() -> None:
    registry = OCIRegistry()
    subject = image(registry)

    def hop(request: httpx.Request) -> httpx.Response | None:
        if "/referrers/" in request.url.path:
            body = go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": []})
            link = '<https://elsewhere.test/v2/demo/referrers/x>; rel="next"'
            return httpx.Response(200, content=body, headers={"Content-Type": MEDIA_TYPE_OCI_INDEX, "Link": link})
        return None

    registry.options.intercept = hop
    with pytest.raises(ArtifactError, match="another server"):
        list(repository(registry).referrers(subject))


# --- referrers: tag schema -------------------------------------------------------------------


def test_signatures_round_trip_with_tag_schema_fallback() -> None:
    registry = OCIRegistry(referrers_api=False)  # distribution 2.8: router 404, no OCI-Subject
    subject = image(registry)
    repo = repository(registry)
    pushed = push_signature(repo, subject, "application/jose+json", JWS, THUMBPRINTS, CREATED)
    entries = tag_index(registry, subject)
    assert entries == [pushed.to_dict()]
    assert entries[0]["artifactType"] == ARTIFACT_TYPE_NOTARY
    index_put = next(r for r in registry.seen("PUT") if r.url.path.endswith(referrers_tag(subject.digest)))
    assert index_put.headers["content-type"] == MEDIA_TYPE_OCI_INDEX
    listed = list(list_signature_manifests(repo, subject, 10))
    assert [d.digest for d in listed] == [pushed.digest]
    assert fetch_signature(repo, listed[0], subject).envelope == JWS
    assert repo.referrers_mode == "tag"


def test_no_referrers_anywhere_is_empty_and_mode_is_cached_per_client() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    client, _ = registry.registry_client()
    first = client.repository(RegistryReference(HOST, REPO))
    assert list(first.referrers(subject)) == []
    second = client.repository(RegistryReference(HOST, REPO))
    assert list(second.referrers(subject)) == []
    assert len(registry.seen("GET", f"/v2/{REPO}/referrers/")) == 1
    assert len(registry.seen("GET", f"/v2/{REPO}/manifests/{referrers_tag(subject.digest)}")) == 2


def test_tag_schema_listing_filters_client_side_and_tolerates_garbage() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    repo = repository(registry)
    sbom = push_referrer(repo, subject, "application/vnd.example.sbom", "s")
    sig = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "n")
    assert [d.digest for d in repo.referrers(subject, ARTIFACT_TYPE_NOTARY)] == [sig.digest]
    assert {d.digest for d in repo.referrers(subject)} == {sbom.digest, sig.digest}
    # A tag schema "index" that is not one counts as no referrers (distribution-spec).
    registry.add_manifest(REPO, b'{"not":"an index"}', MEDIA_TYPE_OCI_INDEX, referrers_tag(subject.digest))
    assert list(repo.referrers(subject)) == []


def test_oci_subject_honoured_and_force_referrers_tag() -> None:
    registry = OCIRegistry()
    subject = image(registry)
    push_referrer(repository(registry), subject, ARTIFACT_TYPE_NOTARY, "a")
    assert referrers_tag(subject.digest) not in registry.repository(REPO).tags
    forced = push_referrer(repository(registry, force_referrers_tag=True), subject, ARTIFACT_TYPE_NOTARY, "b")
    assert [e["digest"] for e in tag_index(registry, subject)] == [str(forced.digest)]


def test_fallback_update_keeps_existing_entries_and_deletes_superseded_index() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    repo = repository(registry, referrers_gc=True)
    first = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    old_index_digest = registry.repository(REPO).tags[referrers_tag(subject.digest)]
    second = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "b")
    assert [e["digest"] for e in tag_index(registry, subject)] == [str(first.digest), str(second.digest)]
    assert registry.manifest(REPO, old_index_digest) is None
    assert [r.url.path for r in registry.seen("DELETE")] == [f"/v2/{REPO}/manifests/{old_index_digest}"]
    # Pushing the same referrer again does not duplicate it.
    repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "b"))
    assert len(tag_index(registry, subject)) == 2


def test_superseded_index_delete_is_best_effort_and_off_by_default() -> None:
    registry = OCIRegistry(referrers_api=False, delete_enabled=False)
    subject = image(registry)
    repo = repository(registry, referrers_gc=True)
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "b")
    assert len(tag_index(registry, subject)) == 2
    assert len(registry.seen("DELETE")) == 1
    gc_off = OCIRegistry(referrers_api=False)
    subject2 = image(gc_off)
    repo2 = repository(gc_off)
    push_referrer(repo2, subject2, ARTIFACT_TYPE_NOTARY, "a")
    push_referrer(repo2, subject2, ARTIFACT_TYPE_NOTARY, "b")
    assert not gc_off.seen("DELETE")


def test_fallback_read_modify_write_survives_a_concurrent_writer() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    repo = repository(registry)
    tag = referrers_tag(subject.digest)
    # Another signer's referrer, pushed by "them" (manifest exists, not yet in the index).
    theirs_data = referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "theirs")
    registry.add_blob(REPO, EMPTY_JSON)
    theirs_digest = registry.add_manifest(REPO, theirs_data, MEDIA_TYPE_OCI_MANIFEST)
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
            puts = [r for r in registry.seen("PUT") if r.url.path.endswith(tag)]
            if puts:
                raced.append(True)
                index = go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [theirs_entry]})
                registry.add_manifest(REPO, index, MEDIA_TYPE_OCI_INDEX, tag)
        return None

    registry.options.intercept = concurrent_writer
    ours = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "ours")
    assert raced
    digests = [e["digest"] for e in tag_index(registry, subject)]
    assert sorted(digests) == sorted([theirs_digest, str(ours.digest)])
    assert len([r for r in registry.seen("PUT") if r.url.path.endswith(tag)]) == 2
    assert {d.digest for d in repo.referrers(subject)} == {ours.digest, compute(theirs_data)}


def test_fallback_gives_up_after_bounded_attempts() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    tag = referrers_tag(subject.digest)

    def always_overwritten(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(tag):
            registry.repository(REPO).tags.pop(tag, None)  # every read sees our write undone
        return None

    registry.options.intercept = always_overwritten
    client, sleeps = registry.registry_client(referrers_tag_attempts=3)
    repo = client.repository(RegistryReference(HOST, REPO))
    with pytest.raises(RegistryError, match="overwritten by concurrent updates 3 times"):
        push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "x")
    assert len([r for r in registry.seen("PUT") if r.url.path.endswith(tag)]) == 3
    assert len(sleeps) == 3


def test_referrers_tag_name() -> None:
    digest = compute(b"x", "sha512")
    assert referrers_tag(digest) == "sha512-" + digest.hex[:64]
    assert referrers_tag(compute(b"x")) == "sha256-" + compute(b"x").hex


def test_fallback_settle_check_catches_a_late_overwrite() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    tag = referrers_tag(subject.digest)
    reads_after_put: list[int] = []

    def late_writer(request: httpx.Request) -> httpx.Response | None:
        # The immediate read-back sees our entry; the other signer's stale write lands before the
        # settle read (it puts back the empty index it had read first).
        written = [r for r in registry.seen("PUT") if r.url.path.endswith(tag)]
        if request.method == "GET" and request.url.path.endswith(tag) and written:
            reads_after_put.append(1)
            if len(reads_after_put) == 2:
                registry.add_manifest(
                    REPO,
                    go_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": []}),
                    MEDIA_TYPE_OCI_INDEX,
                    tag,
                )
        return None

    registry.options.intercept = late_writer
    client, sleeps = registry.registry_client(referrers_settle=0.2)
    repo = client.repository(RegistryReference(HOST, REPO))
    ours = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "ours")
    assert [e["digest"] for e in tag_index(registry, subject)] == [str(ours.digest)]
    assert len([r for r in registry.seen("PUT") if r.url.path.endswith(tag)]) == 2
    assert sleeps.count(0.2) == 2  # settle waits (jitter fixed at 0.5): the failed one and the final one


def test_concurrent_identical_blob_upload_500_is_fine_when_the_blob_landed() -> None:
    registry = OCIRegistry(referrers_api=False)

    def racing_upload(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and "/uploads/" in request.url.path:
            registry.add_blob(REPO, EMPTY_JSON)  # the other client's upload won
            return error_response(500, "UNKNOWN", "unknown error")
        return None

    registry.options.intercept = racing_upload
    repository(registry).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert [r.method for r in registry.requests] == ["HEAD", "POST", "PUT", "HEAD"]
    registry.repository(REPO).blobs.clear()
    registry.options.intercept = lambda request: (
        error_response(500, "UNKNOWN", "unknown error") if request.method == "PUT" else None
    )
    with pytest.raises(RegistryError, match="answered 500 UNKNOWN"):
        repository(registry).push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert len([r for r in registry.requests[4:] if r.method == "PUT"]) == 5  # bounded re-uploads


def test_referrers_index_read_retries_a_transient_500() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    repo = repository(registry)
    sig = push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "a")
    failures = [error_response(500, "UNKNOWN", "unknown error")]
    tag = referrers_tag(subject.digest)
    registry.options.intercept = lambda request: failures.pop() if failures and request.url.path.endswith(tag) else None
    assert [d.digest for d in repo.referrers(subject)] == [sig.digest]
    assert not failures


def test_manifest_push_reuploads_a_blob_the_registry_lost() -> None:
    registry = OCIRegistry(referrers_api=False)
    subject = image(registry)
    repo = repository(registry)
    repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    del registry.repository(REPO).blobs[compute_digest(EMPTY_JSON)]  # a concurrent upload of the same blob went wrong
    sig = repo.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "x"))
    assert registry.repository(REPO).blobs[compute_digest(EMPTY_JSON)] == EMPTY_JSON
    assert registry.manifest(REPO, str(sig.digest)) is not None
    # Without a remembered copy the registry's refusal stands.
    fresh = repository(registry)
    del registry.repository(REPO).blobs[compute_digest(EMPTY_JSON)]
    with pytest.raises(RegistryError, match="MANIFEST_BLOB_UNKNOWN"):
        fresh.push_manifest(MEDIA_TYPE_OCI_MANIFEST, referrer_manifest(subject, ARTIFACT_TYPE_NOTARY, "y"))
