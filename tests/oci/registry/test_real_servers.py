"""The registry client against real servers: distribution 2.8.2 (no auth, Basic, token) and the in-process OCI 1.1 registry.

These use the fixtures of ``tests/registry/servers.py``; distribution tests are skipped where
``docker-registry`` is not installed.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest

from notation_py.errors import AuthenticationError, DigestError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import Credential, RegistryClient, RegistryOptions, StaticCredentials, referrers_tag
from notation_py.oci.signatures import fetch_signature, list_signature_manifests, push_signature
from tests.registry.servers import (
    DistributionFactory,
    OCIRegistryFactory,
    RunningRegistry,
    push_content,
    tiny_image,
)

pytestmark = [pytest.mark.slow, pytest.mark.real_server]

REPO = "demo"
CREATED = datetime(2025, 1, 21, 9, 17, 46, tzinfo=UTC)
THUMBPRINTS = [hashlib.sha256(b"leaf").hexdigest()]


def envelope(n: int) -> bytes:
    return b'{"payload":"e30","protected":"e30","signature":"' + str(n).encode() + b'"}'


def client_for(host: str, credential: Credential | None = None, **options: object) -> RegistryClient:
    creds = StaticCredentials({host: credential}) if credential is not None else None
    return RegistryClient(RegistryOptions(insecure_registries=(host,), **options), creds)  # type: ignore[arg-type]


def seed(registry: RunningRegistry) -> None:
    with registry.client() as http:
        push_content(http, REPO, tiny_image(), "v1")


def sign_list_fetch(client: RegistryClient, host: str, count: int = 2) -> set[str]:
    repo = client.repository(RegistryReference(host, REPO))
    subject = repo.resolve("v1")
    pushed = {
        str(push_signature(repo, subject, "application/jose+json", envelope(i), THUMBPRINTS, CREATED).digest)
        for i in range(count)
    }
    listed = list(list_signature_manifests(repo, subject, 100))
    assert {str(d.digest) for d in listed} == pushed
    for desc in listed:
        assert fetch_signature(repo, desc, subject).envelope.startswith(b'{"payload"')
    return pushed


def test_distribution_without_auth_uses_tag_schema(registry_noauth: RunningRegistry) -> None:
    seed(registry_noauth)
    with client_for(registry_noauth.host) as client:
        sign_list_fetch(client, registry_noauth.host)
        repo = client.repository(RegistryReference(registry_noauth.host, REPO))
        assert repo.referrers_mode == "tag"
        subject = repo.resolve("v1")
        index = repo.resolve(referrers_tag(subject.digest))
        assert index.media_type == "application/vnd.oci.image.index.v1+json"


def test_distribution_concurrent_signers_keep_every_referrer(registry_noauth: RunningRegistry) -> None:
    seed(registry_noauth)
    host = registry_noauth.host
    errors: list[BaseException] = []
    pushed: list[str] = []
    lock = threading.Lock()

    def signer(n: int) -> None:
        try:
            with client_for(host, referrers_gc=n % 2 == 0) as client:
                repo = client.repository(RegistryReference(host, REPO))
                subject = repo.resolve("v1")
                desc = push_signature(repo, subject, "application/jose+json", envelope(n), THUMBPRINTS, CREATED)
                with lock:
                    pushed.append(str(desc.digest))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=signer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with client_for(host) as client:
        repo = client.repository(RegistryReference(host, REPO))
        listed = {str(d.digest) for d in repo.referrers(repo.resolve("v1"))}
    # Read-back plus the settle re-read: 0 of 120 lost in 10 runs of 12 signers (without the settle
    # re-read, 11 of 80 were lost). A writer slower than the settle delay could still lose one.
    assert set(pushed) <= listed, f"lost {len(set(pushed) - listed)} of {len(pushed)} referrers"


def test_distribution_basic_auth(registry_basic: RunningRegistry) -> None:
    seed(registry_basic)
    host = registry_basic.host
    assert registry_basic.username is not None
    assert registry_basic.password is not None
    good = Credential(registry_basic.username, registry_basic.password)
    with client_for(host, good) as client:
        client.ping(host)
        sign_list_fetch(client, host)
    with (
        client_for(host, Credential(registry_basic.username, "wrong")) as client,
        pytest.raises(AuthenticationError, match=f"registry {host} answered 401 UNAUTHORIZED"),
    ):
        client.ping(host)


def test_distribution_token_auth_caches_tokens(registry_token: RunningRegistry) -> None:
    seed(registry_token)
    host = registry_token.host
    assert registry_token.username is not None
    assert registry_token.password is not None
    before = registry_token.token_requests
    with client_for(host, Credential(registry_token.username, registry_token.password)) as client:
        sign_list_fetch(client, host, count=3)
        used = registry_token.token_requests - before
    # pull, pull+push, delete (superseded index): not one token per request.
    assert used <= 4, used


def test_distribution_token_auth_wrong_password(distribution: DistributionFactory) -> None:
    registry = distribution("token")
    assert registry.username is not None
    with (
        client_for(registry.host, Credential(registry.username, "wrong")) as client,
        pytest.raises(AuthenticationError, match="token service"),
    ):
        client.ping(registry.host)


def test_oci_11_registry_referrers_api(oci_registry: OCIRegistryFactory) -> None:
    fake = oci_registry(page_size=2)
    with fake.client() as http:
        push_content(http, REPO, tiny_image(), "v1")
    with client_for(fake.host) as client:
        sign_list_fetch(client, fake.host, count=5)
        repo = client.repository(RegistryReference(fake.host, REPO))
        assert repo.referrers_mode == "api"
        paths = [r for r in fake.requests if "/referrers/" in r.path]
        assert paths
        # OCI-Subject answered: no tag schema index written.
        subject = repo.resolve("v1")
        with pytest.raises(Exception, match="not found"):
            repo.resolve(referrers_tag(subject.digest))


def test_oci_11_registry_lying_and_flaky(oci_registry: OCIRegistryFactory) -> None:
    fake = oci_registry()
    image = tiny_image()
    with fake.client() as http:
        push_content(http, REPO, image, "v1")
    fake.options.fail_first = 2
    with client_for(fake.host) as client:
        repo = client.repository(RegistryReference(fake.host, REPO))
        subject = repo.resolve("v1")  # two 503s first, then served
        assert str(subject.digest) == image.digest
        fake.options.lie = True
        with pytest.raises(DigestError):
            repo.fetch_manifest(subject)
        layer = Descriptor.from_dict(image.document["layers"][0])
        with pytest.raises(DigestError):
            repo.fetch_blob(layer, 1 << 20)
