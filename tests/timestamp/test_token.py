"""Parsing and verification of bare RFC 3161 ``TimeStampToken`` objects.

Three sources of tokens: the notation-go / notation-core-go vectors (GlobalSign tokens), tokens
issued by OpenSSL's TSA (``openssl ts -reply``) and tokens built in-test with asn1crypto for the
malformed or non-conforming cases OpenSSL refuses to produce.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from notation_py.errors import TimestampError
from notation_py.timestamp import (
    OID_BASELINE_TIMESTAMP_POLICY,
    SignedTokenError,
    TimestampInfo,
    TimestampParseError,
    TSAChainError,
    TSTInfoError,
    parse_timestamp_token,
)
from tests.conformance import vector
from tests.timestamp.tsa import NOW, TSA_POLICY, cn, issue, make_tsa, new_key, openssl_token, python_token

COUNTERSIGNATURES = "notation-go/timestamp/countersignature"


def load_cert(relative: str) -> x509.Certificate:
    """A DER or PEM certificate from the vectors."""
    data = vector(relative).read_bytes()
    if data.startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


@pytest.fixture(scope="module")
def globalsign_r6() -> x509.Certificate:
    """The notation-go ``tsa:test-timestamp`` root (GlobalSign Root CA - R6)."""
    return load_cert("notation-go/truststore/x509/tsa/test-timestamp/globalsignRoot.cer")


# -- conformance vectors ------------------------------------------------------------------------------


def test_globalsign_token_verifies(globalsign_r6: x509.Certificate) -> None:
    """``TimeStampToken.p7s`` timestamps the bytes ``notation`` (tspclient-go test data)."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampToken.p7s").read_bytes())
    assert len(token.certificates) == 4
    info = token.verify(b"notation", hashes.SHA256(), [globalsign_r6])
    assert info.gen_time == dt.datetime(2021, 9, 17, 14, 9, 10, tzinfo=dt.UTC)
    assert info.accuracy == dt.timedelta(seconds=1)
    assert info.policy == "1.3.6.1.4.1.4146.2.3"
    assert info.hash_algorithm == "2.16.840.1.101.3.4.2.1"
    assert info.serial_number == 508235283813477369370125082587339585794752419854
    assert str(info) == "timestamp range: [2021-09-17T14:09:09Z, 2021-09-17T14:09:11Z]"
    assert [c.subject.rfc4514_string() for c in info.tsa_chain] == [
        "CN=Globalsign TSA for Advanced - G4,O=GlobalSign nv-sa,C=BE",
        "CN=GlobalSign Timestamping CA - SHA384 - G4,O=GlobalSign nv-sa,C=BE",
        "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R6",
    ]


def test_globalsign_token_other_message(globalsign_r6: x509.Certificate) -> None:
    """A token over other data fails with tspclient-go's message."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampToken.p7s").read_bytes())
    with pytest.raises(TSTInfoError) as failure:
        token.verify(b"notation!", None, [globalsign_r6])
    assert failure.value.message == "invalid TSTInfo: mismatched message"


def test_expected_hash_algorithm_is_enforced_when_given(globalsign_r6: x509.Certificate) -> None:
    """Passing a hash algorithm requires the imprint to use it (notation-go itself does not)."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampToken.p7s").read_bytes())
    with pytest.raises(TSTInfoError, match="message imprint uses sha256, expected sha384"):
        token.verify(b"notation", hashes.SHA384(), [globalsign_r6])


