"""Pure CRL validation and evaluation (no network)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from notation_py.errors import RevocationError
from notation_py.revocation import CRLBundle, Result
from notation_py.revocation.crl import evaluate_bundle, validate_bundle, validate_crl
from tests.revocation.pki import Node, Revoked, make_cert, make_crl, now

HOLD = x509.ReasonFlags.certificate_hold
REMOVE = x509.ReasonFlags.remove_from_crl


@pytest.fixture(scope="module")
def ca() -> Node:
    return make_cert("CRL CA", None, ca=True)


@pytest.fixture(scope="module")
def leaf(ca: Node) -> Node:
    return make_cert("CRL Leaf", ca, ca=False)


def bundle(base: bytes, delta: bytes | None = None) -> CRLBundle:
    return CRLBundle.from_der(base, delta)


def test_validate_accepts_a_fresh_crl(ca: Node) -> None:
    assert validate_bundle(bundle(make_crl(ca)), ca.cert, now()) is False


def test_validate_reports_expiry_separately(ca: Node) -> None:
    stale = make_crl(ca, this_update=now() - dt.timedelta(days=2), next_update=now() - dt.timedelta(days=1))
    assert validate_bundle(bundle(stale), ca.cert, now()) is True


def test_validate_rejects_wrong_issuer(ca: Node) -> None:
    other = make_cert("Other CA", None, ca=True)
    with pytest.raises(RevocationError, match="does not match certificate issuer"):
        validate_bundle(bundle(make_crl(ca)), other.cert, now())


def test_validate_rejects_non_ca_issuer(ca: Node, leaf: Node) -> None:
    with pytest.raises(RevocationError, match="not a CA"):
        validate_crl(x509.load_der_x509_crl(make_crl(leaf)), leaf.cert)


def test_validate_rejects_unknown_critical_extension(ca: Node) -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    with pytest.raises(RevocationError, match=r"unsupported critical extension found in CRL: 1\.2\.3\.4"):
        validate_bundle(bundle(make_crl(ca, extra_extensions=[(odd, True)])), ca.cert, now())
    assert validate_bundle(bundle(make_crl(ca, extra_extensions=[(odd, False)])), ca.cert, now()) is False


def test_validate_rejects_delta_crl_as_base(ca: Node) -> None:
    with pytest.raises(RevocationError, match="is a delta CRL"):
        validate_bundle(bundle(make_crl(ca, number=5, delta_indicator=4)), ca.cert, now())


@pytest.mark.parametrize(
    ("base_number", "delta_number", "indicator", "message"),
    [
        (5, 5, 4, "delta CRL number 5 is not greater than the base CRL number 5"),
        (5, 7, 6, "delta CRL indicator 6 is not less than or equal to the base CRL number 5"),
    ],
)
def test_validate_delta_numbering(ca: Node, base_number: int, delta_number: int, indicator: int, message: str) -> None:
    base = make_crl(ca, number=base_number)
    delta = make_crl(ca, number=delta_number, delta_indicator=indicator)
    with pytest.raises(RevocationError, match=message):
        validate_bundle(bundle(base, delta), ca.cert, now())


def test_validate_delta_needs_indicator_and_signature(ca: Node) -> None:
    base = make_crl(ca, number=5)
    with pytest.raises(RevocationError, match="delta CRL indicator extension is not found"):
        validate_bundle(bundle(base, make_crl(ca, number=6)), ca.cert, now())
    forged = make_crl(ca, number=6, delta_indicator=5, signing_key=make_cert("x", None, ca=True).key)
    with pytest.raises(RevocationError, match="failed to validate delta CRL"):
        validate_bundle(bundle(base, forged), ca.cert, now())
    assert validate_bundle(bundle(base, make_crl(ca, number=6, delta_indicator=5)), ca.cert, now()) is False


def test_evaluate_reason_and_times(ca: Node, leaf: Node) -> None:
    when = (now() - dt.timedelta(hours=3)).replace(microsecond=0)
    crl = make_crl(ca, [Revoked(leaf.serial, x509.ReasonFlags.key_compromise, when=when)])
    result = evaluate_bundle(leaf.cert, bundle(crl), url="http://crl")
    assert result.result is Result.REVOKED
    assert result.reason == "keyCompromise"
    assert result.revocation_time == when
    assert result.server == "http://crl"


@pytest.mark.parametrize(
    ("base_entries", "delta_entries", "expected"),
    [
        ([HOLD], [], Result.REVOKED),
        ([REMOVE], [], Result.OK),
        ([HOLD], [REMOVE], Result.OK),  # released later
        ([REMOVE], [HOLD], Result.REVOKED),  # held again later
        ([None], [REMOVE], Result.REVOKED),  # permanent revocation wins
        ([], [x509.ReasonFlags.cessation_of_operation], Result.REVOKED),
        ([], [], Result.OK),
    ],
)
def test_evaluate_hold_and_remove(
    ca: Node,
    leaf: Node,
    base_entries: list[x509.ReasonFlags | None],
    delta_entries: list[x509.ReasonFlags | None],
    expected: Result,
) -> None:
    base = make_crl(ca, [Revoked(leaf.serial, r, when=now() - dt.timedelta(hours=2)) for r in base_entries], number=1)
    delta = make_crl(
        ca,
        [Revoked(leaf.serial, r, when=now() - dt.timedelta(hours=1)) for r in delta_entries],
        number=2,
        delta_indicator=1,
    )
    assert evaluate_bundle(leaf.cert, bundle(base, delta)).result is expected


def test_evaluate_invalidity_date(ca: Node, leaf: Node) -> None:
    invalid_since = now() - dt.timedelta(days=1)
    crl = bundle(make_crl(ca, [Revoked(leaf.serial, invalidity=invalid_since)]))
    assert evaluate_bundle(leaf.cert, crl, signing_time=invalid_since - dt.timedelta(seconds=1)).result is Result.OK
    assert evaluate_bundle(leaf.cert, crl, signing_time=invalid_since + dt.timedelta(days=0, seconds=1)).result is (
        Result.REVOKED
    )
    assert evaluate_bundle(leaf.cert, crl).result is Result.REVOKED


def test_evaluate_rejects_unknown_critical_entry_extension(ca: Node, leaf: Node) -> None:
    issuer_ext = x509.CertificateIssuer([x509.DNSName("other.example")])
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(leaf.serial)
        .revocation_date(now() - dt.timedelta(hours=1))
        .add_extension(issuer_ext, critical=True)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now() - dt.timedelta(minutes=1))
        .next_update(now() + dt.timedelta(hours=1))
        .add_revoked_certificate(entry)
        .sign(ca.key, hashes.SHA256())
    )
    with pytest.raises(RevocationError, match="unsupported critical extension"):
        evaluate_bundle(leaf.cert, CRLBundle.from_der(crl.public_bytes(serialization.Encoding.DER)))


def test_bundle_from_der_rejects_garbage() -> None:
    with pytest.raises(RevocationError, match="failed to parse CRL"):
        CRLBundle.from_der(b"junk")
