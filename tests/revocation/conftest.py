"""Fixtures for the revocation tests: a loopback HTTP server and checkers that talk to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from notation_py.revocation import HttpxTransport, RevocationChecker
from tests.revocation.server import RevocationServer


@pytest.fixture
def server() -> Iterator[RevocationServer]:
    srv = RevocationServer()
    yield srv
    srv.close()


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    # trust_env=False: never route loopback requests through a proxy from the environment.
    client = httpx.Client(trust_env=False)
    yield HttpxTransport(client)
    client.close()


@pytest.fixture
def checker(transport: HttpxTransport) -> RevocationChecker:
    return RevocationChecker(transport=transport, ocsp_timeout=2.0, crl_timeout=2.0)
