"""OCI image manifests and indexes, and the Notary Project signature manifest.

Parsing takes the exact bytes; nothing here re-serialises a manifest it has read. Building a
signature manifest produces the bytes notation-go (through oras-go ``PackManifest``) produces:
compact JSON, Go's struct field order (schemaVersion, mediaType, artifactType, config, layers,
subject, annotations), annotation keys sorted, and Go's HTML-safe string escaping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from notation_py import jsonutil
from notation_py.envelope.model import ENVELOPE_MEDIA_TYPES
from notation_py.errors import ArtifactError, UnsupportedEnvelopeError, UsageError
from notation_py.jsonutil import JSONFormatError, strict_loads
from notation_py.oci.descriptor import Descriptor, is_media_type
from notation_py.oci.digest import Digest

# --- media types -----------------------------------------------------------------------------

MEDIA_TYPE_OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
#: The deprecated image-spec v1.1.0-rc artifact manifest (recognised, never produced).
MEDIA_TYPE_OCI_ARTIFACT_MANIFEST: Final = "application/vnd.oci.artifact.manifest.v1+json"
MEDIA_TYPE_EMPTY_JSON: Final = "application/vnd.oci.empty.v1+json"
#: Artifact type of a signature manifest (and config media type of the legacy form).
ARTIFACT_TYPE_NOTARY: Final = "application/vnd.cncf.notary.signature"

MANIFEST_MEDIA_TYPES: Final = (MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST)
INDEX_MEDIA_TYPES: Final = (MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST)
#: Every media type a manifest store accepts as a manifest.
ALL_MANIFEST_MEDIA_TYPES: Final = (*MANIFEST_MEDIA_TYPES, *INDEX_MEDIA_TYPES, MEDIA_TYPE_OCI_ARTIFACT_MANIFEST)

#: The empty JSON object ``{}`` used as the config of artifact manifests.
EMPTY_JSON: Final = b"{}"
EMPTY_JSON_DIGEST: Final = Digest.parse("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
#: The config descriptor notation-go writes: no ``data`` property.
EMPTY_JSON_DESCRIPTOR: Final = Descriptor(MEDIA_TYPE_EMPTY_JSON, EMPTY_JSON_DIGEST, 2)

# --- annotations and limits ------------------------------------------------------------------

ANNOTATION_THUMBPRINTS: Final = "io.cncf.notary.x509chain.thumbprint#S256"
ANNOTATION_CREATED: Final = "org.opencontainers.image.created"
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"

#: notation-go ``maxManifestSizeLimit``.
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: notation-go ``maxBlobSizeLimit`` (signature envelopes).
MAX_ENVELOPE_SIZE: Final = 32 * 1024 * 1024

_THUMBPRINT_RE: Final = re.compile(r"[0-9a-f]{64}")


# --- JSON helpers ----------------------------------------------------------------------------


def load_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Decode ``data`` as one strict UTF-8 JSON object (no duplicate keys, no NaN/Infinity).

    Raises:
        ArtifactError: ``data`` is not such an object; the message starts with ``what``.
    """
    try:
        obj = strict_loads(data)
    except JSONFormatError as e:
        raise ArtifactError(f"{what} is not valid JSON: {e.message}") from e
    if not isinstance(obj, dict):
        raise ArtifactError(f"{what} is not a JSON object")
    return obj


def go_json(obj: object) -> bytes:
    """Serialise like Go's ``json.Marshal``: compact, UTF-8, ``<``, ``>``, ``&``, U+2028/9 escaped.

    Dict keys are written in the order given; callers sort map keys as Go does.

    Raises:
        UsageError: A string cannot be encoded as UTF-8 (a lone surrogate).
    """
    try:
        return jsonutil.go_json(obj)
    except UnicodeEncodeError as e:
        raise UsageError(f"cannot encode manifest as UTF-8: {e}") from e


# --- parsing ---------------------------------------------------------------------------------


def _schema_version(obj: dict[str, Any], what: str) -> None:
    version = obj.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool) or version != 2:
        raise ArtifactError(f"{what}: schemaVersion must be 2, got {version!r}")


