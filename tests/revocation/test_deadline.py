"""Revocation lookups keep to the operation's deadline, also in the checker's worker threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.x509 import ocsp

from notation_py.deadline import Deadline, deadline_scope
from notation_py.errors import DeadlineExceededError
from notation_py.revocation import HttpxTransport, Result, RevocationChecker
from tests.revocation.pki import make_crl, make_ocsp_response, make_pki
from tests.revocation.server import Request, RevocationServer

pytestmark = pytest.mark.real_server

#: How long the slow responder takes: longer than the deadlines below, shorter than the lookups' own timeouts.
SLOW = 3.0


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Set at teardown, so that slow handlers stop waiting."""
    event = threading.Event()
    yield event
    event.set()


def test_a_lookup_stops_at_the_deadline_not_at_its_own_timeout(
    server: RevocationServer, transport: HttpxTransport, released: threading.Event
) -> None:
    def slow(_request: Request) -> tuple[int, bytes]:
        released.wait(SLOW)
        return 200, b"late"

    server.serve("/crl/slow.crl", slow)
    url = f"{server.base_url}/crl/slow.crl"
    started = time.monotonic()
    with deadline_scope(Deadline(0.5, "verification of x")), pytest.raises(DeadlineExceededError) as info:
        transport.get(url, timeout=5.0, max_bytes=1024)
    assert time.monotonic() - started < 2.0
    assert info.value.message == (
        f"verification of x did not finish within the 0.5 s deadline: checking revocation (GET {url}) was still in progress"
    )
    assert transport.get(url, timeout=5.0, max_bytes=1024) == b"late"  # no deadline: its own timeout


def test_the_checkers_worker_threads_keep_to_the_deadline(
    server: RevocationServer, transport: HttpxTransport, released: threading.Event
) -> None:
    """The leaf and the intermediate are checked in two threads; a passed deadline is no "unknown" status."""
    pki = make_pki(server.base_url, intermediate_ocsp=True)

    def slow_good(request: Request) -> tuple[int, bytes]:
        released.wait(SLOW)
        issuer = pki.intermediate if request.route == "/ocsp/int" else pki.root
        cert = pki.leaf if request.route == "/ocsp/int" else pki.intermediate
        return 200, make_ocsp_response(cert.cert, issuer, ocsp.OCSPCertStatus.GOOD)

    server.serve("/ocsp/int", slow_good)
    server.serve("/ocsp/root", slow_good)
    server.serve("/crl/int.crl", make_crl(pki.intermediate))
    checker = RevocationChecker(transport=transport, ocsp_timeout=5.0, crl_timeout=5.0)
    started = time.monotonic()
    with deadline_scope(Deadline(1, "verification of x")), pytest.raises(DeadlineExceededError):
        checker.check_chain(pki.chain)
    assert time.monotonic() - started < 2.5
    released.set()
    assert checker.check_chain(pki.chain).result is Result.OK  # the same chain, without a deadline
