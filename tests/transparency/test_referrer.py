"""Proof referrers of signature manifests in an OCI image layout: push, find, and what is skipped or refused."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from notation_py.envelope import MEDIA_TYPE_JWS
from notation_py.envelope.payload import TargetArtifact, build_payload
from notation_py.errors import ArtifactError, TransparencyError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import (
    ANNOTATION_CREATED,
    EMPTY_JSON,
    EMPTY_JSON_DESCRIPTOR,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_MANIFEST,
    go_json,
)
from notation_py.oci.signatures import push_signature
from notation_py.transparency import (
    ANNOTATION_TLOG_INDEX,
    ANNOTATION_TLOG_ORIGIN,
    ANNOTATION_TLOG_PROOF,
    ANNOTATION_TLOG_TREE_SIZE,
    ARTIFACT_TYPE_TLOG_PROOF,
    MEDIA_TYPE_TLOG_PROOF,
    Inclusion,
    LoggedSignature,
    find_proof_referrers,
    push_proof_referrer,
    verify_proof_offline,
)
from tests.envelope.helpers import sign
from tests.pki import chain_signer
from tests.transparency.helpers import PureLog, filler, policy

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
THUMBPRINTS = [hashlib.sha256(b"leaf").hexdigest()]


@dataclass(frozen=True)
class Signed:
    """An image in a layout, signed, its signature logged in a pure log."""

    store: OCILayout
    image: Descriptor
    signature_manifest: Descriptor
    signature: LoggedSignature
    inclusion: Inclusion


def push_image(store: OCILayout, name: str) -> Descriptor:
    layer = store.push_blob("application/vnd.oci.image.layer.v1.tar", name.encode())
    store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": EMPTY_JSON_DESCRIPTOR.to_dict(),
        "layers": [layer.to_dict()],
    }
    return store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, go_json(manifest), tag=name).plain()


def sign_and_log(store: OCILayout, image: Descriptor) -> Signed:
    payload = build_payload(TargetArtifact(media_type=image.media_type, digest=str(image.digest), size=image.size))
    envelope = sign(MEDIA_TYPE_JWS, chain_signer("ec-256"), payload=payload)
    signature_manifest = push_signature(store, image, MEDIA_TYPE_JWS, envelope, THUMBPRINTS, CREATED)
    signature = LoggedSignature(
        envelope, MEDIA_TYPE_JWS, str(image.digest), image.media_type, image.size, str(signature_manifest.digest)
    )
    log = PureLog(entries=[filler(0), signature.leaf(None), filler(1)])
    inclusion = verify_proof_offline(log.proof(1, None), signature, policy())
    return Signed(store, image, signature_manifest, signature, inclusion)


@pytest.fixture
def signed(tmp_path: Path) -> Signed:
    store = OCILayout.create(tmp_path / "layout")
    return sign_and_log(store, push_image(store, "v1"))


def test_push_then_find_then_verify(signed: Signed) -> None:
    referrer = push_proof_referrer(signed.store, signed.signature_manifest, signed.inclusion, CREATED)
    assert (referrer.media_type, referrer.artifact_type) == (MEDIA_TYPE_OCI_MANIFEST, ARTIFACT_TYPE_TLOG_PROOF)
    assert referrer.annotations == {
        ANNOTATION_CREATED: "2026-01-02T03:04:05Z",
        ANNOTATION_TLOG_INDEX: "1",
        ANNOTATION_TLOG_ORIGIN: signed.inclusion.origin,
        ANNOTATION_TLOG_PROOF: base64.b64encode(signed.inclusion.proof).decode(),
        ANNOTATION_TLOG_TREE_SIZE: "3",
    }
    found = find_proof_referrers(signed.store, signed.signature_manifest)
    assert [(d.digest, proof) for d, proof in found] == [(referrer.digest, signed.inclusion.proof)]
    assert find_proof_referrers(signed.store, signed.signature_manifest, embedded=True) == found
    assert verify_proof_offline(found[0][1], signed.signature, policy()) == signed.inclusion
    # Not a signature of the image: notation's signature listing is unchanged.
    assert list(signed.store.referrers(signed.image)) == [signed.signature_manifest]


def test_manifest_layout_is_the_documented_one(signed: Signed) -> None:
    created = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    referrer = push_proof_referrer(signed.store, signed.signature_manifest, signed.inclusion, created)
    raw = signed.store.fetch_manifest(referrer)
    doc = json.loads(raw)
    assert list(doc) == ["schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"]
    assert doc["config"] == EMPTY_JSON_DESCRIPTOR.to_dict()
    assert doc["layers"] == [Descriptor.of(MEDIA_TYPE_TLOG_PROOF, signed.inclusion.proof).to_dict()]
    assert doc["subject"] == signed.signature_manifest.plain().to_dict()
    assert doc["annotations"][ANNOTATION_CREATED] == "2026-01-02T03:04:05Z"
    assert list(doc["annotations"]) == sorted(doc["annotations"])
    with pytest.raises(UsageError, match="timezone-aware"):
        push_proof_referrer(signed.store, signed.signature_manifest, signed.inclusion, datetime(2026, 1, 1))


def test_a_proof_of_another_signature_is_not_found(signed: Signed) -> None:
    other = sign_and_log(signed.store, signed.image)  # a second signature of the same image
    push_proof_referrer(signed.store, other.signature_manifest, other.inclusion, CREATED)
    assert find_proof_referrers(signed.store, signed.signature_manifest) == []
    assert len(find_proof_referrers(signed.store, other.signature_manifest)) == 1


def push_referrer(store: OCILayout, subject: Descriptor, *, artifact_type: str, layers: list[Descriptor]) -> Descriptor:
    store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": EMPTY_JSON_DESCRIPTOR.to_dict(),
        "layers": [d.to_dict() for d in layers],
        "subject": subject.plain().to_dict(),
    }
    return store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, go_json(manifest))


def test_other_artifact_types_are_skipped(signed: Signed) -> None:
    sbom = signed.store.push_blob("application/spdx+json", b"{}")
    push_referrer(signed.store, signed.signature_manifest, artifact_type="application/spdx+json", layers=[sbom])
    assert find_proof_referrers(signed.store, signed.signature_manifest) == []
    pushed = push_proof_referrer(signed.store, signed.signature_manifest, signed.inclusion, CREATED)
    assert [d.digest for d, _ in find_proof_referrers(signed.store, signed.signature_manifest)] == [pushed.digest]


def test_malformed_proof_referrers_are_refused_or_collected(signed: Signed) -> None:
    store, subject = signed.store, signed.signature_manifest
    proof = store.push_blob(MEDIA_TYPE_TLOG_PROOF, signed.inclusion.proof)
    wrong_type = store.push_blob("text/plain", signed.inclusion.proof)
    two = push_referrer(store, subject, artifact_type=ARTIFACT_TYPE_TLOG_PROOF, layers=[proof, proof])
    with pytest.raises(
        TransparencyError, match=f"transparency proof referrer {two.digest}: it must have exactly one layer"
    ):
        find_proof_referrers(store, subject)
    push_referrer(store, subject, artifact_type=ARTIFACT_TYPE_TLOG_PROOF, layers=[wrong_type])
    good = push_proof_referrer(store, subject, signed.inclusion, CREATED)
    errors: list[TransparencyError] = []
    found = find_proof_referrers(store, subject, errors=errors)
    assert [d.digest for d, _ in found] == [good.digest]
    assert len(errors) == 2 and all("it must have exactly one layer of media type" in e.message for e in errors)
    assert len(find_proof_referrers(store, subject, 1, errors=[])) <= 1
    with pytest.raises(UsageError, match="at least 1"):
        find_proof_referrers(store, subject, 0)


def test_missing_or_oversized_proof_layer(signed: Signed) -> None:
    store, subject = signed.store, signed.signature_manifest
    referrer = push_proof_referrer(store, subject, signed.inclusion, CREATED)
    proof_digest = Descriptor.of(MEDIA_TYPE_TLOG_PROOF, signed.inclusion.proof).digest
    store.blob_path(proof_digest).write_bytes(b"tampered")
    with pytest.raises(TransparencyError, match=f"transparency proof referrer {referrer.digest}: "):
        find_proof_referrers(store, subject)
    store.blob_path(proof_digest).unlink()
    with pytest.raises(TransparencyError, match="transparency proof referrer"):
        find_proof_referrers(store, subject)


class LyingStore:
    """A store whose referrers listing returns every manifest it is told to, whatever their subject."""

    def __init__(self, store: OCILayout, listed: list[Descriptor]) -> None:
        self.store = store
        self.listed = listed

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        yield from self.listed


def test_a_referrer_of_another_subject_is_refused(signed: Signed) -> None:
    other = sign_and_log(signed.store, signed.image)
    theirs = push_proof_referrer(signed.store, other.signature_manifest, other.inclusion, CREATED)
    lying = LyingStore(signed.store, [theirs])
    with pytest.raises(TransparencyError) as info:
        find_proof_referrers(lying, signed.signature_manifest)  # type: ignore[arg-type]
    assert info.value.message == (
        f"transparency proof referrer {theirs.digest}: it has subject {other.signature_manifest.digest}, "
        f"not the signature manifest {signed.signature_manifest.digest}"
    )
    # A listing that ignores the artifact type filter: non-proof referrers are skipped, not fetched.
    assert find_proof_referrers(LyingStore(signed.store, [signed.signature_manifest]), signed.image) == []  # type: ignore[arg-type]


def test_store_failures_while_pushing_are_artifact_errors(tmp_path: Path, signed: Signed) -> None:
    class Full(OCILayout):
        def push_blob(self, media_type: str, data: bytes) -> Descriptor:
            raise ArtifactError("disk full")

    with pytest.raises(ArtifactError, match="disk full"):
        push_proof_referrer(Full(signed.store.path), signed.signature_manifest, signed.inclusion, CREATED)
