"""Tests of the registry servers themselves, spoken to with plain httpx (and skopeo as an outside client)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.registry import servers
from tests.registry.fake_registry import MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, compute_digest
from tests.registry.servers import (
    Blob,
    DistributionFactory,
    FakeRegistryFactory,
    ManifestContent,
    RunningRegistry,
    artifact,
    basic_header,
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


def errors_of(response: httpx.Response) -> list[str]:
    """The distribution-spec error codes of a response (asserting the JSON shape)."""
    body = response.json()
    assert set(body) == {"errors"}
    for entry in body["errors"]:
        assert {"code", "message", "detail"} <= set(entry)
    return [entry["code"] for entry in body["errors"]]


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


def assert_served_exactly(client: httpx.Client, content: ManifestContent, reference: str) -> None:
    """GET and HEAD of a manifest return its exact bytes, digest and media type."""
    got = client.get(f"/v2/{REPO}/manifests/{reference}", headers={"Accept": content.media_type})
    assert got.status_code == 200
    assert got.content == content.manifest
    assert got.headers["docker-content-digest"] == content.digest
    assert got.headers["content-type"] == content.media_type
    head = client.head(f"/v2/{REPO}/manifests/{reference}", headers={"Accept": content.media_type})
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == content.digest
    assert int(head.headers["content-length"]) == len(content.manifest)


# --------------------------------------------------------------------------- the in-process registry


def test_fake_blob_upload_and_manifest_round_trip(fake_registry: FakeRegistryFactory) -> None:
    """POST + PUT uploads with digest checks, exact manifest bytes by tag and digest, JSON errors."""
    fake = fake_registry()
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
        assert lost_state.status_code == 400 and errors_of(lost_state) == ["BLOB_UPLOAD_INVALID"]
        wrong = client.put(upload_url(client, location, compute_digest(b"other")), content=data)
        assert wrong.status_code == 400 and errors_of(wrong) == ["DIGEST_INVALID"]

        digest = push_blob(client, REPO, data)
        head = client.head(f"/v2/{REPO}/blobs/{digest}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
        got = client.get(f"/v2/{REPO}/blobs/{digest}")
        assert got.content == data and got.headers["docker-content-digest"] == digest
        missing = client.get(f"/v2/{REPO}/blobs/{compute_digest(b'absent')}")
        assert missing.status_code == 404 and errors_of(missing) == ["BLOB_UNKNOWN"]

        # The config is not uploaded yet: the manifest is refused.
        refused = push_manifest(client, REPO, "v1", image.manifest, image.media_type)
        assert refused.status_code == 400 and errors_of(refused) == ["MANIFEST_BLOB_UNKNOWN"]
        put = push_content(client, REPO, image, "v1")
        assert put.headers["docker-content-digest"] == image.digest
        assert "oci-subject" not in put.headers
        assert_served_exactly(client, image, "v1")
        assert_served_exactly(client, image, image.digest)

        unknown = client.get(f"/v2/{REPO}/manifests/v2")
        assert unknown.status_code == 404 and errors_of(unknown) == ["MANIFEST_UNKNOWN"]
        assert client.head(f"/v2/{REPO}/manifests/v2").status_code == 404
        bad_digest = push_manifest(client, REPO, compute_digest(b"x"), image.manifest, image.media_type)
        assert bad_digest.status_code == 400 and errors_of(bad_digest) == ["DIGEST_INVALID"]
        mismatch = push_manifest(client, REPO, "v3", image.manifest, MEDIA_TYPE_OCI_INDEX)
        assert mismatch.status_code == 400 and errors_of(mismatch) == ["MANIFEST_INVALID"]

        tags = client.get(f"/v2/{REPO}/tags/list")
        assert tags.json() == {"name": REPO, "tags": ["v1"]}
        push_manifest(client, REPO, "v0", image.manifest, image.media_type)
        first = client.get(f"/v2/{REPO}/tags/list", params={"n": 1})
        assert first.json()["tags"] == ["v0"]
        assert client.get(first.links["next"]["url"]).json()["tags"] == ["v1"]
        assert client.get("/v2/nothing/here/tags/list").status_code == 404


def test_fake_chunked_monolithic_and_mount_uploads(fake_registry: FakeRegistryFactory) -> None:
    """PATCH chunks (416 when out of order), single-POST monolithic upload, cross-repository mount."""
    fake = fake_registry(absolute_locations=True)
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


def test_fake_referrers_api(fake_registry: FakeRegistryFactory) -> None:
    """OCI-Subject on push, referrers listed in pages of two, artifactType filter, config fallback."""
    fake = fake_registry()
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
        assert bad.status_code == 400 and errors_of(bad) == ["DIGEST_INVALID"]

        fake.options.referrers_filtering = False
        unfiltered = referrers_pages(client, image.digest, SBOM_TYPE)
        assert all("oci-filters-applied" not in page.headers for page in unfiltered)
        assert len(listed(unfiltered)) == 5


def test_fake_without_referrers_api_behaves_like_distribution(fake_registry: FakeRegistryFactory) -> None:
    """referrers_api=False: router 404 in text/plain and no OCI-Subject; the tag schema still works."""
    fake = fake_registry(referrers_api=False)
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


def test_fake_lies_when_asked(fake_registry: FakeRegistryFactory) -> None:
    """lie=True serves other bytes under the same digest; lie_hook lies about chosen digests only."""
    fake = fake_registry()
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
def test_fake_fails_first_requests(fake_registry: FakeRegistryFactory, status: int, code: str) -> None:
    """fail_first answers N requests with 503/429 and Retry-After before serving."""
    fake = fake_registry(fail_first=2, fail_status=status, retry_after="1")
    with fake.client() as client:
        for _ in range(2):
            failed = client.get("/v2/")
            assert failed.status_code == status and failed.headers["retry-after"] == "1"
            assert errors_of(failed) == [code]
        assert client.get("/v2/").status_code == 200
    assert fake.registry.failures_served == 2
    assert [r.status for r in fake.requests] == [status, status, 200]


def test_fake_fail_match_selects_requests(fake_registry: FakeRegistryFactory) -> None:
    """fail_match limits the failures to chosen requests (here: manifest PUTs)."""
    fake = fake_registry(fail_first=1, fail_match=lambda method, path: method == "PUT" and "/manifests/" in path)
    image = tiny_image()
    with fake.client() as client:
        for blob in image.blobs:
            push_blob(client, REPO, blob.data)
        assert push_manifest(client, REPO, "v1", image.manifest, image.media_type).status_code == 503
        assert push_manifest(client, REPO, "v1", image.manifest, image.media_type).status_code == 201


def test_fake_basic_auth(fake_registry: FakeRegistryFactory) -> None:
    """basic_auth: 401 with a Basic challenge, then 200 with the credentials."""
    fake = fake_registry(basic_auth=("alice", "s3cret"))
    with fake.client(authenticated=False) as anonymous:
        denied = anonymous.get("/v2/")
        assert denied.status_code == 401 and errors_of(denied) == ["UNAUTHORIZED"]
        assert parse_challenge(denied.headers["www-authenticate"]) == ("basic", {"realm": "fake-registry"})
        wrong = anonymous.get("/v2/", headers={"Authorization": basic_header("alice", "wrong")})
        assert wrong.status_code == 401
    with fake.client() as client:
        assert client.get("/v2/").status_code == 200
        push_content(client, REPO, tiny_image(), "v1")
    assert fake.requests[-1].headers["authorization"] == basic_header("alice", "s3cret")


def test_skopeo_reads_the_fake(fake_registry: FakeRegistryFactory) -> None:
    """An outside client (skopeo) pulls the exact manifest bytes from the fake."""
    fake = fake_registry()
    image = tiny_image()
    with fake.client() as client:
        push_content(client, REPO, image, "v1")
    raw = run_skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{fake.host}/{REPO}@{image.digest}")
    assert raw.returncode == 0, raw.stderr.decode()
    assert raw.stdout == image.manifest


# --------------------------------------------------------------------------- distribution 2.8.2


def test_distribution_push_pull_and_no_referrers_api(registry_noauth: RunningRegistry) -> None:
    """Blob and manifest round trip on distribution 2.8.2; it has no referrers API and no OCI-Subject."""
    image = tiny_image()
    with registry_noauth.client() as client:
        assert client.get("/v2/").status_code == 200
        digest = push_blob(client, REPO, b"some blob")
        assert client.get(f"/v2/{REPO}/blobs/{digest}").content == b"some blob"
        put = push_content(client, REPO, image, "v1")
        assert put.headers["docker-content-digest"] == image.digest
        assert_served_exactly(client, image, "v1")
        assert_served_exactly(client, image, image.digest)

        signature = artifact(image, SIGNATURE_TYPE)
        put = push_content(client, REPO, signature)
        assert put.headers["docker-content-digest"] == signature.digest
        assert "oci-subject" not in put.headers
        referrers = client.get(f"/v2/{REPO}/referrers/{image.digest}")
        assert referrers.status_code == 404
        assert referrers.headers["content-type"].startswith("text/plain")
        unknown = client.get(f"/v2/{REPO}/manifests/sha256-{image.digest.split(':', 1)[1]}")
        assert unknown.status_code == 404 and errors_of(unknown) == ["MANIFEST_UNKNOWN"]


def test_skopeo_inspects_distribution(registry_noauth: RunningRegistry) -> None:
    """skopeo inspects a manifest pushed with httpx; --raw returns the exact bytes."""
    image = tiny_image()
    with registry_noauth.client() as client:
        push_content(client, REPO, image, "v1")
    reference = f"docker://{registry_noauth.host}/{REPO}@{image.digest}"
    inspected = run_skopeo("inspect", "--tls-verify=false", reference)
    assert inspected.returncode == 0, inspected.stderr.decode()
    info = json.loads(inspected.stdout)
    assert info["Digest"] == image.digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    raw = run_skopeo("inspect", "--raw", "--tls-verify=false", reference)
    assert raw.returncode == 0, raw.stderr.decode()
    assert raw.stdout == image.manifest


def test_distribution_basic_auth(registry_basic: RunningRegistry) -> None:
    """htpasswd registry: 401 + Basic challenge without (or with wrong) credentials, 200 with them."""
    assert registry_basic.username and registry_basic.password
    with registry_basic.client(authenticated=False) as anonymous:
        denied = anonymous.get("/v2/")
        assert denied.status_code == 401
        assert parse_challenge(denied.headers["www-authenticate"]) == ("basic", {"realm": "basic-realm"})
        wrong = anonymous.get("/v2/", headers={"Authorization": basic_header(registry_basic.username, "nope")})
        assert wrong.status_code == 401
    with registry_basic.client() as client:
        assert client.get("/v2/").status_code == 200
        push_content(client, REPO, tiny_image(), "v1")
        assert client.get(f"/v2/{REPO}/tags/list").json() == {"name": REPO, "tags": ["v1"]}


def test_distribution_token_auth(registry_token: RunningRegistry) -> None:
    """Bearer challenge -> token from the token server -> 200; anonymous tokens get insufficient_scope."""
    server = registry_token.token_server
    assert server is not None and registry_token.username and registry_token.password
    with httpx.Client(base_url=registry_token.url, trust_env=False, timeout=10) as raw:
        ping = raw.get("/v2/")
        assert ping.status_code == 401
        scheme, params = parse_challenge(ping.headers["www-authenticate"])
        assert scheme == "bearer"
        assert params == {"realm": registry_token.token_url, "service": "test-registry"}

        challenged = raw.get(f"/v2/{REPO}/tags/list")
        assert challenged.status_code == 401
        _, params = parse_challenge(challenged.headers["www-authenticate"])
        assert params["scope"] == f"repository:{REPO}:pull"
        query = {"service": params["service"], "scope": params["scope"]}

        credentials = basic_header(registry_token.username, registry_token.password)
        issued = raw.get(params["realm"], params=query, headers={"Authorization": credentials})
        assert issued.status_code == 200
        body = issued.json()
        assert body["token"] == body["access_token"] and body["expires_in"] == 300
        header, claims = (json.loads(_b64url(part)) for part in body["token"].split(".")[:2])
        assert header["alg"] == "RS256" and len(header["x5c"]) == 1
        assert claims["iss"] == "test-issuer" and claims["aud"] == "test-registry"
        assert claims["sub"] == registry_token.username
        assert claims["access"] == [{"type": "repository", "name": REPO, "actions": ["pull"]}]
        with_token = raw.get(f"/v2/{REPO}/tags/list", headers={"Authorization": f"Bearer {body['token']}"})
        assert with_token.status_code == 404  # authorised; the repository just does not exist yet
        assert errors_of(with_token) == ["NAME_UNKNOWN"]

        anonymous = raw.get(params["realm"], params=query).json()["token"]
        assert json.loads(_b64url(anonymous.split(".")[1]))["access"] == []
        refused = raw.get(f"/v2/{REPO}/tags/list", headers={"Authorization": f"Bearer {anonymous}"})
        assert refused.status_code == 401
        _, params = parse_challenge(refused.headers["www-authenticate"])
        assert params["error"] == "insufficient_scope"

        bad_password = raw.get(
            params["realm"], params=query, headers={"Authorization": basic_header(registry_token.username, "x")}
        )
        assert bad_password.status_code == 401
    assert server.token_requests == 3
    assert [r.user for r in server.requests] == [registry_token.username, None, registry_token.username]

    with registry_token.client() as client:  # the test-side auth flow pushes and pulls
        push_content(client, REPO, tiny_image(), "v1")
        assert client.get(f"/v2/{REPO}/tags/list").json() == {"name": REPO, "tags": ["v1"]}


def test_distribution_refuses_expired_tokens(distribution: DistributionFactory) -> None:
    """Tokens past exp by more than distribution's 60 s leeway are refused; the lifetime can change live."""
    registry = distribution("token", token_lifetime=-30)
    server = registry.token_server
    assert server is not None
    with registry.client() as client:
        assert client.get("/v2/").status_code == 200  # 30 s past exp: still within the leeway
        server.lifetime = -120
        assert client.get("/v2/").status_code == 401
        server.lifetime = 300
        assert client.get("/v2/").status_code == 200
    assert registry.token_requests == 3
    assert "invalid token" in registry.log()


def test_distribution_startup_failure_shows_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry that dies during start-up is reaped and its log is in the error."""
    real = servers._distribution_config

    def broken(*args: Any) -> dict[str, Any]:
        config = real(*args)
        config["storage"] = {"no-such-driver": {}}
        return config

    monkeypatch.setattr(servers, "_distribution_config", broken)
    with pytest.raises(RuntimeError, match="no-such-driver"):
        servers.start_distribution(tmp_path, "none")


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _blob(text: str, media_type: str = "application/octet-stream") -> Blob:
    return Blob(media_type, text.encode())