def _media_type(obj: dict[str, Any], allowed: Sequence[str], expected: str | None, what: str) -> str | None:
    media_type = obj.get("mediaType")
    if media_type is not None and media_type not in allowed:
        raise ArtifactError(f"{what}: unexpected mediaType {media_type!r}")
    if expected is not None:
        if expected not in allowed:
            raise ArtifactError(f"{what}: unsupported media type {expected!r}")
        if media_type is not None and media_type != expected:
            raise ArtifactError(
                f"{what}: mediaType {media_type!r} in the content does not match the descriptor's {expected!r}"
            )
    return media_type if isinstance(media_type, str) else None


def _optional_fields(obj: dict[str, Any], what: str) -> tuple[str | None, Descriptor | None, Mapping[str, str] | None]:
    artifact_type = obj.get("artifactType") or None
    if artifact_type is not None and not is_media_type(artifact_type):
        raise ArtifactError(f"{what}: invalid artifactType {artifact_type!r}")
    subject = Descriptor.from_dict(obj["subject"], f"{what}: subject") if obj.get("subject") is not None else None
    annotations = None
    if obj.get("annotations") is not None:
        raw = obj["annotations"]
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise ArtifactError(f"{what}: annotations must map strings to strings")
        annotations = MappingProxyType(dict(raw))
    return artifact_type, subject, annotations


def _descriptor_list(obj: dict[str, Any], key: str, what: str) -> tuple[Descriptor, ...]:
    items = obj.get(key)
    if not isinstance(items, list):
        raise ArtifactError(f"{what}: {key} must be a list")
    return tuple(Descriptor.from_dict(item, f"{what}: {key}[{i}]") for i, item in enumerate(items))


@dataclass(frozen=True)
class ImageManifest:
    """A parsed OCI image manifest (or Docker v2 schema 2 manifest).

    Attributes:
        media_type: The ``mediaType`` property, or ``None`` when absent (allowed for OCI).
        config: The config descriptor.
        layers: The layer descriptors.
        artifact_type: The ``artifactType`` property, if any.
        subject: The ``subject`` descriptor, if any.
        annotations: Manifest annotations, if any.
        raw: The exact bytes parsed.
    """

    media_type: str | None
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: Mapping[str, str] | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> ImageManifest:
        """Parse and validate a manifest.

        Args:
            data: The exact manifest bytes.
            media_type: The media type the manifest is known by (its descriptor's), if any; the
                content's own ``mediaType`` must agree with it.

        Returns:
            The parsed manifest.

        Raises:
            ArtifactError: The bytes are not a valid image manifest.
            DigestError: A descriptor in it has a malformed digest.
        """
        what = "manifest"
        obj = load_json_object(data, what)
        _schema_version(obj, what)
        declared = _media_type(obj, MANIFEST_MEDIA_TYPES, media_type, what)
        if "manifests" in obj:
            raise ArtifactError(f"{what}: has a 'manifests' property; it looks like an image index")
        if "config" not in obj:
            raise ArtifactError(f"{what}: missing config")
        config = Descriptor.from_dict(obj["config"], f"{what}: config")
        layers = _descriptor_list(obj, "layers", what)
        artifact_type, subject, annotations = _optional_fields(obj, what)
        return cls(declared or media_type, config, layers, artifact_type, subject, annotations, data)

    def referrer_artifact_type(self) -> str:
        """The artifact type a referrers index reports: ``artifactType``, else ``config.mediaType``."""
        return self.artifact_type or self.config.media_type


@dataclass(frozen=True)
class ImageIndex:
    """A parsed OCI image index (or Docker manifest list).

    Attributes:
        media_type: The ``mediaType`` property, or ``None`` when absent.
        manifests: The child manifest descriptors.
        artifact_type: The ``artifactType`` property, if any.
        subject: The ``subject`` descriptor, if any.
        annotations: Index annotations, if any.
        raw: The exact bytes parsed.
    """

    media_type: str | None
    manifests: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: Mapping[str, str] | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None, what: str = "index") -> ImageIndex:
        """Parse and validate an image index.

        Args:
            data: The exact index bytes.
            media_type: The media type the index is known by, if any (see :meth:`ImageManifest.from_bytes`).
            what: Name of the document in error messages (``"index.json"`` for a layout's index).

        Returns:
            The parsed index.

        Raises:
            ArtifactError: The bytes are not a valid image index.
            DigestError: A descriptor in it has a malformed digest.
        """
        obj = load_json_object(data, what)
        _schema_version(obj, what)
        declared = _media_type(obj, INDEX_MEDIA_TYPES, media_type, what)
        if "config" in obj or "layers" in obj:
            raise ArtifactError(f"{what}: has 'config' or 'layers'; it looks like an image manifest")
        manifests = _descriptor_list(obj, "manifests", what)
        artifact_type, subject, annotations = _optional_fields(obj, what)
        return cls(declared or media_type, manifests, artifact_type, subject, annotations, data)