def test_untrusted_root(globalsign_r6: x509.Certificate) -> None:
    """A root that does not anchor the chain: Go's ``unknown authority`` text."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampToken.p7s").read_bytes())
    digicert = load_cert("notation-go/truststore/x509/tsa/test-mismatch/DigiCertTSARootSHA384.cer")
    with pytest.raises(SignedTokenError) as failure:
        token.verify(b"notation", None, [digicert])
    assert failure.value.message == (
        "failed to verify signed token: cms verification failure: x509: certificate signed by unknown authority"
    )
    with pytest.raises(SignedTokenError, match="unknown authority"):
        token.verify(b"notation", None, [])


def test_core_go_token_with_invalid_signature(globalsign_r6: x509.Certificate) -> None:
    """notation-core-go's ``TimeStampTokenWithInvalidSignature.p7s`` must not verify.

    With the root core-go pairs it with (DigiCert) there is no path; with the token's own
    GlobalSign root the path builds and the RSA signature check fails.
    """
    data = vector("core-go/timestamp-token/TimeStampTokenWithInvalidSignature.p7s").read_bytes()
    token = parse_timestamp_token(data)
    digicert = load_cert("core-go/timestamp-token/tsaRootCert.cer")
    with pytest.raises(SignedTokenError, match="certificate signed by unknown authority"):
        token.verify(b"notation", None, [digicert])
    with pytest.raises(SignedTokenError) as failure:
        token.verify(b"notation", None, [globalsign_r6])
    assert failure.value.message == (
        "failed to verify signed token: cms verification failure: crypto/rsa: verification error"
    )


def test_token_without_certificate(globalsign_r6: x509.Certificate) -> None:
    """No embedded certificates: the ESS-identified signer cannot be found."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampTokenWithoutCertificate.p7s").read_bytes())
    assert token.certificates == ()
    with pytest.raises(SignedTokenError) as failure:
        token.verify(b"notation", None, [globalsign_r6])
    assert failure.value.message == (
        "failed to verify signed token: signing certificate not found in the timestamp token"
    )


def test_token_with_wrong_content_type() -> None:
    """eContentType id-data is rejected at parse time with notation-go's message."""
    data = vector(f"{COUNTERSIGNATURES}/TimeStampTokenWithInvalideContentType.p7s").read_bytes()
    with pytest.raises(TimestampParseError) as failure:
        parse_timestamp_token(data)
    assert failure.value.message == (
        "unexpected content type: 1.2.840.113549.1.7.1. Expected to be id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4)"
    )


def test_token_with_invalid_tstinfo(globalsign_r6: x509.Certificate) -> None:
    """The CMS layer parses; the TSTInfo does not (genTime encoded as a constructed value)."""
    token = parse_timestamp_token(vector(f"{COUNTERSIGNATURES}/TimeStampTokenWithInvalidTSTInfo.p7s").read_bytes())
    with pytest.raises(TSTInfoError) as failure:
        token.tst_info()
    assert failure.value.message.startswith("cannot unmarshal TSTInfo from timestamp token: ")
    with pytest.raises(TSTInfoError):
        token.verify(b"notation", None, [globalsign_r6])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "cms: syntax error: invalid content info"),
        (b"\x30\x03\x02\x01\x01", "cms: syntax error: invalid content info"),
        (bytes.fromhex("300f06092a864886f70d010701a0020400"), "cms: content type is not signed-data"),
    ],
)
def test_garbage_is_a_parse_error(data: bytes, expected: str) -> None:
    """Anything but SignedData is a :class:`TimestampParseError`, never another exception."""
    with pytest.raises(TimestampParseError, match=expected):
        parse_timestamp_token(data)


