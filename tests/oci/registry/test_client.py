"""The HTTP layer: retries and Retry-After, error bodies, schemes, TLS options, timeouts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from notation_py.errors import ArtifactError, AuthenticationError, NotFoundError, RegistryError
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import RegistryClient, RegistryOptions
from notation_py.oci.registry.client import parse_retry_after
from tests.oci.registry.test_repository import REPO, image
from tests.pki import self_signed
from tests.registry.oci_registry import HOST, OCIRegistry, error_response


def flaky(registry: OCIRegistry, answers: list[httpx.Response | Exception]) -> None:
    """Answer the next requests with ``answers`` (responses or exceptions to raise), then normally."""

    def intercept(request: httpx.Request) -> httpx.Response | None:
        if not answers:
            return None
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    registry.options.intercept = intercept


def test_retry_after_seconds_is_honoured() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    flaky(
        registry, [httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(429, headers={"Retry-After": "1"})]
    )
    client, sleeps = registry.registry_client()
    assert client.repository(RegistryReference(HOST, REPO)).resolve("v1") == desc
    assert sleeps == [2.0, 1.0]
    assert len(registry.requests) == 3


def test_retry_after_http_date_and_cap() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None) is None
    registry = OCIRegistry(referrers_api=False)
    image(registry)
    flaky(registry, [httpx.Response(503, headers={"Retry-After": "3600"})])
    client, sleeps = registry.registry_client(max_retry_wait=5.0)
    client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert sleeps == [5.0]


def test_backoff_without_retry_after_grows() -> None:
    registry = OCIRegistry(referrers_api=False)
    image(registry)
    flaky(registry, [httpx.Response(502), httpx.Response(504), httpx.Response(503)])
    client, sleeps = registry.registry_client(retry_backoff=0.5)
    client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert sleeps == [0.375, 0.75, 1.5]  # base * 2^n * (0.5 + jitter/2), jitter fixed at 0.5


def test_gives_up_after_max_retries_with_a_clear_error() -> None:
    registry = OCIRegistry(referrers_api=False)
    image(registry)
    busy = error_response(503, "TOOMANYREQUESTS", "slow down", headers={"Retry-After": "1"})
    flaky(registry, [busy] * 10)
    client, sleeps = registry.registry_client(max_retries=2)
    with pytest.raises(RegistryError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert info.value.status == 503
    assert "registry registry.test answered 503" in info.value.message
    assert "gave up after 2 retries" in info.value.message
    assert sleeps == [1.0, 1.0]
    assert len(registry.requests) == 3


def test_connection_errors_are_retried_for_idempotent_requests() -> None:
    registry = OCIRegistry(referrers_api=False)
    desc = image(registry)
    flaky(registry, [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
    client, sleeps = registry.registry_client()
    assert client.repository(RegistryReference(HOST, REPO)).resolve("v1") == desc
    assert len(sleeps) == 2


def test_connection_errors_give_up_with_registry_error() -> None:
    registry = OCIRegistry(referrers_api=False)
    flaky(registry, [httpx.ConnectError("connection refused")] * 10)
    client, sleeps = registry.registry_client(max_retries=1)
    with pytest.raises(
        RegistryError, match=r"registry registry.test unreachable: cannot connect \(connection refused\)"
    ):
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert len(sleeps) == 1


def test_non_idempotent_request_is_not_retried_after_connection_error() -> None:
    registry = OCIRegistry(referrers_api=False)
    flaky(registry, [httpx.ConnectError("refused")] * 3)
    client, sleeps = registry.registry_client()
    with pytest.raises(RegistryError, match="unreachable"):
        client.request("PATCH", f"http://{HOST}/v2/{REPO}/blobs/uploads/x", scopes=())
    assert sleeps == []


def test_error_body_is_surfaced() -> None:
    registry = OCIRegistry(referrers_api=False)
    flaky(registry, [error_response(403, "DENIED", "requested access to the resource is denied", {"repo": "demo"})])
    client, _ = registry.registry_client()
    with pytest.raises(AuthenticationError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert info.value.message == (
        "resolve registry.test/demo:v1: registry registry.test answered 403 DENIED: "
        'requested access to the resource is denied (detail: {"repo":"demo"})'
    )
    assert info.value.code == "DENIED"


def test_plain_text_error_body_and_not_found() -> None:
    registry = OCIRegistry(referrers_api=False)
    flaky(
        registry,
        [httpx.Response(500, text="upstream exploded\n"), error_response(404, "MANIFEST_UNKNOWN", "manifest unknown")],
    )
    client, _ = registry.registry_client()
    repo = client.repository(RegistryReference(HOST, REPO))
    with pytest.raises(RegistryError, match="answered 500 Internal Server Error: upstream exploded"):
        repo.resolve("v1")
    with pytest.raises(NotFoundError, match="answered 404"):
        repo.resolve("v1")


def test_unauthorized_message_format() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error_response(401, "UNAUTHORIZED", "authentication required")

    client = RegistryClient(
        RegistryOptions(insecure_registries=("127.0.0.1:5000",)), None, transport=httpx.MockTransport(handler)
    )
    with pytest.raises(
        AuthenticationError,
        match=re.escape("registry 127.0.0.1:5000 answered 401 UNAUTHORIZED: authentication required"),
    ):
        client.ping("127.0.0.1:5000")


def test_scheme_https_by_default_http_only_when_insecure() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(handler)
    RegistryClient(RegistryOptions(), None, transport=transport).ping("localhost:5000")
    RegistryClient(RegistryOptions(), None, transport=transport).ping("127.0.0.1:5000")
    RegistryClient(RegistryOptions(insecure_registries=("LocalHost:5000",)), None, transport=transport).ping(
        "localhost:5000"
    )
    assert [str(u) for u in seen] == [
        "https://localhost:5000/v2/",
        "https://127.0.0.1:5000/v2/",  # loopback is not insecure unless listed
        "http://localhost:5000/v2/",
    ]


def test_user_agent_and_identity_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with RegistryClient(RegistryOptions(user_agent="test-agent/1"), transport=httpx.MockTransport(handler)) as client:
        client.ping(HOST)
    assert seen[0].headers["user-agent"] == "test-agent/1"
    assert seen[0].headers["accept-encoding"] == "identity"


def test_ca_file_is_loaded_and_errors_are_clear(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = tmp_path / "ca.pem"
    pem.write_bytes(self_signed("ec-256").certificate.public_bytes(Encoding.PEM))
    RegistryClient(RegistryOptions(ca_file=pem)).close()
    with pytest.raises(ArtifactError, match="cannot load CA certificates"):
        RegistryClient(RegistryOptions(ca_file=tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ArtifactError, match="cannot load CA certificates"):
        RegistryClient(RegistryOptions(ca_file=garbage))


def test_timeouts_are_configured() -> None:
    client = RegistryClient(RegistryOptions(timeout=7.0, connect_timeout=2.0))
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (2.0, 7.0, 7.0, 7.0)
    client.close()


def test_registry_warnings_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    registry = OCIRegistry(referrers_api=False)
    image(registry)
    warning = httpx.Response(200, headers={"Warning": '299 - "This image is deprecated"'})
    flaky(registry, [warning, warning])
    client, _ = registry.registry_client()
    with caplog.at_level("WARNING"):
        client.ping(HOST)
        client.ping(HOST)
    assert [r.getMessage() for r in caplog.records] == ["registry registry.test: This image is deprecated"]


def test_response_too_large_is_refused() -> None:
    registry = OCIRegistry(referrers_api=False, head_headers=False)
    flaky(
        registry,
        [httpx.Response(200, headers={"Content-Length": str(5 * 1024 * 1024)}, content=b"x" * (5 * 1024 * 1024))],
    )
    client, _ = registry.registry_client()
    with pytest.raises(ArtifactError, match="response too large"):
        client.request("GET", f"http://{HOST}/v2/{REPO}/manifests/v1", scopes=())
