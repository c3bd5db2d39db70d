"""The storage interface signing and verification use: an OCI layout directory or a registry.

Every implementation verifies the digest and size of everything it reads, keeps manifests as the
exact bytes given, and reports referrers the way the distribution-spec referrers API does
(``artifactType`` falling back to the config media type, manifest annotations copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from notation_py.errors import ArtifactError
from notation_py.oci.descriptor import Descriptor
from notation_py.oci.manifest import ALL_MANIFEST_MEDIA_TYPES, MAX_MANIFEST_SIZE


@runtime_checkable
class ArtifactStore(Protocol):
    """One repository's content: manifests, blobs, tags and referrers."""

    def resolve(self, reference: str) -> Descriptor:
        """Resolve a tag or digest string to a manifest descriptor (media type, digest, size).

        Raises:
            NotFoundError: Nothing is known by that reference.
            ArtifactError: The reference cannot be resolved for another reason.
        """
        ...

    def fetch_manifest(self, desc: Descriptor) -> bytes:
        """The exact bytes of the manifest ``desc`` describes (at most 4 MiB), digest and size verified.

        Raises:
            NotFoundError: The manifest does not exist.
            ArtifactError: ``desc`` is not a manifest or declares more than 4 MiB.
            DigestError: The content does not match ``desc``.
        """
        ...

    def fetch_blob(self, desc: Descriptor, max_size: int) -> bytes:
        """The exact bytes of the blob ``desc`` describes, digest and size verified.

        Raises:
            NotFoundError: The blob does not exist.
            ArtifactError: ``desc.size`` exceeds ``max_size``.
            DigestError: The content does not match ``desc``.
        """
        ...

    def push_blob(self, media_type: str, data: bytes) -> Descriptor:
        """Store ``data`` as a blob (idempotent) and return its descriptor.

        Raises:
            ArtifactError: The blob could not be stored.
        """
        ...

    def push_manifest(self, media_type: str, data: bytes, tag: str | None = None) -> Descriptor:
        """Store the exact manifest bytes, optionally tagging them, and return the descriptor.

        The returned descriptor carries the manifest's ``artifactType`` and annotations, as a
        referrers index would list it.

        Raises:
            ArtifactError: The manifest is invalid, too large, references missing blobs, or
                could not be stored.
            UsageError: ``tag`` is not a valid tag.
        """
        ...

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        """Descriptors of the manifests whose ``subject`` is ``subject``, optionally filtered.

        Raises:
            ArtifactError: The referrers could not be listed.
            DigestError: A manifest read while listing does not match its descriptor.
        """
        ...


def check_manifest_descriptor(desc: Descriptor) -> None:
    """Refuse to fetch something that is not a manifest or is larger than notation allows.

    Raises:
        ArtifactError: ``desc`` has a non-manifest media type or declares more than 4 MiB.
    """
    if desc.media_type not in ALL_MANIFEST_MEDIA_TYPES:
        raise ArtifactError(f"{desc.digest}: media type {desc.media_type!r} is not a manifest media type")
    if desc.size > MAX_MANIFEST_SIZE:
        raise ArtifactError(f"{desc.digest}: manifest too large: {desc.size} bytes")


def check_blob_size(desc: Descriptor, max_size: int) -> None:
    """Refuse to fetch a blob that declares more than ``max_size`` bytes.

    Raises:
        ArtifactError: ``desc.size`` exceeds ``max_size``.
    """
    if desc.size > max_size:
        raise ArtifactError(f"{desc.digest}: blob too large: {desc.size} bytes (limit {max_size})")
