"""Pure OCSP request building and response evaluation (no network)."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp

from notation_py.errors import RevocationError
from notation_py.revocation import Result, RevocationMethod
from notation_py.revocation.ocsp import REVOKED_ERROR, UNKNOWN_STATUS_ERROR, build_request, evaluate_response, get_url
from tests.revocation.pki import Node, make_cert, make_ocsp_response, now, with_single_invalidity_date

GOOD = ocsp.OCSPCertStatus.GOOD


@pytest.fixture(scope="module")
def ca() -> Node:
    return make_cert("OCSP CA", None, ca=True)


@pytest.fixture(scope="module")
def leaf(ca: Node) -> Node:
    return make_cert("OCSP Leaf", ca, ca=False)


def test_request_uses_sha1_cert_id_by_default(ca: Node, leaf: Node) -> None:
    request = ocsp.load_der_ocsp_request(build_request(leaf.cert, ca.cert))
    assert isinstance(request.hash_algorithm, hashes.SHA1)
    assert request.serial_number == leaf.serial
    sha256 = ocsp.load_der_ocsp_request(build_request(leaf.cert, ca.cert, hashes.SHA256()))
    assert isinstance(sha256.hash_algorithm, hashes.SHA256)


def test_get_url() -> None:
    request = bytes(range(60))
    url = get_url("http://ocsp.example/path/", request)
    assert url is not None and url.startswith("http://ocsp.example/path/")
    assert base64.b64decode(unquote(url.rsplit("/", 1)[1])) == request
    assert "/" not in url.removeprefix("http://ocsp.example/path/")  # '/' of base64 is escaped
    assert get_url("http://ocsp.example", bytes(200)) is None  # base64 too long: POST


def test_good(ca: Node, leaf: Node) -> None:
    result = evaluate_response(make_ocsp_response(leaf.cert, ca, GOOD), leaf.cert, ca.cert, server="http://o")
    assert (result.result, result.server, result.method) == (Result.OK, "http://o", RevocationMethod.OCSP)


def test_response_with_sha256_cert_id(ca: Node, leaf: Node) -> None:
    response = make_ocsp_response(leaf.cert, ca, GOOD, hash_algorithm=hashes.SHA256(), by_name=True)
    assert evaluate_response(response, leaf.cert, ca.cert).result is Result.OK


def test_unknown_and_revoked(ca: Node, leaf: Node) -> None:
    unknown = evaluate_response(make_ocsp_response(leaf.cert, ca, ocsp.OCSPCertStatus.UNKNOWN), leaf.cert, ca.cert)
    assert (unknown.result, unknown.error) == (Result.UNKNOWN, UNKNOWN_STATUS_ERROR)
    when = (now() - dt.timedelta(days=2)).replace(microsecond=0)
    revoked = evaluate_response(
        make_ocsp_response(leaf.cert, ca, ocsp.OCSPCertStatus.REVOKED, revocation_time=when), leaf.cert, ca.cert
    )
    assert (revoked.result, revoked.error, revoked.revocation_time) == (Result.REVOKED, REVOKED_ERROR, when)


def test_invalidity_date(ca: Node, leaf: Node) -> None:
    invalid_since = (now() - dt.timedelta(days=1)).replace(microsecond=0)
    response = with_single_invalidity_date(
        make_ocsp_response(leaf.cert, ca, ocsp.OCSPCertStatus.REVOKED), ca, invalid_since
    )
    before = evaluate_response(response, leaf.cert, ca.cert, signing_time=invalid_since - dt.timedelta(seconds=1))
    assert before.result is Result.OK and before.invalidity_date == invalid_since
    after = evaluate_response(response, leaf.cert, ca.cert, signing_time=invalid_since + dt.timedelta(seconds=1))
    assert after.result is Result.REVOKED


def test_response_for_another_issuer_with_same_serial(ca: Node, leaf: Node) -> None:
    other_ca = make_cert("Other CA", None, ca=True)
    twin = make_cert("OCSP Leaf", other_ca, ca=False, serial=leaf.serial)
    # same serial number, but the CertID names another issuer (Go's x/crypto would accept it)
    response = make_ocsp_response(twin.cert, other_ca, GOOD)
    with pytest.raises(RevocationError, match="no response matching"):
        evaluate_response(response, leaf.cert, ca.cert)


def test_clock_is_honoured(ca: Node, leaf: Node) -> None:
    response = make_ocsp_response(leaf.cert, ca, GOOD)
    assert evaluate_response(response, leaf.cert, ca.cert, now=now()).result is Result.OK
    with pytest.raises(RevocationError, match="expired OCSP response"):
        evaluate_response(response, leaf.cert, ca.cert, now=now() + dt.timedelta(hours=2))
    with pytest.raises(RevocationError, match="in the future"):
        evaluate_response(response, leaf.cert, ca.cert, now=now() - dt.timedelta(hours=1))


def test_garbage(ca: Node, leaf: Node) -> None:
    with pytest.raises(RevocationError, match="failed to parse OCSP response"):
        evaluate_response(b"\x30\x03\x0a\x01\x00", leaf.cert, ca.cert)


def test_rsa_issuer(leaf: Node) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_ca = make_cert("RSA CA", None, ca=True, key=key)
    rsa_leaf = make_cert("RSA Leaf", rsa_ca, ca=False)
    response = make_ocsp_response(rsa_leaf.cert, rsa_ca, GOOD)
    assert evaluate_response(response, rsa_leaf.cert, rsa_ca.cert).result is Result.OK
    # a response signed by an unrelated EC key claiming the RSA CA's name
    impostor = make_cert("RSA CA", None, ca=True)
    forged = make_ocsp_response(rsa_leaf.cert, rsa_ca, GOOD, signer=impostor, by_name=True)
    with pytest.raises(RevocationError, match="bad OCSP signature"):
        evaluate_response(forged, rsa_leaf.cert, rsa_ca.cert)
