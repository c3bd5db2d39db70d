"""RFC 3161 timestamping at signing time against a real TSA (``openssl ts -reply`` on loopback)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, sign_envelope, verify_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.model import SignRequest
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.errors import RevocationError, TimestampError, UsageError
from notation_py.keys.generate import Issued, issue_signing_certificate, notary_test_subject
from notation_py.keys.local import LocalSigner
from notation_py.policy.document import BlobTrustPolicy
from notation_py.policy.levels import Check
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.timestamp import parse_timestamp_token
from notation_py.timestamp.client import HTTPTimestamper, load_tsa_root
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import blob_matcher, verify_signature
from tests.timestamp.tsa import NOW, TSAFixture, make_tsa
from tests.timestamp.tsa_server import TSAServer

pytestmark = pytest.mark.real_server

SIGNATURE = b"\x02a primitive signature\xfe" * 4
BLOB = b"timestamped blob\n"


@pytest.fixture(scope="module")
def tsa() -> TSAFixture:
    """A TSA with an intermediate CA (EC keys: quick to make)."""
    return make_tsa(key="ec", intermediate=True, leaf_not_before=NOW - dt.timedelta(days=30))


@pytest.fixture(scope="module")
def other_tsa() -> TSAFixture:
    """A second, unrelated TSA PKI (its root must not validate the first TSA)."""
    return make_tsa(key="ec", name="Other TSA")


@pytest.fixture
def server(tsa: TSAFixture, tmp_path: Path) -> Iterator[TSAServer]:
    """The loopback TSA, answering correctly unless a test changes its mode."""
    with TSAServer(tsa, tmp_path / "tsa") as running:
        yield running


@pytest.fixture(scope="module")
def signing_key() -> Issued:
    """A self-signed code-signing certificate valid since yesterday (the timestamp must fall inside)."""
    return issue_signing_certificate(
        None, notary_test_subject("ts-signer"), key_type="ec-256", not_before=NOW - dt.timedelta(days=1)
    )


def _request_of(server: TSAServer) -> tsp.TimeStampReq:
    [(content_type, body)] = server.requests
    assert content_type == "application/timestamp-query"
    return tsp.TimeStampReq.load(body)


# --- the exchange ---------------------------------------------------------------------------------


def test_granted_timestamp_is_verified_and_returned(tsa: TSAFixture, server: TSAServer) -> None:
    timestamper = HTTPTimestamper(server.url, [tsa.root])
    token = timestamper(SIGNATURE, Algorithm.ES256)
    request = _request_of(server)
    assert request["version"].native == "v1"
    assert request["cert_req"].native is True
    assert request["nonce"].native > 0
    imprint = request["message_imprint"].native
    assert imprint["hash_algorithm"]["algorithm"] == "sha256"
    assert imprint["hashed_message"] == hashlib.sha256(SIGNATURE).digest()
    info = parse_timestamp_token(token).verify(SIGNATURE, roots=[tsa.root])
    assert info.nonce == request["nonce"].native
    assert info.tsa_chain[-1] == tsa.root
    assert abs(info.gen_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


@pytest.mark.parametrize(("algorithm", "hash_name"), [(Algorithm.ES384, "sha384"), (Algorithm.PS512, "sha512")])
def test_message_imprint_uses_the_signing_keys_hash(
    tsa: TSAFixture, server: TSAServer, algorithm: Algorithm, hash_name: str
) -> None:
    result = HTTPTimestamper(server.url, [tsa.root]).timestamp(SIGNATURE, algorithm.digest_algorithm)
    imprint = _request_of(server)["message_imprint"].native
    assert imprint["hash_algorithm"]["algorithm"] == hash_name
    assert imprint["hashed_message"] == hashlib.new(hash_name, SIGNATURE).digest()
    assert result.info.hashed_message == hashlib.new(hash_name, SIGNATURE).digest()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("other-message", "is for another message: the message imprint does not match"),
        ("wrong-nonce", "nonce in the response .* does not match nonce in the request"),
        ("no-certs", "certReq is True in request, but did not find any TSA signing certificate"),
        ("reject", "rejected the timestamp request: status rejection; failure info bad_alg"),
        ("http-500", "answered HTTP 500"),
        ("content-type", 'answered with content type "text/html", expected "application/timestamp-reply"'),
        ("garbage", "sent a malformed timestamp response"),
    ],
)
def test_bad_answers_are_refused(tsa: TSAFixture, server: TSAServer, mode: str, message: str) -> None:
    server.mode = mode
    with pytest.raises(TimestampError, match=message):
        HTTPTimestamper(server.url, [tsa.root])(SIGNATURE, Algorithm.ES256)


def test_untrusted_tsa_is_refused(server: TSAServer, other_tsa: TSAFixture) -> None:
    with pytest.raises(TimestampError, match="is not trusted: failed to verify signed token"):
        HTTPTimestamper(server.url, [other_tsa.root])(SIGNATURE, Algorithm.ES256)


def test_slow_tsa_times_out(tsa: TSAFixture, server: TSAServer) -> None:
    server.mode, server.delay = "slow", 2.0
    with pytest.raises(TimestampError, match=r"did not answer within 0\.3 seconds"):
        HTTPTimestamper(server.url, [tsa.root], timeout=0.3)(SIGNATURE, Algorithm.ES256)


def test_unreachable_tsa(tsa: TSAFixture) -> None:
    with socket.socket() as sock:  # bound, never listening: refused, and no other process can take the port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(TimestampError, match=f"cannot reach the timestamp authority http://127.0.0.1:{port}/"):
            HTTPTimestamper(f"http://127.0.0.1:{port}/", [tsa.root], timeout=2)(SIGNATURE, Algorithm.ES256)


def test_revocation_hook_sees_the_verified_chain(tsa: TSAFixture, server: TSAServer) -> None:
    seen: list[Sequence[x509.Certificate]] = []

    def revoked(chain: Sequence[x509.Certificate], _now: dt.datetime) -> None:
        seen.append(chain)
        raise RevocationError('timestamping certificate with subject "CN=Test TSA" is revoked')

    with pytest.raises(TimestampError, match=r"is not trusted: timestamping certificate .* is revoked"):
        HTTPTimestamper(server.url, [tsa.root], revocation_check=revoked)(SIGNATURE, Algorithm.ES256)
    assert list(seen[0]) == tsa.chain


def test_invalid_configuration(tsa: TSAFixture, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="must be an http:// or https:// URL"):
        HTTPTimestamper("ftp://tsa.example/", [tsa.root])
    with pytest.raises(UsageError, match="root certificate is required"):
        HTTPTimestamper("https://tsa.example/", [])
    root = tmp_path / "root.pem"
    root.write_bytes(tsa.root.public_bytes(Encoding.PEM))
    assert load_tsa_root(root) == tsa.root
    assert HTTPTimestamper.from_root_file("https://tsa.example/", root).roots == (tsa.root,)
    two = tmp_path / "two.pem"
    two.write_bytes(tsa.root.public_bytes(Encoding.PEM) * 2)
    with pytest.raises(UsageError, match="found more than one certificates"):
        load_tsa_root(two)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(tsa.leaf.public_bytes(Encoding.PEM))
    with pytest.raises(UsageError, match="is not a root certificate"):
        load_tsa_root(leaf)
    with pytest.raises(UsageError, match="failed to read the timestamp root certificate"):
        load_tsa_root(tmp_path / "absent.pem")


# --- end to end: sign with the timestamper, verify with a tsa trust store ---------------------------------


def _anchors(tmp_path: Path, signing_key: Issued, tsa: TSAFixture) -> PolicyTrustAnchors:
    store = X509TrustStore(tmp_path / "truststore")
    for store_type, name, cert in (
        (StoreType.CA, "signers", signing_key.certificate),
        (StoreType.TSA, "tsa", tsa.root),
    ):
        pem = tmp_path / f"{name}.pem"
        pem.write_bytes(cert.public_bytes(Encoding.PEM))
        store.add_certificates(store_type, name, [pem])
    policy = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "timestamped",
                "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                "trustStores": ["ca:signers", "tsa:tsa"],
                "trustedIdentities": ["*"],
                "globalPolicy": True,
            }
        ],
    }
    statement = BlobTrustPolicy.from_bytes(json.dumps(policy).encode()).statement_for(None)
    return PolicyTrustAnchors(statement, store, revocation=None)


def _request(signing_key: Issued, timestamper: HTTPTimestamper) -> SignRequest:
    target = TargetArtifact(
        media_type="application/octet-stream", digest="sha256:" + hashlib.sha256(BLOB).hexdigest(), size=len(BLOB)
    )
    return SignRequest(
        payload=build_payload(target),
        signer=LocalSigner(signing_key.key, [signing_key.certificate]),
        signing_time=dt.datetime.now(dt.UTC),
        timestamper=timestamper,
    )


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_timestamped_signature_passes_the_authentic_timestamp_step(
    tsa: TSAFixture, server: TSAServer, signing_key: Issued, tmp_path: Path, media_type: str
) -> None:
    envelope = sign_envelope(media_type, _request(signing_key, HTTPTimestamper(server.url, [tsa.root])))
    content = verify_envelope(media_type, envelope)
    assert content.unsigned.timestamp_signature is not None
    anchors = _anchors(tmp_path, signing_key, tsa)
    outcome = verify_signature(envelope, media_type, anchors, blob_matcher(lambda: BLOB))
    assert outcome.verified
    [timestamp_step] = [r for r in outcome.results if r.check is Check.AUTHENTIC_TIMESTAMP]
    assert timestamp_step.passed
    # The step did verify the countersignature (not just the certificate validity).
    from notation_py.timestamp import verify_authentic_timestamp

    result = verify_authentic_timestamp(content, anchors.statement, anchors.trust_store, dt.datetime.now(dt.UTC))
    assert result.timestamp_verified
    assert result.timestamp is not None and result.timestamp.tsa_chain[0] == tsa.leaf


def test_reply_for_another_message_fails_signing(tsa: TSAFixture, server: TSAServer, signing_key: Issued) -> None:
    server.mode = "other-message"
    with pytest.raises(TimestampError, match="is for another message"):
        sign_envelope(MEDIA_TYPE_JWS, _request(signing_key, HTTPTimestamper(server.url, [tsa.root])))


class _NoNetwork:
    """Revocation transport that fails the test on any request (the test TSA has no OCSP/CRL URLs)."""

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        raise AssertionError(f"unexpected network access: GET {url}")

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        raise AssertionError(f"unexpected network access: POST {url}")


def test_ocsp_crl_revocation_hook(tsa: TSAFixture, server: TSAServer) -> None:
    from notation_py.revocation import RevocationChecker
    from notation_py.timestamp.client import tsa_revocation_check

    with RevocationChecker(transport=_NoNetwork()) as checker:
        timestamper = HTTPTimestamper(server.url, [tsa.root], revocation_check=tsa_revocation_check(checker))
        assert parse_timestamp_token(timestamper(SIGNATURE, Algorithm.ES256)).certificates
