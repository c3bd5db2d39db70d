"""Verification plugins (``io.cncf.notary.verificationPlugin``) and the ``verify-signature`` command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, cose, jws, parse_envelope, verify_envelope
from notation_py.envelope.model import (
    EnvelopeContent,
    ExtendedAttribute,
    SignedAttributes,
    SigningScheme,
    SignRequest,
)
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.errors import PluginError
from notation_py.keys.generate import Issued
from notation_py.keys.local import LocalSigner
from notation_py.plugins import Capability, prepare_verification_plugin
from notation_py.policy.document import BlobTrustPolicy
from notation_py.policy.levels import Action, Check
from notation_py.policy.truststore import StoreType, X509TrustStore
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import SignatureVerificationError, TrustAnchors, blob_matcher, verify_signature
from tests.conformance import cases_of_kind, vector
from tests.plugins.fake_plugin import RAW, VERIFIER, InstalledPlugin, install_plugin

PKI = tuple[Issued, Issued, Issued]
NAME = "com.example.verifier"
BLOB = b"a blob verified with a plugin\n"
CRITICAL = ExtendedAttribute("io.example.region", "eu-west", critical=True)
IDENTITIES = ["x509.subject: CN=team-signer,O=Notary,ST=WA,C=US", "custom:builder-42"]


def _envelope(
    pki: PKI,
    media_type: str = MEDIA_TYPE_JWS,
    *,
    plugin: str | None = NAME,
    min_version: str | None = None,
    extended: Sequence[ExtendedAttribute] = (CRITICAL,),
) -> bytes:
    """A signed envelope naming a verification plugin (notation-py cannot sign such envelopes by itself)."""
    root, inter, leaf = pki
    target = TargetArtifact("application/octet-stream", "sha256:" + hashlib.sha256(BLOB).hexdigest(), len(BLOB))
    now = datetime.now(UTC).replace(microsecond=0)
    request = SignRequest(
        payload=build_payload(target),
        signer=LocalSigner(leaf.key, [leaf.certificate, inter.certificate, root.certificate]),
        signing_time=now,
        extended=tuple(extended),
    )
    signed = SignedAttributes(
        signing_scheme=SigningScheme.X509,
        signing_time=now,
        extended=tuple(extended),
        verification_plugin=plugin,
        verification_plugin_min_version=min_version,
    )
    envelope = jws.sign(request, signed) if media_type == MEDIA_TYPE_JWS else cose.sign(request, signed)
    verify_envelope(media_type, envelope)
    return envelope


def _anchors(
    tmp_path: Path, pki: PKI, plugin_dir: Path | None, *, level: str = "strict", skip_revocation: bool = False
) -> PolicyTrustAnchors:
    store = X509TrustStore(tmp_path / "truststore")
    pem = tmp_path / "root.pem"
    pem.write_bytes(pki[0].certificate.public_bytes(Encoding.PEM))
    store.add_certificates(StoreType.CA, "team", [pem])
    verification: dict[str, Any] = {"level": level}
    if skip_revocation:
        verification["override"] = {"revocation": "skip"}
    policy = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "plugins",
                "signatureVerification": verification,
                "trustStores": ["ca:team"],
                "trustedIdentities": IDENTITIES,
                "globalPolicy": True,
            }
        ],
    }
    statement = BlobTrustPolicy.from_bytes(json.dumps(policy).encode()).statement_for(None)
    return PolicyTrustAnchors(
        statement, store, revocation=None, plugin_directory=plugin_dir, plugin_config={"tenant": "t1"}, plugin_timeout=5
    )


def _content(envelope: bytes, media_type: str = MEDIA_TYPE_JWS) -> EnvelopeContent:
    return verify_envelope(media_type, envelope)


def _verifier(plugin_dir: Path, **settings: object) -> InstalledPlugin:
    return install_plugin(plugin_dir, NAME, capabilities=VERIFIER, settings=settings)


# --- the library interface ------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_verify_signature_request_and_verdict(plugin_dir: Path, pki: PKI, tmp_path: Path, media_type: str) -> None:
    plugin = _verifier(plugin_dir)
    content = _content(_envelope(pki, media_type, min_version="0.9.0"), media_type)
    check = _anchors(tmp_path, pki, plugin_dir).verification_plugin(content)
    assert check is not None
    assert check.handles_trusted_identity and check.handles_revocation
    verdict = check.verify(content)
    assert verdict.checked == (Capability.TRUSTED_IDENTITY, Capability.REVOCATION_CHECK)
    assert (verdict.trusted_identity_error, verdict.revocation_error) == (None, None)
    assert verdict.processed_attributes == ("io.example.region",)
    [request] = plugin.requests("verify-signature")
    assert request["contractVersion"] == "1.0"
    assert request["pluginConfig"] == {"tenant": "t1"}
    signature = request["signature"]
    assert signature["criticalAttributes"] == {
        "contentType": "application/vnd.cncf.notary.payload.v1+json",
        "signingScheme": "notary.x509",
        "verificationPlugin": NAME,
        "verificationPluginMinVersion": "0.9.0",
        "extendedAttributes": {"io.example.region": "eu-west"},
    }
    assert signature["unprocessedAttributes"] == ["io.example.region"]
    assert len(signature["certificateChain"]) == 3
    assert request["trustPolicy"] == {
        "trustedIdentities": IDENTITIES,
        "signatureVerification": ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"],
    }
    assert plugin.requests("get-plugin-metadata") == [{"pluginConfig": {"tenant": "t1"}}]


def test_skipped_revocation_is_not_requested(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    plugin = _verifier(plugin_dir)
    content = _content(_envelope(pki))
    check = _anchors(tmp_path, pki, plugin_dir).verification_plugin(content)
    assert check is not None
    assert check.verify(content, revocation_skipped=True).checked == (Capability.TRUSTED_IDENTITY,)
    assert plugin.requests("verify-signature")[0]["trustPolicy"]["signatureVerification"] == [
        "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"
    ]


def test_nothing_to_ask_means_no_call(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    plugin = install_plugin(plugin_dir, NAME, capabilities=["SIGNATURE_VERIFIER.REVOCATION_CHECK"])
    content = _content(_envelope(pki, extended=()))
    check = _anchors(tmp_path, pki, plugin_dir).verification_plugin(content)
    assert check is not None and not check.handles_trusted_identity
    assert check.verify(content, revocation_skipped=True).checked == ()
    assert plugin.requests("verify-signature") == []


@pytest.mark.parametrize(
    ("mode", "identity_error", "revocation_error"),
    [
        (
            "identity-fail",
            f'trusted identify verification by plugin "{NAME}" failed with reason "identity not allowed"',
            None,
        ),
        (
            "revocation-fail",
            None,
            f'revocation check by verification plugin "{NAME}" failed with reason "certificate revoked"',
        ),
    ],
)
def test_failed_capabilities_are_reported(
    plugin_dir: Path, pki: PKI, tmp_path: Path, mode: str, identity_error: str | None, revocation_error: str | None
) -> None:
    _verifier(plugin_dir, mode=mode)
    content = _content(_envelope(pki))
    check = _anchors(tmp_path, pki, plugin_dir).verification_plugin(content)
    assert check is not None
    verdict = check.verify(content)
    assert (verdict.trusted_identity_error, verdict.revocation_error) == (identity_error, revocation_error)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"mode": "unprocessed"},
            f'extended critical attribute "io.example.region" was not processed by the verification plugin "{NAME}"',
        ),
        (
            {"mode": "missing-result"},
            f'verification plugin "{NAME}" failed to verify "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"',
        ),
        (
            {"mode": "error", "mode_command": "verify-signature"},
            f'failed to verify with plugin {NAME}: plugin "{NAME}" verify-signature failed with error ACCESS_DENIED',
        ),
        (
            {"mode": "hang", "mode_command": "verify-signature"},
            f'failed to verify with plugin {NAME}: plugin "{NAME}" did not finish within 1 seconds',
        ),
    ],
)
def test_plugin_protocol_failures(
    plugin_dir: Path, pki: PKI, tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    _verifier(plugin_dir, **settings)
    content = _content(_envelope(pki))
    anchors = _anchors(tmp_path, pki, plugin_dir)
    anchors.plugin_timeout = 1.0
    check = anchors.verification_plugin(content)
    assert check is not None
    with pytest.raises(PluginError, match=message):
        check.verify(content)


@pytest.mark.parametrize(
    ("install", "min_version", "message"),
    [
        (None, None, f'error while locating the verification plugin "{NAME}", make sure the plugin is installed'),
        ({"capabilities": RAW}, None, f'digital signature requires plugin "{NAME}" with signature verification'),
        ({"version": "1.0"}, None, f"plugin {NAME} has pluginVersion 1.0 which is not in valid semver format"),
        (
            {"version": "1.0.0"},
            "1.1.0-alpha",
            f"found plugin {NAME} with version 1.0.0 but signature verification needs plugin version greater "
            "than or equal to 1.1.0-alpha",
        ),
        ({"mode": "bad-json"}, None, "get-plugin-metadata response is not valid JSON"),
    ],
)
def test_unusable_plugins(
    plugin_dir: Path,
    pki: PKI,
    tmp_path: Path,
    install: dict[str, Any] | None,
    min_version: str | None,
    message: str,
) -> None:
    if install is not None:
        capabilities = install.pop("capabilities", VERIFIER)
        install_plugin(plugin_dir, NAME, capabilities=capabilities, settings=install)
    content = _content(_envelope(pki, min_version=min_version))
    with pytest.raises(PluginError, match=message):
        _anchors(tmp_path, pki, plugin_dir).verification_plugin(content)


def test_no_plugin_named(pki: PKI, tmp_path: Path) -> None:
    content = _content(_envelope(pki, plugin=None, extended=()))
    assert _anchors(tmp_path, pki, None).verification_plugin(content) is None
    assert prepare_verification_plugin(content, directory=None) is None


_MOCK = [pytest.param(c, id=c["id"]) for c in cases_of_kind("oci-envelope-plugin") if "expectedWithMockPlugin" in c]


@pytest.mark.parametrize("c", _MOCK)
def test_notation_go_plugin_version_vectors(c: dict[str, Any], plugin_dir: Path) -> None:
    """notation-go's envelopes with ``verificationPluginMinVersion``, against its mock plugin (1.0.0)."""
    content = parse_envelope(c["envelopeMediaType"], vector(c["envelope"]).read_bytes())
    name = content.signed.verification_plugin
    assert name is not None
    mock = c["expectedWithMockPlugin"]["mockPlugin"]
    install_plugin(plugin_dir, name, capabilities=mock["capabilities"], settings={"version": mock["version"]})
    expected = c["expectedWithMockPlugin"]
    if expected["result"] == "fail":
        with pytest.raises(PluginError) as caught:
            prepare_verification_plugin(content, directory=plugin_dir, timeout=5)
        assert caught.value.message == expected["error"]
    else:
        check = prepare_verification_plugin(content, directory=plugin_dir, timeout=5)
        assert check is not None and check.verify(content).trusted_identity_error is None


