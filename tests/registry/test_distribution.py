"""distribution 2.8.2 and the token server as the fixtures start them, spoken to with plain httpx (and skopeo)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.registry import servers
from tests.registry.servers import (
    DistributionFactory,
    OCIRegistryFactory,
    RunningRegistry,
    artifact,
    assert_served_exactly,
    basic_header,
    error_codes,
    parse_challenge,
    push_blob,
    push_content,
    run_skopeo,
    tiny_image,
)

pytestmark = pytest.mark.real_server

REPO = "demo/app"
SIGNATURE_TYPE = "application/vnd.cncf.notary.signature"


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
        assert_served_exactly(client, REPO, image, "v1")
        assert_served_exactly(client, REPO, image, image.digest)

        signature = artifact(image, SIGNATURE_TYPE)
        put = push_content(client, REPO, signature)
        assert put.headers["docker-content-digest"] == signature.digest
        assert "oci-subject" not in put.headers
        referrers = client.get(f"/v2/{REPO}/referrers/{image.digest}")
        assert referrers.status_code == 404
        assert referrers.headers["content-type"].startswith("text/plain")
        unknown = client.get(f"/v2/{REPO}/manifests/sha256-{image.digest.split(':', 1)[1]}")
        assert unknown.status_code == 404 and error_codes(unknown) == ["MANIFEST_UNKNOWN"]


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
        assert error_codes(with_token) == ["NAME_UNKNOWN"]

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


def test_a_port_taken_by_another_server_is_not_mistaken_for_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oci_registry: OCIRegistryFactory
) -> None:
    """free_port only probes: when another server takes the port first and answers, start-up moves on.

    The first registry process is a stand-in that has not yet failed to bind (it just sleeps), so the
    other server answers ``GET /v2/`` first; the instance header tells the two apart.
    """
    squatter = oci_registry()  # answers GET /v2/ with 200, as the registry would
    offered = [squatter.server.port]
    real_free_port, real_spawn = servers.free_port, servers._spawn
    stand_ins: list[subprocess.Popen[bytes]] = []

    def spawn(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
        if stand_ins:
            return real_spawn(config_path, log_path)
        stand_ins.append(subprocess.Popen(["sleep", "60"]))
        return stand_ins[0]

    monkeypatch.setattr(servers, "free_port", lambda: offered.pop() if offered else real_free_port())
    monkeypatch.setattr(servers, "_spawn", spawn)
    with servers.start_distribution(tmp_path) as registry, registry.client() as client:
        assert registry.host != squatter.host
        assert client.get("/v2/").headers[servers.INSTANCE_HEADER] == registry.instance_id
    assert [r.path for r in squatter.requests] == ["/v2/"]
    assert stand_ins[0].returncode is not None  # stopped, not left running


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
