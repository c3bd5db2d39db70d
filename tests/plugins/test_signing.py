"""Signing through a plugin (generate-signature and generate-envelope), verified with notation_py's verifier."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py import SIGNING_AGENT
from notation_py.config.files import KeySuite
from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, verify_envelope
from notation_py.envelope.algorithms import Algorithm
from notation_py.envelope.payload import parse_payload
from notation_py.errors import PluginError, SigningError, UsageError
from notation_py.keys.generate import Issued
from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from notation_py.plugins import PluginSigner, signer_for_key
from notation_py.policy.document import BlobTrustPolicy, OCITrustPolicy
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.sign import KeySigner, SignOptions, sign_artifact, sign_blob
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import blob_matcher, verify_artifact, verify_signature
from tests.plugins.fake_plugin import ENVELOPE, RAW, InstalledPlugin, install_plugin

PKI = tuple[Issued, Issued, Issued]
NAME = "com.example.kms"
FAST = 10.0


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


def _install(plugin_dir: Path, pki: PKI, capabilities: list[str], **settings: object) -> InstalledPlugin:
    root, inter, leaf = pki
    return install_plugin(
        plugin_dir,
        NAME,
        capabilities=capabilities,
        key=leaf.key,
        chain=[leaf.certificate, inter.certificate, root.certificate],
        key_spec="EC-256",
        settings=settings,
    )


def _signer(plugin_dir: Path, config: dict[str, str] | None = None) -> PluginSigner:
    return PluginSigner.open(NAME, "test-key", config, directory=plugin_dir, timeout=FAST)


def _trust_store(tmp_path: Path, pki: PKI) -> X509TrustStore:
    store = X509TrustStore(tmp_path / "truststore")
    pem = tmp_path / "root.pem"
    pem.write_bytes(pki[0].certificate.public_bytes(Encoding.PEM))
    store.add_certificates(StoreType.CA, "team", [pem])
    return store


def _oci_anchors(tmp_path: Path, pki: PKI) -> PolicyTrustAnchors:
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
    return PolicyTrustAnchors(policy.statement_for("local/img"), _trust_store(tmp_path, pki), revocation=None)


def _blob_anchors(tmp_path: Path, pki: PKI) -> PolicyTrustAnchors:
    policy = BlobTrustPolicy.from_bytes(
        json.dumps(
            {
                "version": "1.0",
                "trustPolicies": [
                    {
                        "name": "b",
                        "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                        "trustStores": ["ca:team"],
                        "trustedIdentities": ["*"],
                        "globalPolicy": True,
                    }
                ],
            }
        ).encode()
    )
    return PolicyTrustAnchors(policy.statement_for(None), _trust_store(tmp_path, pki), revocation=None)


# --- SIGNATURE_GENERATOR.RAW ------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_generate_signature_artifact_verifies(plugin_dir: Path, pki: PKI, tmp_path: Path, media_type: str) -> None:
    plugin = _install(plugin_dir, pki, RAW, version="2.1.0")
    layout = _image(tmp_path / "img")
    signer = _signer(plugin_dir, {"region": "eu"})
    signed = sign_artifact(layout, "v1", signer, SignOptions(media_type, user_metadata={"build": "7"}))
    subject = layout.resolve("v1")
    result = verify_artifact(layout, subject, _oci_anchors(tmp_path, pki), display="img", user_metadata={"build": "7"})
    assert result.verified is not None and result.verified.verified
    content = verify_envelope(media_type, signed.envelope)
    assert content.unsigned.signing_agent == f"{SIGNING_AGENT} {NAME}/2.1.0"
    assert content.unsigned.certificate_chain == tuple(c.certificate for c in reversed(pki))
    assert signer.algorithm is Algorithm.ES256
    # The contract as notation speaks it: metadata, describe-key, then generate-signature.
    [describe] = plugin.requests("describe-key")
    assert describe == {"contractVersion": "1.0", "keyId": "test-key", "pluginConfig": {"region": "eu"}}
    [generate] = plugin.requests("generate-signature")
    assert generate["keySpec"] == "EC-256" and generate["hashAlgorithm"] == "SHA-256"
    assert generate["pluginConfig"] == {"region": "eu"}
    assert plugin.requests("get-plugin-metadata") == [{"pluginConfig": {"region": "eu"}}]


def test_generate_signature_blob_verifies(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    _install(plugin_dir, pki, RAW)
    blob = tmp_path / "release.tar.gz"
    blob.write_bytes(b"release bytes" * 100)
    envelope = sign_blob(blob, _signer(plugin_dir), SignOptions(MEDIA_TYPE_COSE))
    outcome = verify_signature(envelope, MEDIA_TYPE_COSE, _blob_anchors(tmp_path, pki), blob_matcher(blob))
    assert outcome.verified


def test_signing_key_entry_merges_plugin_config(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    plugin = _install(plugin_dir, pki, RAW)
    key = KeySuite.from_dict(
        {"name": "kms", "id": "test-key", "pluginName": NAME, "pluginConfig": {"a": "1", "b": "2"}}, 0
    )
    signer = signer_for_key(key, {"b": "override"}, directory=plugin_dir, timeout=FAST)
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    sign_blob(blob, signer, SignOptions(MEDIA_TYPE_JWS))
    assert plugin.requests("generate-signature")[0]["pluginConfig"] == {"a": "1", "b": "override"}
    with pytest.raises(PluginError, match='"local" is not a plugin key'):
        signer_for_key(KeySuite(name="local", key_path="k", cert_path="c"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "wrong-key-id", "mode_command": "describe-key"}, 'keyID in describeKey response "another-key"'),
        ({"mode": "wrong-key-id", "mode_command": "generate-signature"}, "keyID in generateSignature response"),
        ({"described_key_spec": "EC-999"}, 'key spec "EC-999" is not supported'),
        ({"described_key_spec": "EC-384"}, 'the signing certificate\'s key is "EC-256", but describe-key reported'),
        ({"mode": "wrong-algorithm"}, 'signing algorithm "ECDSA-SHA-384" does not match the key spec "EC-256"'),
        ({"mode": "tamper"}, "the signature does not verify with the signing certificate"),
        ({"mode": "bad-chain"}, "the certificate chain does not meet the certificate requirements"),
        ({"mode": "error", "mode_command": "generate-signature"}, "failed with error ACCESS_DENIED"),
    ],
)
def test_generate_signature_responses_are_checked(
    plugin_dir: Path, pki: PKI, tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    _install(plugin_dir, pki, RAW, **settings)
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    with pytest.raises(PluginError, match=message):
        sign_blob(blob, _signer(plugin_dir), SignOptions(MEDIA_TYPE_JWS))


def test_plugin_config_selects_a_fault(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    """``--plugin-config`` values reach every command (here: the test plugin's ``mode``)."""
    _install(plugin_dir, pki, RAW, mode_command="generate-signature")
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    with pytest.raises(PluginError, match="does not verify with the signing certificate"):
        sign_blob(blob, _signer(plugin_dir, {"mode": "tamper"}), SignOptions(MEDIA_TYPE_JWS))


def test_chain_is_known_only_after_signing(plugin_dir: Path, pki: PKI) -> None:
    _install(plugin_dir, pki, RAW)
    with pytest.raises(PluginError, match="only known after generate-signature"):
        _ = _signer(plugin_dir).certificate_chain


def test_plugin_without_signing_capability(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    _install(plugin_dir, pki, ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"])
    with pytest.raises(PluginError, match="does not have signing capabilities"):
        sign_artifact(_image(tmp_path / "img"), "v1", _signer(plugin_dir), SignOptions(MEDIA_TYPE_JWS))


def test_envelope_plugin_cannot_be_a_primitive_signer(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:

    plugin = _install(plugin_dir, pki, ENVELOPE)
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    with pytest.raises(PluginError, match=r"does not have the SIGNATURE_GENERATOR\.RAW capability"):
        KeySigner(_signer(plugin_dir)).sign_blob(blob, SignOptions(MEDIA_TYPE_JWS))  # used as a raw signer
    assert plugin.requests("generate-signature") == []


def test_hanging_signer_times_out(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    _install(plugin_dir, pki, RAW, mode="hang", mode_command="generate-signature")
    signer = PluginSigner.open(NAME, "test-key", directory=plugin_dir, timeout=1.0)
    blob = tmp_path / "blob"
    blob.write_bytes(b"x")
    with pytest.raises(PluginError, match="did not finish within 1 seconds"):
        sign_blob(blob, signer, SignOptions(MEDIA_TYPE_JWS))


# --- SIGNATURE_GENERATOR.ENVELOPE -------------------------------------------------------------------


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_generate_envelope_artifact_verifies(plugin_dir: Path, pki: PKI, tmp_path: Path, media_type: str) -> None:
    plugin = _install(plugin_dir, pki, ENVELOPE)
    layout = _image(tmp_path / "img")
    options = SignOptions(media_type, expiry=timedelta(hours=1), user_metadata={"build": "7"})
    signed = sign_artifact(layout, "v1", _signer(plugin_dir), options)
    subject = layout.resolve("v1")
    result = verify_artifact(layout, subject, _oci_anchors(tmp_path, pki), display="img", user_metadata={"build": "7"})
    assert result.verified is not None and result.verified.verified
    [manifest] = list(list_signature_manifests(layout, subject, 10))
    stored = fetch_signature(layout, manifest, subject)
    assert stored.envelope == signed.envelope
    assert stored.annotations["io.example.plugin"] == "envelope-plugin"
    assert "io.cncf.notary.x509chain.thumbprint#S256" in stored.annotations
    [request] = plugin.requests("generate-envelope")
    assert request["signatureEnvelopeType"] == media_type
    assert request["payloadType"] == "application/vnd.cncf.notary.payload.v1+json"
    assert request["expiryDurationInSeconds"] == 3600
    assert plugin.requests("describe-key") == []  # notation-go does not describe the key for OCI artifacts
    content = verify_envelope(media_type, signed.envelope)
    assert content.signed.expiry is not None


def test_generate_envelope_blob_verifies(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    plugin = _install(plugin_dir, pki, ENVELOPE, mode="add-annotation")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"blob" * 1000)
    envelope = sign_blob(
        blob, _signer(plugin_dir), SignOptions(MEDIA_TYPE_JWS, user_metadata={"k": "v"}), blob_media_type="text/plain"
    )
    assert verify_signature(envelope, MEDIA_TYPE_JWS, _blob_anchors(tmp_path, pki), blob_matcher(blob, "text/plain"))
    target = parse_payload(verify_envelope(MEDIA_TYPE_JWS, envelope).payload)
    assert dict(target.annotations) == {"k": "v", "io.example.added": "by-plugin"}  # plugins may add annotations
    assert len(plugin.requests("describe-key")) == 1  # the blob digest algorithm comes from the key spec


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("alter-target", "during signing descriptor subject has changed"),
        ("drop-annotation", "during signing descriptor subject has changed"),
        ("add-member", 'following unknown attributes were added to subject descriptor: \\["extra"\\]'),
        ("wrong-envelope-type", 'signatureEnvelopeType in generateEnvelope response "application/cose"'),
        ("corrupt-envelope", "generated signature failed verification"),
        ("error", "generate-envelope failed with error ACCESS_DENIED"),
    ],
)
def test_generated_envelopes_are_checked(plugin_dir: Path, pki: PKI, tmp_path: Path, mode: str, message: str) -> None:
    _install(plugin_dir, pki, ENVELOPE, mode=mode, mode_command="generate-envelope")
    layout = _image(tmp_path / "img")
    with pytest.raises(PluginError, match=message):
        sign_artifact(layout, "v1", _signer(plugin_dir), SignOptions(MEDIA_TYPE_JWS, user_metadata={"build": "7"}))
    assert list(list_signature_manifests(layout, layout.resolve("v1"), 10)) == []  # nothing was stored


def test_envelope_plugin_refuses_notation_timestamping(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    _install(plugin_dir, pki, ENVELOPE)

    def timestamper(_signature: bytes, _algorithm: Algorithm) -> bytes:
        raise AssertionError("not called")

    with pytest.raises(SigningError, match="cannot add an RFC 3161 timestamp"):
        sign_artifact(
            _image(tmp_path / "img"), "v1", _signer(plugin_dir), SignOptions(MEDIA_TYPE_JWS, timestamper=timestamper)
        )
    with pytest.raises(UsageError, match="reserved prefix"):
        sign_artifact(
            _image(tmp_path / "img2"),
            "v1",
            _signer(plugin_dir),
            SignOptions(MEDIA_TYPE_JWS, user_metadata={"io.cncf.notary.x": "1"}),
        )