# --- through the verifier (once notation_py.verify runs verification plugins) --------------------------

wired = pytest.mark.skipif(
    not hasattr(TrustAnchors, "verification_plugin"),
    reason="notation_py.verify does not call TrustAnchors.verification_plugin yet",
)


@wired
@pytest.mark.parametrize("media_type", [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE])
def test_verifier_runs_the_plugin(plugin_dir: Path, pki: PKI, tmp_path: Path, media_type: str) -> None:
    """Revocation is the plugin's here: without it, ``strict`` would fail (no OCSP/CRL checker is configured)."""
    plugin = _verifier(plugin_dir)
    anchors = _anchors(tmp_path, pki, plugin_dir)
    outcome = verify_signature(_envelope(pki, media_type), media_type, anchors, blob_matcher(lambda: BLOB))
    assert outcome.verified
    assert len(plugin.requests("verify-signature")) == 1
    revocation = [r for r in outcome.results if r.check is Check.REVOCATION]
    assert revocation and all(r.passed for r in revocation)


@wired
def test_verifier_enforces_or_logs_plugin_failures(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    _verifier(plugin_dir, mode="identity-fail")
    envelope = _envelope(pki)
    with pytest.raises(SignatureVerificationError, match="trusted identify verification by plugin"):
        verify_signature(envelope, MEDIA_TYPE_JWS, _anchors(tmp_path, pki, plugin_dir), blob_matcher(lambda: BLOB))
    (tmp_path / "audit").mkdir()
    audit = _anchors(tmp_path / "audit", pki, plugin_dir, level="audit")
    outcome = verify_signature(envelope, MEDIA_TYPE_JWS, audit, blob_matcher(lambda: BLOB))
    assert outcome.verified
    assert [(r.check, r.action) for r in outcome.warnings] == [(Check.AUTHENTICITY, Action.LOG)]


@wired
def test_verifier_fails_without_the_plugin(pki: PKI, tmp_path: Path, plugin_dir: Path) -> None:
    with pytest.raises(SignatureVerificationError, match="error while locating the verification plugin"):
        verify_signature(
            _envelope(pki), MEDIA_TYPE_JWS, _anchors(tmp_path, pki, plugin_dir), blob_matcher(lambda: BLOB)
        )


def test_current_verifier_refuses_plugin_signatures(plugin_dir: Path, pki: PKI, tmp_path: Path) -> None:
    """Whatever the wiring state, a signature naming a plugin is never accepted without running it."""
    plugin = _verifier(plugin_dir, mode="identity-fail")
    with pytest.raises(SignatureVerificationError):
        verify_signature(
            _envelope(pki), MEDIA_TYPE_JWS, _anchors(tmp_path, pki, plugin_dir), blob_matcher(lambda: BLOB)
        )
    assert len(plugin.requests("verify-signature")) <= 1
