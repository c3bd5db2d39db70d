"""Storing a transparency proof as an OCI referrer of the signature manifest, and finding it again.

The proof referrer is an OCI image manifest::

    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "artifactType": "application/vnd.notation-py.tlog-proof.v1",
      "config": <the empty JSON descriptor>,
      "layers": [{"mediaType": "application/vnd.c2sp.tlog-proof.v1", ...}],   // the exact proof bytes
      "subject": <the signature manifest descriptor>,
      "annotations": {
        "io.notation-py.tlog.index": "41",
        "io.notation-py.tlog.origin": "log.example.com/notary",
        "io.notation-py.tlog.proof": "<standard base64 of the proof bytes>",
        "io.notation-py.tlog.treeSize": "57",
        "org.opencontainers.image.created": "2026-01-02T03:04:05Z"
      }
    }

The origin, index and tree size annotations are informational (for ``inspect`` and humans). The
``io.notation-py.tlog.proof`` annotation repeats the proof layer, so that a verifier finds the proof in
the referrers listing itself (the referrers API and the tag schema both copy manifest annotations)
and saves two round trips (manifest and blob) per signature. That is safe because a proof needs no
integrity from its carrier: it is verified against the log's pinned key and the leaf the verifier
recomputes (:func:`~notation_py.transparency.proof.verify_proof_offline`), whatever it was read from.
If the embedded copy does not verify, verifiers fall back to the digest-addressed layer.

**Announcement.** ``sign --tlog`` also pushes a second copy of the proof manifest whose subject is the
*signed artifact*, with :data:`ANNOTATION_TLOG_SIGNATURE` naming the signature manifest. A verifier
lists the artifact's referrers anyway (to find its signatures); reading that listing unfiltered, it
finds each signature's proof in the same answer: a stored proof then costs no request at all. The
announcement is an optimisation only: without it (an older signature, a copy that lost it, a listing
that was filtered) the proof referrer of the signature manifest is looked up as before. notation
filters referrers by the signature artifact type and never sees either manifest.
Referring to the *signature manifest* (not the signed artifact) ties the proof to one signature
and keeps notation's signature listing unchanged. Pushing follows the signature convention: blobs
first (empty config, proof), then the manifest, so a store never lists a manifest with missing
content. Built like notation-go builds manifests (Go field order, sorted annotations).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from notation_py.errors import ArtifactError, DigestError, TransparencyError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.manifest import (
    ANNOTATION_CREATED,
    EMPTY_JSON,
    EMPTY_JSON_DESCRIPTOR,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_MANIFEST,
    ImageManifest,
    go_json,
)
from notation_py.oci.store import ArtifactStore
from notation_py.transparency.proof import Inclusion
from tlog.proof import MAX_PROOF_SIZE

#: ``artifactType`` of a proof referrer.
ARTIFACT_TYPE_TLOG_PROOF: Final = "application/vnd.notation-py.tlog-proof.v1"
#: Media type of the proof layer: ``c2sp.org/tlog-proof@v1`` bytes.
MEDIA_TYPE_TLOG_PROOF: Final = "application/vnd.c2sp.tlog-proof.v1"
#: Annotation: the log origin (informational).
ANNOTATION_TLOG_ORIGIN: Final = "io.notation-py.tlog.origin"
#: Annotation: the entry index (informational).
ANNOTATION_TLOG_INDEX: Final = "io.notation-py.tlog.index"
#: Annotation: the tree size of the proof's checkpoint (informational).
ANNOTATION_TLOG_TREE_SIZE: Final = "io.notation-py.tlog.treeSize"
#: Annotation: the proof bytes, standard base64 (a copy of the layer, read from the referrers listing).
ANNOTATION_TLOG_PROOF: Final = "io.notation-py.tlog.proof"
#: Annotation of an announcement: the digest of the signature manifest whose proof it repeats.
ANNOTATION_TLOG_SIGNATURE: Final = "io.notation-py.tlog.signature"
#: Largest proof layer read.
MAX_PROOF_BLOB_SIZE: Final = MAX_PROOF_SIZE
#: Largest proof also embedded as an annotation (typical proofs are 1-2 KiB; referrers listings stay small).
MAX_EMBEDDED_PROOF_SIZE: Final = 16 * 1024


def proof_manifest(
    signature_manifest: Descriptor, inclusion: Inclusion, created: datetime, *, announce_for: Descriptor | None = None
) -> bytes:
    """The proof referrer manifest bytes for ``inclusion``.

    With ``announce_for`` (the signed artifact), the *announcement* instead: the same manifest with the
    artifact as its subject and :data:`ANNOTATION_TLOG_SIGNATURE` naming the signature manifest.

    Raises:
        UsageError: ``created`` is naive, or the proof is larger than :data:`MAX_PROOF_BLOB_SIZE`.
    """
    if created.tzinfo is None or created.utcoffset() is None:
        raise UsageError("proof creation time must be timezone-aware")
    if len(inclusion.proof) > MAX_PROOF_BLOB_SIZE:
        raise UsageError(f"transparency proof too large: {len(inclusion.proof)} bytes")
    annotations = {
        ANNOTATION_CREATED: created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ANNOTATION_TLOG_INDEX: str(inclusion.index),
        ANNOTATION_TLOG_ORIGIN: inclusion.origin,
        ANNOTATION_TLOG_TREE_SIZE: str(inclusion.tree_size),
    }
    if len(inclusion.proof) <= MAX_EMBEDDED_PROOF_SIZE:
        annotations[ANNOTATION_TLOG_PROOF] = base64.b64encode(inclusion.proof).decode("ascii")
    if announce_for is not None:
        annotations[ANNOTATION_TLOG_SIGNATURE] = str(signature_manifest.digest)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE_TLOG_PROOF,
        "config": EMPTY_JSON_DESCRIPTOR.to_dict(),
        "layers": [Descriptor.of(MEDIA_TYPE_TLOG_PROOF, inclusion.proof).to_dict()],
        "subject": (announce_for or signature_manifest).plain().to_dict(),
        "annotations": {k: annotations[k] for k in sorted(annotations)},
    }
    return go_json(manifest)


def push_proof_referrer(
    store: ArtifactStore,
    signature_manifest: Descriptor,
    inclusion: Inclusion,
    created: datetime,
    *,
    announce_for: Descriptor | None = None,
) -> Descriptor:
    """Store ``inclusion.proof`` as a referrer of ``signature_manifest``; return the referrer's descriptor.

    With ``announce_for`` (the signed artifact), the announcement is pushed after the proof referrer
    (see the module docstring).

    Raises:
        UsageError: ``created`` is naive or the proof too large.
        ArtifactError: the store refused the content.
    """
    data = proof_manifest(signature_manifest, inclusion, created)
    announcement = (
        proof_manifest(signature_manifest, inclusion, created, announce_for=announce_for)
        if announce_for is not None
        else None
    )
    store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    expected = Descriptor.of(MEDIA_TYPE_TLOG_PROOF, inclusion.proof)
    pushed = store.push_blob(MEDIA_TYPE_TLOG_PROOF, inclusion.proof)
    if pushed.digest != expected.digest or pushed.size != expected.size:
        raise ArtifactError(f"store recorded the transparency proof as {pushed.digest}, expected {expected.digest}")
    referrer = store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data)
    if announcement is not None:
        store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, announcement)
    return referrer


def announced_proofs(listing: Iterable[Descriptor], signature_manifest: Descriptor) -> list[bytes]:
    """The proofs that announcements in an artifact's referrers ``listing`` carry for ``signature_manifest``.

    Read from the listing's annotations alone (no request); unverified, like any stored proof.
    """
    wanted = str(signature_manifest.digest)
    found: list[bytes] = []
    for desc in listing:
        if desc.artifact_type != ARTIFACT_TYPE_TLOG_PROOF or desc.media_type != MEDIA_TYPE_OCI_MANIFEST:
            continue
        if (desc.annotations or {}).get(ANNOTATION_TLOG_SIGNATURE) != wanted:
            continue
        if (proof := embedded_proof(desc)) is not None:
            found.append(proof)
    return found


def find_proof_referrers(
    store: ArtifactStore,
    signature_manifest: Descriptor,
    max_count: int = 16,
    *,
    errors: list[TransparencyError] | None = None,
    embedded: bool = False,
) -> list[tuple[Descriptor, bytes]]:
    """The proof referrers of ``signature_manifest`` and their proof bytes (not verified), at most ``max_count``.

    Referrers of another artifact type are skipped. Each candidate's manifest must be a proof
    referrer of exactly this signature manifest with one proof layer of at most
    :data:`MAX_PROOF_BLOB_SIZE` bytes; the store checks digests and sizes.

    Args:
        store: Where the signature is.
        signature_manifest: The signature manifest's descriptor.
        max_count: Most candidates examined (valid or not).
        errors: If given, a malformed candidate's error is appended here and the candidate skipped;
            otherwise the first one is raised.
        embedded: Take the proof from the listing's :data:`ANNOTATION_TLOG_PROOF` when it has one
            (no manifest or blob fetch); such proofs are as unchecked as any other until verified.

    Raises:
        UsageError: ``max_count`` is below 1.
        TransparencyError: a candidate is malformed, missing or does not match its descriptor
            (unless ``errors`` collects them).
        ArtifactError: the referrers cannot be listed.
    """
    if max_count < 1:
        raise UsageError(f"the maximum number of transparency proofs must be at least 1, got {max_count}")
    found: list[tuple[Descriptor, bytes]] = []
    examined = 0
    for desc in store.referrers(signature_manifest, ARTIFACT_TYPE_TLOG_PROOF):
        if desc.media_type != MEDIA_TYPE_OCI_MANIFEST or desc.artifact_type != ARTIFACT_TYPE_TLOG_PROOF:
            continue  # the store ignored the filter
        if examined >= max_count:
            break
        examined += 1
        if embedded and (proof := embedded_proof(desc)) is not None:
            found.append((desc, proof))
            continue
        try:
            found.append((desc, _read_proof(store, desc, signature_manifest)))
        except TransparencyError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return found


def embedded_proof(desc: Descriptor) -> bytes | None:
    """The proof a referrer descriptor carries in :data:`ANNOTATION_TLOG_PROOF`; None if none or malformed."""
    value = desc.annotations.get(ANNOTATION_TLOG_PROOF) if desc.annotations else None
    if not isinstance(value, str) or not value or len(value) > (MAX_EMBEDDED_PROOF_SIZE + 2) // 3 * 4:
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _read_proof(store: ArtifactStore, desc: Descriptor, signature_manifest: Descriptor) -> bytes:
    where = f"transparency proof referrer {desc.digest}"
    try:
        manifest = ImageManifest.from_bytes(store.fetch_manifest(desc), desc.media_type)
        if manifest.artifact_type != ARTIFACT_TYPE_TLOG_PROOF:
            raise ArtifactError(f"artifactType is {manifest.artifact_type!r}, not {ARTIFACT_TYPE_TLOG_PROOF!r}")
        if manifest.config.media_type != MEDIA_TYPE_EMPTY_JSON:
            raise ArtifactError(f"config.mediaType is {manifest.config.media_type!r}, not {MEDIA_TYPE_EMPTY_JSON!r}")
        if manifest.subject is None or manifest.subject.digest != signature_manifest.digest:
            named = "no subject" if manifest.subject is None else f"subject {manifest.subject.digest}"
            raise ArtifactError(f"it has {named}, not the signature manifest {signature_manifest.digest}")
        if len(manifest.layers) != 1 or manifest.layers[0].media_type != MEDIA_TYPE_TLOG_PROOF:
            raise ArtifactError(f"it must have exactly one layer of media type {MEDIA_TYPE_TLOG_PROOF!r}")
        layer = manifest.layers[0]
        if layer.size > MAX_PROOF_BLOB_SIZE:
            raise ArtifactError(f"its proof layer is {layer.size} bytes, more than the {MAX_PROOF_BLOB_SIZE} accepted")
        return store.fetch_blob(layer, MAX_PROOF_BLOB_SIZE)
    except (ArtifactError, DigestError) as exc:
        raise TransparencyError(f"{where}: {exc.message}") from None


__all__ = [
    "ANNOTATION_TLOG_INDEX",
    "ANNOTATION_TLOG_ORIGIN",
    "ANNOTATION_TLOG_PROOF",
    "ANNOTATION_TLOG_SIGNATURE",
    "ANNOTATION_TLOG_TREE_SIZE",
    "ARTIFACT_TYPE_TLOG_PROOF",
    "MAX_EMBEDDED_PROOF_SIZE",
    "MAX_PROOF_BLOB_SIZE",
    "MEDIA_TYPE_TLOG_PROOF",
    "announced_proofs",
    "embedded_proof",
    "find_proof_referrers",
    "proof_manifest",
    "push_proof_referrer",
]
