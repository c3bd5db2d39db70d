"""The registry client keeps to an overall deadline: requests, retries, ``Retry-After``, tokens."""

from __future__ import annotations

import httpx
import pytest

from notation_py.deadline import Deadline, deadline_scope
from notation_py.errors import DeadlineExceededError
from notation_py.oci.reference import RegistryReference
from notation_py.oci.registry import RegistryClient, RegistryOptions, StaticCredentials
from notation_py.oci.registry.credentials import Credential
from tests.oci.registry.test_repository import REPO, image
from tests.registry.oci_registry import HOST, TOKEN_REALM, OCIRegistry


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(
    registry: OCIRegistry, time: FakeTime, deadline: Deadline | None, credentials: StaticCredentials | None = None
) -> RegistryClient:
    return RegistryClient(
        RegistryOptions(insecure_registries=(HOST,)),
        credentials,
        transport=httpx.MockTransport(registry.handle),
        sleep=time.sleep,
        jitter=lambda: 0.5,
        deadline=deadline,
    )


def busy(retry_after: str | None) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": retry_after} if retry_after is not None else {})


def test_a_retry_after_past_the_deadline_fails_at_once() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    image(registry)
    registry.options.intercept = lambda _request: busy("30")
    client = client_for(registry, time, Deadline(2, "verification of x", setting="--timeout", clock=time.clock))
    with pytest.raises(DeadlineExceededError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert info.value.message == (
        "verification of x did not finish within the 2 s deadline (--timeout): resolving registry.test/demo:v1: "
        "registry registry.test answered 503 Service Unavailable; waiting 30 s before trying again would pass the deadline"
    )
    assert (info.value.operation, info.value.seconds) == ("verification of x", 2.0)
    assert time.sleeps == []
    assert len(registry.requests) == 1


def test_retries_that_fit_in_the_deadline_still_happen() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    desc = image(registry)
    answers = [busy("1"), busy(None)]
    registry.options.intercept = lambda _request: answers.pop(0) if answers else None
    client = client_for(registry, time, Deadline(5, clock=time.clock))
    assert client.repository(RegistryReference(HOST, REPO)).resolve("v1") == desc
    assert time.sleeps == [1.0, 0.75]


def test_a_backoff_past_the_deadline_fails_at_once() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    image(registry)
    registry.options.intercept = lambda _request: busy(None)
    client = client_for(registry, time, Deadline(1, clock=time.clock))
    with pytest.raises(DeadlineExceededError, match=r"waiting 0\.75 s before trying again would pass the deadline"):
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert time.sleeps == [0.375]  # fits in 1 s; the next backoff, 0.75 s, would end past it


def test_nothing_is_sent_once_the_deadline_has_passed() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    image(registry)
    deadline = Deadline(2, "listing the signatures of x", clock=time.clock)
    time.now += 2
    client = client_for(registry, time, deadline)
    with pytest.raises(DeadlineExceededError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert info.value.message == (
        "listing the signatures of x did not finish within the 2 s deadline: "
        "resolving registry.test/demo:v1 was still in progress"
    )
    assert registry.requests == []


def test_request_timeouts_are_capped_at_the_time_left() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    image(registry)
    seen: list[dict[str, float]] = []

    def record(request: httpx.Request) -> None:
        seen.append(dict(request.extensions["timeout"]))

    registry.options.intercept = record  # returns None: the registry answers
    client_for(registry, time, None).repository(RegistryReference(HOST, REPO)).resolve("v1")
    client_for(registry, time, Deadline(4, clock=time.clock)).repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert seen == [
        {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0},
        {"connect": 4.0, "read": 4.0, "write": 4.0, "pool": 4.0},
    ]


def test_the_operations_deadline_reaches_the_client_and_the_earliest_wins() -> None:
    registry, time = OCIRegistry(referrers_api=False), FakeTime()
    desc = image(registry)
    seen: list[float] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.extensions["timeout"]["read"])

    registry.options.intercept = record
    repo = client_for(registry, time, Deadline(3, clock=time.clock)).repository(RegistryReference(HOST, REPO))
    with deadline_scope(Deadline(100, clock=time.clock)):
        assert repo.resolve("v1") == desc
    with deadline_scope(Deadline(1, clock=time.clock)):
        assert repo.resolve("v1") == desc
    passed = Deadline(1, clock=time.clock)
    time.now += 1
    with deadline_scope(passed), pytest.raises(DeadlineExceededError):
        repo.resolve("v1")
    assert seen == [3.0, 1.0]


def test_token_fetches_keep_to_the_deadline() -> None:
    registry, time = OCIRegistry(referrers_api=False, auth="bearer"), FakeTime()
    image(registry)
    token_service = httpx.URL(TOKEN_REALM).host
    registry.options.intercept = lambda request: busy("30") if request.url.host == token_service else None
    credentials = StaticCredentials({HOST: Credential("alice", "secret")})
    client = client_for(registry, time, Deadline(2, clock=time.clock), credentials)
    with pytest.raises(DeadlineExceededError) as info:
        client.repository(RegistryReference(HOST, REPO)).resolve("v1")
    assert "fetching a token from https://auth.test/token: the token service answered 503" in info.value.message
    assert time.sleeps == []
