"""The authentic-timestamp step with generated PKIs and tokens (beyond the conformance vectors).

Signing certificates are generated per test; countersignatures come from ``openssl ts`` or from
the in-test token builder when ``genTime`` must be exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.model import (
    MEDIA_TYPE_JWS,
    EnvelopeContent,
    SignedAttributes,
    SigningScheme,
    UnsignedAttributes,
)
from notation_py.errors import RevocationError, TimestampError, TrustStoreError
from notation_py.policy.truststore import StoreType
from notation_py.timestamp import TrustStoreRefLike, verify_authentic_timestamp
from tests.timestamp.tsa import NOW, TSAFixture, cn, issue, make_tsa, new_key, openssl_token, python_token

SIGNATURE = b"\x01primitive signature\xff" * 8


@dataclass(frozen=True)
class Statement:
    """A trust policy statement as the step sees it."""

    trust_stores: tuple[str | TrustStoreRefLike, ...] = ("ca:signers", "tsa:tsa")
    verify_timestamp: str | None = "always"
    name: str = "test"


@dataclass(frozen=True)
class Ref:
    """A parsed trust store reference."""

    type: StoreType
    name: str


@dataclass
class FakeStore:
    """In-memory trust store; records which stores were loaded."""

    stores: dict[tuple[str, str], list[x509.Certificate]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def certificates(self, store_type: StoreType, name: str) -> list[x509.Certificate]:
        """Certificates of ``store_type:name`` or notation-go's "does not exist" error."""
        self.calls.append((str(store_type), name))
        try:
            return list(self.stores[(str(store_type), name)])
        except KeyError:
            raise TrustStoreError(f'the trust store "{name}" of type "{store_type}" does not exist') from None


def signing_cert(not_before: dt.datetime, not_after: dt.datetime, common_name: str = "Signer") -> x509.Certificate:
    """A self-signed code-signing certificate valid in ``[not_before, not_after]``."""
    return issue(
        cn(common_name),
        new_key(),
        ca=False,
        not_before=not_before,
        not_after=not_after,
        eku=[ExtendedKeyUsageOID.CODE_SIGNING],
    )


def envelope(
    cert: x509.Certificate,
    token: bytes | None,
    *,
    scheme: SigningScheme = SigningScheme.X509,
    authentic_signing_time: dt.datetime | None = None,
    signature: bytes = SIGNATURE,
) -> EnvelopeContent:
    """Envelope content around ``cert`` (integrity is not this step's concern)."""
    signed = SignedAttributes(
        signing_scheme=scheme,
        signing_time=NOW if scheme is SigningScheme.X509 else None,
        authentic_signing_time=authentic_signing_time,
    )
    return EnvelopeContent(
        media_type=MEDIA_TYPE_JWS,
        payload=b"{}",
        signed=signed,
        unsigned=UnsignedAttributes(certificate_chain=(cert,), timestamp_signature=token),
        signature=signature,
        algorithm=Algorithm.PS256,
        signed_bytes=b"",
    )


def store_for(tsa: TSAFixture) -> FakeStore:
    """A store whose ``tsa:tsa`` holds the TSA root."""
    return FakeStore({("tsa", "tsa"): [tsa.root]})


@pytest.fixture(scope="module")
def tsa() -> TSAFixture:
    """One TSA (with an intermediate CA) shared by the tests of this module."""
    return make_tsa(intermediate=True, leaf_not_before=NOW - dt.timedelta(days=30))