def parse_any(data: bytes, media_type: str) -> ImageManifest | ImageIndex:
    """Parse manifest bytes according to the media type they are known by.

    Raises:
        ArtifactError: The media type is not a manifest type, or the content is invalid for it.
        DigestError: A descriptor in it has a malformed digest.
    """
    if media_type in MANIFEST_MEDIA_TYPES:
        return ImageManifest.from_bytes(data, media_type)
    if media_type in INDEX_MEDIA_TYPES:
        return ImageIndex.from_bytes(data, media_type)
    raise ArtifactError(f"unsupported manifest media type {media_type!r}")


def referrer_descriptor(desc: Descriptor, data: bytes) -> Descriptor:
    """The descriptor a referrers index lists for the manifest ``data`` described by ``desc``.

    Media type, digest and size come from ``desc``; ``artifactType`` (falling back to the config
    media type) and annotations come from the manifest content, as distribution-spec requires.

    Raises:
        ArtifactError: ``data`` is not a valid manifest of ``desc.media_type``.
        DigestError: A descriptor in it has a malformed digest.
    """
    parsed = parse_any(data, desc.media_type)
    if isinstance(parsed, ImageManifest):
        artifact_type: str | None = parsed.referrer_artifact_type()
    else:
        artifact_type = parsed.artifact_type
    return Descriptor(
        desc.media_type, desc.digest, desc.size, annotations=parsed.annotations, artifact_type=artifact_type
    )


# --- the signature manifest ------------------------------------------------------------------


