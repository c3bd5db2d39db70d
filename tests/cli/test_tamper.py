"""Tampered signed layouts: every case must fail verification (exit 1), never print "verified"."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from notation_py.oci.digest import compute
from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from tests.cli.conftest import SCOPE, Cli, Layout, make_layout, oci_statement


def _only_signature(layout: Layout) -> tuple[str, dict[str, Any]]:
    [desc] = list(list_signature_manifests(layout.store, layout.descriptor, 100))
    manifest = json.loads(layout.store.blob_path(desc.digest).read_bytes())
    return str(desc.digest), manifest


def _blob(layout: Layout, digest: str) -> Path:
    return layout.path / "blobs" / "sha256" / digest.removeprefix("sha256:")


def _rewrite_manifest(layout: Layout, old_digest: str, edit: Callable[[dict[str, Any]], None]) -> str:
    """Edit a signature manifest, store the result and make index.json list it instead of the old one."""
    manifest = json.loads(_blob(layout, old_digest).read_bytes())
    edit(manifest)
    data = json.dumps(manifest).encode()
    digest = str(compute(data))
    _blob(layout, digest).write_bytes(data)
    index_path = layout.path / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["manifests"]:
        if entry["digest"] == old_digest:
            entry["digest"], entry["size"] = digest, len(data)
    index_path.write_text(json.dumps(index))
    return digest


def _store_blob(layout: Layout, data: bytes) -> str:
    digest = str(compute(data))
    _blob(layout, digest).write_bytes(data)
    return digest


def _flip_signature(media_type: str, envelope: bytes) -> bytes:
    if media_type == "application/jose+json":
        jws = json.loads(envelope)
        raw = bytearray(base64.urlsafe_b64decode(jws["signature"] + "=" * (-len(jws["signature"]) % 4)))
        raw[-1] ^= 0x01
        jws["signature"] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        return json.dumps(jws).encode()
    # COSE_Sign1: the signature is the last array element, so the last byte belongs to it.
    return envelope[:-1] + bytes([envelope[-1] ^ 0x01])


@pytest.fixture(params=["jws", "cose"])
def signed(request: pytest.FixtureRequest, cli: Cli, layout: Layout) -> Layout:
    """The ``layout`` signed once with the ``test`` key in the requested format, under a strict policy."""
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest, "--signature-format", str(request.param))
    result = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert result.code == 0, result.err
    return layout


def _assert_rejected(cli: Cli, layout: Layout, *needles: str) -> str:
    result = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert result.code == 1, result
    assert "Successfully verified" not in result.out
    assert result.err.startswith("Error: ")
    for needle in needles:
        assert needle in result.err
    return result.err


def test_flipped_byte_in_envelope_blob(cli: Cli, signed: Layout) -> None:
    _, manifest = _only_signature(signed)
    path = _blob(signed, manifest["layers"][0]["digest"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _assert_rejected(cli, signed, "digest")


def test_replaced_envelope_with_fixed_manifest(cli: Cli, signed: Layout) -> None:
    digest, manifest = _only_signature(signed)
    layer = manifest["layers"][0]
    envelope = fetch_signature(signed.store, signed.store.resolve(digest)).envelope
    tampered = _flip_signature(layer["mediaType"], envelope)
    new_layer = _store_blob(signed, tampered)

    def edit(m: dict[str, Any]) -> None:
        m["layers"][0]["digest"], m["layers"][0]["size"] = new_layer, len(tampered)

    _rewrite_manifest(signed, digest, edit)
    _assert_rejected(cli, signed, "signature verification failed", "signature is invalid")


def test_replaced_payload_with_fixed_manifest(cli: Cli, layout: Layout) -> None:
    """A JWS whose payload names a bigger size: the signature no longer covers it."""
    cli.write_oci_policy(oci_statement())
    cli.ok("sign", "--oci-layout", layout.by_digest)
    signed = layout
    digest, _ = _only_signature(signed)
    jws = json.loads(fetch_signature(signed.store, signed.store.resolve(digest)).envelope)
    payload = json.loads(base64.urlsafe_b64decode(jws["payload"] + "=" * (-len(jws["payload"]) % 4)))
    payload["targetArtifact"]["size"] += 1
    jws["payload"] = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    tampered = json.dumps(jws).encode()
    new_layer = _store_blob(signed, tampered)

    def edit(m: dict[str, Any]) -> None:
        m["layers"][0]["digest"], m["layers"][0]["size"] = new_layer, len(tampered)

    _rewrite_manifest(signed, digest, edit)
    _assert_rejected(cli, signed, "signature is invalid")


def test_edited_subject(cli: Cli, signed: Layout) -> None:
    digest, _ = _only_signature(signed)
    other = make_layout(signed.path, layer=b"another image", tag="v2")

    def edit(m: dict[str, Any]) -> None:
        m["subject"]["digest"] = other.digest

    _rewrite_manifest(signed, digest, edit)
    _assert_rejected(cli, signed, "no signature is associated with")


def test_deleted_envelope_blob(cli: Cli, signed: Layout) -> None:
    _, manifest = _only_signature(signed)
    _blob(signed, manifest["layers"][0]["digest"]).unlink()
    _assert_rejected(cli, signed, "not found")


def test_flipped_byte_in_signature_manifest(cli: Cli, signed: Layout) -> None:
    digest, _ = _only_signature(signed)
    path = _blob(signed, digest)
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x20
    path.write_bytes(bytes(data))
    _assert_rejected(cli, signed)


def test_signature_of_another_image(cli: Cli, signed: Layout) -> None:
    """A signature made for image B, re-pointed at image A: the payload names B."""
    other = make_layout(signed.path, layer=b"another image", tag="v2")
    cli.ok("sign", "--oci-layout", other.by_digest)
    [desc] = list(list_signature_manifests(other.store, other.descriptor, 100))
    own, _ = _only_signature(signed)

    def edit(m: dict[str, Any]) -> None:
        m["subject"] = signed.descriptor.to_dict()

    _rewrite_manifest(signed, str(desc.digest), edit)
    # Drop A's own signature so only the swapped one is evaluated.
    index_path = signed.path / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"] = [m for m in index["manifests"] if m["digest"] != own]
    index_path.write_text(json.dumps(index))
    _assert_rejected(cli, signed, "signature verification failed", "content descriptor mismatch")


def test_corrupt_index_json(cli: Cli, signed: Layout) -> None:
    (signed.path / "index.json").write_text('{"schemaVersion": 2, "manifests": [')
    err = _assert_rejected(cli, signed, "index.json")
    assert err.count("\n") == 1  # one clear line


def test_missing_oci_layout_file(cli: Cli, signed: Layout) -> None:
    (signed.path / "oci-layout").unlink()
    _assert_rejected(cli, signed, "not an OCI image layout")


def test_inspect_and_list_show_unreadable_signature(cli: Cli, signed: Layout) -> None:
    """inspect reports a signature it cannot read as an error node instead of failing the command."""
    digest, manifest = _only_signature(signed)
    _blob(signed, manifest["layers"][0]["digest"]).unlink()
    tree = cli.ok("inspect", "--oci-layout", signed.by_digest).out
    assert f"└── {digest}\n        └── error: " in tree
    assert "not found" in tree
    doc = json.loads(cli.ok("inspect", "--oci-layout", signed.by_digest, "-o", "json").out)
    assert doc["signatures"][0]["digest"] == digest
    assert "not found" in doc["signatures"][0]["error"]
    assert digest in cli.ok("list", "--oci-layout", signed.by_digest).out
