"""The ``authentic-timestamp-step`` conformance cases (notation-go ``TestAuthenticTimestamp``).

Each case runs :func:`verify_authentic_timestamp` on the parsed envelope with the case's trust
policy statement and the ``notation-go`` trust store, as the Go test calls
``verifyAuthenticTimestamp()`` directly (no integrity or authenticity step).

PASS cases: notation-go passes them only with a live OCSP/CRL responder for the GlobalSign TSA
chain (offline it reports ``timestamping certificate ... revocation status is unknown``). Here
they are run without the ``revocation_check`` hook, i.e. TSA-chain revocation is out of scope;
one extra test shows that a failing hook does fail them.

Time: the Go test uses ``time.Now()``; ``cases.json`` assumes "now >= 2026-02". The cases are run
at a fixed :data:`NOW` inside that window (the ``afterCertExpiry`` case needs the ``CN=alpine``
certificate, valid until 2033-05-10, to be unexpired; the "no tsa store" case needs the 10-minute
``CN=testTSA`` certificate of 2024-06-18 to be expired).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509

from notation_py.envelope import parse_envelope
from notation_py.envelope.model import EnvelopeContent
from notation_py.errors import RevocationError, TimestampError
from notation_py.policy.truststore import X509TrustStore
from notation_py.timestamp import verify_authentic_timestamp
from tests.conformance import cases_of_kind, vector

NOW = datetime(2026, 3, 1, tzinfo=UTC)

CASES = cases_of_kind("authentic-timestamp-step")

#: The Go test overrides ``SignerInfo.Signature`` for these cases; ``cases.json`` does not record
#: it. ``TimeStampTokenWithoutCertificate.p7s`` timestamps the bytes ``notation``: without the
#: override the imprint check (which comes first) would fail instead of the signer lookup.
GO_TEST_SIGNATURE = {
    "ng-ts-token-without-certificate": b"notation",
    "ng-ts-token-imprint-mismatch": b"mismatch",
}

#: Expected messages that end in Go-library text (``asn1: ...``) are compared up to that text.
GO_LIBRARY_DETAIL = "asn1: "


@dataclasses.dataclass(frozen=True)
class Statement:
    """The parts of a trust policy statement the step reads (``trustStores`` as written)."""

    name: str
    trust_stores: tuple[str, ...]
    verify_timestamp: str | None


def load_case(case: dict[str, Any]) -> tuple[EnvelopeContent, Statement, X509TrustStore]:
    """Envelope content (with the case's replacements), statement and trust store of a case."""
    content = parse_envelope(case["envelopeMediaType"], vector(case["envelope"]).read_bytes())
    replacement = case.get("replaceUnsignedTimestampSignatureWith")
    if replacement:
        unsigned = dataclasses.replace(content.unsigned, timestamp_signature=vector(replacement).read_bytes())
        content = dataclasses.replace(content, unsigned=unsigned)
    if case["id"] in GO_TEST_SIGNATURE:
        content = dataclasses.replace(content, signature=GO_TEST_SIGNATURE[case["id"]])
    (policy,) = case["trustPolicyOCI"]["trustPolicies"]
    statement = Statement(
        name=policy["name"],
        trust_stores=tuple(policy["trustStores"]),
        verify_timestamp=policy["signatureVerification"].get("verifyTimestamp"),
    )
    return content, statement, X509TrustStore.from_config_dir(vector(case["configDir"]))


def expected_prefix(message: str) -> str | None:
    """For messages the case marks as partial (``...``), the part to compare; else ``None``."""
    if "..." not in message:
        return None
    prefix = message.split("...", maxsplit=1)[0]
    if GO_LIBRARY_DETAIL in prefix:
        prefix = prefix[: prefix.index(GO_LIBRARY_DETAIL)]
    return prefix


def test_case_count() -> None:
    """All 16 cases of the kind are present (a silently shrinking vector set would prove less)."""
    assert len(CASES) == 16


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_authentic_timestamp_case(case: dict[str, Any]) -> None:
    """The step passes or fails exactly as notation-go does, with notation-go's message."""
    content, statement, trust_store = load_case(case)
    expected = case["expectedAuthenticTimestamp"]
    if expected["result"] == "pass":
        result = verify_authentic_timestamp(content, statement, trust_store, NOW)
        if content.unsigned.timestamp_signature and statement.verify_timestamp == "always":
            assert result.timestamp is not None
            assert result.timestamp.tsa_chain[-1].subject.rfc4514_string().startswith("CN=GlobalSign")
        return
    with pytest.raises(TimestampError) as failure:
        verify_authentic_timestamp(content, statement, trust_store, NOW)
    prefix = expected_prefix(expected["error"])
    if prefix is None:
        assert failure.value.message == expected["error"]
    else:
        assert failure.value.message.startswith(prefix)
        assert len(failure.value.message) > len(prefix)


def test_verified_timestamp_facts() -> None:
    """The JWS vector's token: GlobalSign TSA, policy, ±1 s accuracy, three-certificate chain."""
    content, statement, trust_store = load_case(next(c for c in CASES if c["id"] == "ng-ts-jws-valid"))
    result = verify_authentic_timestamp(content, statement, trust_store, NOW)
    info = result.timestamp
    assert info is not None
    assert info.gen_time == datetime(2024, 6, 18, 6, 29, 37, tzinfo=UTC)
    assert info.policy == "1.3.6.1.4.1.4146.2.3"
    assert (info.lower, info.upper) == (
        datetime(2024, 6, 18, 6, 29, 36, tzinfo=UTC),
        datetime(2024, 6, 18, 6, 29, 38, tzinfo=UTC),
    )
    assert [c.subject.rfc4514_string() for c in info.tsa_chain] == [
        "CN=Globalsign TSA for Advanced - G4 - 202311,O=GlobalSign nv-sa,C=BE",
        "CN=GlobalSign Timestamping CA - SHA384 - G4,O=GlobalSign nv-sa,C=BE",
        "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R6",
    ]


@pytest.mark.parametrize("case_id", ["ng-ts-jws-valid", "ng-ts-cose-valid"])
def test_revocation_hook_sees_tsa_chain_and_can_fail(case_id: str) -> None:
    """The hook gets the verified TSA chain and ``now``; its failure fails the step (as Go offline)."""
    content, statement, trust_store = load_case(next(c for c in CASES if c["id"] == case_id))
    seen: list[tuple[Sequence[x509.Certificate], datetime]] = []

    def unknown(chain: Sequence[x509.Certificate], at: datetime) -> None:
        seen.append((chain, at))
        raise RevocationError(
            'timestamping certificate with subject "CN=Globalsign TSA for Advanced - G4 - 202311,'
            'O=GlobalSign nv-sa,C=BE" revocation status is unknown'
        )

    with pytest.raises(TimestampError, match="revocation status is unknown"):
        verify_authentic_timestamp(content, statement, trust_store, NOW, revocation_check=unknown)
    assert len(seen) == 1
    chain, at = seen[0]
    assert at == NOW
    assert len(chain) == 3
    assert chain[0].subject.rfc4514_string().startswith("CN=Globalsign TSA for Advanced")


def test_timestamp_not_checked_when_cert_unexpired_but_still_checked_when_expired() -> None:
    """``afterCertExpiry``: with the 10-minute ``CN=testTSA`` cert expired the token is verified."""
    case = next(c for c in CASES if c["id"] == "ng-ts-cose-expired-cert-timestamped")
    content, statement, trust_store = load_case(case)
    after_expiry = dataclasses.replace(statement, verify_timestamp="afterCertExpiry")
    result = verify_authentic_timestamp(content, after_expiry, trust_store, NOW)
    assert result.timestamp_verified
    # Within the certificate's ten minutes the chain is unexpired: the token is not looked at.
    during = datetime(2024, 6, 18, 7, 25, tzinfo=UTC)
    broken = dataclasses.replace(
        content, unsigned=dataclasses.replace(content.unsigned, timestamp_signature=b"\x30\x00")
    )
    assert not verify_authentic_timestamp(broken, after_expiry, trust_store, during).timestamp_verified
    with pytest.raises(TimestampError, match="failed to parse timestamp countersignature"):
        verify_authentic_timestamp(broken, after_expiry, trust_store, NOW)
