"""``notation-py`` end to end against real registries.

distribution 2.8.2 (``docker-registry``: no auth, htpasswd Basic, token auth; no referrers API, so
signatures go through the referrers tag schema) and the in-process OCI 1.1 registry (referrers
API, lies). The client library itself is tested in ``tests/oci/registry/test_real_servers.py``; these
tests drive the CLI: flags, credentials from every source, messages and exit codes, and what other
clients (plain HTTP, skopeo) see afterwards.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, oci_statement
from tests.cli.registry_helpers import (
    MEDIA_TYPE_COSE,
    MEDIA_TYPE_JWS,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    REPO,
    SIGNATURE_ARTIFACT_TYPE,
    Pushed,
    get_manifest,
    listed_signatures,
    run_notation,
    seed,
    sha256,
    signature_manifest,
    signed_digest,
    start_notation,
    trust,
)
from tests.registry.servers import (
    DistributionFactory,
    OCIRegistryFactory,
    RunningOCIRegistry,
    RunningRegistry,
    push_content,
    run_skopeo,
    tiny_image,
)

pytestmark = [pytest.mark.slow, pytest.mark.real_server]

INSECURE = "--insecure-registry"
TAG_WARNING = "Warning: Always {verb} the artifact using digest(@sha256:...) rather than a tag(:v1)"


@pytest.fixture(autouse=True)
def _no_ambient_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials or proxies from the environment: an empty docker config, no NOTATION_USERNAME."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    for name in ("NOTATION_USERNAME", "NOTATION_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def creds(registry: RunningRegistry) -> tuple[str, str]:
    assert registry.username is not None
    assert registry.password is not None
    return registry.username, registry.password


# --------------------------------------------------------------------------- 1, 2: distribution, no auth


def test_sign_list_inspect_verify_on_distribution(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)

    jws = cli.ok("sign", INSECURE, "--verbose", pushed.by_tag)
    assert TAG_WARNING.format(verb="sign") in jws.err
    assert f"Resolved artifact tag `v1` to digest `{pushed.digest}` before sign." in jws.out
    signed_digest(jws.out, pushed)
    cose = cli.ok("sign", INSECURE, "--verbose", "--signature-format", "cose", pushed.by_digest)
    assert "Warning" not in cose.err  # signed by digest: no tag warning
    signed_digest(cose.out, pushed)
    manifests = {signature_manifest(jws.out), signature_manifest(cose.out)}
    assert len(manifests) == 2

    listed = cli.ok("list", INSECURE, pushed.by_tag)
    assert listed.out.splitlines()[0] == pushed.by_digest
    assert set(listed_signatures(listed.out)) == manifests
    assert len(listed_signatures(listed.out)) == 2

    inspected = json.loads(cli.ok("inspect", INSECURE, "-o", "json", pushed.by_digest).out)
    assert inspected["mediaType"] == MEDIA_TYPE_OCI_MANIFEST
    sigs = inspected["signatures"]
    assert {s["digest"] for s in sigs} == manifests
    assert sorted(s["mediaType"] for s in sigs) == sorted([MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
    for sig in sigs:
        assert sig["signedArtifact"]["digest"] == pushed.digest
        assert sig["signedArtifact"]["size"] == len(pushed.image.manifest)

    trust(cli, pushed.scope)
    verified = cli.ok("verify", INSECURE, pushed.by_digest)
    assert f"Successfully verified signature for {pushed.by_digest}" in verified.out

    trust(cli, f"{registry_noauth.host}/elsewhere")
    refused = cli("verify", INSECURE, pushed.by_digest)
    assert refused.code == 2, refused
    assert f'artifact "{pushed.scope}" has no applicable oci trust policy statement' in refused.err
    assert "Successfully verified" not in refused.text


def test_https_to_plain_http_registry_fails_clearly(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    trust(cli, pushed.scope)
    for command in ("sign", "list", "verify"):
        started = time.monotonic()
        result = cli(command, pushed.by_digest)
        assert result.code == 1, result
        assert f"Error: registry {registry_noauth.host} unreachable" in result.err
        assert "SSL" in result.err
        assert "--insecure-registry" in result.err  # the hint at what is wrong
        assert result.err.count("Error:") == 1
        assert time.monotonic() - started < 2, "a TLS protocol error is not worth retrying"
    # Nothing was written: the registry has no signature for the image.
    assert get_manifest(registry_noauth, REPO, pushed.referrers_tag).status == 404


def test_referrers_tag_index_exists_on_distribution(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    assert get_manifest(registry_noauth, REPO, pushed.referrers_tag).status == 404
    first = signature_manifest(cli.ok("sign", INSECURE, "-v", pushed.by_digest).out)
    second = signature_manifest(cli.ok("sign", INSECURE, "-v", "--signature-format", "cose", pushed.by_digest).out)

    index = get_manifest(registry_noauth, REPO, pushed.referrers_tag)
    assert index.status == 200, index
    assert index.media_type == MEDIA_TYPE_OCI_INDEX
    assert index.served_digest == sha256(index.body)
    document = index.document
    assert document["schemaVersion"] == 2
    assert document["mediaType"] == MEDIA_TYPE_OCI_INDEX
    entries = document["manifests"]
    assert [e["digest"] for e in entries] == [first, second]
    for entry in entries:
        assert entry["mediaType"] == MEDIA_TYPE_OCI_MANIFEST
        assert entry["artifactType"] == SIGNATURE_ARTIFACT_TYPE
        manifest = get_manifest(registry_noauth, REPO, entry["digest"], MEDIA_TYPE_OCI_MANIFEST)
        assert manifest.status == 200
        assert sha256(manifest.body) == entry["digest"]
        assert entry["size"] == len(manifest.body)
        assert manifest.document["subject"]["digest"] == pushed.digest
    envelope_types = {
        get_manifest(registry_noauth, REPO, e["digest"], MEDIA_TYPE_OCI_MANIFEST).document["layers"][0]["mediaType"]
        for e in entries
    }
    assert envelope_types == {MEDIA_TYPE_JWS, MEDIA_TYPE_COSE}


# --------------------------------------------------------------------------- 3: Basic auth


def test_basic_auth_flags_and_environment(
    cli: Cli, registry_basic: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = seed(registry_basic)
    user, password = creds(registry_basic)
    trust(cli, pushed.scope)

    anonymous = cli("list", INSECURE, pushed.by_digest)
    assert anonymous.code == 1, anonymous
    assert "401" in anonymous.err

    signed_digest(cli.ok("sign", INSECURE, "-u", user, "-p", password, pushed.by_digest).out, pushed)
    cli.ok("verify", INSECURE, "--username", user, "--password", password, pushed.by_digest)
    # In a real process (pytest's log capture would swallow --debug in-process).
    debug = run_notation(cli, "list", INSECURE, "--debug", "-u", user, "-p", password, pushed.by_digest)
    assert debug.returncode == 0, debug.stderr
    assert "GET /v2/repo/manifests/" in debug.stderr  # requests are logged...
    for secret in (password, base64.b64encode(f"{user}:{password}".encode()).decode()):
        assert secret not in debug.stdout + debug.stderr  # ...credentials are not
    wrong = cli("list", INSECURE, "-u", user, "-p", "wrong", pushed.by_digest)
    assert wrong.code == 1, wrong
    assert "401" in wrong.err
    assert "wrong" not in wrong.err  # the password is never echoed

    monkeypatch.setenv("NOTATION_USERNAME", user)
    monkeypatch.setenv("NOTATION_PASSWORD", password)
    signed_digest(cli.ok("sign", INSECURE, pushed.by_digest).out, pushed)
    assert len(listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out)) == 2
    cli.ok("verify", INSECURE, pushed.by_digest)
    # A flag overrides its environment variable.
    overridden = cli("list", INSECURE, "-p", "wrong", pushed.by_digest)
    assert overridden.code == 1, overridden
    assert "401" in overridden.err


def test_login_logout(cli: Cli, registry_basic: RunningRegistry) -> None:
    pushed = seed(registry_basic)
    host = registry_basic.host
    user, password = creds(registry_basic)
    config_json = cli.config / "config.json"
    trust(cli, pushed.scope)

    refused = cli("login", "-u", user, "--password-stdin", INSECURE, host, input_text="wrong\n")
    assert refused.code == 1, refused
    assert "401" in refused.err
    assert "Login Succeeded" not in refused.out
    assert not config_json.exists() or host not in json.loads(config_json.read_text()).get("auths", {})

    login = cli("login", "-u", user, "--password-stdin", INSECURE, host, input_text=password + "\n")
    assert login.code == 0, login
    assert "Login Succeeded" in login.out
    assert "stored unencrypted" in login.err
    assert "--password-stdin" not in login.err  # no warning about -p: it was not used
    assert stat.S_IMODE(config_json.stat().st_mode) == 0o600
    saved = json.loads(config_json.read_text())
    assert base64.b64decode(saved["auths"][host]["auth"]).decode() == f"{user}:{password}"

    signed_digest(cli.ok("sign", INSECURE, pushed.by_tag).out, pushed)
    assert f"Successfully verified signature for {pushed.by_digest}" in cli.ok("verify", INSECURE, pushed.by_tag).out

    assert "Logout Succeeded" in cli.ok("logout", host).out
    assert host not in json.loads(config_json.read_text()).get("auths", {})
    after = cli("list", INSECURE, pushed.by_digest)
    assert after.code == 1, after
    assert "401" in after.err
    assert "no saved credentials" in cli.ok("logout", host).err


def test_login_with_password_flag_warns(cli: Cli, registry_basic: RunningRegistry) -> None:
    user, password = creds(registry_basic)
    login = cli.ok("login", "-u", user, "-p", password, INSECURE, registry_basic.host)
    assert "Using --password via the CLI is insecure. Use --password-stdin." in login.err
    assert password not in login.text


def test_docker_config_credentials(
    cli: Cli, registry_basic: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed = seed(registry_basic)
    user, password = creds(registry_basic)
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {registry_basic.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    trust(cli, pushed.scope)

    signed_digest(cli.ok("sign", INSECURE, pushed.by_digest).out, pushed)
    assert len(listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out)) == 1
    cli.ok("verify", INSECURE, pushed.by_digest)

    # Only that host: another registry gets no credentials from it.
    (docker / "config.json").write_text(json.dumps({"auths": {"127.0.0.1:1": {"auth": auth}}}))
    refused = cli("list", INSECURE, pushed.by_digest)
    assert refused.code == 1, refused
    assert "401" in refused.err


# --------------------------------------------------------------------------- 4: token auth


def test_token_auth_sign_verify_caches_tokens(cli: Cli, registry_token: RunningRegistry) -> None:
    pushed = seed(registry_token)
    user, password = creds(registry_token)
    trust(cli, pushed.scope)

    before = registry_token.token_requests
    signed_digest(cli.ok("sign", INSECURE, "-u", user, "-p", password, pushed.by_tag).out, pushed)
    sign_tokens = registry_token.token_requests - before
    # About 15 registry requests, but one token for pull (resolve, referrers) and one for pull+push
    # (blobs, manifests, the tag index), each reused.
    assert 1 <= sign_tokens <= 2, sign_tokens

    before = registry_token.token_requests
    verified = cli.ok("verify", INSECURE, "-u", user, "-p", password, pushed.by_tag)
    assert f"Successfully verified signature for {pushed.by_digest}" in verified.out
    verify_tokens = registry_token.token_requests - before
    assert verify_tokens == 1, verify_tokens  # pull, for every read

    refused = cli("list", INSECURE, "-u", user, "-p", "wrong", pushed.by_digest)
    assert refused.code == 1, refused
    assert "token service" in refused.err


def test_token_auth_login(cli: Cli, registry_token: RunningRegistry) -> None:
    pushed = seed(registry_token)
    user, password = creds(registry_token)
    refused = cli("login", "-u", user, "--password-stdin", INSECURE, pushed.host, input_text="wrong\n")
    assert refused.code == 1, refused
    assert "token service" in refused.err
    assert not (cli.config / "config.json").exists()

    login = cli("login", "-u", user, "--password-stdin", INSECURE, pushed.host, input_text=password + "\n")
    assert login.code == 0, login
    signed_digest(cli.ok("sign", INSECURE, pushed.by_digest).out, pushed)
    assert len(listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out)) == 1


# --------------------------------------------------------------------------- 5: OCI 1.1 referrers API


def referrers_calls(fake: RunningOCIRegistry) -> int:
    return sum(1 for r in fake.requests if "/referrers/" in r.path)


def test_referrers_api_registry_needs_no_tag(cli: Cli, oci_registry: OCIRegistryFactory) -> None:
    fake = oci_registry()
    pushed = seed(fake)
    trust(cli, pushed.scope)
    digest = signature_manifest(cli.ok("sign", INSECURE, "-v", pushed.by_tag).out)
    cli.ok("sign", INSECURE, "--signature-format", "cose", pushed.by_digest)

    assert get_manifest(fake, REPO, pushed.referrers_tag).status == 404  # OCI-Subject honoured
    assert not any(r.method == "PUT" and pushed.referrers_tag in r.path for r in fake.requests)
    listed = listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out)
    assert digest in listed
    assert len(listed) == 2
    verified = cli.ok("verify", INSECURE, pushed.by_digest)
    assert f"Successfully verified signature for {pushed.by_digest}" in verified.out
    assert referrers_calls(fake) >= 2


def test_force_referrers_tag_on_referrers_api_registry(cli: Cli, oci_registry: OCIRegistryFactory) -> None:
    fake = oci_registry()
    pushed = seed(fake)
    trust(cli, pushed.scope)
    digest = signature_manifest(cli.ok("sign", INSECURE, "-v", "--force-referrers-tag", pushed.by_digest).out)

    index = get_manifest(fake, REPO, pushed.referrers_tag)
    assert index.status == 200, index
    assert [e["digest"] for e in index.document["manifests"]] == [digest]
    assert index.document["manifests"][0]["artifactType"] == SIGNATURE_ARTIFACT_TYPE
    cli.ok("verify", INSECURE, pushed.by_digest)


def test_registry_without_referrers_api_uses_tag_schema(cli: Cli, oci_registry: OCIRegistryFactory) -> None:
    fake = oci_registry(referrers_api=False)
    pushed = seed(fake)
    trust(cli, pushed.scope)
    digest = signature_manifest(cli.ok("sign", INSECURE, "-v", pushed.by_digest).out)

    index = get_manifest(fake, REPO, pushed.referrers_tag)
    assert index.status == 200, index
    assert [e["digest"] for e in index.document["manifests"]] == [digest]
    assert listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out) == [digest]
    cli.ok("verify", INSECURE, pushed.by_digest)


# --------------------------------------------------------------------------- 6: concurrent signers


def test_concurrent_sign_processes_keep_every_signature(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    rounds, parallel = 3, 2
    for _ in range(rounds):
        processes = [start_notation(cli, "sign", INSECURE, pushed.by_digest) for _ in range(parallel)]
        for proc in processes:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert f"Successfully signed {pushed.by_digest}" in out
            assert "Traceback" not in err
    listed = listed_signatures(cli.ok("list", INSECURE, pushed.by_digest).out)
    assert len(listed) == len(set(listed)) == rounds * parallel
    trust(cli, pushed.scope)
    cli.ok("verify", INSECURE, pushed.by_digest)


# --------------------------------------------------------------------------- 7: a lying registry


@pytest.fixture
def signed_on_fake(cli: Cli, oci_registry: OCIRegistryFactory) -> Iterator[tuple[RunningOCIRegistry, Pushed, str]]:
    """An image signed once on a fake OCI 1.1 registry that the policy trusts; (fake, image, envelope digest)."""
    fake = oci_registry()
    pushed = seed(fake)
    trust(cli, pushed.scope)
    digest = signature_manifest(cli.ok("sign", INSECURE, "-v", pushed.by_digest).out)
    manifest = get_manifest(fake, REPO, digest, MEDIA_TYPE_OCI_MANIFEST).document
    cli.ok("verify", INSECURE, pushed.by_digest)  # honest so far
    yield fake, pushed, manifest["layers"][0]["digest"]


def test_lying_about_the_envelope_fails_verification(
    cli: Cli, signed_on_fake: tuple[RunningOCIRegistry, Pushed, str]
) -> None:
    fake, pushed, envelope = signed_on_fake
    lied: list[str] = []

    def swap_envelope(digest: str, content: bytes) -> bytes | None:
        if digest != envelope:
            return None
        lied.append(digest)
        # Same length and shape, one character of the signature value changed.
        at = content.index(b'"signature":"') + len(b'"signature":"')
        return content[:at] + (b"B" if content[at : at + 1] == b"A" else b"A") + content[at + 1 :]

    fake.options.lie_hook = swap_envelope
    result = cli("verify", INSECURE, pushed.by_digest)
    assert lied, "the envelope was never fetched"
    assert result.code == 1, result
    assert "digest mismatch" in result.err
    assert envelope in result.err
    assert "Successfully verified" not in result.text


def test_lying_about_everything_fails_verification(
    cli: Cli, signed_on_fake: tuple[RunningOCIRegistry, Pushed, str]
) -> None:
    fake, pushed, _ = signed_on_fake
    fake.options.lie = True
    for reference in (pushed.by_digest, pushed.by_tag):
        result = cli("verify", INSECURE, reference)
        assert result.code == 1, result
        assert "mismatch" in result.err
        assert "Successfully verified" not in result.text


# --------------------------------------------------------------------------- 8: skopeo sees our work


def test_skopeo_reads_signature_and_image(cli: Cli, registry_noauth: RunningRegistry, tmp_path: Path) -> None:
    pushed = seed(registry_noauth)
    digest = signature_manifest(cli.ok("sign", INSECURE, "-v", pushed.by_tag).out)

    raw = run_skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{registry_noauth.host}/{REPO}@{digest}")
    assert raw.returncode == 0, raw.stderr.decode()
    assert sha256(raw.stdout) == digest
    document = json.loads(raw.stdout)
    assert document["mediaType"] == MEDIA_TYPE_OCI_MANIFEST
    assert document["artifactType"] == SIGNATURE_ARTIFACT_TYPE
    assert document["subject"] == {
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "digest": pushed.digest,
        "size": len(pushed.image.manifest),
    }

    layout = tmp_path / "layout"
    copied = run_skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        # Keep the manifest exactly (skopeo compresses uncompressed layers for oci: by default), so the
        # pulled image is the signed one, digest for digest.
        "--preserve-digests",
        "--dest-oci-accept-uncompressed-layers",
        f"docker://{pushed.by_tag}",
        f"oci:{layout}:v1",
    )
    assert copied.returncode == 0, copied.stderr.decode()
    index = json.loads((layout / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [pushed.digest]
    blob = layout / "blobs" / "sha256" / pushed.hex
    assert blob.read_bytes() == pushed.image.manifest


# --------------------------------------------------------------------------- 9: tag vs digest


def test_verify_by_tag_resolves_and_warns(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    trust(cli, pushed.scope)
    cli.ok("sign", INSECURE, pushed.by_digest)

    verified = cli.ok("verify", INSECURE, pushed.by_tag)
    assert TAG_WARNING.format(verb="verify") in verified.err
    assert f"Resolved artifact tag `v1` to digest `{pushed.digest}` before verify." in verified.out
    assert f"Successfully verified signature for {pushed.by_digest}" in verified.out

    # The tag moves to an unsigned image: verifying by tag now checks that one, and fails.
    other = tiny_image("moved\n")
    with registry_noauth.client() as http:
        push_content(http, REPO, other, "v1")
    moved = cli("verify", INSECURE, pushed.by_tag)
    assert moved.code == 1, moved
    assert f"Resolved artifact tag `v1` to digest `{other.digest}` before verify." in moved.out
    assert f"{pushed.host}/{REPO}@{other.digest}" in moved.err
    assert "Successfully verified" not in moved.text
    cli.ok("verify", INSECURE, pushed.by_digest)  # the signed digest still verifies


def test_unknown_tag_and_repository(cli: Cli, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    trust(cli, pushed.scope, f"{registry_noauth.host}/nothing")
    missing_tag = cli("sign", INSECURE, f"{pushed.scope}:v2")
    assert missing_tag.code == 1, missing_tag
    assert "not found" in missing_tag.err
    missing_repo = cli("verify", INSECURE, f"{registry_noauth.host}/nothing@{pushed.digest}")
    assert missing_repo.code == 1, missing_repo
    assert "not found" in missing_repo.err


def test_https_registry_with_a_private_ca(
    cli: Cli, distribution: DistributionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS is verified by default; a private CA is trusted through SSL_CERT_FILE, never by skipping checks."""
    registry = distribution("basic", tls=True)
    assert registry.tls_ca is not None
    image = tiny_image("tls\n")
    with registry.client() as http:
        push_content(http, "app", image, "v1")
    ref = f"{registry.host}/app@{image.digest}"
    creds = ("-u", registry.username or "", "-p", registry.password or "")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    untrusted = cli("list", *creds, ref)
    assert untrusted.code == 1
    assert "certificate" in untrusted.err.lower()
    monkeypatch.setenv("SSL_CERT_FILE", str(registry.tls_ca))
    cli.ok("sign", *creds, ref)
    cli.write_oci_policy(oci_statement(scopes=(f"{registry.host}/app",)))
    assert "Successfully verified" in cli.ok("verify", *creds, ref).out