def signature_annotations(
    chain_thumbprints: Sequence[str], created: datetime, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The manifest annotations notation-go writes for a signature.

    ``extra`` (for example annotations returned by a plugin) is merged first and the two reserved
    keys are then set, so they cannot be overridden (notation-go ``generateAnnotations``).

    Args:
        chain_thumbprints: Lowercase hex SHA-256 of each certificate's DER, in chain order.
        created: Signing time; must be timezone-aware. Written in UTC with second precision.
        extra: Further annotations.

    Returns:
        The annotations, keys sorted.

    Raises:
        UsageError: A thumbprint is not 64 lowercase hex characters, the chain is empty,
            ``created`` is naive, or an extra annotation is not a string pair.
    """
    if isinstance(chain_thumbprints, str) or not chain_thumbprints:
        raise UsageError("the certificate chain thumbprint list must be a non-empty list")
    for thumbprint in chain_thumbprints:
        if not isinstance(thumbprint, str) or not _THUMBPRINT_RE.fullmatch(thumbprint):
            raise UsageError(f"invalid certificate thumbprint {thumbprint!r}: need 64 lowercase hex characters")
    if created.tzinfo is None or created.utcoffset() is None:
        raise UsageError("signature creation time must be timezone-aware")
    out: dict[str, str] = {}
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise UsageError(f"annotation {key!r} must map a string to a string")
        out[key] = value
    out[ANNOTATION_THUMBPRINTS] = json.dumps(list(chain_thumbprints), separators=(",", ":"))
    out[ANNOTATION_CREATED] = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {k: out[k] for k in sorted(out)}


@dataclass(frozen=True)
class SignatureManifest:
    """The OCI image manifest that stores one Notary Project signature as a referrer.

    Attributes:
        envelope: Descriptor of the envelope blob (the single layer).
        subject: Descriptor of the signed manifest.
        annotations: Manifest annotations (see :func:`signature_annotations`).
    """

    envelope: Descriptor
    subject: Descriptor
    annotations: Mapping[str, str]

    def __post_init__(self) -> None:
        if self.envelope.media_type not in ENVELOPE_MEDIA_TYPES:
            raise UnsupportedEnvelopeError(
                f'signature envelope format with media type "{self.envelope.media_type}" is not supported'
            )
        if self.envelope.size > MAX_ENVELOPE_SIZE:
            raise UsageError(f"signature blob too large: {self.envelope.size} bytes")
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @classmethod
    def create(
        cls,
        envelope: Descriptor,
        subject: Descriptor,
        chain_thumbprints: Sequence[str],
        created: datetime,
        extra_annotations: Mapping[str, str] | None = None,
    ) -> SignatureManifest:
        """Build the signature manifest for an envelope, with notation-go's annotations.

        ``envelope`` and ``subject`` are reduced to media type, digest and size, as notation-go
        pushes them.

        Raises:
            UnsupportedEnvelopeError: The envelope media type is neither JWS nor COSE.
            UsageError: See :func:`signature_annotations`; or the envelope exceeds 32 MiB.
        """
        annotations = signature_annotations(chain_thumbprints, created, extra_annotations)
        return cls(envelope.plain(), subject.plain(), annotations)

    def to_bytes(self) -> bytes:
        """The manifest bytes, identical to what notation-go pushes for the same inputs.

        Raises:
            UsageError: The manifest would exceed 4 MiB or cannot be encoded.
        """
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE_NOTARY,
            "config": EMPTY_JSON_DESCRIPTOR.to_dict(),
            "layers": [self.envelope.to_dict()],
            "subject": self.subject.to_dict(),
        }
        if self.annotations:
            manifest["annotations"] = {k: self.annotations[k] for k in sorted(self.annotations)}
        data = go_json(manifest)
        if len(data) > MAX_MANIFEST_SIZE:
            raise UsageError(f"signature manifest too large: {len(data)} bytes")
        return data


class ParsedSignatureManifest(NamedTuple):
    """What a verifier needs from a signature manifest (unpacks as ``envelope, subject, annotations``).

    Attributes:
        envelope: Descriptor of the envelope blob.
        subject: The manifest's ``subject``.
        annotations: Manifest annotations (empty when absent).
    """

    envelope: Descriptor
    subject: Descriptor
    annotations: Mapping[str, str]


def parse_signature_manifest(data: bytes, media_type: str = MEDIA_TYPE_OCI_MANIFEST) -> ParsedSignatureManifest:
    """Parse and check a Notary Project signature manifest.

    Two forms are accepted: the current one (``artifactType`` = notary signature, config =
    the empty JSON descriptor) and the OCI 1.0 legacy one (no ``artifactType``, config media
    type = notary signature). Anything else is not a Notary signature.

    Args:
        data: The exact manifest bytes.
        media_type: Media type of the manifest's descriptor.

    Returns:
        The envelope descriptor, subject and annotations.

    Raises:
        ArtifactError: The manifest is too large, malformed, not a signature manifest, has no
            subject, or does not have exactly one layer.
        UnsupportedEnvelopeError: The layer media type is neither JWS nor COSE.
        DigestError: A descriptor in it has a malformed digest.
    """
    if len(data) > MAX_MANIFEST_SIZE:
        raise ArtifactError(f"signature manifest too large: {len(data)} bytes")
    if media_type != MEDIA_TYPE_OCI_MANIFEST:
        raise ArtifactError(f"signature manifest media type must be {MEDIA_TYPE_OCI_MANIFEST!r}, got {media_type!r}")
    manifest = ImageManifest.from_bytes(data, media_type)
    config_type = manifest.config.media_type
    current = manifest.artifact_type == ARTIFACT_TYPE_NOTARY and config_type == MEDIA_TYPE_EMPTY_JSON
    legacy = manifest.artifact_type is None and config_type == ARTIFACT_TYPE_NOTARY
    if not (current or legacy):
        raise ArtifactError(
            f"not a Notary Project signature manifest: artifactType {manifest.artifact_type!r}, "
            f"config.mediaType {config_type!r}"
        )
    if len(manifest.layers) != 1:
        # notation-go's wording, typo included: scripts match on it.
        raise ArtifactError(
            f"signature manifest requries exactly one signature envelope blob, got {len(manifest.layers)}"
        )
    envelope = manifest.layers[0]
    if envelope.media_type not in ENVELOPE_MEDIA_TYPES:
        raise UnsupportedEnvelopeError(
            f'signature envelope format with media type "{envelope.media_type}" is not supported'
        )
    if manifest.subject is None:
        raise ArtifactError("signature manifest has no subject")
    return ParsedSignatureManifest(envelope, manifest.subject, manifest.annotations or MappingProxyType({}))
