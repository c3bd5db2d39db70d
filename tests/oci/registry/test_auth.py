"""Authentication: challenge parsing, pre-emptive Basic, bearer tokens per scope, identity tokens."""

from __future__ import annotations

import base64

import httpx
import pytest

from notation_py.errors import AuthenticationError
from notation_py.oci.manifest import ARTIFACT_TYPE_NOTARY, EMPTY_JSON, MEDIA_TYPE_EMPTY_JSON
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import (
    Credential,
    RegistryClient,
    RegistryOptions,
    StaticCredentials,
    merge_scopes,
    parse_challenges,
)
from notation_py.oci.registry.auth import Challenge
from tests.oci.registry.test_repository import REPO, image, push_referrer
from tests.registry.oci_registry import HOST, SERVICE, TOKEN_REALM, OCIRegistry, Token

ALICE = StaticCredentials({HOST: Credential("alice", "secret")})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- parsing ---------------------------------------------------------------------------------


def test_parse_bearer_challenge_with_insufficient_scope() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:demo:pull,push",error="insufficient_scope"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "registry.example.com",
                "scope": "repository:demo:pull,push",
                "error": "insufficient_scope",
            },
        )
    ]


def test_parse_several_challenges_quotes_and_case() -> None:
    parsed = parse_challenges(['Basic realm="a \\"quoted\\" realm", BEARER Realm=https://t/x , service = "s"'])
    assert parsed == [
        Challenge("basic", {"realm": 'a "quoted" realm'}),
        Challenge("bearer", {"realm": "https://t/x", "service": "s"}),
    ]
    assert parse_challenges(["Negotiate abc123=="]) == [Challenge("negotiate", {})]
    assert parse_challenges(['"garbage']) == []


def test_merge_scopes() -> None:
    assert merge_scopes(["repository:a:pull", "repository:a:push", "repository:b:pull"]) == (
        "repository:a:pull,push",
        "repository:b:pull",
    )
    assert merge_scopes(["repository:a:pull repository:a:delete", ""]) == ("repository:a:delete,pull",)
    assert merge_scopes(["registry:catalog:*"]) == ("registry:catalog:*",)


# --- basic -----------------------------------------------------------------------------------


def test_basic_is_sent_preemptively_after_the_first_challenge() -> None:
    registry = OCIRegistry(referrers_api=False, auth="basic")
    subject = image(registry)
    client, _ = registry.registry_client(ALICE)
    repo = client.repository(RegistryReference(HOST, REPO))
    assert repo.resolve("v1") == subject
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "sig")
    first, retried, *rest = registry.requests
    assert "authorization" not in first.headers
    assert retried.headers["authorization"] == basic("alice", "secret")
    assert rest and all(r.headers.get("authorization") == basic("alice", "secret") for r in rest)
    # One challenge in total: no request body was sent twice.
    assert len([r for r in registry.requests if "authorization" not in r.headers]) == 1