@pytest.mark.real_server
def test_openssl_countersignature_verified(tsa: TSAFixture, tmp_path: Path) -> None:
    """A current signing certificate and an OpenSSL token over the signature: verified."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    content = envelope(cert, openssl_token(tsa, tmp_path, SIGNATURE))
    result = verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW)
    assert result.timestamp_verified
    assert result.timestamp is not None
    assert result.timestamp.tsa_chain == tuple(tsa.chain)
    assert "TSA chain revocation not checked" in result.detail


def test_revocation_hook_called_with_chain_and_now(tsa: TSAFixture) -> None:
    """The hook receives the TSA chain and ``now``; returning normally passes the step."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    content = envelope(cert, python_token(tsa, SIGNATURE))
    calls: list[tuple[Sequence[x509.Certificate], dt.datetime]] = []

    def ok(chain: Sequence[x509.Certificate], at: dt.datetime) -> None:
        calls.append((chain, at))

    now = NOW + dt.timedelta(minutes=5)
    result = verify_authentic_timestamp(content, Statement(), store_for(tsa), now, revocation_check=ok)
    assert calls == [(tuple(tsa.chain), now)]
    assert "not checked" not in result.detail

    def revoked(chain: Sequence[x509.Certificate], at: dt.datetime) -> None:
        raise RevocationError('timestamping certificate with subject "CN=Test TSA,O=Notary,C=US" is revoked')

    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(content, Statement(), store_for(tsa), now, revocation_check=revoked)
    assert failure.value.message == 'timestamping certificate with subject "CN=Test TSA,O=Notary,C=US" is revoked'


def test_revocation_hook_runs_after_range_check(tsa: TSAFixture) -> None:
    """notation-go checks TSA revocation last: a range failure wins and the hook is not called."""
    gen_time = NOW - dt.timedelta(hours=1)
    cert = signing_cert(gen_time + dt.timedelta(minutes=1), NOW + dt.timedelta(days=1))
    content = envelope(cert, python_token(tsa, SIGNATURE, gen_time=gen_time))
    called: list[object] = []
    with pytest.raises(TimestampError, match=r"^timestamp can be before certificate"):
        verify_authentic_timestamp(
            content, Statement(), store_for(tsa), NOW, revocation_check=lambda c, t: called.append(c)
        )
    assert called == []


@pytest.mark.parametrize(
    ("accuracy", "passes"),
    [({"seconds": 1}, True), ({"seconds": 1, "millis": 1}, False)],
)
def test_range_lower_bound_inclusive(tsa: TSAFixture, accuracy: dict[str, int], passes: bool) -> None:
    """``genTime - accuracy`` may equal the certificate's notBefore, not precede it."""
    gen_time = NOW - dt.timedelta(hours=1)
    cert = signing_cert(gen_time - dt.timedelta(seconds=1), NOW + dt.timedelta(days=1))
    content = envelope(cert, python_token(tsa, SIGNATURE, gen_time=gen_time, accuracy=accuracy))
    if passes:
        assert verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW).timestamp_verified
        return
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW)
    not_before = cert.not_valid_before_utc
    assert failure.value.message == (
        'timestamp can be before certificate "CN=Signer,O=Notary,C=US" validity period, it will be valid from '
        f'"{not_before:%a, %d %b %Y %H:%M:%S} +0000"'
    )


@pytest.mark.parametrize(
    ("accuracy", "passes"),
    [({"seconds": 1}, True), ({"seconds": 1, "micros": 1}, False)],
)
def test_range_upper_bound_inclusive(tsa: TSAFixture, accuracy: dict[str, int], passes: bool) -> None:
    """``genTime + accuracy`` may equal the certificate's notAfter, not pass it."""
    gen_time = NOW - dt.timedelta(hours=1)
    cert = signing_cert(gen_time - dt.timedelta(days=1), gen_time + dt.timedelta(seconds=1))
    content = envelope(cert, python_token(tsa, SIGNATURE, gen_time=gen_time, accuracy=accuracy))
    if passes:
        assert verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW).timestamp_verified
        return
    with pytest.raises(TimestampError, match=r'^timestamp can be after certificate "CN=Signer,O=Notary,C=US"'):
        verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW)


