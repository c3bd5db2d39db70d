"""Signature storage: push, list and fetch through an ArtifactStore."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from notation_py.errors import ArtifactError, DigestError, UnsupportedEnvelopeError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.digest import compute
from notation_py.oci.layout import OCILayout
from notation_py.oci.manifest import (
    ANNOTATION_CREATED,
    ANNOTATION_THUMBPRINTS,
    ARTIFACT_TYPE_NOTARY,
    EMPTY_JSON,
    MAX_ENVELOPE_SIZE,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_MANIFEST,
)
from notation_py.oci.signatures import fetch_signature, list_signature_manifests, push_signature
from notation_py.oci.store import ArtifactStore
from tests.conformance import vector

JWS = vector("notation-go/oci-layout-alpine/jws_signature.sig").read_bytes()
COSE = vector("notation-go/oci-layout-alpine/cose_signature.sig").read_bytes()
CREATED = datetime(2025, 1, 21, 9, 17, 46, tzinfo=UTC)
THUMBPRINTS = [hashlib.sha256(b"leaf").hexdigest(), hashlib.sha256(b"root").hexdigest()]


def _index_entries(root: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((root / "index.json").read_bytes())["manifests"]
    return entries


def test_push_list_fetch_round_trip(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    subject = store.resolve("v2")
    jws_desc = push_signature(store, subject, "application/jose+json", JWS, THUMBPRINTS, CREATED)
    cose_desc = push_signature(
        store, subject, "application/cose", COSE, THUMBPRINTS[:1], CREATED, {"io.example.plugin": "yes"}
    )
    assert jws_desc.artifact_type == ARTIFACT_TYPE_NOTARY
    assert jws_desc.annotations is not None
    assert json.loads(jws_desc.annotations[ANNOTATION_THUMBPRINTS]) == THUMBPRINTS

    listed = list(list_signature_manifests(store, subject, 100))
    assert {d.digest for d in listed} == {jws_desc.digest, cose_desc.digest}
    assert list(list_signature_manifests(store, subject, 1)) == listed[:1]

    fetched = {f.envelope_media_type: f for f in (fetch_signature(store, d, subject) for d in listed)}
    assert fetched["application/jose+json"].envelope == JWS
    assert fetched["application/cose"].envelope == COSE
    assert fetched["application/cose"].annotations["io.example.plugin"] == "yes"
    assert fetched["application/cose"].annotations[ANNOTATION_CREATED] == "2025-01-21T09:17:46Z"
    assert fetched["application/jose+json"].envelope_descriptor == Descriptor.of("application/jose+json", JWS)

    # index.json lists each signature manifest untagged, as oras-go's oci.Store writes it.
    entry = next(e for e in _index_entries(alpine_copy) if e["digest"] == str(jws_desc.digest))
    assert entry == {
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "digest": str(jws_desc.digest),
        "size": jws_desc.size,
        "annotations": {
            ANNOTATION_THUMBPRINTS: json.dumps(THUMBPRINTS, separators=(",", ":")),
            ANNOTATION_CREATED: "2025-01-21T09:17:46Z",
        },
        "artifactType": ARTIFACT_TYPE_NOTARY,
    }
    # Blobs: the empty config, the envelope, the manifest.
    for digest in (compute(EMPTY_JSON), compute(JWS), jws_desc.digest):
        assert store.blob_path(digest).is_file()
    # Signatures of another artifact are not listed.
    other = Descriptor(MEDIA_TYPE_OCI_MANIFEST, compute(b"other"), 5)
    assert list(list_signature_manifests(store, other, 100)) == []


class RecordingStore:
    """An ArtifactStore that records calls and delegates to a layout."""

    def __init__(self, inner: OCILayout) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def resolve(self, reference: str) -> Descriptor:
        return self.inner.resolve(reference)

    def fetch_manifest(self, desc: Descriptor) -> bytes:
        return self.inner.fetch_manifest(desc)

    def fetch_blob(self, desc: Descriptor, max_size: int) -> bytes:
        self.calls.append(f"fetch_blob {max_size}")
        return self.inner.fetch_blob(desc, max_size)

    def push_blob(self, media_type: str, data: bytes) -> Descriptor:
        self.calls.append(f"blob {media_type}")
        return self.inner.push_blob(media_type, data)

    def push_manifest(self, media_type: str, data: bytes, tag: str | None = None) -> Descriptor:
        self.calls.append(f"manifest {media_type} {tag}")
        return self.inner.push_manifest(media_type, data, tag)

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        self.calls.append(f"referrers {artifact_type}")
        return self.inner.referrers(subject, artifact_type)


def test_blobs_are_pushed_before_the_manifest(alpine_copy: Path) -> None:
    store = RecordingStore(OCILayout(alpine_copy))
    assert isinstance(store, ArtifactStore)
    desc = push_signature(store, store.resolve("v2"), "application/cose", COSE, THUMBPRINTS, CREATED)
    assert store.calls == [
        f"blob {MEDIA_TYPE_EMPTY_JSON}",
        "blob application/cose",
        f"manifest {MEDIA_TYPE_OCI_MANIFEST} None",
    ]
    store.calls.clear()
    fetch_signature(store, desc)
    assert store.calls == [f"fetch_blob {MAX_ENVELOPE_SIZE}"]


def test_invalid_input_writes_nothing(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    before = sorted(p.name for p in (alpine_copy / "blobs" / "sha256").iterdir())
    subject = store.resolve("v2")
    with pytest.raises(UnsupportedEnvelopeError):
        push_signature(store, subject, "application/json", JWS, THUMBPRINTS, CREATED)
    with pytest.raises(UsageError):
        push_signature(store, subject, "application/jose+json", JWS, ["nothex"], CREATED)
    assert sorted(p.name for p in (alpine_copy / "blobs" / "sha256").iterdir()) == before


def _write_manifest(store: OCILayout, manifest: dict[str, Any], entry_extra: dict[str, Any]) -> Descriptor:
    """Write a manifest blob and list it in index.json by hand, as another tool would."""
    data = json.dumps(manifest, indent=2).encode()
    desc = Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, data)
    store.blob_path(desc.digest).write_bytes(data)
    index = json.loads((store.path / "index.json").read_bytes())
    index["manifests"].append({**desc.to_dict(), **entry_extra})
    (store.path / "index.json").write_text(json.dumps(index, indent=4))
    return desc


def _legacy_signature(store: OCILayout, subject: Descriptor, envelope: bytes, media_type: str) -> dict[str, Any]:
    """The OCI 1.0 form notation v1.0 wrote: no artifactType, config media type = notary."""
    config = store.push_blob(ARTIFACT_TYPE_NOTARY, EMPTY_JSON)
    layer = store.push_blob(media_type, envelope)
    return {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "config": config.to_dict(),
        "layers": [layer.to_dict()],
        "subject": subject.to_dict(),
        "annotations": {ANNOTATION_THUMBPRINTS: json.dumps(THUMBPRINTS), ANNOTATION_CREATED: "2023-05-09T00:00:00Z"},
    }


def test_legacy_form_signatures_are_read(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    subject = store.resolve("v2")
    legacy = _write_manifest(store, _legacy_signature(store, subject, JWS, "application/jose+json"), {})
    # Not a signature: another artifact type referring to the same subject.
    sbom_layer = store.push_blob("application/spdx+json", b"{}")
    empty = store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    _write_manifest(
        store,
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "artifactType": "application/spdx+json",
            "config": empty.to_dict(),
            "layers": [sbom_layer.to_dict()],
            "subject": subject.to_dict(),
        },
        {"artifactType": ARTIFACT_TYPE_NOTARY},  # a lying index entry must not matter
    )
    listed = list(list_signature_manifests(store, subject, 10))
    assert [d.digest for d in listed] == [legacy.digest]
    assert listed[0].artifact_type == ARTIFACT_TYPE_NOTARY
    fetched = fetch_signature(store, listed[0], subject)
    assert fetched.envelope == JWS
    assert fetched.annotations[ANNOTATION_CREATED] == "2023-05-09T00:00:00Z"


def test_fetch_signature_errors(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    subject = store.resolve("v2")
    desc = push_signature(store, subject, "application/jose+json", JWS, THUMBPRINTS, CREATED)

    other = Descriptor(MEDIA_TYPE_OCI_MANIFEST, compute(b"other"), 5)
    with pytest.raises(ArtifactError, match="refers to"):
        fetch_signature(store, desc, other)

    path = store.blob_path(compute(JWS))
    path.write_bytes(JWS[:-1] + b"!")
    with pytest.raises(DigestError, match=f"expected {compute(JWS)}"):
        fetch_signature(store, desc, subject)

    huge = _legacy_signature(store, subject, JWS, "application/jose+json")
    huge["layers"][0]["size"] = MAX_ENVELOPE_SIZE + 1
    huge_desc = _write_manifest(store, huge, {})
    with pytest.raises(ArtifactError, match=f"signature blob too large: {MAX_ENVELOPE_SIZE + 1} bytes"):
        fetch_signature(store, huge_desc)


def test_max_count_must_be_positive(alpine_copy: Path) -> None:
    store = OCILayout(alpine_copy)
    with pytest.raises(UsageError, match="at least 1"):
        list(list_signature_manifests(store, store.resolve("v2"), 0))