# -- OpenSSL-issued tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["rsa", "ec"])
@pytest.mark.parametrize("ess", ["sha256", None], ids=["ess-v2", "ess-v1"])
@pytest.mark.parametrize("intermediate", [False, True], ids=["root-issued", "with-intermediate"])
@pytest.mark.real_server
def test_openssl_token_verifies(tmp_path: Path, key: str, ess: str | None, intermediate: bool) -> None:
    """OpenSSL TSA tokens (RSA/ECDSA, ESS v1/v2, with and without an intermediate CA) verify."""
    tsa = make_tsa(key=key, intermediate=intermediate)
    message = b"primitive signature bytes"
    token = parse_timestamp_token(openssl_token(tsa, tmp_path, message, ess_cert_id_alg=ess))
    info = token.verify(message, hashes.SHA256(), [tsa.root])
    assert info.tsa_chain == tuple(tsa.chain)
    assert info.accuracy == dt.timedelta(seconds=1, milliseconds=500)
    assert info.policy == TSA_POLICY
    assert abs(info.gen_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert info.lower == info.gen_time - info.accuracy
    assert info.upper == info.gen_time + info.accuracy


@pytest.mark.parametrize("digest", ["sha384", "sha512"])
@pytest.mark.real_server
def test_openssl_token_other_imprint_hashes(tmp_path: Path, digest: str) -> None:
    """SHA-384/512 imprints are accepted; the imprint algorithm is the token's."""
    tsa = make_tsa()
    token = parse_timestamp_token(openssl_token(tsa, tmp_path, b"msg", digest=digest, signer_digest=digest))
    assert token.verify(b"msg", None, [tsa.root]).hash_algorithm.startswith("2.16.840.1.101.3.4.2.")
    with pytest.raises(TSTInfoError, match="mismatched message"):
        token.verify(b"other", None, [tsa.root])


@pytest.mark.real_server
def test_openssl_token_untrusted_and_unembedded(tmp_path: Path) -> None:
    """Another TSA's root does not anchor it; without embedded certificates the signer is missing."""
    tsa, other = make_tsa(), make_tsa(name="Other TSA")
    token = parse_timestamp_token(openssl_token(tsa, tmp_path / "a", b"m"))
    with pytest.raises(SignedTokenError, match=r"x509: certificate signed by unknown authority$"):
        token.verify(b"m", None, [other.root])
    bare = parse_timestamp_token(openssl_token(tsa, tmp_path / "b", b"m", embed_signer=False, embed_chain=False))
    assert bare.certificates == ()
    with pytest.raises(SignedTokenError, match="signing certificate not found in the timestamp token"):
        bare.verify(b"m", None, [tsa.root])


@pytest.mark.real_server
def test_openssl_token_missing_intermediate(tmp_path: Path) -> None:
    """Only the TSA certificate embedded: no path to the root."""
    tsa = make_tsa(intermediate=True)
    token = parse_timestamp_token(openssl_token(tsa, tmp_path, b"m", embed_chain=False))
    with pytest.raises(SignedTokenError, match="unknown authority"):
        token.verify(b"m", None, [tsa.root])
    # Supplying the intermediate as a trust anchor is enough for path building, but the
    # Notary Project chain rules then require the chain to end in a self-signed root.
    with pytest.raises(TSAChainError):
        token.verify(b"m", None, [tsa.intermediates[0]])


@pytest.mark.real_server
def test_openssl_token_without_accuracy(tmp_path: Path) -> None:
    """No accuracy and a non-baseline policy: the range is the instant ``genTime``."""
    tsa = make_tsa()
    info = parse_timestamp_token(openssl_token(tsa, tmp_path, b"m", accuracy=None)).verify(b"m", None, [tsa.root])
    assert info.accuracy == dt.timedelta(0)
    assert info.lower == info.upper == info.gen_time


@pytest.mark.real_server
def test_openssl_token_baseline_policy_without_accuracy(tmp_path: Path) -> None:
    """RFC 3628 baseline policy without accuracy: one second, as notation-go."""
    tsa = make_tsa()
    raw = openssl_token(tsa, tmp_path, b"m", accuracy=None, policy=OID_BASELINE_TIMESTAMP_POLICY)
    info = parse_timestamp_token(raw).verify(b"m", None, [tsa.root])
    assert info.policy == OID_BASELINE_TIMESTAMP_POLICY
    assert info.accuracy == dt.timedelta(seconds=1)


# -- tokens built in-test -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_built_token_verifies(key: str) -> None:
    """The in-test builder produces valid tokens (so the negative variants below test one thing)."""
    tsa = make_tsa(key=key, intermediate=True)
    gen_time = NOW - dt.timedelta(hours=1)
    info = parse_timestamp_token(python_token(tsa, b"m", gen_time=gen_time, signing_time=gen_time)).verify(
        b"m", None, [tsa.root]
    )
    assert info.gen_time == gen_time
    assert info.accuracy == dt.timedelta(0)


@pytest.mark.parametrize(
    ("accuracy", "policy", "expected"),
    [
        ({"seconds": 2, "millis": 3, "micros": 4}, TSA_POLICY, dt.timedelta(seconds=2, milliseconds=3, microseconds=4)),
        ({"millis": 500}, OID_BASELINE_TIMESTAMP_POLICY, dt.timedelta(milliseconds=500)),
        ({"seconds": 0}, OID_BASELINE_TIMESTAMP_POLICY, dt.timedelta(seconds=1)),
        (None, OID_BASELINE_TIMESTAMP_POLICY, dt.timedelta(seconds=1)),
        (None, TSA_POLICY, dt.timedelta(0)),
    ],
)
def test_accuracy(accuracy: dict[str, int] | None, policy: str, expected: dt.timedelta) -> None:
    """Accuracy sums seconds, millis and micros; zero/absent under the baseline policy is 1 s."""
    tsa = make_tsa()
    token = parse_timestamp_token(python_token(tsa, b"m", accuracy=accuracy, policy=policy))
    assert token.tst_info().accuracy == expected


def test_bounds_are_inclusive() -> None:
    """``bounded_after``/``bounded_before`` include the range ends (Go ``BoundedAfter/Before``)."""
    gen = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    info = TimestampInfo(
        gen_time=gen,
        accuracy=dt.timedelta(seconds=1),
        policy=TSA_POLICY,
        serial_number=1,
        hash_algorithm="2.16.840.1.101.3.4.2.1",
        hashed_message=b"",
    )
    second = dt.timedelta(seconds=1)
    assert info.bounded_after(gen - second)
    assert not info.bounded_after(gen - second + dt.timedelta(microseconds=1))
    assert info.bounded_before(gen + second)
    assert not info.bounded_before(gen + second - dt.timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"ess": None}, "invalid timestamp token: both signingCertificate and signingCertificateV2 fields are missing"),
        (
            {"ess_hash_of": b"another certificate"},
            "signing certificate hash does not match CertHash in signed attribute",
        ),
        ({"ess": "v1", "ess_hash_of": b"x"}, "signing certificate hash does not match CertHash in signed attribute"),
        ({"corrupt_signature": True}, "cms verification failure: crypto/rsa: verification error"),
        ({"signature_algorithm": "sha1_rsa"}, "cms verification failure: unknown signature algorithm"),
        ({"signature_algorithm": "sha256_ecdsa"}, "signature algorithm specifies an ECDSA public key"),
        ({"digest_of_content": b"\x00" * 32}, "cms verification failure: mismatch message digest"),
        ({"content_type_attr": "data"}, "cms verification failure: mismatch content type"),
        (
            {"signing_time": NOW + dt.timedelta(days=4000)},
            "signing time, .* is outside certificate's validity period",
        ),
    ],
)
def test_built_token_signer_failures(kwargs: dict[str, object], expected: str) -> None:
    """Each broken signer-info property fails with tspclient-go's detail."""
    tsa = make_tsa()
    token = parse_timestamp_token(python_token(tsa, b"m", **kwargs))  # type: ignore[arg-type]
    with pytest.raises(SignedTokenError, match=expected):
        token.verify(b"m", None, [tsa.root])


