"""Store-agnostic signature storage: push, list and fetch Notary Project signatures.

These work on any :class:`~notation_py.oci.store.ArtifactStore` (an OCI layout or a registry), in
the order notation-go uses: blobs first (empty config, envelope), then the signature manifest, so
a store never lists a manifest whose content is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from notation_py.errors import ArtifactError, UsageError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.manifest import (
    ARTIFACT_TYPE_NOTARY,
    EMPTY_JSON,
    MAX_ENVELOPE_SIZE,
    MEDIA_TYPE_EMPTY_JSON,
    MEDIA_TYPE_OCI_MANIFEST,
    SignatureManifest,
    parse_signature_manifest,
)
from notation_py.oci.store import ArtifactStore


@dataclass(frozen=True)
class FetchedSignature:
    """A signature read from a store.

    Attributes:
        manifest_descriptor: Descriptor of the signature manifest.
        envelope_media_type: ``application/jose+json`` or ``application/cose``.
        envelope: The envelope's exact bytes (digest and size verified).
        annotations: The signature manifest's annotations.
        envelope_descriptor: Descriptor of the envelope blob (its layer).
    """

    manifest_descriptor: Descriptor
    envelope_media_type: str
    envelope: bytes
    annotations: Mapping[str, str]
    envelope_descriptor: Descriptor | None = None


def is_signature_referrer(desc: Descriptor) -> bool:
    """Whether a referrer descriptor lists a Notary Project signature manifest.

    Referrers report ``artifactType`` falling back to the config media type, so this matches
    both the current form and the legacy form (config media type = notary signature).
    """
    return desc.media_type == MEDIA_TYPE_OCI_MANIFEST and desc.artifact_type == ARTIFACT_TYPE_NOTARY


def push_signature(  # noqa: PLR0917 - the positional signature is the agreed interface
    store: ArtifactStore,
    subject: Descriptor,
    envelope_media_type: str,
    envelope: bytes,
    chain_thumbprints: Sequence[str],
    created: datetime,
    extra_annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Store a signature envelope as a referrer of ``subject``.

    The manifest is built (and so validated) before anything is written; then the empty config
    blob, the envelope blob and the manifest are pushed, in that order, without a tag.

    Args:
        store: Where to push.
        subject: The signed manifest (only media type, digest and size are recorded).
        envelope_media_type: ``application/jose+json`` or ``application/cose``.
        envelope: The envelope's exact bytes.
        chain_thumbprints: Lowercase hex SHA-256 of each certificate of the envelope's chain.
        created: Signing time (timezone-aware).
        extra_annotations: Further manifest annotations (e.g. from a plugin).

    Returns:
        The signature manifest's descriptor (with ``artifactType`` and annotations).

    Raises:
        UnsupportedEnvelopeError: The envelope media type is neither JWS nor COSE.
        UsageError: Invalid thumbprints, naive time, or an envelope above 32 MiB.
        ArtifactError: The store refused the content.
    """
    envelope_desc = Descriptor.of(envelope_media_type, envelope)
    manifest = SignatureManifest.create(envelope_desc, subject, chain_thumbprints, created, extra_annotations)
    data = manifest.to_bytes()
    store.push_blob(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON)
    pushed = store.push_blob(envelope_media_type, envelope)
    if pushed.digest != envelope_desc.digest or pushed.size != envelope_desc.size:
        raise ArtifactError(f"store recorded the envelope as {pushed.digest}, expected {envelope_desc.digest}")
    return store.push_manifest(MEDIA_TYPE_OCI_MANIFEST, data)


def list_signature_manifests(
    store: ArtifactStore, subject: Descriptor, max_count: int, *, listing: Iterable[Descriptor] | None = None
) -> Iterator[Descriptor]:
    """Descriptors of the signature manifests referring to ``subject``, at most ``max_count``.

    Referrers that are not Notary Project signatures are skipped even if the store ignored the
    artifact type filter. ``listing``, when given, is the subject's referrers already read
    (unfiltered); the store is then not asked again.

    Raises:
        UsageError: ``max_count`` is below 1.
        ArtifactError: Listing failed (see :meth:`ArtifactStore.referrers`).
        DigestError: A manifest read while listing does not match its descriptor.
    """
    if max_count < 1:
        raise UsageError(f"the maximum number of signatures must be at least 1, got {max_count}")
    count = 0
    for desc in store.referrers(subject, ARTIFACT_TYPE_NOTARY) if listing is None else listing:
        if not is_signature_referrer(desc):
            continue
        yield desc
        count += 1
        if count >= max_count:
            return


def fetch_signature(
    store: ArtifactStore, manifest_desc: Descriptor, subject: Descriptor | None = None
) -> FetchedSignature:
    """Read a signature manifest and its envelope.

    Args:
        store: Where to read from.
        manifest_desc: Descriptor of the signature manifest (from :func:`list_signature_manifests`).
        subject: If given, the manifest's ``subject`` digest must be this descriptor's digest.

    Returns:
        The envelope bytes, media type and manifest annotations.

    Raises:
        NotFoundError: The manifest or envelope is missing.
        DigestError: The manifest or envelope does not match its descriptor.
        UnsupportedEnvelopeError: The envelope media type is neither JWS nor COSE.
        ArtifactError: The manifest is not a valid signature manifest, names another subject, or
            declares an envelope above 32 MiB.
    """
    data = store.fetch_manifest(manifest_desc)
    envelope_desc, manifest_subject, annotations = parse_signature_manifest(data, manifest_desc.media_type)
    if subject is not None and manifest_subject.digest != subject.digest:
        raise ArtifactError(
            f"signature manifest {manifest_desc.digest} refers to {manifest_subject.digest}, not {subject.digest}"
        )
    if envelope_desc.size > MAX_ENVELOPE_SIZE:
        raise ArtifactError(f"signature blob too large: {envelope_desc.size} bytes")
    envelope = store.fetch_blob(envelope_desc, MAX_ENVELOPE_SIZE)
    return FetchedSignature(manifest_desc, envelope_desc.media_type, envelope, annotations, envelope_desc)
