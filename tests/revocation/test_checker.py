"""End-to-end revocation checks against a real loopback HTTP server."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from notation_py.errors import RevocationError
from notation_py.revocation import (
    CRLBundle,
    FileCRLCache,
    HTTPCRLFetcher,
    HttpxTransport,
    Purpose,
    Result,
    RevocationChecker,
    RevocationMethod,
    check_chain,
    raise_for_result,
)
from notation_py.revocation import ocsp as ocsp_mod
from tests.revocation.pki import (
    Revoked,
    make_cert,
    make_crl,
    make_ocsp_response,
    make_pki,
    now,
    unsuccessful_ocsp_response,
    with_single_invalidity_date,
)
from tests.revocation.server import Request, RevocationServer, closed_port_url

pytestmark = pytest.mark.real_server

GOOD = ocsp.OCSPCertStatus.GOOD
REVOKED = ocsp.OCSPCertStatus.REVOKED
UNKNOWN = ocsp.OCSPCertStatus.UNKNOWN
LEAF_SUBJECT = "CN=Test Leaf,O=Notary,C=US"
INTERMEDIATE_SUBJECT = "CN=Test Intermediate,O=Notary,C=US"


# --- OCSP -------------------------------------------------------------------------------------


def test_ocsp_good(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url)
    seen: list[Request] = []

    def responder(request: Request) -> tuple[int, bytes]:
        seen.append(request)
        return 200, make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD)

    server.serve("/ocsp/int", responder)
    result = checker.check_chain(pki.chain)

    assert result.ok and result.result is Result.OK
    assert result.message is None
    raise_for_result(result)  # no error
    leaf, intermediate, root = result.cert_results
    assert leaf.result is Result.OK and leaf.method is RevocationMethod.OCSP
    assert leaf.server_results[0].server == f"{server.base_url}/ocsp/int"
    assert intermediate.result is Result.NON_REVOKABLE
    assert root.result is Result.NON_REVOKABLE
    # one GET whose path carries a SHA-1 CertID for the leaf; the CRL was not needed
    assert len(seen) == 1 and seen[0].method == "GET"
    request = seen[0].ocsp_request()
    assert request.serial_number == pki.leaf.serial
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert server.hits["/crl/int.crl"] == 0


def test_ocsp_revoked(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url)
    server.serve(
        "/ocsp/int",
        make_ocsp_response(pki.leaf.cert, pki.intermediate, REVOKED, reason=x509.ReasonFlags.key_compromise),
    )
    result = checker.check_chain(pki.chain)

    assert result.result is Result.REVOKED
    assert result.problematic_index == 0
    assert result.message == f'signing certificate with subject "{LEAF_SUBJECT}" is revoked'
    leaf = result.cert_results[0]
    assert leaf.method is RevocationMethod.OCSP
    assert leaf.server_results[0].reason == "keyCompromise"
    assert server.hits["/crl/int.crl"] == 0  # a definitive OCSP answer needs no CRL
    with pytest.raises(
        RevocationError, match=r'^signing certificate with subject "CN=Test Leaf,O=Notary,C=US" is revoked$'
    ):
        raise_for_result(result)


def test_ocsp_response_signed_by_wrong_key_is_unknown(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    impostor = make_cert("Test Intermediate", pki.root, ca=True)  # same name, other key
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD, signer=impostor, by_name=True))
    result = checker.check_chain(pki.chain)

    assert result.result is Result.UNKNOWN
    assert result.message == f'signing certificate with subject "{LEAF_SUBJECT}" revocation status is unknown'
    error = result.cert_results[0].error or ""
    assert "bad OCSP signature" in error


def test_ocsp_delegated_responder(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    responder = make_cert("Test OCSP Responder", pki.intermediate, ca=False, eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
    server.serve(
        "/ocsp/int",
        make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD, signer=responder, include_signer_cert=True),
    )
    assert checker.check_chain(pki.chain).result is Result.OK


def test_ocsp_delegated_responder_without_ocsp_signing_eku(
    server: RevocationServer, checker: RevocationChecker
) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    responder = make_cert("Test OCSP Responder", pki.intermediate, ca=False)  # codeSigning EKU only
    server.serve(
        "/ocsp/int",
        make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD, signer=responder, include_signer_cert=True),
    )
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "OCSPSigning" in (result.cert_results[0].error or "")


def test_ocsp_delegated_responder_issued_by_another_ca(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    other_ca = make_cert("Other CA", None, ca=True)
    responder = make_cert("Test OCSP Responder", other_ca, ca=False, eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
    server.serve(
        "/ocsp/int",
        make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD, signer=responder, include_signer_cert=True),
    )
    assert checker.check_chain(pki.chain).result is Result.UNKNOWN


@pytest.mark.parametrize(
    "kwargs",
    [
        {"next_update": now() - dt.timedelta(minutes=1), "this_update": now() - dt.timedelta(hours=2)},
        {"next_update": False},  # Go treats a missing nextUpdate as expired
        {"this_update": now() + dt.timedelta(hours=1), "next_update": now() + dt.timedelta(hours=2)},
    ],
    ids=["expired", "no-next-update", "this-update-in-future"],
)
def test_ocsp_stale_responses_are_unknown(
    server: RevocationServer, checker: RevocationChecker, kwargs: dict[str, object]
) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD, **kwargs))  # type: ignore[arg-type]
    assert checker.check_chain(pki.chain).result is Result.UNKNOWN


def test_ocsp_unsuccessful_and_mismatched_responses(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    server.serve("/ocsp/int", unsuccessful_ocsp_response(ocsp.OCSPResponseStatus.TRY_LATER))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "OCSP try later" in (result.cert_results[0].error or "")

    other = make_cert("Someone Else", pki.intermediate, ca=False)
    server.serve("/ocsp/int", make_ocsp_response(other.cert, pki.intermediate, GOOD))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "no response matching" in (result.cert_results[0].error or "")


def test_ocsp_first_responder_down_second_answers(server: RevocationServer, checker: RevocationChecker) -> None:
    with closed_port_url() as down:
        pki = make_pki(server.base_url, leaf_crl=False, leaf_ocsp_urls=[f"{down}/ocsp", f"{server.base_url}/ocsp/int"])
        server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD))
        result = checker.check_chain(pki.chain)
    assert result.result is Result.OK
    assert [r.server for r in result.cert_results[0].server_results] == [f"{server.base_url}/ocsp/int"]


def test_ocsp_non_http_url_is_unknown(checker: RevocationChecker) -> None:
    pki = make_pki("https://127.0.0.1:9", leaf_crl=False)
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "OCSPServer protocol https is not supported" in (result.cert_results[0].error or "")


def test_ocsp_post_for_long_requests(server: RevocationServer, transport: HttpxTransport) -> None:
    server.serve("/ocsp/int", b"answer")
    assert ocsp_mod.query(f"{server.base_url}/ocsp/int", b"\x30" * 300, transport) == b"answer"
    assert server.requests[-1].method == "POST" and server.requests[-1].body == b"\x30" * 300


def test_intermediate_checked_too(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, intermediate_ocsp=True)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD))
    server.serve("/ocsp/root", make_ocsp_response(pki.intermediate.cert, pki.root, REVOKED))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.REVOKED
    assert result.problematic_index == 1
    assert result.message == f'signing certificate with subject "{INTERMEDIATE_SUBJECT}" is revoked'


def test_revoked_wins_over_unknown_closer_to_leaf(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False, intermediate_ocsp=True)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, UNKNOWN))
    server.serve("/ocsp/root", make_ocsp_response(pki.intermediate.cert, pki.root, REVOKED))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.REVOKED
    assert result.problematic_subject == INTERMEDIATE_SUBJECT


# --- fallback ---------------------------------------------------------------------------------


def test_ocsp_unknown_falls_back_to_crl(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, UNKNOWN))
    server.serve("/crl/int.crl", make_crl(pki.intermediate))
    result = checker.check_chain(pki.chain)

    assert result.result is Result.OK
    leaf = result.cert_results[0]
    assert leaf.method is RevocationMethod.OCSP_FALLBACK_CRL
    assert [(r.method, r.result) for r in leaf.server_results] == [
        (RevocationMethod.OCSP, Result.UNKNOWN),
        (RevocationMethod.CRL, Result.OK),
    ]
    assert leaf.server_results[0].error == ocsp_mod.UNKNOWN_STATUS_ERROR


def test_ocsp_unknown_falls_back_to_crl_that_revokes(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, UNKNOWN))
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)]))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.REVOKED
    assert result.cert_results[0].method is RevocationMethod.OCSP_FALLBACK_CRL


def test_ocsp_server_down_falls_back_to_crl(server: RevocationServer, checker: RevocationChecker) -> None:
    with closed_port_url() as down:
        pki = make_pki(server.base_url, leaf_ocsp_urls=[f"{down}/ocsp"])
        server.serve("/crl/int.crl", make_crl(pki.intermediate))
        result = checker.check_chain(pki.chain)
    assert result.result is Result.OK
    assert result.cert_results[0].method is RevocationMethod.OCSP_FALLBACK_CRL


def test_both_down_is_unknown(checker: RevocationChecker) -> None:
    with closed_port_url() as down:
        pki = make_pki(down)
        result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert result.message == f'signing certificate with subject "{LEAF_SUBJECT}" revocation status is unknown'
    leaf = result.cert_results[0]
    assert leaf.method is RevocationMethod.OCSP_FALLBACK_CRL
    assert all(r.result is Result.UNKNOWN and r.error for r in leaf.server_results)
    with pytest.raises(RevocationError, match="revocation status is unknown"):
        raise_for_result(result)


def test_timeouts_are_unknown(server: RevocationServer, transport: HttpxTransport) -> None:
    pki = make_pki(server.base_url)

    def slow(_request: Request) -> tuple[int, bytes]:
        time.sleep(1.0)
        return 200, b""

    server.serve("/ocsp/int", slow)
    server.serve("/crl/int.crl", slow)
    checker = RevocationChecker(transport=transport, ocsp_timeout=0.2, crl_timeout=0.2)
    started = time.monotonic()
    result = checker.check_chain(pki.chain)
    assert time.monotonic() - started < 0.9
    assert result.result is Result.UNKNOWN
    assert "timeout" in (result.cert_results[0].error or "")


# --- CRL --------------------------------------------------------------------------------------


def test_crl_revoked(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve(
        "/crl/int.crl",
        make_crl(
            pki.intermediate, [Revoked(pki.leaf.serial + 1), Revoked(pki.leaf.serial, x509.ReasonFlags.superseded)]
        ),
    )
    result = checker.check_chain(pki.chain)
    assert result.result is Result.REVOKED
    leaf = result.cert_results[0]
    assert leaf.method is RevocationMethod.CRL
    assert leaf.server_results[0].reason == "superseded"
    assert leaf.server_results[0].server == f"{server.base_url}/crl/int.crl"


def test_crl_good(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [Revoked(pki.leaf.serial + 1)]))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.OK
    assert result.cert_results[0].method is RevocationMethod.CRL


def test_expired_crl(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    past = {"this_update": now() - dt.timedelta(days=2), "next_update": now() - dt.timedelta(days=1)}
    server.serve("/crl/int.crl", make_crl(pki.intermediate, **past))  # type: ignore[arg-type]
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "expired CRL" in (result.cert_results[0].error or "")

    # Spec: an expired CRL listing the certificate for a reason other than certificateHold revokes it.
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)], **past))  # type: ignore[arg-type]
    assert checker.check_chain(pki.chain).result is Result.REVOKED

    hold = Revoked(pki.leaf.serial, x509.ReasonFlags.certificate_hold)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [hold], **past))  # type: ignore[arg-type]
    assert checker.check_chain(pki.chain).result is Result.UNKNOWN


def test_crl_with_bad_signature(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    impostor = make_cert("Test Intermediate", pki.root, ca=True)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, signing_key=impostor.key))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "CRL is not signed by CA" in (result.cert_results[0].error or "")


def test_crl_http_errors_and_garbage(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    result = checker.check_chain(pki.chain)  # 404
    assert result.result is Result.UNKNOWN
    assert "404" in (result.cert_results[0].error or "")
    server.serve("/crl/int.crl", b"not a crl")
    assert checker.check_chain(pki.chain).result is Result.UNKNOWN


def test_crl_size_limit(server: RevocationServer, transport: HttpxTransport) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve("/crl/int.crl", make_crl(pki.intermediate))
    fetcher = HTTPCRLFetcher(transport, max_size=100)
    result = RevocationChecker(transport=transport, crl_fetcher=fetcher).check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "limit" in (result.cert_results[0].error or "")


def test_delta_crl_from_base_crl_lists_the_certificate(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, number=10, freshest_urls=[f"{server.base_url}/crl/delta"]))
    server.serve("/crl/delta", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)], number=11, delta_indicator=10))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.REVOKED
    assert server.hits["/crl/delta"] == 1


def test_delta_crl_from_certificate_extension(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False, leaf_freshest=[f"{server.base_url}/crl/delta"])
    server.serve("/crl/int.crl", make_crl(pki.intermediate, number=10))
    server.serve("/crl/delta", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)], number=11, delta_indicator=10))
    assert checker.check_chain(pki.chain).result is Result.REVOKED


def test_delta_crl_unavailable_is_unknown(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, number=10, freshest_urls=[f"{server.base_url}/crl/delta"]))
    result = checker.check_chain(pki.chain)
    assert result.result is Result.UNKNOWN
    assert "delta CRL" in (result.cert_results[0].error or "")


def test_delta_crl_removes_hold(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    held = Revoked(pki.leaf.serial, x509.ReasonFlags.certificate_hold, when=now() - dt.timedelta(hours=2))
    released = Revoked(pki.leaf.serial, x509.ReasonFlags.remove_from_crl, when=now() - dt.timedelta(hours=1))
    server.serve(
        "/crl/int.crl", make_crl(pki.intermediate, [held], number=10, freshest_urls=[f"{server.base_url}/crl/delta"])
    )
    server.serve("/crl/delta", make_crl(pki.intermediate, [released], number=11, delta_indicator=10))
    assert checker.check_chain(pki.chain).result is Result.OK
    # without the delta the hold stands
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [held], number=10))
    assert checker.check_chain(pki.chain).result is Result.REVOKED


def test_crl_alternative_uris_in_one_distribution_point(server: RevocationServer, checker: RevocationChecker) -> None:
    ldap = "ldap://ldap.example/cn=Test%20Intermediate?certificateRevocationList"
    pki = make_pki(server.base_url, leaf_ocsp=False, leaf_crl_urls=[ldap, f"{server.base_url}/crl/int.crl"])
    server.serve("/crl/int.crl", make_crl(pki.intermediate))
    assert checker.check_chain(pki.chain).result is Result.OK


def test_every_distribution_point_must_answer(server: RevocationServer, checker: RevocationChecker) -> None:
    root = make_cert("Test Root", None, ca=True)
    intermediate = make_cert("Test Intermediate", root, ca=True)
    leaf = make_cert(
        "Test Leaf",
        intermediate,
        ca=False,
        crl_url_groups=[[f"{server.base_url}/crl/int.crl"], [f"{server.base_url}/crl/part2.crl"]],
    )
    chain = [leaf.cert, intermediate.cert, root.cert]
    server.serve("/crl/int.crl", make_crl(intermediate))
    assert checker.check_chain(chain).result is Result.UNKNOWN  # part2 missing
    server.serve("/crl/part2.crl", make_crl(intermediate, [Revoked(leaf.serial)]))
    assert checker.check_chain(chain).result is Result.REVOKED
    server.serve("/crl/part2.crl", make_crl(intermediate))
    result = checker.check_chain(chain)
    assert result.result is Result.OK
    assert len(result.cert_results[0].server_results) == 2


# --- authentic signing time -------------------------------------------------------------------


def test_ocsp_invalidity_date_after_signing_time(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_crl=False)
    signing_time = now() - dt.timedelta(days=3)
    revoked = make_ocsp_response(pki.leaf.cert, pki.intermediate, REVOKED)
    server.serve("/ocsp/int", with_single_invalidity_date(revoked, pki.intermediate, now() - dt.timedelta(days=1)))
    assert checker.check_chain(pki.chain, authentic_signing_time=signing_time).result is Result.OK
    assert checker.check_chain(pki.chain).result is Result.REVOKED  # no signing time: revoked
    later = now() - dt.timedelta(hours=1)  # signed after the key became invalid
    assert checker.check_chain(pki.chain, authentic_signing_time=later).result is Result.REVOKED


def test_ocsp_revocation_time_alone_is_not_compared(server: RevocationServer, checker: RevocationChecker) -> None:
    # Go and the spec compare the invalidity date only: a revocation without one always revokes.
    pki = make_pki(server.base_url, leaf_crl=False)
    server.serve(
        "/ocsp/int",
        make_ocsp_response(pki.leaf.cert, pki.intermediate, REVOKED, revocation_time=now() - dt.timedelta(hours=1)),
    )
    signing_time = now() - dt.timedelta(days=3)
    assert checker.check_chain(pki.chain, authentic_signing_time=signing_time).result is Result.REVOKED


def test_crl_invalidity_date_after_signing_time(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, leaf_ocsp=False)
    entry = Revoked(pki.leaf.serial, x509.ReasonFlags.key_compromise, invalidity=now() - dt.timedelta(days=1))
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [entry]))
    naive_signing_time = (now() - dt.timedelta(days=3)).replace(tzinfo=None)  # naive = UTC
    assert checker.check_chain(pki.chain, authentic_signing_time=naive_signing_time).result is Result.OK
    assert checker.check_chain(pki.chain).result is Result.REVOKED
    assert checker.check_chain(pki.chain, authentic_signing_time=now()).result is Result.REVOKED

    no_invalidity = Revoked(pki.leaf.serial, when=now() - dt.timedelta(hours=1))
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [no_invalidity]))
    assert checker.check_chain(pki.chain, authentic_signing_time=now() - dt.timedelta(days=3)).result is Result.REVOKED


# --- chain shapes and purposes ----------------------------------------------------------------


def test_certificates_without_urls_are_non_revokable(checker: RevocationChecker) -> None:
    pki = make_pki("http://127.0.0.1:9", leaf_ocsp=False, leaf_crl=False)
    result = checker.check_chain(pki.chain)
    assert result.result is Result.OK
    assert [r.result for r in result.cert_results] == [Result.NON_REVOKABLE] * 3


def test_self_signed_leaf_is_non_revokable(checker: RevocationChecker) -> None:
    leaf = make_cert("Self Signed", None, ca=False, ocsp_urls=["http://127.0.0.1:9/ocsp"])
    result = checker.check_chain([leaf.cert])
    assert result.result is Result.OK
    assert result.cert_results[0].result is Result.NON_REVOKABLE


def test_invalid_chain_is_an_error(checker: RevocationChecker) -> None:
    pki = make_pki("http://127.0.0.1:9")
    with pytest.raises(RevocationError, match=r"^invalid chain: expected chain to be correct and complete: "):
        checker.check_chain([pki.leaf.cert, pki.root.cert])
    with pytest.raises(RevocationError, match="chain does not contain any certificates"):
        checker.check_chain([])
    # callers that validated the chain already may skip the rules
    result = checker.check_chain([pki.leaf.cert, pki.intermediate.cert], validate_chain=False)
    assert result.result is Result.UNKNOWN


def test_timestamping_chain_message(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url, timestamping=True)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, REVOKED))
    result = checker.check_chain(pki.chain, purpose=Purpose.TIMESTAMPING)
    assert result.message == f'timestamping certificate with subject "{LEAF_SUBJECT}" is revoked'
    # a timestamping chain fails the code-signing rules
    with pytest.raises(RevocationError, match="invalid chain"):
        checker.check_chain(pki.chain, purpose=Purpose.CODE_SIGNING)


def test_module_level_check_chain_uses_given_checker(server: RevocationServer, checker: RevocationChecker) -> None:
    pki = make_pki(server.base_url)
    server.serve("/ocsp/int", make_ocsp_response(pki.leaf.cert, pki.intermediate, GOOD))
    assert check_chain(pki.chain, checker=checker).ok


# --- CRL cache --------------------------------------------------------------------------------


def test_cache_hit_avoids_second_download(server: RevocationServer, transport: HttpxTransport, tmp_path: Path) -> None:
    cache = FileCRLCache.in_cache_dir(tmp_path)
    pki = make_pki(server.base_url, leaf_ocsp=False)
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)]))

    first = RevocationChecker(transport=transport, crl_cache=cache).check_chain(pki.chain)
    assert first.result is Result.REVOKED
    assert server.hits["/crl/int.crl"] == 1
    assert cache.path_for(f"{server.base_url}/crl/int.crl").is_file()

    # a new checker over the same directory (a new process, as far as the cache knows)
    again = RevocationChecker(transport=transport, crl_cache=FileCRLCache(cache.root)).check_chain(pki.chain)
    assert again.result is Result.REVOKED
    assert server.hits["/crl/int.crl"] == 1


def test_corrupted_cache_file_is_ignored(server: RevocationServer, transport: HttpxTransport, tmp_path: Path) -> None:
    cache = FileCRLCache(tmp_path / "crl")
    pki = make_pki(server.base_url, leaf_ocsp=False)
    url = f"{server.base_url}/crl/int.crl"
    server.serve("/crl/int.crl", make_crl(pki.intermediate))
    cache.path_for(url).write_bytes(b"\x00garbage{")

    result = RevocationChecker(transport=transport, crl_cache=cache).check_chain(pki.chain)
    assert result.result is Result.OK
    assert server.hits["/crl/int.crl"] == 1
    assert cache.get(url) is not None  # repaired


def test_cached_crl_with_forged_signature_is_not_trusted(
    server: RevocationServer, transport: HttpxTransport, tmp_path: Path
) -> None:
    cache = FileCRLCache(tmp_path / "crl")
    pki = make_pki(server.base_url, leaf_ocsp=False)
    url = f"{server.base_url}/crl/int.crl"
    impostor = make_cert("Test Intermediate", pki.root, ca=True)
    cache.set(url, CRLBundle.from_der(make_crl(pki.intermediate, signing_key=impostor.key)))  # says "not revoked"
    server.serve("/crl/int.crl", make_crl(pki.intermediate, [Revoked(pki.leaf.serial)]))

    result = RevocationChecker(transport=transport, crl_cache=cache).check_chain(pki.chain)
    assert result.result is Result.REVOKED  # the forged cache entry was re-verified and replaced
    assert server.hits["/crl/int.crl"] == 1


def test_expired_cache_entry_is_refreshed(server: RevocationServer, transport: HttpxTransport, tmp_path: Path) -> None:
    cache = FileCRLCache(tmp_path / "crl")
    pki = make_pki(server.base_url, leaf_ocsp=False)
    url = f"{server.base_url}/crl/int.crl"
    stale = make_crl(
        pki.intermediate, this_update=now() - dt.timedelta(days=2), next_update=now() - dt.timedelta(days=1)
    )
    cache.set(url, CRLBundle.from_der(stale))
    server.serve("/crl/int.crl", make_crl(pki.intermediate))

    result = RevocationChecker(transport=transport, crl_cache=cache).check_chain(pki.chain)
    assert result.result is Result.OK
    assert server.hits["/crl/int.crl"] == 1