def test_ecdsa_signature_corruption() -> None:
    """A broken ECDSA signature: Go's ECDSA text."""
    tsa = make_tsa(key="ec")
    token = parse_timestamp_token(python_token(tsa, b"m", corrupt_signature=True))
    with pytest.raises(SignedTokenError, match="x509: ECDSA verification failure"):
        token.verify(b"m", None, [tsa.root])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"version": 2}, "invalid TSTInfo: timestamp token info version must be 1, but got 2"),
        ({"imprint_hash": "sha1"}, "invalid TSTInfo: unrecognized hash algorithm: 1.3.14.3.2.26"),
    ],
)
def test_built_token_tstinfo_failures(kwargs: dict[str, object], expected: str) -> None:
    """TSTInfo rules of tspclient-go ``Validate``."""
    tsa = make_tsa()
    token = parse_timestamp_token(python_token(tsa, b"m", **kwargs))  # type: ignore[arg-type]
    with pytest.raises(TSTInfoError) as failure:
        token.verify(b"m", None, [tsa.root])
    assert failure.value.message == expected


@pytest.mark.parametrize(
    ("eku", "critical", "expected"),
    [
        (
            [ExtendedKeyUsageOID.TIME_STAMPING],
            False,
            "signing certificate extended key usage extension must be set as critical",
        ),
        (
            [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING],
            True,
            "signing certificate must have and only have ExtKeyUsageTimeStamping as extended key usage",
        ),
        ([], True, "signing certificate must have and only have ExtKeyUsageTimeStamping"),
        ([ExtendedKeyUsageOID.CODE_SIGNING], True, "incompatible key usage"),
    ],
)
def test_tsa_certificate_eku(eku: list[x509.ObjectIdentifier], critical: bool, expected: str) -> None:
    """RFC 3161 §2.3: the TSA certificate's EKU is exactly id-kp-timeStamping, critical."""
    tsa = make_tsa(eku=eku, eku_critical=critical)
    token = parse_timestamp_token(python_token(tsa, b"m"))
    with pytest.raises(SignedTokenError, match=expected):
        token.verify(b"m", None, [tsa.root])


