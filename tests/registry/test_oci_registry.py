"""The in-process OCI registry (``tests/registry/oci_registry.py``), spoken to with plain httpx.

Served on a loopback port (as the end-to-end tests use it) and in-process behind
``httpx.MockTransport`` (as the client unit tests use it): the same handler answers both. skopeo
reads it as an outside client.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.registry.oci_registry import (
    BASIC_REALM,
    HOST,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    SERVICE,
    OCIRegistry,
    compute_digest,
)
from tests.registry.servers import (
    Blob,
    ManifestContent,
    OCIRegistryFactory,
    artifact,
    assert_served_exactly,
    basic_header,
    error_codes,
    parse_challenge,
    push_blob,
    push_content,
    push_manifest,
    run_skopeo,
    tiny_image,
    upload_url,
)

REPO = "demo/app"
SIGNATURE_TYPE = "application/vnd.cncf.notary.signature"
SBOM_TYPE = "application/spdx+json"


def referrers_pages(client: httpx.Client, subject: str, artifact_type: str | None = None) -> list[httpx.Response]:
    """Every page of ``GET referrers/<subject>``, following ``Link: rel="next"``."""
    params = {"artifactType": artifact_type} if artifact_type else None
    pages = [client.get(f"/v2/{REPO}/referrers/{subject}", params=params)]
    while "next" in pages[-1].links:
        assert len(pages) < 10
        pages.append(client.get(pages[-1].links["next"]["url"]))
    return pages


def listed(pages: list[httpx.Response]) -> list[dict[str, Any]]:
    """All descriptors listed across referrers pages."""
    manifests: list[dict[str, Any]] = []
    for page in pages:
        assert page.status_code == 200
        assert page.headers["content-type"] == MEDIA_TYPE_OCI_INDEX
        index = page.json()
        assert index["schemaVersion"] == 2
        assert index["mediaType"] == MEDIA_TYPE_OCI_INDEX
        manifests.extend(index["manifests"])
    return manifests


# --------------------------------------------------------------------------- served on a loopback port


@pytest.mark.real_server
def test_blob_upload_and_manifest_round_trip(oci_registry: OCIRegistryFactory) -> None:
    """POST + PUT uploads with digest checks, exact manifest bytes by tag and digest, JSON errors."""
    fake = oci_registry()
    image = tiny_image()
    with fake.client() as client:
        assert client.get("/v2/").status_code == 200

        data = image.blobs[1].data
        started = client.post(f"/v2/{REPO}/blobs/uploads/")
        assert started.status_code == 202
        location = started.headers["location"]
        assert location.startswith(f"/v2/{REPO}/blobs/uploads/") and "_state=" in location
        # Replacing the Location's query instead of appending digest= loses _state (as with distribution).
        lost_state = client.put(location.split("?")[0], params={"digest": compute_digest(data)}, content=data)
        assert lost_state.status_code == 400 and error_codes(lost_state) == ["BLOB_UPLOAD_INVALID"]
        wrong = client.put(upload_url(client, location, compute_digest(b"other")), content=data)
        assert wrong.status_code == 400 and error_codes(wrong) == ["DIGEST_INVALID"]

        digest = push_blob(client, REPO, data)
        head = client.head(f"/v2/{REPO}/blobs/{digest}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
        got = client.get(f"/v2/{REPO}/blobs/{digest}")
        assert got.content == data and got.headers["docker-content-digest"] == digest
        missing = client.get(f"/v2/{REPO}/blobs/{compute_digest(b'absent')}")
        assert missing.status_code == 404 and error_codes(missing) == ["BLOB_UNKNOWN"]

        # The config is not uploaded yet: the manifest is refused.
        refused = push_manifest(client, REPO, "v1", image.manifest, image.media_type)
        assert refused.status_code == 400 and error_codes(refused) == ["MANIFEST_BLOB_UNKNOWN"]
        put = push_content(client, REPO, image, "v1")
        assert put.headers["docker-content-digest"] == image.digest
        assert "oci-subject" not in put.headers
        assert_served_exactly(client, REPO, image, "v1")
        assert_served_exactly(client, REPO, image, image.digest)

        unknown = client.get(f"/v2/{REPO}/manifests/v2")
        assert unknown.status_code == 404 and error_codes(unknown) == ["MANIFEST_UNKNOWN"]
        assert client.head(f"/v2/{REPO}/manifests/v2").status_code == 404
        bad_digest = push_manifest(client, REPO, compute_digest(b"x"), image.manifest, image.media_type)
        assert bad_digest.status_code == 400 and error_codes(bad_digest) == ["DIGEST_INVALID"]
        mismatch = push_manifest(client, REPO, "v3", image.manifest, MEDIA_TYPE_OCI_INDEX)
        assert mismatch.status_code == 400 and error_codes(mismatch) == ["MANIFEST_INVALID"]

        tags = client.get(f"/v2/{REPO}/tags/list")
        assert tags.json() == {"name": REPO, "tags": ["v1"]}
        push_manifest(client, REPO, "v0", image.manifest, image.media_type)
        first = client.get(f"/v2/{REPO}/tags/list", params={"n": 1})
        assert first.json()["tags"] == ["v0"]
        assert client.get(first.links["next"]["url"]).json()["tags"] == ["v1"]
        assert client.get("/v2/nothing/here/tags/list").status_code == 404


@pytest.mark.real_server
def test_chunked_monolithic_and_mount_uploads(oci_registry: OCIRegistryFactory) -> None:
    """PATCH chunks (416 when out of order), single-POST monolithic upload, cross-repository mount."""
    fake = oci_registry(absolute_locations=True)
    with fake.client() as client:
        data = b"0123456789"
        started = client.post(f"/v2/{REPO}/blobs/uploads/")
        location = started.headers["location"]
        assert location.startswith(fake.url)
        first = client.patch(location, content=data[:4], headers={"Content-Range": "0-3"})
        assert first.status_code == 202 and first.headers["range"] == "0-3"
        out_of_order = client.patch(first.headers["location"], content=data[6:], headers={"Content-Range": "6-9"})
        assert out_of_order.status_code == 416
        second = client.patch(first.headers["location"], content=data[4:])
        assert second.status_code == 202 and second.headers["range"] == "0-9"
        status = client.get(second.headers["location"])
        assert status.status_code == 204 and status.headers["range"] == "0-9"
        done = client.put(upload_url(client, second.headers["location"], compute_digest(data)))
        assert done.status_code == 201 and done.headers["docker-content-digest"] == compute_digest(data)

        mono = client.post(f"/v2/{REPO}/blobs/uploads/", params={"digest": compute_digest(b"mono")}, content=b"mono")
        assert mono.status_code == 201
        assert client.get(f"/v2/{REPO}/blobs/{compute_digest(b'mono')}").content == b"mono"

        mounted = client.post("/v2/other/blobs/uploads/", params={"mount": compute_digest(data), "from": REPO})
        assert mounted.status_code == 201
        assert client.get(f"/v2/other/blobs/{compute_digest(data)}").content == data


@pytest.mark.real_server
def test_referrers_api_pages_and_filters(oci_registry: OCIRegistryFactory) -> None:
    """OCI-Subject on push, referrers listed in pages of two, artifactType filter, config fallback."""
    fake = oci_registry()
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image, "v1")
        signatures = [
            artifact(image, SIGNATURE_TYPE, annotations={"n": str(i)}, layers=[_blob(f"sig{i}")]) for i in range(3)
        ]
        sbom = artifact(image, SBOM_TYPE)
        for content in [*signatures, sbom]:
            response = push_content(client, REPO, content)
            assert response.headers["oci-subject"] == image.digest
        # No artifactType: the config media type stands in for it.
        legacy = artifact(image, "unused", config=_blob("cfg", "application/vnd.example.config"))
        legacy = ManifestContent(
            json.dumps({k: v for k, v in legacy.document.items() if k != "artifactType"}).encode(),
            MEDIA_TYPE_OCI_MANIFEST,
            legacy.blobs,
        )
        push_content(client, REPO, legacy)

        pages = referrers_pages(client, image.digest)
        assert len(pages) == 3
        assert pages[0].links["next"]["url"].startswith(f"/v2/{REPO}/referrers/{image.digest}?")
        assert 'rel="next"' in pages[0].headers["link"]
        assert all("oci-filters-applied" not in page.headers for page in pages)
        everything = listed(pages)
        assert [d["digest"] for d in everything] == [c.digest for c in [*signatures, sbom, legacy]]
        assert everything[0] == {
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "digest": signatures[0].digest,
            "size": len(signatures[0].manifest),
            "artifactType": SIGNATURE_TYPE,
            "annotations": {"n": "0"},
        }
        assert everything[-1]["artifactType"] == "application/vnd.example.config"

        filtered_pages = referrers_pages(client, image.digest, SIGNATURE_TYPE)
        assert len(filtered_pages) == 2
        assert all(page.headers["oci-filters-applied"] == "artifactType" for page in filtered_pages)
        assert [d["digest"] for d in listed(filtered_pages)] == [s.digest for s in signatures]

        nothing = referrers_pages(client, compute_digest(b"no such subject"))
        assert listed(nothing) == []
        bad = client.get(f"/v2/{REPO}/referrers/sha256:nothex")
        assert bad.status_code == 400 and error_codes(bad) == ["DIGEST_INVALID"]

        fake.options.referrers_filtering = False
        unfiltered = referrers_pages(client, image.digest, SBOM_TYPE)
        assert all("oci-filters-applied" not in page.headers for page in unfiltered)
        assert len(listed(unfiltered)) == 5


@pytest.mark.real_server
def test_without_referrers_api_behaves_like_distribution(oci_registry: OCIRegistryFactory) -> None:
    """referrers_api=False: router 404 in text/plain and no OCI-Subject; the tag schema still works."""
    fake = oci_registry(referrers_api=False)
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image)
        signature = artifact(image, SIGNATURE_TYPE)
        assert "oci-subject" not in push_content(client, REPO, signature).headers
        response = client.get(f"/v2/{REPO}/referrers/{image.digest}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
        tag = "sha256-" + image.digest.split(":", 1)[1]
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": [signature.descriptor()]}
        ).encode()
        assert push_manifest(client, REPO, tag, index, MEDIA_TYPE_OCI_INDEX).status_code == 201
        assert client.get(f"/v2/{REPO}/manifests/{tag}").content == index


@pytest.mark.real_server
def test_lies_when_asked(oci_registry: OCIRegistryFactory) -> None:
    """lie=True serves other bytes under the same digest; lie_hook lies about chosen digests only."""
    fake = oci_registry()
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image, "v1")
        fake.options.lie = True
        for reference in ("v1", image.digest):
            got = client.get(f"/v2/{REPO}/manifests/{reference}")
            assert got.status_code == 200
            assert got.headers["docker-content-digest"] == image.digest
            assert got.content != image.manifest
            assert compute_digest(got.content) != image.digest
            json.loads(got.content)  # still plausible JSON
        layer = image.blobs[1]
        assert compute_digest(client.get(f"/v2/{REPO}/blobs/{layer.digest}").content) != layer.digest

        fake.options.lie = False
        fake.options.lie_hook = lambda digest, data: b"{}" if digest == layer.digest else None
        assert client.get(f"/v2/{REPO}/blobs/{layer.digest}").content == b"{}"
        assert client.get(f"/v2/{REPO}/manifests/v1").content == image.manifest


@pytest.mark.parametrize(("status", "code"), [(503, "UNAVAILABLE"), (429, "TOOMANYREQUESTS")])
@pytest.mark.real_server
def test_fails_first_requests(oci_registry: OCIRegistryFactory, status: int, code: str) -> None:
    """fail_first answers N requests with 503/429 and Retry-After before serving."""
    fake = oci_registry(fail_first=2, fail_status=status, retry_after="1")
    with fake.client() as client:
        for _ in range(2):
            failed = client.get("/v2/")
            assert failed.status_code == status and failed.headers["retry-after"] == "1"
            assert error_codes(failed) == [code]
        assert client.get("/v2/").status_code == 200
    assert fake.registry.failures_served == 2
    assert [r.status for r in fake.requests] == [status, status, 200]


@pytest.mark.real_server
def test_fail_match_selects_requests(oci_registry: OCIRegistryFactory) -> None:
    """fail_match limits the failures to chosen requests (here: manifest PUTs)."""
    fake = oci_registry(fail_first=1, fail_match=lambda method, path: method == "PUT" and "/manifests/" in path)
    image = tiny_image()
    with fake.client() as client:
        for blob in image.blobs:
            push_blob(client, REPO, blob.data)
        assert push_manifest(client, REPO, "v1", image.manifest, image.media_type).status_code == 503
        assert push_manifest(client, REPO, "v1", image.manifest, image.media_type).status_code == 201


@pytest.mark.real_server
def test_basic_auth(oci_registry: OCIRegistryFactory) -> None:
    """auth="basic": 401 with a Basic challenge, then 200 with the credentials."""
    fake = oci_registry(auth="basic", users={"alice": "s3cret"})
    with fake.client(authenticated=False) as anonymous:
        denied = anonymous.get("/v2/")
        assert denied.status_code == 401 and error_codes(denied) == ["UNAUTHORIZED"]
        assert parse_challenge(denied.headers["www-authenticate"]) == ("basic", {"realm": BASIC_REALM})
        wrong = anonymous.get("/v2/", headers={"Authorization": basic_header("alice", "wrong")})
        assert wrong.status_code == 401
    with fake.client() as client:
        assert client.get("/v2/").status_code == 200
        push_content(client, REPO, tiny_image(), "v1")
    assert fake.requests[-1].headers["authorization"] == basic_header("alice", "s3cret")


@pytest.mark.real_server
def test_skopeo_reads_the_served_registry(oci_registry: OCIRegistryFactory) -> None:
    """An outside client (skopeo) pulls the exact manifest bytes from the served registry."""
    fake = oci_registry()
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image, "v1")
    raw = run_skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{fake.host}/{REPO}@{image.digest}")
    assert raw.returncode == 0, raw.stderr.decode()
    assert raw.stdout == image.manifest


@pytest.mark.real_server
def test_bearer_token_auth(oci_registry: OCIRegistryFactory) -> None:
    """auth="bearer": challenges name the realm, service and scope; tokens are scoped; anonymous tokens pull only if allowed."""
    fake = oci_registry(auth="bearer", users={"alice": "s3cret"})
    with httpx.Client(base_url=fake.url, trust_env=False, timeout=10) as raw:
        ping = raw.get("/v2/")
        assert ping.status_code == 401 and error_codes(ping) == ["UNAUTHORIZED"]
        assert parse_challenge(ping.headers["www-authenticate"]) == (
            "bearer",
            {"realm": f"{fake.url}/token", "service": SERVICE},
        )
        challenged = raw.get(f"/v2/{REPO}/tags/list")
        _, params = parse_challenge(challenged.headers["www-authenticate"])
        assert params["scope"] == f"repository:{REPO}:pull"
        token = raw.get(
            params["realm"],
            params={"service": SERVICE, "scope": params["scope"]},
            headers={"Authorization": basic_header("alice", "s3cret")},
        ).json()["token"]
        pull_only = raw.post(f"/v2/{REPO}/blobs/uploads/", headers={"Authorization": f"Bearer {token}"})
        assert pull_only.status_code == 401
        _, params = parse_challenge(pull_only.headers["www-authenticate"])
        assert (params["scope"], params["error"]) == (f"repository:{REPO}:pull,push", "insufficient_scope")
        wrong = raw.get(params["realm"], headers={"Authorization": basic_header("alice", "nope")})
        assert wrong.status_code == 401
    with fake.client() as client:
        push_content(client, REPO, tiny_image(), "v1")
        assert client.get(f"/v2/{REPO}/tags/list").json() == {"name": REPO, "tags": ["v1"]}
    with fake.client(authenticated=False) as anonymous:
        assert anonymous.get(f"/v2/{REPO}/tags/list").status_code == 401
        fake.options.anonymous_pull = True
        assert anonymous.get(f"/v2/{REPO}/tags/list").status_code == 200
    assert [r.path for r in fake.registry.token_requests][:2] == ["/token", "/token"]
    assert all(r.path != "/token" for r in fake.requests)


@pytest.mark.real_server
def test_head_headers_deletion_and_intercept_switches(oci_registry: OCIRegistryFactory) -> None:
    """head_headers=False, delete_enabled=False and an intercept that answers first, over HTTP."""
    fake = oci_registry(head_headers=False, delete_enabled=False)
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image, "v1")
        head = client.head(f"/v2/{REPO}/manifests/v1")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(image.manifest)
        assert "docker-content-digest" not in head.headers and "content-type" not in head.headers
        refused = client.delete(f"/v2/{REPO}/manifests/{image.digest}")
        assert refused.status_code == 405 and error_codes(refused) == ["UNSUPPORTED"]
        fake.options.delete_enabled = True
        assert client.delete(f"/v2/{REPO}/manifests/{image.digest}").status_code == 202
        assert client.get(f"/v2/{REPO}/manifests/v1").status_code == 404

        fake.options.intercept = lambda request: httpx.Response(418) if request.method == "GET" else None
        assert client.get("/v2/").status_code == 418
        assert client.head("/v2/").status_code == 200
    assert [r.status for r in fake.requests][-2:] == [418, 200]


# --------------------------------------------------------------------------- in-process (httpx.MockTransport)


def test_in_process_registry_answers_like_the_served_one() -> None:
    """The MockTransport handler: same routes, codes and exact bytes as over HTTP; requests recorded."""
    registry = OCIRegistry()
    image = tiny_image()
    with httpx.Client(transport=httpx.MockTransport(registry.handle), base_url=f"http://{HOST}") as client:
        assert client.get("/v2/").json() == {}
        push_content(client, REPO, image, "v1")
        assert_served_exactly(client, REPO, image, "v1")
        signature = artifact(image, SIGNATURE_TYPE)
        assert push_content(client, REPO, signature).headers["oci-subject"] == image.digest
        assert [d["digest"] for d in listed(referrers_pages(client, image.digest, SIGNATURE_TYPE))] == [
            signature.digest
        ]
        missing = client.get(f"/v2/{REPO}/blobs/{compute_digest(b'absent')}")
        assert missing.status_code == 404 and error_codes(missing) == ["BLOB_UNKNOWN"]
        assert client.get("/nowhere").text == "404 page not found\n"
    stored = registry.manifest(REPO, "v1")
    assert stored is not None and stored.content == image.manifest
    assert [r.method for r in registry.seen("PUT", f"/v2/{REPO}/manifests/")] == ["PUT", "PUT"]
    assert registry.requests[-1].status == 404


def test_in_process_intercept_may_raise_and_is_recorded() -> None:
    """An intercept's exception reaches the client as is; the request is still recorded (status 0)."""
    registry = OCIRegistry()

    def refuse(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectError("refused", request=request)

    registry.options.intercept = refuse
    with (
        httpx.Client(transport=httpx.MockTransport(registry.handle), base_url=f"http://{HOST}") as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("/v2/")
    assert [(r.path, r.status) for r in registry.requests] == [("/v2/", 0)]


def _blob(text: str, media_type: str = "application/octet-stream") -> Blob:
    return Blob(media_type, text.encode())
