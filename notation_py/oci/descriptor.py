"""OCI content descriptors (image-spec ``descriptor.md``).

A descriptor names content by media type, digest and size. ``to_dict`` emits properties in the
order Go's ``ocispec.Descriptor`` marshals them (mediaType, digest, size, urls, annotations, data,
platform, artifactType) with annotation keys sorted, so a descriptor built here serialises to the
same bytes notation-go would produce.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from notation_py.errors import ArtifactError, DigestError
from notation_py.oci.digest import Digest, compute

#: Largest size a descriptor may declare (Go's int64).
MAX_SIZE: Final = 2**63 - 1

# RFC 6838 type/subtype (restricted-name), optionally followed by parameters.
_MEDIA_TYPE_RE: Final = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;[ -~]*)?"
)
# Platform properties in Go's ocispec.Platform field order.
_PLATFORM_ORDER: Final = ("architecture", "os", "os.version", "os.features", "variant")


def is_media_type(value: object) -> bool:
    """Whether ``value`` is a syntactically valid media type (RFC 6838 ``type/subtype[; params]``)."""
    return isinstance(value, str) and _MEDIA_TYPE_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor.

    Mapping fields are copied into read-only mappings and ``urls`` into a tuple, so a descriptor
    cannot change after construction. Equality compares every field; the hash uses media type,
    digest and size only.

    Attributes:
        media_type: Media type of the referenced content.
        digest: Digest of the referenced content.
        size: Size of the referenced content in bytes.
        annotations: Optional string-to-string annotations.
        artifact_type: Optional artifact type (image-spec v1.1, referrers).
        platform: Optional platform object (``architecture`` and ``os`` required).
        urls: Optional alternative download URLs.
        data: Optional embedded content; must match ``digest`` and ``size``.
    """

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = None
    artifact_type: str | None = None
    platform: Mapping[str, Any] | None = None
    urls: Sequence[str] | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        where = "descriptor"
        # Go's omitempty: an empty map, list, byte string or artifactType is the same as an absent one.
        for name in ("annotations", "platform", "urls", "data", "artifact_type"):
            value = getattr(self, name)
            if value is not None and len(value) == 0:
                object.__setattr__(self, name, None)
        if not is_media_type(self.media_type):
            raise ArtifactError(f"{where}: invalid mediaType {self.media_type!r}")
        if not isinstance(self.digest, Digest):
            raise ArtifactError(f"{where}: digest must be a Digest, got {type(self.digest).__name__}")
        _check_size(self.size, where)
        if self.annotations is not None:
            object.__setattr__(self, "annotations", MappingProxyType(_check_annotations(self.annotations, where)))
        if self.artifact_type is not None and not is_media_type(self.artifact_type):
            raise ArtifactError(f"{where}: invalid artifactType {self.artifact_type!r}")
        if self.platform is not None:
            object.__setattr__(self, "platform", MappingProxyType(_check_platform(self.platform, where)))
        if self.urls is not None:
            if isinstance(self.urls, str) or not all(isinstance(u, str) for u in self.urls):
                raise ArtifactError(f"{where}: urls must be a list of strings")
            object.__setattr__(self, "urls", tuple(self.urls))
        if self.data is not None:
            if not isinstance(self.data, bytes):
                raise ArtifactError(f"{where}: data must be bytes")
            if len(self.data) != self.size or compute(self.data, self.digest.algorithm) != self.digest:
                raise DigestError(f"{where}: embedded data does not match digest {self.digest} and size {self.size}")

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    @classmethod
    def of(cls, media_type: str, data: bytes, algorithm: str = "sha256") -> Descriptor:
        """Describe ``data`` (exact bytes) with ``media_type``.

        Raises:
            ArtifactError: ``media_type`` is not a valid media type.
            DigestError: ``algorithm`` is not supported.
        """
        return cls(media_type, compute(data, algorithm), len(data))

    def plain(self) -> Descriptor:
        """This descriptor reduced to media type, digest and size (Go's ``descriptor.Plain``)."""
        return Descriptor(self.media_type, self.digest, self.size)

    def same_content(self, other: Descriptor) -> bool:
        """Whether both describe the same content (media type, digest and size; Go's ``content.Equal``)."""
        return (self.media_type, self.digest, self.size) == (other.media_type, other.digest, other.size)

    @classmethod
    def from_dict(cls, obj: object, where: str = "descriptor") -> Descriptor:
        """Build a descriptor from its decoded JSON object, validating every known property.

        Unknown properties are ignored, as the image-spec requires.

        Args:
            obj: The decoded JSON value.
            where: Name of the descriptor in error messages (``"config"``, ``"layers[0]"``, ...).

        Returns:
            The descriptor.

        Raises:
            ArtifactError: A property is missing or has the wrong type or format.
            DigestError: The digest is malformed, or embedded ``data`` does not match it.
        """
        if not isinstance(obj, dict):
            raise ArtifactError(f"{where}: descriptor must be a JSON object")
        media_type = obj.get("mediaType")
        if media_type is None:
            raise ArtifactError(f"{where}: missing mediaType")
        if not is_media_type(media_type):
            raise ArtifactError(f"{where}: invalid mediaType {media_type!r}")
        raw_digest = obj.get("digest")
        if raw_digest is None:
            raise ArtifactError(f"{where}: missing digest")
        try:
            digest = Digest.parse(raw_digest)
        except DigestError as e:
            raise DigestError(f"{where}: {e.message}") from e
        if "size" not in obj:
            raise ArtifactError(f"{where}: missing size")
        size = _check_size(obj["size"], where)
        annotations = _check_annotations(obj["annotations"], where) if "annotations" in obj else None
        artifact_type = obj.get("artifactType") or None
        if artifact_type is not None and not is_media_type(artifact_type):
            raise ArtifactError(f"{where}: invalid artifactType {artifact_type!r}")
        platform = _check_platform(obj["platform"], where) if "platform" in obj else None
        urls = obj.get("urls")
        if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, str) for u in urls)):
            raise ArtifactError(f"{where}: urls must be a list of strings")
        data = None
        if "data" in obj:
            raw_data = obj["data"]
            if not isinstance(raw_data, str):
                raise ArtifactError(f"{where}: data must be a base64 string")
            try:
                data = base64.b64decode(raw_data, validate=True)
            except (binascii.Error, ValueError) as e:
                raise ArtifactError(f"{where}: data is not valid base64: {e}") from e
        try:
            return cls(media_type, digest, size, annotations, artifact_type, platform, urls, data)
        except DigestError as e:
            raise DigestError(e.message.replace("descriptor:", f"{where}:", 1)) from e

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this descriptor, keys in Go's marshalling order, annotations sorted."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = {k: self.annotations[k] for k in sorted(self.annotations)}
        if self.data:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            known = {k: self.platform[k] for k in _PLATFORM_ORDER if k in self.platform}
            extra = {k: self.platform[k] for k in sorted(self.platform) if k not in known}
            out["platform"] = known | extra
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