def test_tsa_certificate_must_be_valid_at_gen_time() -> None:
    """The TSA path is validated at ``genTime`` (not now), with Go's expiry wording."""
    gen_time = NOW - dt.timedelta(days=30)
    tsa = make_tsa(leaf_not_before=NOW - dt.timedelta(days=10))
    token = parse_timestamp_token(python_token(tsa, b"m", gen_time=gen_time))
    with pytest.raises(SignedTokenError) as failure:
        token.verify(b"m", None, [tsa.root])
    assert "x509: certificate has expired or is not yet valid: current time" in failure.value.message
    assert "is before" in failure.value.message
    # An old token from a TSA certificate that has expired since still verifies.
    expired = make_tsa(leaf_not_before=NOW - dt.timedelta(days=60), leaf_not_after=NOW - dt.timedelta(days=1))
    assert parse_timestamp_token(python_token(expired, b"m", gen_time=gen_time)).verify(b"m", None, [expired.root])


def test_expired_intermediate_is_reported() -> None:
    """An intermediate outside its validity at ``genTime`` is named in the error."""
    tsa = make_tsa(intermediate=True)
    inter_key = new_key()
    old_inter = issue(
        cn("Expired CA"),
        inter_key,
        tsa.root.subject,
        tsa.root_key,
        ca=True,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=2),
    )
    leaf = issue(
        cn("Test TSA"),
        tsa.leaf_key,
        old_inter.subject,
        inter_key,
        ca=False,
        not_before=NOW - dt.timedelta(days=30),
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
    )
    tsa.leaf, tsa.intermediates = leaf, [old_inter]
    token = parse_timestamp_token(python_token(tsa, b"m"))
    with pytest.raises(SignedTokenError, match=r"certificate has expired or is not yet valid: .* is after"):
        token.verify(b"m", None, [tsa.root])


def test_notary_tsa_chain_rules_applied() -> None:
    """A TSA certificate without ``digitalSignature`` passes CMS checks but not the Notary rules."""
    tsa = make_tsa()
    tsa.leaf = issue(
        cn("Test TSA"),
        tsa.leaf_key,
        tsa.root.subject,
        tsa.root_key,
        ca=False,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
        digital_signature=False,
    )
    token = parse_timestamp_token(python_token(tsa, b"m"))
    chain = token.verify_signed_token([tsa.root])  # the CMS/RFC 3161 layer accepts it
    assert chain[0] == tsa.leaf
    with pytest.raises(TSAChainError, match="Digital Signature"):
        token.verify(b"m", None, [tsa.root])


def test_every_error_is_a_timestamp_error() -> None:
    """The stage errors share the project's exception type."""
    for cls in (TimestampParseError, TSTInfoError, SignedTokenError, TSAChainError):
        assert issubclass(cls, TimestampError)
