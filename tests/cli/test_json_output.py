"""``-o json`` on sign, verify, list, blob sign and blob verify: one parseable document in the documented schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import SCOPE, Cli, Layout, blob_statement, oci_statement


def document(cli: Cli, *args: str | Path, code: int = 0) -> dict[str, Any]:
    result = cli(*args, "-o", "json")
    assert result.code == code, result.text
    doc = json.loads(result.out)  # the whole of standard output is one document
    assert isinstance(doc, dict)
    assert doc["schemaVersion"] == 1
    return doc


def test_sign_list_and_verify_as_json(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    signed = document(cli, "sign", "--oci-layout", layout.by_digest, "-m", "build=7")
    assert signed["kind"] == "sign"
    assert signed["subject"]["digest"] == layout.digest
    assert signed["signatureManifest"]["digest"].startswith("sha256:")
    assert signed["envelopeMediaType"] == "application/jose+json"
    assert signed["transparency"] is None

    listed = document(cli, "list", "--oci-layout", layout.by_digest)
    assert listed["kind"] == "list"
    assert [s["digest"] for s in listed["signatures"]] == [signed["signatureManifest"]["digest"]]
    assert listed["signatures"][0]["artifactType"] == "application/vnd.cncf.notary.signature"

    verified = document(cli, "verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, "-m", "build=7")
    assert verified["kind"] == "verify"
    assert verified["result"] == "verified"
    assert verified["reference"] == f"{layout.path}@{layout.digest}"
    assert verified["subject"]["digest"] == layout.digest
    signature = verified["signature"]
    assert signature["source"] == signed["signatureManifest"]["digest"]
    assert signature["verified"] is True and signature["error"] is None
    assert signature["userMetadata"] == {"build": "7"}
    assert {c["check"] for c in signature["checks"]} >= {"integrity", "authenticity", "expiry"}
    assert verified["rejected"] == []
    assert verified["timings"]["total"] >= 0


def test_a_failed_verification_is_a_json_document_too(cli: Cli, layout: Layout) -> None:
    cli.write_oci_policy(oci_statement())
    failed = document(cli, "verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, code=1)
    assert failed["result"] == "failed"
    assert "no signature is associated" in failed["error"]
    cli.ok("sign", "--oci-layout", layout.by_digest, "--key", "other")  # a key the policy does not trust
    failed = document(cli, "verify", "--oci-layout", "--scope", SCOPE, layout.by_digest, code=1)
    assert failed["result"] == "failed" and len(failed["failures"]) == 1


def test_blob_sign_and_verify_as_json(cli: Cli, tmp_path: Path) -> None:
    cli.write_blob_policy(blob_statement())
    blob = tmp_path / "release.txt"
    blob.write_bytes(b"release\n")
    signed = document(cli, "blob", "sign", "--signature-directory", tmp_path, blob)
    assert signed["kind"] == "blob sign"
    assert signed["signature"] == str(tmp_path / "release.txt.jws.sig")
    verified = document(cli, "blob", "verify", "--signature", signed["signature"], blob)
    assert verified["kind"] == "blob verify" and verified["result"] == "verified"
    blob.write_bytes(b"tampered\n")
    failed = document(cli, "blob", "verify", "--signature", signed["signature"], blob, code=1)
    assert failed["result"] == "failed" and failed["failures"]


def test_an_unknown_output_format_is_a_usage_error(cli: Cli, layout: Layout) -> None:
    result = cli("list", "--oci-layout", layout.by_digest, "-o", "yaml")
    assert result.code == 2 and 'unrecognized output format "yaml"' in result.err


def test_text_output_comes_back_after_a_json_run(cli: Cli, layout: Layout) -> None:
    document(cli, "list", "--oci-layout", layout.by_digest)
    assert "has no associated signature" in cli.ok("list", "--oci-layout", layout.by_digest).out


def test_force_referrers_tag_accepts_go_boolean_values(cli: Cli, layout: Layout) -> None:
    for value in ("false", "true"):
        result = cli("sign", "--oci-layout", layout.by_digest, f"--force-referrers-tag={value}")
        if value == "true":
            assert result.code == 2 and "cannot be used with --oci-layout" in result.err
        else:
            assert result.code == 0, result.text