def test_expired_signing_certificate(tsa: TSAFixture) -> None:
    """An expired signing certificate passes only with a verified timestamp from its lifetime."""
    gen_time = NOW - dt.timedelta(days=3)
    cert = signing_cert(gen_time - dt.timedelta(days=1), gen_time + dt.timedelta(days=1))
    content = envelope(cert, python_token(tsa, SIGNATURE, gen_time=gen_time))
    store = store_for(tsa)
    for option in ("always", "afterCertExpiry", None):
        result = verify_authentic_timestamp(content, Statement(verify_timestamp=option), store, NOW)
        assert result.timestamp_verified
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(content, Statement(trust_stores=("ca:signers",)), store, NOW)
    assert failure.value.message == (
        'verification time is after certificate "CN=Signer,O=Notary,C=US" validity period, it was expired at '
        f'"{cert.not_valid_after_utc:%a, %d %b %Y %H:%M:%S} +0000"'
    )
    assert store.calls == [("tsa", "tsa")] * 3


def test_not_yet_valid_signing_certificate_without_tsa() -> None:
    """Without a ``tsa`` store the chain must be valid now, also not before notBefore."""
    cert = signing_cert(NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2))
    with pytest.raises(TimestampError, match=r'^verification time is before certificate "CN=Signer,O=Notary,C=US" '):
        verify_authentic_timestamp(envelope(cert, None), Statement(trust_stores=("ca:x",)), FakeStore({}), NOW)


def test_after_cert_expiry_with_valid_chain_ignores_token() -> None:
    """``afterCertExpiry`` and an unexpired chain: the token is not even parsed, the store not read."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    store = FakeStore({})
    result = verify_authentic_timestamp(
        envelope(cert, b"not a token"), Statement(verify_timestamp="afterCertExpiry"), store, NOW
    )
    assert not result.timestamp_verified
    assert store.calls == []
    # A naive ``now`` is UTC.
    naive = NOW.replace(tzinfo=None)
    assert not verify_authentic_timestamp(
        envelope(cert, None), Statement(verify_timestamp="afterCertExpiry"), store, naive
    ).timestamp_verified


def test_missing_and_broken_tokens(tsa: TSAFixture) -> None:
    """Token absent, unparsable, or over another message: the Go messages and prefixes."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    store = store_for(tsa)
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(envelope(cert, None), Statement(), store, NOW)
    assert failure.value.message == "no timestamp countersignature was found in the signature envelope"
    with pytest.raises(TimestampError, match=r"^failed to parse timestamp countersignature with error: cms: "):
        verify_authentic_timestamp(envelope(cert, b"\x30\x00"), Statement(), store, NOW)
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(envelope(cert, python_token(tsa, b"other")), Statement(), store, NOW)
    assert failure.value.message == (
        "failed to get timestamp from timestamp countersignature with error: invalid TSTInfo: mismatched message"
    )
    assert store.calls == []  # the imprint is checked before the TSA store is loaded


def test_imprint_hash_need_not_match_signing_key(tsa: TSAFixture) -> None:
    """As notation-go: a SHA-512 imprint over a PS256 signature is accepted."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    content = envelope(cert, python_token(tsa, SIGNATURE, imprint_hash="sha512"))
    result = verify_authentic_timestamp(content, Statement(), store_for(tsa), NOW)
    assert result.timestamp is not None
    assert result.timestamp.hash_algorithm == "2.16.840.1.101.3.4.2.3"


@pytest.mark.parametrize(
    ("stores", "expected"),
    [
        (
            ("bad", "tsa:tsa"),
            "failed to check tsa trust store configuration in turst policy with error: invalid trust policy "
            'statement: "test" is missing separator in trust store value "bad". The required format is '
            "<TrustStoreType>:<TrustStoreName>",
        ),
        (
            ("tsa:tsa", "bad"),
            "failed to load tsa trust store with error: error while loading the trust store, trust policy "
            'statement "test" is missing separator in trust store value "bad". The required format is '
            "<TrustStoreType>:<TrustStoreName>",
        ),
        (
            ("ca:signers", "tsa:missing"),
            'failed to load tsa trust store with error: the trust store "missing" of type "tsa" does not exist',
        ),
        (("tsa:empty",), "no trusted TSA certificate found in trust store"),
        (
            ("tsa:other",),
            "failed to verify the timestamp countersignature with error: failed to verify signed token: "
            "cms verification failure: x509: certificate signed by unknown authority",
        ),
        (
            ("tsa:same-name",),
            "failed to verify the timestamp countersignature with error: failed to verify signed token: "
            "cms verification failure: x509: certificate signed by unknown authority (possibly because of "
            '"crypto/rsa: verification error" while trying to verify candidate authority certificate '
            '"Test TSA Root")',
        ),
    ],
)
def test_trust_store_configuration_errors(tsa: TSAFixture, stores: tuple[str, ...], expected: str) -> None:
    """Raw ``trustStores`` values are validated and loaded like notation-go."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    store = FakeStore(
        {("tsa", "tsa"): [tsa.root], ("tsa", "empty"): [], ("tsa", "other"): [make_tsa(name="Other").root]}
    )
    store.stores[("tsa", "same-name")] = [make_tsa().root]  # same subject as the real root, other key
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(
            envelope(cert, python_token(tsa, SIGNATURE)), Statement(trust_stores=stores), store, NOW
        )
    assert failure.value.message == expected


