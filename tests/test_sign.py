"""Library-level signing into OCI layouts and of blobs, verified back with the verifier."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, verify_envelope
from notation_py.envelope.payload import parse_payload
from notation_py.errors import NotFoundError, UsageError
from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from notation_py.policy.document import BlobTrustPolicy, OCITrustPolicy
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.sign import SignOptions, sign_artifact, sign_blob
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import SignatureVerificationError, blob_matcher, verify_artifact, verify_signature
from notation_py.x509.certs import thumbprint_sha256
from tests.pki import chain_signer, root_of_chain, self_signed_signer


def _image(path: Path) -> OCILayout:
    layout = OCILayout.create(path)
    config = layout.push_blob("application/vnd.oci.image.config.v1+json", b"{}")
    layer = layout.push_blob("application/vnd.oci.image.layer.v1.tar", b"layer")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config.plain().to_dict(),
        "layers": [layer.plain().to_dict()],
    }
    layout.push_manifest("application/vnd.oci.image.manifest.v1+json", json.dumps(manifest).encode(), tag="v1")
    return layout


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_sign_artifact_stores_a_notation_signature_manifest(tmp_path: Path, media_type: str) -> None:
    layout = _image(tmp_path / "img")
    signer = chain_signer("ec-256")
    now = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    signed = sign_artifact(
        layout, "v1", signer, SignOptions(media_type, expiry=timedelta(hours=2), user_metadata={"b": "1"}), now=now
    )
    subject = layout.resolve("v1")
    assert signed.subject.digest == subject.digest
    [manifest_desc] = list(list_signature_manifests(layout, subject, 10))
    sig = fetch_signature(layout, manifest_desc, subject)
    assert sig.envelope == signed.envelope
    assert sig.envelope_media_type == media_type
    assert json.loads(sig.annotations["io.cncf.notary.x509chain.thumbprint#S256"]) == [
        thumbprint_sha256(c) for c in signer.certificate_chain
    ]
    assert sig.annotations["org.opencontainers.image.created"] == "2026-05-01T12:00:00Z"
    content = verify_envelope(media_type, sig.envelope)
    assert content.signed.signing_time == now.replace(microsecond=0)
    assert content.signed.expiry == now.replace(microsecond=0) + timedelta(hours=2)
    target = parse_payload(content.payload)
    assert (target.media_type, target.digest, target.size) == (subject.media_type, str(subject.digest), subject.size)
    assert dict(target.annotations) == {"b": "1"}


def test_signed_artifact_verifies_under_a_policy(tmp_path: Path) -> None:
    layout = _image(tmp_path / "img")
    sign_artifact(layout, "v1", chain_signer("ec-256"), SignOptions(MEDIA_TYPE_JWS))
    store = X509TrustStore(tmp_path / "truststore")
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(root_of_chain("ec-256").public_bytes(Encoding.PEM))
    store.add_certificates(StoreType.CA, "team", [root_pem])
    policy = OCITrustPolicy.from_bytes(
        json.dumps(
            {
                "version": "1.0",
                "trustPolicies": [
                    {
                        "name": "p",
                        "registryScopes": ["local/img"],
                        "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                        "trustStores": ["ca:team"],
                        "trustedIdentities": ["x509.subject: CN=team-signer,O=Notary,ST=WA,C=US"],
                    }
                ],
            }
        ).encode()
    )
    anchors = PolicyTrustAnchors(policy.statement_for("local/img"), store, revocation=None)
    subject = layout.resolve("v1")
    result = verify_artifact(layout, subject, anchors, display="img")
    assert result.verified is not None and result.verified.verified
    assert result.rejected == ()


def test_sign_missing_artifact_is_not_found(tmp_path: Path) -> None:
    layout = _image(tmp_path / "img")
    with pytest.raises(NotFoundError):
        sign_artifact(layout, "v2", self_signed_signer(), SignOptions(MEDIA_TYPE_JWS))


@pytest.mark.parametrize(
    ("key_type", "algorithm"), [("rsa-2048", "sha256"), ("rsa-3072", "sha384"), ("ec-521", "sha512")]
)
def test_blob_digest_algorithm_follows_the_key(tmp_path: Path, key_type: str, algorithm: str) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 5000)
    envelope = sign_blob(blob, self_signed_signer(key_type), SignOptions(MEDIA_TYPE_COSE), blob_media_type="text/plain")
    target = parse_payload(verify_envelope(MEDIA_TYPE_COSE, envelope).payload)
    assert target.digest == f"{algorithm}:" + hashlib.new(algorithm, blob.read_bytes()).hexdigest()
    assert (target.size, target.media_type) == (5000, "text/plain")


def test_sign_blob_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read blob"):
        sign_blob(tmp_path / "absent", self_signed_signer(), SignOptions(MEDIA_TYPE_JWS))
    blob = tmp_path / "b"
    blob.write_bytes(b"1")
    with pytest.raises(UsageError, match="invalid media type"):
        sign_blob(blob, self_signed_signer(), SignOptions(MEDIA_TYPE_JWS), blob_media_type="nomediatype")
    with pytest.raises(UsageError, match="reserved prefix"):
        sign_blob(blob, self_signed_signer(), SignOptions(MEDIA_TYPE_JWS, user_metadata={"io.cncf.notary.x": "1"}))
    with pytest.raises(UsageError, match="at least 1 second"):
        sign_blob(blob, self_signed_signer(), SignOptions(MEDIA_TYPE_JWS, expiry=timedelta(0)))


def test_blob_matcher_reads_large_files_in_chunks(tmp_path: Path) -> None:
    blob = tmp_path / "big"
    blob.write_bytes(b"\x01" * (3 * 1024 * 1024 + 7))
    envelope = sign_blob(blob, self_signed_signer("ec-256"), SignOptions(MEDIA_TYPE_JWS))
    store = X509TrustStore(tmp_path / "ts")
    pem = tmp_path / "leaf.pem"
    pem.write_bytes(self_signed_signer("ec-256").certificate_chain[0].public_bytes(Encoding.PEM))
    store.add_certificates(StoreType.CA, "s", [pem])
    statement = BlobTrustPolicy.from_bytes(
        json.dumps(
            {
                "version": "1.0",
                "trustPolicies": [
                    {
                        "name": "b",
                        "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                        "trustStores": ["ca:s"],
                        "trustedIdentities": ["*"],
                        "globalPolicy": True,
                    }
                ],
            }
        ).encode()
    ).statement_for(None)
    anchors = PolicyTrustAnchors(statement, store, revocation=None)
    assert verify_signature(envelope, MEDIA_TYPE_JWS, anchors, blob_matcher(blob)).verified
    blob.write_bytes(blob.read_bytes() + b"\x00")
    with pytest.raises(SignatureVerificationError, match="signature does not match the given blob"):
        verify_signature(envelope, MEDIA_TYPE_JWS, anchors, blob_matcher(blob))
