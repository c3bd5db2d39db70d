"""``sign``, ``list`` and ``inspect`` on OCI image layouts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from tests.cli.conftest import Cli, Layout

TAG_WARNING = (
    "Warning: Always sign the artifact using digest(@sha256:...) rather than a tag(:v1) because tags are mutable"
)


def _signature_manifests(layout: Layout) -> list[str]:
    return [str(d.digest) for d in list_signature_manifests(layout.store, layout.descriptor, 100)]


def _inspect_json(cli: Cli, layout: Layout) -> dict[str, Any]:
    result = cli.ok("inspect", "--oci-layout", layout.by_digest, "-o", "json")
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def test_sign_by_tag_warns_and_prints_digest(cli: Cli, layout: Layout) -> None:
    result = cli.ok("sign", "--oci-layout", layout.by_tag)
    assert TAG_WARNING in result.err
    assert f"Resolved artifact tag `v1` to digest `{layout.digest}` before sign." in result.out
    assert f"Successfully signed {layout.path}@{layout.digest}" in result.out
    manifests = _signature_manifests(layout)
    assert len(manifests) == 1
    sig = fetch_signature(layout.store, layout.store.resolve(manifests[0]), layout.descriptor)
    assert sig.envelope_media_type == "application/jose+json"


def test_sign_by_digest_has_no_tag_warning(cli: Cli, layout: Layout) -> None:
    result = cli.ok("sign", "--oci-layout", layout.by_digest, "--signature-format", "cose")
    assert result.err == ""
    assert result.out.strip() == f"Successfully signed {layout.path}@{layout.digest}"
    manifests = _signature_manifests(layout)
    sig = fetch_signature(layout.store, layout.store.resolve(manifests[0]), layout.descriptor)
    assert sig.envelope_media_type == "application/cose"


def test_signature_format_from_config_json(cli: Cli, layout: Layout) -> None:
    (cli.config / "config.json").write_text('{"signatureFormat": "cose"}')
    cli.ok("sign", "--oci-layout", layout.by_digest)
    doc = _inspect_json(cli, layout)
    assert [s["mediaType"] for s in doc["signatures"]] == ["application/cose"]


@pytest.mark.parametrize(
    ("fmt", "media_type", "key", "algorithm"),
    [
        ("jws", "application/jose+json", "test", "RSASSA-PSS-SHA-256"),
        ("cose", "application/cose", "other", "ECDSA-SHA-256"),
    ],
)
def test_inspect_json(cli: Cli, layout: Layout, fmt: str, media_type: str, key: str, algorithm: str) -> None:
    before = datetime.now().astimezone().replace(microsecond=0)
    cli.ok(
        "sign",
        "--oci-layout",
        layout.by_digest,
        "--signature-format",
        fmt,
        "--key",
        key,
        "-m",
        "env=prod",
        "-m",
        "team=a=b",
        "--expiry",
        "1h",
    )
    doc = _inspect_json(cli, layout)
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    [sig] = doc["signatures"]
    assert sig["digest"] == _signature_manifests(layout)[0]
    assert sig["mediaType"] == media_type
    assert sig["signatureAlgorithm"] == algorithm
    attrs = sig["signedAttributes"]
    assert attrs["signingScheme"] == "notary.x509"
    signing_time = datetime.fromisoformat(attrs["signingTime"])
    expiry = datetime.fromisoformat(attrs["expiry"])
    assert before - timedelta(seconds=1) <= signing_time <= datetime.now().astimezone()
    assert expiry - signing_time == timedelta(hours=1)
    assert sig["userDefinedAttributes"] == {"env": "prod", "team": "a=b"}
    cert_fingerprints = [c["SHA256Fingerprint"] for c in sig["certificates"]]
    shown = cli.ok("cert", "show", "--type", "ca", "--store", key, f"{key}.crt").out
    assert cert_fingerprints == [shown.split("SHA256 fingerprint: ")[1].split()[0]]
    assert sig["certificates"][0]["issuedTo"] == f"CN={key},O=Notary,L=Seattle,ST=WA,C=US"
    assert sig["signedArtifact"] == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": layout.digest,
        "size": layout.descriptor.size,
    }
    assert sig["unsignedAttributes"]["io.cncf.notary.signingAgent"].startswith("notation-py/")


def test_inspect_tree_and_list(cli: Cli, layout: Layout) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest, "-m", "k=v")
    cli.ok("sign", "--oci-layout", layout.by_digest, "--signature-format", "cose")
    manifests = _signature_manifests(layout)
    assert len(manifests) == 2

    listed = cli.ok("list", "--oci-layout", layout.by_digest)
    lines = listed.out.splitlines()
    assert lines[0] == f"{layout.path}@{layout.digest}"
    assert lines[1] == "└── application/vnd.cncf.notary.signature"
    assert sorted(line.split()[-1] for line in lines[2:]) == sorted(manifests)
    assert cli.ok("ls", "--oci-layout", layout.by_tag).out == listed.out
    one = cli.ok("list", "--oci-layout", layout.by_digest, "--max-signatures", "1")
    assert len(one.out.splitlines()) == 3

    tree = cli.ok("inspect", "--oci-layout", layout.by_digest).out
    assert tree.startswith("Inspecting all signatures for signed artifact\n")
    assert f"{layout.path}@{layout.digest}\n└── application/vnd.cncf.notary.signature" in tree
    for digest in manifests:
        assert digest in tree
    assert "signature envelope type: application/jose+json" in tree
    assert "signature envelope type: application/cose" in tree
    assert "signature algorithm: RSASSA-PSS-SHA-256" in tree
    assert "signing scheme: notary.x509" in tree
    assert "user defined attributes" in tree
    assert "k: v" in tree
    assert "issued to: CN=test,O=Notary,L=Seattle,ST=WA,C=US" in tree
    assert f"digest: {layout.digest}" in tree


def test_no_signature(cli: Cli, layout: Layout) -> None:
    display = f"{layout.path}@{layout.digest}"
    assert cli.ok("list", "--oci-layout", layout.by_digest).out.strip() == f"{display} has no associated signature"
    assert cli.ok("inspect", "--oci-layout", layout.by_digest).out.strip() == f"{display} has no associated signature"
    doc = _inspect_json(cli, layout)
    assert doc == {"mediaType": "application/vnd.oci.image.manifest.v1+json", "signatures": []}


def test_inspect_json_by_tag_is_pure_json(cli: Cli, layout: Layout) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest)
    result = cli.ok("inspect", "--oci-layout", layout.by_tag, "-o", "json")
    assert len(json.loads(result.out)["signatures"]) == 1


def test_sign_with_missing_plugin_is_refused(cli: Cli, layout: Layout) -> None:
    result = cli("sign", "--oci-layout", layout.by_digest, "--plugin", "acme", "--id", "k1")
    assert result.code == 1
    assert "plugin executable file is either not found or inaccessible" in result.err
    assert "acme/notation-acme" in result.err
    half = cli("sign", "--oci-layout", layout.by_digest, "--plugin", "acme")
    assert half.code == 2
    assert "--id and --plugin must be used together" in half.err
    assert _signature_manifests(layout) == []


def test_sign_timestamp_url_without_root_is_refused(cli: Cli, layout: Layout) -> None:
    result = cli("sign", "--oci-layout", layout.by_digest, "--timestamp-url", "http://tsa.invalid")
    assert result.code == 2
    assert "--timestamp-url and --timestamp-root-cert must be given together" in result.err
    assert _signature_manifests(layout) == []


def test_version(cli: Cli) -> None:
    assert cli.ok("version").out.startswith("notation-py ")


def test_empty_default_means_no_default(cli: Cli, layout: Layout) -> None:
    path = cli.config / "signingkeys.json"
    doc = json.loads(path.read_text())
    doc["default"] = ""
    path.write_text(json.dumps(doc))
    result = cli("sign", "--oci-layout", layout.by_digest)
    assert result.code == 2
    assert "default signing key not set" in result.err
    cli.ok("sign", "--oci-layout", "-k", "test", layout.by_digest)
