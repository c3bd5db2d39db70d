"""The Notary Project payload (``application/vnd.cncf.notary.payload.v1+json``).

``{"targetArtifact": <OCI descriptor>}``. Built payloads are compact JSON with sorted keys, the bytes
notation-go's JWS signer produces; parsed payloads keep their exact bytes and are never
re-serialised for verification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notation_py.errors import PayloadError
from notation_py.jsonutil import JSONFormatError, go_json, strict_loads

#: Annotation prefix reserved by the spec; users may not set it through ``--user-metadata``.
RESERVED_ANNOTATION_PREFIX = "io.cncf.notary"


@dataclass(frozen=True)
class TargetArtifact:
    """The descriptor of the signed artifact as carried in the payload."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Dictionary in the payload's JSON shape."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def canonical_json(obj: object) -> bytes:
    """Serialise like notation-go (sorted keys, compact, HTML-safe escapes)."""
    return go_json(obj, sort_keys=True)


def build_payload(target: TargetArtifact) -> bytes:
    """Payload bytes for ``target``; user annotations must not use the reserved prefix."""
    for key in target.annotations:
        if key.startswith(RESERVED_ANNOTATION_PREFIX):
            raise PayloadError(f'the metadata key "{key}" uses the reserved prefix "{RESERVED_ANNOTATION_PREFIX}"')
    return go_json({"targetArtifact": target.to_dict()}, sort_keys=True)


def parse_payload(data: bytes) -> TargetArtifact:
    """Parse payload bytes into the target artifact descriptor.

    Raises:
        PayloadError: not JSON, not an object, or ``targetArtifact`` missing or malformed.
    """
    try:
        doc = strict_loads(data)
    except JSONFormatError as exc:
        raise PayloadError(f"signature payload is not valid JSON: {exc.message}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("targetArtifact"), dict):
        raise PayloadError('signature payload must be a JSON object with a "targetArtifact" descriptor')
    target = doc["targetArtifact"]
    media_type, digest, size = target.get("mediaType"), target.get("digest"), target.get("size")
    annotations = target.get("annotations") or {}
    if not isinstance(media_type, str) or not media_type:
        raise PayloadError("targetArtifact.mediaType is missing or not a string")
    if not isinstance(digest, str) or not digest:
        raise PayloadError("targetArtifact.digest is missing or not a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PayloadError("targetArtifact.size is missing or not a non-negative integer")
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise PayloadError("targetArtifact.annotations must map strings to strings")
    return TargetArtifact(media_type=media_type, digest=digest, size=size, annotations=annotations)