def test_basic_bad_credentials_surface_the_registry_error() -> None:
    registry = OCIRegistry(referrers_api=False, auth="basic")
    image(registry)
    client, _ = registry.registry_client(StaticCredentials({HOST: Credential("alice", "wrong")}))
    with pytest.raises(AuthenticationError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert "registry registry.test answered 401 UNAUTHORIZED: authentication required" in info.value.message
    assert info.value.status == 401
    assert "wrong" not in info.value.message
    assert len(registry.requests) == 2  # challenge, one retry: no loop


def test_no_credentials_gives_401_error() -> None:
    registry = OCIRegistry(referrers_api=False, auth="basic")
    image(registry)
    client, _ = registry.registry_client(None)
    with pytest.raises(AuthenticationError, match="answered 401 UNAUTHORIZED"):
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert len(registry.requests) == 1


def test_ping_validates_credentials() -> None:
    registry = OCIRegistry(referrers_api=False, auth="basic")
    client, _ = registry.registry_client(ALICE)
    client.ping(HOST)
    bad, _ = registry.registry_client(StaticCredentials({HOST: Credential("alice", "nope")}))
    with pytest.raises(AuthenticationError, match="401"):
        bad.ping(HOST)
    bearer = OCIRegistry(referrers_api=False, auth="bearer")
    client, _ = bearer.registry_client(ALICE)
    client.ping(HOST)
    assert bearer.token_requests[0].url.params.get_list("scope") == []
    bad, _ = bearer.registry_client(StaticCredentials({HOST: Credential("alice", "nope")}))
    with pytest.raises(AuthenticationError, match=r"token service https://auth\.test/token answered 401: incorrect"):
        bad.ping(HOST)


# --- bearer ----------------------------------------------------------------------------------


def test_bearer_scope_upgrade_and_token_cache() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer")
    subject = image(registry)
    client, _ = registry.registry_client(ALICE)
    repo = client.repository(RegistryReference(HOST, REPO))
    repo.resolve("v1")
    repo.fetch_manifest(subject)
    assert len(registry.token_requests) == 1
    pull = registry.token_requests[0]
    assert pull.url.params["service"] == SERVICE
    assert pull.url.params.get_list("scope") == [f"repository:{REPO}:pull"]
    assert pull.headers["authorization"] == basic("alice", "secret")
    push_referrer(repo, subject, ARTIFACT_TYPE_NOTARY, "sig")
    scopes = [r.url.params.get_list("scope") for r in registry.token_requests]
    assert [f"repository:{REPO}:pull,push"] in scopes
    token_count = len(registry.token_requests)
    # The pull,push token covers later reads and writes of the same repository, in any Repository object.
    again = client.repository(RegistryReference(HOST, REPO))
    again.resolve("v1")
    again.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    assert len(registry.token_requests) == token_count
    assert token_count <= 3  # pull; pull,push; delete (superseded index clean-up)
    assert client.auth.token_requests == token_count
    # Only one request ever went out without a token: the first challenge.
    assert len([r for r in registry.requests if "authorization" not in r.headers]) == 1


def test_insufficient_scope_fetches_a_wider_token_and_retries_once() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer")
    image(registry)
    client, _ = registry.registry_client(ALICE)
    repo = client.repository(RegistryReference(HOST, REPO))
    repo.resolve("v1")  # caches a pull token for this host's realm
    # A write whose scopes the client under-declares: the registry names the missing scope.
    url = f"http://{HOST}/v2/{REPO}/blobs/uploads/"
    reply = client.request("POST", url, scopes=(f"repository:{REPO}:pull",))
    assert reply.status == 202
    last_token = registry.token_requests[-1]
    assert last_token.url.params.get_list("scope") == [f"repository:{REPO}:pull,push"]
    challenged = [r for r in registry.requests if r.url.path.endswith("/uploads/")]
    assert len(challenged) == 2


def test_bearer_denied_push_is_an_authentication_error() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer", anonymous_pull=True)
    subject = image(registry)
    client, _ = registry.registry_client(None)
    repo = client.repository(RegistryReference(HOST, REPO))
    assert repo.resolve("v1") == subject  # anonymous pull works
    assert "authorization" not in registry.token_requests[0].headers
    with pytest.raises(AuthenticationError, match="401 UNAUTHORIZED"):
        repo.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)


def test_identity_token_uses_oauth2_refresh_grant() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer", refresh_tokens={"idtok": "alice"})
    subject = image(registry)
    client, _ = registry.registry_client(StaticCredentials({HOST: Credential(refresh_token="idtok")}))
    assert client.repository(RegistryReference(HOST, REPO)).resolve("v1") == subject
    request = registry.token_requests[0]
    assert request.method == "POST"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "idtok"
    assert form["service"] == SERVICE
    assert form["scope"] == f"repository:{REPO}:pull"
    assert form["client_id"] == "notation"


def test_registry_token_is_sent_as_is() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer")
    image(registry)
    registry.tokens["static"] = Token((f"repository:{REPO}:pull",), "alice")
    client, _ = registry.registry_client(StaticCredentials({HOST: Credential(access_token="static")}))
    client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert registry.token_requests == []
    assert registry.requests[-1].headers["authorization"] == "Bearer static"


def test_expired_token_is_fetched_again() -> None:
    registry = OCIRegistry(referrers_api=False, auth="bearer")
    image(registry)
    client, _ = registry.registry_client(ALICE)
    now = [1000.0]
    client.auth._clock = lambda: now[0]
    repo = client.repository(RegistryReference(HOST, REPO))
    repo.resolve("v1")
    repo.resolve("v1")
    assert len(registry.token_requests) == 1
    now[0] += 300  # expires_in is 300 s: gone (leeway included)
    repo.resolve("v1")
    assert len(registry.token_requests) == 2


def test_credentials_are_not_sent_to_a_plain_http_realm_of_an_https_registry() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            raise AssertionError("credentials must not be sent")
        challenge = f'Bearer realm="http://auth.test/token",service="{SERVICE}"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    client = RegistryClient(RegistryOptions(), ALICE, transport=httpx.MockTransport(handler))
    with pytest.raises(AuthenticationError, match="refusing to send credentials"):
        client.ping(HOST)
    assert TOKEN_REALM.startswith("https://")