def _check_size(size: object, where: str) -> int:
    # bool is an int in Python but not a JSON number.
    if not isinstance(size, int) or isinstance(size, bool):
        raise ArtifactError(f"{where}: size must be an integer, got {size!r}")
    if not 0 <= size <= MAX_SIZE:
        raise ArtifactError(f"{where}: size {size} out of range")
    return size


def _check_annotations(annotations: object, where: str) -> dict[str, str]:
    if not isinstance(annotations, Mapping):
        raise ArtifactError(f"{where}: annotations must be a JSON object")
    out: dict[str, str] = {}
    for key, value in annotations.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ArtifactError(f"{where}: annotation {key!r} must map a string to a string")
        out[key] = value
    return out


def _check_platform(platform: object, where: str) -> dict[str, Any]:
    if not isinstance(platform, Mapping):
        raise ArtifactError(f"{where}: platform must be a JSON object")
    for key in ("architecture", "os"):
        if not isinstance(platform.get(key), str):
            raise ArtifactError(f"{where}: platform.{key} must be a string")
    for key in ("os.version", "variant"):
        if key in platform and not isinstance(platform[key], str):
            raise ArtifactError(f"{where}: platform.{key} must be a string")
    features = platform.get("os.features")
    if features is not None and (
        not isinstance(features, list | tuple) or not all(isinstance(f, str) for f in features)
    ):
        raise ArtifactError(f"{where}: platform.os.features must be a list of strings")
    out = dict(platform)
    if features is not None:
        out["os.features"] = list(features)
    return out