def test_tsa_stores_loaded_once_each_and_merged(tsa: TSAFixture) -> None:
    """Repeated values load once; roots of every ``tsa`` store are trusted together."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    store = FakeStore({("tsa", "other"): [make_tsa().root], ("tsa", "tsa"): [tsa.root]})
    statement = Statement(trust_stores=("tsa:other", "ca:signers", "tsa:other", "tsa:tsa", "tsa:tsa"))
    assert verify_authentic_timestamp(envelope(cert, python_token(tsa, SIGNATURE)), statement, store, NOW)
    assert store.calls == [("tsa", "other"), ("tsa", "tsa")]


def test_parsed_references_accepted(tsa: TSAFixture) -> None:
    """Statements holding parsed ``(type, name)`` references work like raw strings."""
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    statement = Statement(trust_stores=(Ref(StoreType.CA, "signers"), Ref(StoreType.TSA, "tsa")))
    result = verify_authentic_timestamp(envelope(cert, python_token(tsa, SIGNATURE)), statement, store_for(tsa), NOW)
    assert result.timestamp_verified


def test_tsa_chain_rules_failure(tsa: TSAFixture) -> None:
    """A TSA certificate breaking the Notary rules fails with notation-go's wrapper."""
    bad = make_tsa()
    bad.leaf = issue(
        cn("Test TSA"),
        bad.leaf_key,
        bad.root.subject,
        bad.root_key,
        ca=False,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
        digital_signature=False,
    )
    cert = signing_cert(NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1))
    with pytest.raises(TimestampError, match=r"^failed to validate the timestamping certificate chain with error: "):
        verify_authentic_timestamp(envelope(cert, python_token(bad, SIGNATURE)), Statement(), store_for(bad), NOW)


def test_signing_authority_scheme(tsa: TSAFixture) -> None:
    """``signingAuthority``: the authentic signing time must be inside every certificate; no TST."""
    cert = signing_cert(dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    store = FakeStore({})
    inside = envelope(
        cert,
        b"ignored",
        scheme=SigningScheme.X509_SIGNING_AUTHORITY,
        authentic_signing_time=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    result = verify_authentic_timestamp(inside, Statement(), store, NOW)
    assert not result.timestamp_verified
    assert store.calls == []
    plus8 = dt.timezone(dt.timedelta(hours=8))
    outside = envelope(
        cert,
        None,
        scheme=SigningScheme.X509_SIGNING_AUTHORITY,
        authentic_signing_time=dt.datetime(2019, 12, 31, 12, 0, 5, tzinfo=plus8),
    )
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(outside, Statement(), store, NOW)
    assert failure.value.message == (
        'certificate "CN=Signer,O=Notary,C=US" was not valid when the digital signature was produced at '
        '"Tue, 31 Dec 2019 12:00:05 +0800"'
    )
    missing = envelope(cert, None, scheme=SigningScheme.X509_SIGNING_AUTHORITY)
    with pytest.raises(TimestampError, match='produced at "Mon, 01 Jan 0001 00:00:00 \\+0000"'):
        verify_authentic_timestamp(missing, Statement(), store, NOW)
