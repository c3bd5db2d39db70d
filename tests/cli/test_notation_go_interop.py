"""Verify signatures produced by notation-go (conformance vectors) on an OCI layout with the CLI.

The alpine layout holds the signed image manifest but not its 3.3 MB layer; a signature's subject
is the manifest, so the missing layer must not matter for pushing or verifying signatures.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notation_py.envelope import MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, parse_envelope
from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import push_signature
from notation_py.x509.certs import thumbprint_sha256
from tests.cli.conftest import Cli, oci_statement
from tests.conformance import vector

ALPINE = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0"
ALPINE_SCOPE = "local/oci-layout"
ENVELOPES = {"jws": (MEDIA_TYPE_JWS, "jws_signature.sig"), "cose": (MEDIA_TYPE_COSE, "cose_signature.sig")}


def _alpine_layout(tmp_path: Path, formats: tuple[str, ...]) -> Path:
    """A copy of the alpine layout with the notation-go envelopes of ``formats`` pushed as signatures."""
    path = tmp_path / "alpine"
    shutil.copytree(vector("notation-go/oci-layout-alpine/layout"), path)
    store = OCILayout(path)
    subject = store.resolve("v2")
    assert str(subject.digest) == ALPINE
    for fmt in formats:
        media_type, name = ENVELOPES[fmt]
        envelope = vector(f"notation-go/oci-layout-alpine/{name}").read_bytes()
        content = parse_envelope(media_type, envelope)
        push_signature(
            store,
            subject,
            media_type,
            envelope,
            [thumbprint_sha256(c) for c in content.unsigned.certificate_chain],
            content.signed.signing_time or datetime.now(UTC),
        )
    return path


def _trust_alpine(cli: Cli) -> None:
    cli.ok(
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "alpine",
        vector("notation-go/examples/localVerify-example-trusted.pem"),
    )
    cli.write_oci_policy(oci_statement("alpine", stores=("ca:alpine",), scopes=(ALPINE_SCOPE,)))


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_verify_notation_go_signature(cli: Cli, tmp_path: Path, fmt: str) -> None:
    path = _alpine_layout(tmp_path, (fmt,))
    _trust_alpine(cli)
    result = cli.ok("verify", "--oci-layout", "--scope", ALPINE_SCOPE, f"{path}@{ALPINE}")
    assert result.out.strip() == f"Successfully verified signature for {path}@{ALPINE}"
    by_tag = cli.ok("verify", "--oci-layout", "--scope", ALPINE_SCOPE, f"{path}:v2")
    assert f"Successfully verified signature for {path}@{ALPINE}" in by_tag.out


def test_inspect_notation_go_signatures(cli: Cli, tmp_path: Path) -> None:
    path = _alpine_layout(tmp_path, ("jws", "cose"))
    listed = cli.ok("list", "--oci-layout", f"{path}@{ALPINE}")
    assert len(listed.out.splitlines()) == 4  # reference, media type, two signatures
    doc = json.loads(cli.ok("inspect", "--oci-layout", f"{path}@{ALPINE}", "-o", "json").out)
    assert sorted(s["mediaType"] for s in doc["signatures"]) == [MEDIA_TYPE_COSE, MEDIA_TYPE_JWS]
    for sig in doc["signatures"]:
        assert sig["signedArtifact"] == {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": ALPINE,
            "size": 481,
        }
        assert sig["signedAttributes"]["signingScheme"] == "notary.x509"


def test_notation_go_signature_untrusted_without_anchor(cli: Cli, tmp_path: Path) -> None:
    path = _alpine_layout(tmp_path, ("jws", "cose"))
    cli.write_oci_policy(oci_statement("alpine", stores=("ca:test",), scopes=(ALPINE_SCOPE,)))
    result = cli("verify", "--oci-layout", "--scope", ALPINE_SCOPE, f"{path}@{ALPINE}")
    assert result.code == 1
    assert "signature verification failed for all the signatures" in result.err
    assert result.err.count("does not contain any trusted certificate") == 2


def test_sign_alpine_with_missing_layer(cli: Cli, tmp_path: Path) -> None:
    """notation-py can sign (and then verify) a manifest whose layer blob is absent from the layout."""
    path = _alpine_layout(tmp_path, ())
    cli.ok("sign", "--oci-layout", f"{path}@{ALPINE}")
    cli.write_oci_policy(oci_statement("alpine", scopes=(ALPINE_SCOPE,)))
    assert cli.ok("verify", "--oci-layout", "--scope", ALPINE_SCOPE, f"{path}@{ALPINE}").code == 0
