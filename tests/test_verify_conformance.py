"""End-to-end verification of every signature vector in cases.json (kinds oci-envelope, blob, plugin).

Each case runs through :func:`notation_py.verify.verify_signature` with the case's trust policy and
trust store, at every level the case lists, and must give the case's result, failing check and
notation-go's message. Revocation runs with a transport that refuses any network access: the
vectors' certificates carry no OCSP/CRL URLs, so a network attempt would itself be a failure.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from notation_py.policy.document import BlobTrustPolicy, OCITrustPolicy, TrustPolicyStatement
from notation_py.policy.levels import Action, Check, VerificationLevel
from notation_py.policy.truststore import X509TrustStore
from notation_py.revocation import RevocationChecker
from notation_py.trust import PolicyTrustAnchors
from notation_py.verify import (
    SignatureOutcome,
    SignatureVerificationError,
    blob_matcher,
    descriptor_matcher,
    verify_signature,
)
from tests.conformance import cases_of_kind, conformance_root, vector


class _NoNetwork:
    """Revocation transport that fails the test if any request is attempted."""

    def get(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        raise AssertionError(f"unexpected network access: GET {url}")

    def post(self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int) -> bytes:
        raise AssertionError(f"unexpected network access: POST {url}")


def _trust_store(c: dict[str, Any], tmp_path: Path) -> X509TrustStore:
    if "configDir" in c:
        return X509TrustStore(conformance_root() / c["configDir"] / "truststore")
    root = tmp_path / "truststore"
    for ref, files in c["trustStoreFiles"].items():
        store_type, name = ref.split(":", 1)
        directory = root / "x509" / store_type / name
        directory.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(vector(f), directory / Path(f).name)
    return X509TrustStore(root)


def _anchors(statement: TrustPolicyStatement, store: X509TrustStore, plugins: Path) -> PolicyTrustAnchors:
    return PolicyTrustAnchors(
        statement, store, revocation=RevocationChecker(transport=_NoNetwork()), plugin_directory=plugins
    )


def _with_level(statement: TrustPolicyStatement, level: str) -> TrustPolicyStatement:
    return dataclasses.replace(statement, level=VerificationLevel.build(level, statement.overrides or None))


def _run(c: dict[str, Any], statement: TrustPolicyStatement, tmp_path: Path, **kw: Any) -> SignatureOutcome:
    envelope = vector(c["envelope"]).read_bytes()
    d = c["artifactDescriptor"]
    return verify_signature(
        envelope,
        c["envelopeMediaType"],
        _anchors(statement, _trust_store(c, tmp_path), tmp_path / "plugins"),
        descriptor_matcher(d["mediaType"], d["digest"], d["size"]),
        **kw,
    )


def _oci_statement(c: dict[str, Any]) -> TrustPolicyStatement:
    # The Go tests do not pre-validate these documents: malformed values must surface at verification.
    policy = OCITrustPolicy.from_bytes(json.dumps(c["trustPolicyOCI"]).encode(), validate=False)
    return policy.statement_for(c["artifactReference"])


_LEVEL_CASES = [
    pytest.param(c, level, expected, id=f"{c['id']}-{level}")
    for c in cases_of_kind("oci-envelope")
    if "levels" in c
    for level, expected in c["levels"].items()
]


@pytest.mark.parametrize(("c", "level", "expected"), _LEVEL_CASES)
def test_oci_envelope_levels(c: dict[str, Any], level: str, expected: dict[str, Any], tmp_path: Path) -> None:
    statement = _with_level(_oci_statement(c), level)
    if expected["result"] == "fail":
        with pytest.raises(SignatureVerificationError) as info:
            _run(c, statement, tmp_path)
        outcome = info.value.outcome
        assert outcome.error == expected["error"]
        failed = [r for r in outcome.results if r.error is not None]
        assert failed and failed[-1].check == Check(expected["check"])
        assert failed[-1].action is Action.ENFORCE
        return
    outcome = _run(c, statement, tmp_path)
    assert outcome.verified
    if expected["result"] == "pass":
        assert outcome.warnings == []
    else:
        assert expected["result"] == "pass-with-logged-failure"
        logged = {(r.check.value, r.error) for r in outcome.warnings}
        assert (expected["check"], expected["error"]) in logged


_EXPECTED_PASS = [
    pytest.param(c, id=c["id"]) for c in cases_of_kind("oci-envelope") if c.get("expected", {}).get("result") == "pass"
]


@pytest.mark.parametrize("c", _EXPECTED_PASS)
def test_oci_envelope_expected_pass(c: dict[str, Any], tmp_path: Path) -> None:
    outcome = _run(c, _oci_statement(c), tmp_path)
    assert outcome.verified
    assert outcome.content is not None


def test_oci_envelope_pass_is_not_vacuous(tmp_path: Path) -> None:
    """The same passing vector fails against another artifact: the descriptor check is real."""
    c = next(x for x in cases_of_kind("oci-envelope") if x["id"] == "ng-example-localVerify-cose")
    envelope = vector(c["envelope"]).read_bytes()
    d = c["artifactDescriptor"]
    with pytest.raises(SignatureVerificationError, match="content descriptor mismatch"):
        verify_signature(
            envelope,
            c["envelopeMediaType"],
            _anchors(_oci_statement(c), _trust_store(c, tmp_path), tmp_path / "plugins"),
            descriptor_matcher(d["mediaType"], d["digest"], d["size"] + 1),
        )


_METADATA = [
    pytest.param(c, m, id=f"{c['id']}-{i}")
    for c in cases_of_kind("oci-envelope")
    if "userMetadataCases" in c
    for i, m in enumerate(c["userMetadataCases"])
]


@pytest.mark.parametrize(("c", "m"), _METADATA)
def test_user_metadata(c: dict[str, Any], m: dict[str, Any], tmp_path: Path) -> None:
    if m["result"] == "pass":
        assert _run(c, _oci_statement(c), tmp_path, user_metadata=m["userMetadata"]).verified
    else:
        with pytest.raises(SignatureVerificationError, match="unable to find specified metadata"):
            _run(c, _oci_statement(c), tmp_path, user_metadata=m["userMetadata"])


_PLUGIN = [pytest.param(c, id=c["id"]) for c in cases_of_kind("oci-envelope-plugin")]


@pytest.mark.parametrize("c", _PLUGIN)
def test_plugin_envelopes_fail_without_plugin_support(c: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(SignatureVerificationError) as info:
        _run(c, _oci_statement(c), tmp_path)
    assert info.value.outcome.error is not None
    assert info.value.outcome.error.startswith("error while locating the verification plugin")


def test_installed_but_broken_plugin_still_fails(tmp_path: Path) -> None:
    c = next(x for x in cases_of_kind("oci-envelope-plugin") if x["id"] == "ng-plugin-ca")
    plugin = tmp_path / "plugins" / "plugin-name" / "notation-plugin-name"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("#!/bin/sh\nexit 0\n")
    plugin.chmod(0o755)
    with pytest.raises(SignatureVerificationError, match="get-plugin-metadata response is not valid JSON"):
        _run(c, _oci_statement(c), tmp_path)


def _blob_statement(c: dict[str, Any], level: str | None = None) -> TrustPolicyStatement:
    policy = BlobTrustPolicy.from_bytes(json.dumps(c["trustPolicyBlob"]).encode())
    statement = policy.statement_for(c["policyName"])
    return _with_level(statement, level) if level else statement


def _run_blob(c: dict[str, Any], statement: TrustPolicyStatement, tmp_path: Path, **kw: Any) -> SignatureOutcome:
    media_type = kw.pop("media_type", None)
    blob = kw.pop("blob", vector(c["blob"]))
    return verify_signature(
        vector(c["envelope"]).read_bytes(),
        c["envelopeMediaType"],
        _anchors(statement, _trust_store(c, tmp_path), tmp_path / "plugins"),
        blob_matcher(blob, media_type),
        **kw,
    )


_BLOB_SUB = [
    pytest.param(c, s, id=f"{c['id']}-{s['name']}")
    for c in cases_of_kind("blob")
    if "subcases" in c
    for s in c["subcases"]
]


@pytest.mark.parametrize(("c", "s"), _BLOB_SUB)
def test_blob_subcases(c: dict[str, Any], s: dict[str, Any], tmp_path: Path) -> None:
    statement = _blob_statement(c, s.get("policyLevel"))
    kw: dict[str, Any] = {"user_metadata": s.get("userMetadata")}
    if "overrideDigest" in s:
        # Go feeds a descriptor with another digest; the equivalent here is a blob with other bytes.
        other = tmp_path / "other.txt"
        other.write_bytes(vector(c["blob"]).read_bytes()[:-1] + b"X")
        kw["blob"] = other
    if s["result"] == "fail":
        with pytest.raises(SignatureVerificationError) as info:
            _run_blob(c, statement, tmp_path, **kw)
        assert info.value.outcome.error == s["error"]
    else:
        assert _run_blob(c, statement, tmp_path, **kw).verified


def test_blob_media_type_is_compared_when_given(tmp_path: Path) -> None:
    c = next(x for x in cases_of_kind("blob") if x["id"] == "ng-blob-sha384-jws")
    assert _run_blob(c, _blob_statement(c), tmp_path, media_type="video/mp4").verified
    with pytest.raises(SignatureVerificationError, match="signature does not match the given blob"):
        _run_blob(c, _blob_statement(c), tmp_path, media_type="application/octet-stream")


_BLOB_EXPECTED = [pytest.param(c, id=c["id"]) for c in cases_of_kind("blob") if "expected" in c]


@pytest.mark.parametrize("c", _BLOB_EXPECTED)
def test_blob_expected(c: dict[str, Any], tmp_path: Path) -> None:
    assert c["expected"]["result"] == "pass"
    assert _run_blob(c, _blob_statement(c), tmp_path).verified


def test_revocation_enforced_without_checker_fails_closed(tmp_path: Path) -> None:
    c = next(x for x in cases_of_kind("oci-envelope") if x["id"] == "ng-mock-ca-valid")
    statement = _with_level(_oci_statement(c), "strict")
    d = c["artifactDescriptor"]
    anchors = PolicyTrustAnchors(statement, _trust_store(c, tmp_path), revocation=None)
    with pytest.raises(SignatureVerificationError) as info:
        verify_signature(
            vector(c["envelope"]).read_bytes(),
            c["envelopeMediaType"],
            anchors,
            descriptor_matcher(d["mediaType"], d["digest"], d["size"]),
        )
    assert info.value.outcome.results[-1].check is Check.REVOCATION
    assert info.value.outcome.error == "revocation checking is not configured"
